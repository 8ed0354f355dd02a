package rest

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os/exec"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nimbus-dev/nimbus/internal/awserr"
	"github.com/nimbus-dev/nimbus/internal/awsmodel"
	"github.com/nimbus-dev/nimbus/internal/protocol/wire"
)

// TestBotocore serves Lambda, Batch and S3 through the codecs on a real
// HTTP server and drives them with botocore, which the AWS CLI runs: a
// second client family whose parsers differ from aws-sdk-go-v2's (error
// codes from the body, S3 HEAD errors from the status line).
func TestBotocore(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a Python interpreter; skipped in -short")
	}
	// Debian's python3 with python3-botocore (what make test installs)
	// first, then whatever python3 comes first on PATH.
	python := ""
	for _, candidate := range []string{"/usr/bin/python3", "python3"} {
		p, err := exec.LookPath(candidate)
		if err == nil && exec.Command(p, "-c", "import botocore").Run() == nil {
			python = p
			break
		}
	}
	if python == "" {
		t.Skip("no python3 with botocore (Debian: apt-get install python3-botocore)")
	}
	codecs := map[string]wire.Codec{}
	for _, s := range []string{"lambda", "batch", "s3"} {
		codecs[s] = New(awsmodel.MustLoad(s))
	}
	modified := time.Date(2024, 3, 4, 5, 6, 7, 0, time.UTC)
	var mu sync.Mutex
	var put map[string]any
	var putHeader http.Header
	handle := func(op *awsmodel.Operation, in map[string]any) (map[string]any, *awserr.Error) {
		switch op.Name {
		case "Invoke":
			return map[string]any{"StatusCode": 200, "FunctionError": "Unhandled", "LogResult": "bG9n", "Payload": []byte(`{"q":` + in["Qualifier"].(string) + `"}`)}, nil
		case "ListFunctions":
			return map[string]any{"Functions": []any{map[string]any{"FunctionName": "a"}, map[string]any{"FunctionName": "b"}}, "NextMarker": "m"}, nil
		case "GetFunction":
			if in["FunctionName"] == "throttled" {
				return nil, &awserr.Error{Kind: awserr.Throttled, Message: "Rate Exceeded.", Fields: map[string]string{"Reason": "CallerRateLimitExceeded"}}
			}
			return nil, &awserr.Error{Kind: awserr.NotFound, Message: "Function not found: nope"}
		case "DescribeJobs":
			if field(in, "jobs", 0) == "bad" {
				return nil, &awserr.Error{Kind: awserr.Validation, Code: "ClientException", Message: "bad job"}
			}
			return map[string]any{"jobs": []any{map[string]any{"jobName": "n", "jobId": "j1", "jobQueue": "q", "status": "FAILED", "startedAt": 1, "jobDefinition": "d",
				"attempts": []any{map[string]any{"container": map[string]any{"exitCode": 137}}}}}}, nil
		case "PutObject":
			mu.Lock()
			put = in
			mu.Unlock()
			return map[string]any{"ETag": `"e1"`}, nil
		case "GetObject":
			if in["Key"] == "missing" {
				return nil, &awserr.Error{Kind: awserr.NotFound, Code: "NoSuchKey", Message: "The specified key does not exist.", Fields: map[string]string{"Key": "missing"}}
			}
			return map[string]any{"Body": strings.NewReader("hello"), "ContentLength": 5, "LastModified": modified, "Metadata": map[string]any{"owner": "me"}}, nil
		case "HeadObject":
			return nil, &awserr.Error{Kind: awserr.NotFound, Code: "NoSuchKey", Message: "The specified key does not exist."}
		case "ListObjectsV2":
			return map[string]any{"Name": "bkt", "KeyCount": 2, "Contents": []any{map[string]any{"Key": "dir/a b+c", "Size": 11}},
				"CommonPrefixes": []any{map[string]any{"Prefix": "dir/sub/"}}}, nil
		case "DeleteObjects":
			var deleted []any
			for _, o := range field(in, "Delete", "Objects").([]any) {
				deleted = append(deleted, map[string]any{"Key": o.(map[string]any)["Key"]})
			}
			return map[string]any{"Deleted": deleted}, nil
		case "GetBucketLocation":
			return map[string]any{"LocationConstraint": "eu-west-1"}, nil
		}
		return nil, &awserr.Error{Kind: awserr.NotImplemented, Message: op.Name}
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// Route by the SigV4 credential scope, as the edge does.
		service := "s3"
		for _, s := range []string{"lambda", "batch"} {
			if strings.Contains(r.Header.Get("Authorization"), "/"+s+"/aws4_request") {
				service = s
			}
		}
		c := codecs[service]
		body, err := io.ReadAll(r.Body)
		if err != nil {
			t.Errorf("read body: %v", err)
			return
		}
		fail := func(op *awsmodel.Operation, err error) {
			c.EncodeError(w, op, awserr.Resolve(c.Family(), awserr.As(err)), "rid-1")
		}
		op, err := c.Resolve(r, body)
		if err != nil {
			fail(nil, err)
			return
		}
		if op.Name == "PutObject" {
			mu.Lock()
			putHeader = r.Header.Clone()
			mu.Unlock()
		}
		in, err := c.Decode(r, body, op)
		if err != nil {
			fail(op, err)
			return
		}
		out, aerr := handle(op, in)
		if aerr != nil {
			fail(op, aerr)
			return
		}
		if err := c.Encode(w, op, out, "rid-1"); err != nil {
			t.Errorf("Encode %s: %v", op.Name, err)
		}
	}))
	defer srv.Close()

	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, python, "testdata/botocore_calls.py", srv.URL)
	cmd.Env = append(cmd.Environ(), "AWS_CONFIG_FILE=/dev/null", "AWS_SHARED_CREDENTIALS_FILE=/dev/null", "AWS_EC2_METADATA_DISABLED=true")
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("botocore script: %v\n%s", err, stderr.String())
	}
	var got map[string]any
	if err := json.Unmarshal(stdout.Bytes(), &got); err != nil {
		t.Fatalf("script output %q: %v", stdout.String(), err)
	}
	want := map[string]any{
		"invoke":          map[string]any{"StatusCode": 200.0, "FunctionError": "Unhandled", "LogResult": "bG9n", "Payload": `{"q":prod"}`},
		"list_functions":  []any{"a", "b", "m"},
		"get_function":    map[string]any{"Code": "ResourceNotFoundException", "Message": "Function not found: nope", "Status": 404.0, "Reason": ""},
		"throttled":       map[string]any{"Code": "TooManyRequestsException", "Message": "Rate Exceeded.", "Status": 429.0, "Reason": "CallerRateLimitExceeded"},
		"describe_jobs":   137.0,
		"batch_error":     map[string]any{"Code": "ClientException", "Message": "bad job", "Status": 400.0, "Reason": ""},
		"put_object":      `"e1"`,
		"get_object":      map[string]any{"Body": "hello", "ContentLength": 5.0, "LastModified": "2024-03-04T05:06:07+00:00", "Metadata": map[string]any{"owner": "me"}},
		"list_objects_v2": map[string]any{"Keys": []any{"dir/a b+c"}, "Prefixes": []any{"dir/sub/"}, "KeyCount": 2.0},
		"delete_objects":  []any{"x", "y"},
		"head_missing":    map[string]any{"Code": "404", "Message": "Not Found", "Status": 404.0, "Reason": ""},
		"get_missing":     map[string]any{"Code": "NoSuchKey", "Message": "The specified key does not exist.", "Status": 404.0, "Reason": ""},
		"location":        "eu-west-1",
	}
	for k, w := range want {
		if !reflect.DeepEqual(got[k], w) {
			t.Errorf("%s: botocore saw %#v, want %#v", k, got[k], w)
		}
	}
	mu.Lock()
	defer mu.Unlock()
	t.Logf("botocore PutObject headers: Content-Encoding=%q X-Amz-Content-Sha256=%q X-Amz-Trailer=%q X-Amz-Checksum-Crc32=%q",
		putHeader.Get("Content-Encoding"), putHeader.Get("X-Amz-Content-Sha256"), putHeader.Get("X-Amz-Trailer"), putHeader.Get("X-Amz-Checksum-Crc32"))
	if put["Key"] != "dir/a b+c" || field(put, "Metadata", "owner") != "me" || put["ContentType"] != "text/plain" {
		t.Errorf("PutObject decoded %#v", put)
	}
	if b, _ := put["Body"].([]byte); string(b) != "hello world" && putHeader.Get("Content-Encoding") == "" {
		t.Errorf("PutObject body %q", b)
	}
}

package sigv4

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestAWSCLI lets the real AWS CLI (botocore's signer, which normalises
// paths and signs differently from aws-sdk-go-v2) call a server that
// verifies every request with this package.
func TestAWSCLI(t *testing.T) {
	if testing.Short() {
		t.Skip("starts the AWS CLI several times; skipped with -short")
	}
	// Debian's AWS CLI v2 (package awscli); an older v1 from pip may come
	// first on PATH, so it is named, with PATH as the fallback.
	cli := "/usr/bin/aws"
	if _, err := os.Stat(cli); err != nil {
		if cli, err = exec.LookPath("aws"); err != nil {
			t.Skip("AWS CLI not installed (/usr/bin/aws from Debian's awscli, or aws on PATH)")
		}
	}
	v := &Verifier{}
	var mu sync.Mutex
	var failures []string
	verified := 0
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fail := func(err error) {
			mu.Lock()
			failures = append(failures, fmt.Sprintf("%s %s: %v", r.Method, r.RequestURI, err))
			mu.Unlock()
			http.Error(w, err.Error(), http.StatusForbidden)
		}
		a, err := Parse(r)
		if err != nil {
			fail(err)
			return
		}
		var body []byte
		if a.Service != "s3" {
			if body, err = io.ReadAll(r.Body); err != nil {
				fail(err)
				return
			}
		}
		if err := v.Verify(r, a, testSecret, body); err != nil {
			fail(err)
			return
		}
		mu.Lock()
		verified++
		mu.Unlock()
		if a.Service == "s3" {
			rc, err := v.Body(r, a, testSecret)
			if err == nil {
				_, err = io.Copy(io.Discard, rc)
			}
			if err != nil {
				fail(err)
				return
			}
		}
		switch a.Service {
		case "sts":
			w.Header().Set("Content-Type", "text/xml")
			io.WriteString(w, `<GetCallerIdentityResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><GetCallerIdentityResult><Arn>arn:aws:iam::000000000000:root</Arn><UserId>000000000000</UserId><Account>000000000000</Account></GetCallerIdentityResult><ResponseMetadata><RequestId>1</RequestId></ResponseMetadata></GetCallerIdentityResponse>`)
		case "s3":
			if r.Method == http.MethodPut {
				w.Header().Set("ETag", `"0123456789abcdef0123456789abcdef"`)
				return
			}
			w.Header().Set("Content-Type", "application/xml")
			io.WriteString(w, `<ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Name>bucket</Name><KeyCount>0</KeyCount><MaxKeys>1000</MaxKeys><IsTruncated>false</IsTruncated></ListBucketResult>`)
		default:
			w.Header().Set("Content-Type", "application/json")
			io.WriteString(w, `{"Configuration":{"FunctionName":"f1"}}`)
		}
	}))
	defer srv.Close()

	file := t.TempDir() + "/object.bin"
	if err := os.WriteFile(file, []byte(strings.Repeat("cli payload ", 10000)), 0o644); err != nil {
		t.Fatal(err)
	}
	commands := [][]string{
		{"sts", "get-caller-identity"},
		{"s3api", "put-object", "--bucket", "bucket", "--key", "dir/a b+ü=~.txt", "--body", file},
		{"s3api", "list-objects-v2", "--bucket", "bucket", "--prefix", "dir/a b+ü", "--start-after", "x&y=z"},
		{"lambda", "get-function", "--function-name", "arn:aws:lambda:us-east-1:000000000000:function:f1", "--qualifier", "$LATEST"},
	}
	for _, args := range commands {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		cmd := exec.CommandContext(ctx, cli, append([]string{"--endpoint-url", srv.URL, "--region", "us-east-1", "--output", "json"}, args...)...)
		cmd.Env = append(os.Environ(),
			"AWS_ACCESS_KEY_ID="+testAccessKey, "AWS_SECRET_ACCESS_KEY="+testSecret, "AWS_SESSION_TOKEN=",
			"AWS_CONFIG_FILE=/dev/null", "AWS_SHARED_CREDENTIALS_FILE=/dev/null", "AWS_EC2_METADATA_DISABLED=true", "AWS_PAGER=")
		out, err := cmd.CombinedOutput()
		cancel()
		if err != nil {
			t.Errorf("aws %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
	mu.Lock()
	defer mu.Unlock()
	for _, f := range failures {
		t.Errorf("server rejected: %s", f)
	}
	if verified < len(commands) {
		t.Errorf("verified %d requests, want at least %d", verified, len(commands))
	}
}

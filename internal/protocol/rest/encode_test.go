package rest

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/nimbus-dev/nimbus/internal/awserr"
	"github.com/nimbus-dev/nimbus/internal/awsmodel"
	"github.com/nimbus-dev/nimbus/internal/protocol/wire"
)

type encodeCase struct {
	name    string
	service string
	op      string
	out     map[string]any
	status  int
	header  map[string]string // headers that must have these values; "" means absent
	body    string            // exact body
	bodyHas []string          // substrings, when the exact body is not the point
}

func TestEncode(t *testing.T) {
	when := time.Date(2024, 3, 4, 5, 6, 7, 0, time.UTC)
	cases := []encodeCase{
		{name: "rest-json body members, epoch timestamps, request id", service: "lambda", op: "GetAlias",
			out:    map[string]any{"name": "live", "FunctionVersion": "3", "RoutingConfig": map[string]any{"AdditionalVersionWeights": map[string]any{"4": 0.25}}},
			status: 200, header: map[string]string{"Content-Type": "application/json", "X-Amzn-Requestid": "rid", "Content-Length": "93"},
			body: `{"Name":"live","FunctionVersion":"3","RoutingConfig":{"AdditionalVersionWeights":{"4":0.25}}}`},
		{name: "responseCode 201", service: "lambda", op: "CreateAlias", out: map[string]any{"Name": "a"}, status: 201, body: `{"Name":"a"}`},
		{name: "204 has no body", service: "lambda", op: "DeleteFunction", out: nil, status: 204, body: ""},
		{name: "Invoke raw payload and headers", service: "lambda", op: "Invoke",
			out:    map[string]any{"StatusCode": 200, "FunctionError": "Handled", "ExecutedVersion": "$LATEST", "Payload": []byte(`"ok"`)},
			status: 200, header: map[string]string{"X-Amz-Function-Error": "Handled", "X-Amz-Executed-Version": "$LATEST", "Content-Length": "4", "X-Amz-Log-Result": ""},
			body: `"ok"`},
		{name: "batch long epoch millis stay integers", service: "batch", op: "SubmitJob",
			out: map[string]any{"jobName": "j", "jobId": "1", "JOBARN": "arn"}, status: 200,
			body: `{"jobArn":"arn","jobName":"j","jobId":"1"}`},
		{name: "S3 XML root with namespace", service: "s3", op: "ListObjectsV2",
			out:    map[string]any{"Name": "b", "KeyCount": 1, "Contents": []any{map[string]any{"Key": "a&b", "LastModified": when, "Size": 3}}},
			status: 200, header: map[string]string{"Content-Type": "application/xml", "X-Amz-Request-Id": "rid", "X-Amz-Id-2": "cmlk"},
			body: `<?xml version="1.0" encoding="UTF-8"?>` + "\n" +
				`<ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Contents><Key>a&amp;b</Key><LastModified>2024-03-04T05:06:07.000Z</LastModified><Size>3</Size></Contents><Name>b</Name><KeyCount>1</KeyCount></ListBucketResult>`},
		{name: "S3 GetObject headers", service: "s3", op: "GetObject",
			out: map[string]any{"Body": []byte("hello"), "ContentLength": 5, "ETag": `"e"`, "LastModified": when, "ContentType": "text/plain",
				"Metadata": map[string]any{"owner": "me"}},
			status: 200, header: map[string]string{"Last-Modified": "Mon, 04 Mar 2024 05:06:07 GMT", "Etag": `"e"`, "Content-Length": "5",
				"Content-Type": "text/plain", "x-amz-meta-owner": "me"},
			body: "hello"},
		{name: "S3 range answer is 206", service: "s3", op: "GetObject",
			out:    map[string]any{"Body": []byte("hel"), "ContentRange": "bytes 0-2/11", "ContentLength": 3},
			status: 206, header: map[string]string{"Content-Range": "bytes 0-2/11", "Content-Length": "3"}, body: "hel"},
		{name: "S3 HEAD is headers only", service: "s3", op: "HeadObject",
			out:    map[string]any{"ContentLength": 1024, "ETag": `"e"`},
			status: 200, header: map[string]string{"Content-Length": "1024", "Etag": `"e"`}, body: ""},
		{name: "S3 headers-only output has an empty body", service: "s3", op: "PutObject",
			out: map[string]any{"ETag": `"e"`}, status: 200, header: map[string]string{"Content-Length": "0", "Etag": `"e"`}, body: ""},
		{name: "S3 structure payload", service: "s3", op: "CopyObject",
			out:    map[string]any{"CopyObjectResult": map[string]any{"ETag": `"c"`}},
			status: 200, body: `<?xml version="1.0" encoding="UTF-8"?>` + "\n" + `<CopyObjectResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><ETag>"c"</ETag></CopyObjectResult>`,
			bodyHas: nil},
		{name: "S3 bucket location is the root's text", service: "s3", op: "GetBucketLocation",
			out:    map[string]any{"LocationConstraint": "eu-west-1"},
			status: 200, body: `<?xml version="1.0" encoding="UTF-8"?>` + "\n" + `<LocationConstraint xmlns="http://s3.amazonaws.com/doc/2006-03-01/">eu-west-1</LocationConstraint>`},
		{name: "S3 DeleteObject 204", service: "s3", op: "DeleteObject", out: map[string]any{"VersionId": "v"}, status: 204,
			header: map[string]string{"X-Amz-Version-Id": "v"}, body: ""},
	}
	for _, tc := range cases {
		t.Run(tc.service+" "+tc.name, func(t *testing.T) {
			svc := awsmodel.MustLoad(tc.service)
			c := New(svc)
			rec := httptest.NewRecorder()
			if err := c.Encode(rec, svc.Operations[tc.op], tc.out, "rid"); err != nil {
				t.Fatalf("Encode: %v", err)
			}
			checkResponse(t, rec, tc.status, tc.header, tc.body, tc.bodyHas)
		})
	}
}

func checkResponse(t *testing.T, rec *httptest.ResponseRecorder, status int, header map[string]string, body string, bodyHas []string) {
	t.Helper()
	if rec.Code != status {
		t.Errorf("status %d, want %d", rec.Code, status)
	}
	for k, v := range header {
		got := rec.Header().Get(k)
		if exact, ok := rec.Header()[k]; ok { // a name written verbatim, such as x-amz-meta-*
			got = exact[0]
		}
		if got != v {
			t.Errorf("header %s = %q, want %q", k, got, v)
		}
	}
	if bodyHas == nil && rec.Body.String() != body {
		t.Errorf("body\n%s\nwant\n%s", rec.Body.String(), body)
	}
	for _, s := range bodyHas {
		if !strings.Contains(rec.Body.String(), s) {
			t.Errorf("body %s lacks %s", rec.Body.String(), s)
		}
	}
}

func TestEncodeError(t *testing.T) {
	cases := []struct {
		name    string
		service string
		op      string
		err     *awserr.Error
		status  int
		header  map[string]string
		body    string
	}{
		{name: "Lambda not found", service: "lambda", op: "GetFunction",
			err:    &awserr.Error{Kind: awserr.NotFound, Message: "Function not found: f"},
			status: 404, header: map[string]string{"X-Amzn-Errortype": "ResourceNotFoundException", "X-Amzn-Requestid": "rid", "Content-Type": "application/json"},
			body: `{"Message":"Function not found: f","Type":"User"}`},
		{name: "Lambda throttle with header field", service: "lambda", op: "Invoke",
			err:    &awserr.Error{Kind: awserr.Throttled, Message: "Rate Exceeded.", Fields: map[string]string{"Reason": "CallerRateLimitExceeded", "retryAfterSeconds": "1"}},
			status: 429, header: map[string]string{"X-Amzn-Errortype": "TooManyRequestsException", "Retry-After": "1"},
			body: `{"Reason":"CallerRateLimitExceeded","Type":"User","message":"Rate Exceeded."}`},
		{name: "Lambda service fault", service: "lambda", op: "Invoke",
			err:    &awserr.Error{Kind: awserr.Internal, Message: "We encountered an internal error. Please try again."},
			status: 500, header: map[string]string{"X-Amzn-Errortype": "ServiceException"},
			body: `{"Message":"We encountered an internal error. Please try again.","Type":"Service"}`},
		{name: "Batch client exception", service: "batch", op: "SubmitJob",
			err:    &awserr.Error{Kind: awserr.Validation, Code: "ClientException", Message: "bad queue"},
			status: 400, header: map[string]string{"X-Amzn-Errortype": "ClientException"},
			body: `{"message":"bad queue"}`},
		{name: "S3 NoSuchKey", service: "s3", op: "GetObject",
			err:    &awserr.Error{Kind: awserr.NotFound, Code: "NoSuchKey", Message: "The specified key does not exist.", Fields: map[string]string{"Key": "a<b"}},
			status: 404, header: map[string]string{"Content-Type": "application/xml", "X-Amz-Request-Id": "rid", "X-Amz-Id-2": "cmlk"},
			body: `<?xml version="1.0" encoding="UTF-8"?>` + "\n" +
				`<Error><Code>NoSuchKey</Code><Message>The specified key does not exist.</Message><Key>a&lt;b</Key><RequestId>rid</RequestId><HostId>cmlk</HostId></Error>`},
		{name: "S3 HEAD error has no body", service: "s3", op: "HeadObject",
			err:    &awserr.Error{Kind: awserr.NotFound, Code: "NoSuchKey", Message: "The specified key does not exist."},
			status: 404, header: map[string]string{"X-Amz-Request-Id": "rid"}, body: ""},
		{name: "S3 304 has no body", service: "s3", op: "GetObject",
			err:    &awserr.Error{Kind: awserr.Conflict, Code: "NotModified", Message: "Not Modified", Status: 304},
			status: 304, body: ""},
		{name: "S3 field names that are not XML names are dropped", service: "s3", op: "GetObject",
			err:    &awserr.Error{Kind: awserr.Validation, Message: "bad", Fields: map[string]string{"1x": "y", "ArgumentName": "x-amz-acl"}},
			status: 400, body: `<?xml version="1.0" encoding="UTF-8"?>` + "\n" +
				`<Error><Code>InvalidArgument</Code><Message>bad</Message><ArgumentName>x-amz-acl</ArgumentName><RequestId>rid</RequestId><HostId>cmlk</HostId></Error>`},
	}
	for _, tc := range cases {
		t.Run(tc.service+" "+tc.name, func(t *testing.T) {
			svc := awsmodel.MustLoad(tc.service)
			c := New(svc)
			rec := httptest.NewRecorder()
			c.EncodeError(rec, svc.Operations[tc.op], awserr.Resolve(c.Family(), tc.err), "rid")
			checkResponse(t, rec, tc.status, tc.header, tc.body, nil)
		})
	}
}

func TestEncodeStreamsReaderPayload(t *testing.T) {
	svc := awsmodel.MustLoad("s3")
	c := New(svc)
	body := strings.Repeat("0123456789", 10000)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		out := map[string]any{"Body": strings.NewReader(body)}
		if r.URL.Query().Get("known") != "" {
			out["ContentLength"] = int64(len(body))
		}
		if err := c.Encode(w, svc.Operations["GetObject"], out, "rid"); err != nil {
			t.Errorf("Encode: %v", err)
		}
	}))
	defer srv.Close()
	for _, known := range []bool{true, false} {
		target := srv.URL + "/b/k"
		if known {
			target += "?known=1"
		}
		resp, err := http.Get(target)
		if err != nil {
			t.Fatal(err)
		}
		got := new(strings.Builder)
		if _, err := copyBody(got, resp); err != nil {
			t.Fatal(err)
		}
		if got.String() != body {
			t.Errorf("known=%v: body of %d bytes, want %d", known, got.Len(), len(body))
		}
		if known && resp.ContentLength != int64(len(body)) {
			t.Errorf("Content-Length %d, want %d", resp.ContentLength, len(body))
		}
		if !known && resp.ContentLength != -1 {
			t.Errorf("unknown length sent Content-Length %d, want chunked", resp.ContentLength)
		}
	}
}

func TestFormatEpochSeconds(t *testing.T) {
	cases := []struct {
		t    time.Time
		want string
	}{
		{time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC), "1704164645"},
		{time.Date(2024, 1, 2, 3, 4, 5, 600e6, time.UTC), "1704164645.6"},
		{time.Date(2024, 1, 2, 3, 4, 5, 123456789, time.UTC), "1704164645.123"},
	}
	for _, tc := range cases {
		if got := formatTime(tc.t, wire.UnixTimestamp); got != tc.want {
			t.Errorf("formatTime(%v) = %s, want %s", tc.t, got, tc.want)
		}
	}
}

func TestEncodeFailureWritesNothing(t *testing.T) {
	cases := []struct {
		service, op string
		out         map[string]any
	}{
		{"s3", "GetObject", map[string]any{"ETag": `"e"`, "LastModified": "not a time", "Body": strings.NewReader("x")}},
		{"s3", "ListObjectsV2", map[string]any{"Contents": "not a list"}},
		{"lambda", "Invoke", map[string]any{"FunctionError": "Unhandled", "StatusCode": "two hundred"}},
		{"lambda", "GetFunction", map[string]any{"Configuration": map[string]any{"MemorySize": "big"}}},
	}
	for _, tc := range cases {
		t.Run(tc.service+" "+tc.op, func(t *testing.T) {
			svc := awsmodel.MustLoad(tc.service)
			c := New(svc)
			rec := httptest.NewRecorder()
			if err := c.Encode(rec, svc.Operations[tc.op], tc.out, "rid"); err == nil {
				t.Fatal("Encode accepted an output that does not fit the model")
			}
			if len(rec.Header()) != 0 || rec.Body.Len() != 0 {
				t.Fatalf("failed Encode wrote headers %v body %q", rec.Header(), rec.Body.String())
			}
			c.EncodeError(rec, svc.Operations[tc.op], awserr.Resolve(c.Family(), awserr.Internalf(nil, "encode")), "rid")
			if rec.Code != 500 || rec.Header().Get("Etag") != "" || rec.Header().Get("X-Amz-Function-Error") != "" {
				t.Errorf("error response after failed Encode: %d %v", rec.Code, rec.Header())
			}
		})
	}
}

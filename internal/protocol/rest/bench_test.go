package rest

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/nimbus-dev/nimbus/internal/awsmodel"
)

// discardWriter is an http.ResponseWriter that keeps headers and drops the
// body, so the benchmarks measure the codec rather than a recorder.
type discardWriter struct{ h http.Header }

func (w *discardWriter) Header() http.Header         { return w.h }
func (w *discardWriter) Write(p []byte) (int, error) { return len(p), nil }
func (w *discardWriter) WriteHeader(int)             {}

func BenchmarkLambdaInvoke(b *testing.B) {
	svc := awsmodel.MustLoad("lambda")
	c := New(svc)
	payload := []byte(`{"name":"world","items":[1,2,3],"nested":{"a":"b"}}`)
	result := []byte(`{"statusCode":200,"body":"hello world"}`)
	b.ReportAllocs()
	for b.Loop() {
		r := httptest.NewRequest(http.MethodPost, "/2015-03-31/functions/arn%3Aaws%3Alambda%3Aus-east-1%3A000000000000%3Afunction%3Ahello/invocations?Qualifier=prod", bytes.NewReader(payload))
		r.Header.Set("X-Amz-Invocation-Type", "RequestResponse")
		r.Header.Set("X-Amz-Log-Type", "Tail")
		op, err := c.Resolve(r, payload)
		if err != nil {
			b.Fatal(err)
		}
		in, err := c.Decode(r, payload, op)
		if err != nil || in["Qualifier"] != "prod" {
			b.Fatal(in, err)
		}
		out := map[string]any{"StatusCode": 200, "ExecutedVersion": "$LATEST", "Payload": result}
		if err := c.Encode(&discardWriter{h: http.Header{}}, op, out, "9c2d0c5e-7a57-4c1b-8d1f-3d8b5f0b0a11"); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkS3GetObject(b *testing.B) {
	svc := awsmodel.MustLoad("s3")
	c := New(svc)
	body := bytes.Repeat([]byte("x"), 4096)
	modified := time.Date(2024, 3, 4, 5, 6, 7, 0, time.UTC)
	b.ReportAllocs()
	for b.Loop() {
		r := httptest.NewRequest(http.MethodGet, "/photos/2024/03/cat%20picture.jpg?x-id=GetObject", nil)
		r.Host = "bucket.s3.localhost:4566"
		r.Header.Set("Range", "bytes=0-4095")
		op, err := c.Resolve(r, nil)
		if err != nil {
			b.Fatal(err)
		}
		in, err := c.Decode(r, nil, op)
		if err != nil || in["Key"] != "photos/2024/03/cat picture.jpg" {
			b.Fatal(in, err)
		}
		out := map[string]any{
			"Body": bytes.NewReader(body), "ContentLength": int64(len(body)), "ContentType": "image/jpeg",
			"ETag": `"9b2cf535f27731c974343645a3985328"`, "LastModified": modified, "AcceptRanges": "bytes",
			"Metadata": map[string]any{"camera": "x100"},
		}
		if err := c.Encode(&discardWriter{h: http.Header{}}, op, out, "4442587FB7D0A2F9"); err != nil {
			b.Fatal(err)
		}
	}
}

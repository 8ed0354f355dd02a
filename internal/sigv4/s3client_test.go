package sigv4

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
)

// capturingClient records what the real S3 client sends and answers 200, so
// the test sees exactly the bytes a nimbus server would receive.
type capturingClient struct {
	mu   sync.Mutex
	wire [][]byte
}

func (c *capturingClient) Do(r *http.Request) (*http.Response, error) {
	var body []byte
	if r.Body != nil {
		b, err := io.ReadAll(r.Body)
		if err != nil {
			return nil, err
		}
		body = b
		r.Body = io.NopCloser(bytes.NewReader(body))
	}
	var wire bytes.Buffer
	if err := r.Write(&wire); err != nil {
		return nil, err
	}
	c.mu.Lock()
	c.wire = append(c.wire, wire.Bytes())
	c.mu.Unlock()
	return &http.Response{
		StatusCode: http.StatusOK, Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
		Header:  http.Header{"Etag": {`"0123456789abcdef0123456789abcdef"`}},
		Body:    http.NoBody,
		Request: r,
	}, nil
}

// sdkPut captures one PutObject of payload as aws-sdk-go-v2 sends it.
func sdkPut(t *testing.T, endpoint string, body io.Reader) []byte {
	t.Helper()
	capture := &capturingClient{}
	client := s3.New(s3.Options{
		Region:           "us-east-1",
		BaseEndpoint:     aws.String(endpoint),
		UsePathStyle:     true,
		Credentials:      credentials.NewStaticCredentialsProvider(testAccessKey, testSecret, ""),
		HTTPClient:       capture,
		RetryMaxAttempts: 1,
		// What config.LoadDefaultConfig resolves by default since 2025.
		RequestChecksumCalculation: aws.RequestChecksumCalculationWhenSupported,
	})
	_, err := client.PutObject(context.Background(), &s3.PutObjectInput{
		Bucket: aws.String("bucket"), Key: aws.String("dir/some key+ü.txt"), Body: body,
	})
	if err != nil {
		t.Fatalf("PutObject: %v", err)
	}
	if len(capture.wire) != 1 {
		t.Fatalf("captured %d requests", len(capture.wire))
	}
	return capture.wire[0]
}

func TestS3ClientPutObject(t *testing.T) {
	payload := strings.Repeat("nimbus payload ", 5000) // 75 KB: more than one chunk
	cases := []struct {
		name, endpoint string
		body           func() io.Reader
		wantMode       string
		wantTamperErr  error
	}{
		// Over TLS the SDK streams aws-chunked with a CRC32 trailer.
		{"https seekable body", "https://s3.nimbus.test", func() io.Reader { return strings.NewReader(payload) }, StreamingUnsignedPayloadTrailer, ErrChecksumMismatch},
		{"https stream body", "https://s3.nimbus.test", func() io.Reader { return io.MultiReader(strings.NewReader(payload)) }, StreamingUnsignedPayloadTrailer, ErrChecksumMismatch},
		// Over plain HTTP it signs the payload's SHA-256 instead.
		{"http seekable body", "http://127.0.0.1:4566", func() io.Reader { return strings.NewReader(payload) }, hashHex([]byte(payload)), ErrContentSHA256Mismatch},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			wire := sdkPut(t, tc.endpoint, tc.body())
			for _, tamper := range []bool{false, true} {
				raw := wire
				if tamper {
					// Change one payload byte, wherever the framing put it.
					i := bytes.Index(raw, []byte("nimbus payload nimbus"))
					if i < 0 {
						t.Fatal("payload not found on the wire")
					}
					raw = bytes.Clone(raw)
					raw[i+3] = 'B'
				}
				r, err := readRequest(string(raw))
				if err != nil {
					t.Fatalf("read captured request: %v", err)
				}
				a, err := Parse(r)
				if err != nil {
					t.Fatalf("Parse: %v", err)
				}
				if a.PayloadHash != tc.wantMode {
					t.Fatalf("x-amz-content-sha256 = %s, want %s", a.PayloadHash, tc.wantMode)
				}
				v := &Verifier{}
				if err := v.Verify(r, a, testSecret, nil); err != nil {
					t.Fatalf("Verify: %v", err)
				}
				rc, err := v.Body(r, a, testSecret)
				if err != nil {
					t.Fatalf("Body: %v", err)
				}
				got, err := readAll(rc)
				if !tamper {
					if err != nil || got != payload {
						t.Fatalf("payload: %d bytes, %v", len(got), err)
					}
					if cr, ok := rc.(*ChunkedReader); ok && len(cr.Trailers()) == 0 && r.Header.Get("X-Amz-Trailer") != "" {
						t.Fatal("trailers not exposed")
					}
					continue
				}
				if !errors.Is(err, tc.wantTamperErr) {
					t.Fatalf("tampered payload read error = %v, want %v", err, tc.wantTamperErr)
				}
			}
		})
	}
}

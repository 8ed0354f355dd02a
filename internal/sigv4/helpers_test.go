package sigv4

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
)

const (
	testAccessKey = "AKIDNIMBUSTEST000001"
	testSecret    = "nimbus/test+secret/key000000000000000000"
)

var testCreds = aws.Credentials{AccessKeyID: testAccessKey, SecretAccessKey: testSecret}

// onTheWire sends a client request through HTTP/1.1 serialisation and reads
// it back as net/http's server would see it (RequestURI, Host, headers).
func onTheWire(t testing.TB, r *http.Request) *http.Request {
	t.Helper()
	var wire bytes.Buffer
	if err := r.Write(&wire); err != nil {
		t.Fatalf("serialise request: %v", err)
	}
	srv, err := http.ReadRequest(bufio.NewReader(&wire))
	if err != nil {
		t.Fatalf("read request back: %v\n%s", err, wire.String())
	}
	return srv
}

func hashHex(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// signedRequest builds and signs a request with aws-sdk-go-v2's signer.
type signedRequest struct {
	method, url, service string
	header               map[string]string
	body                 string
	payloadHash          string // "" means the SHA-256 of body
	s3Escaping           bool   // DisableURIPathEscaping, as the S3 client signs
	at                   time.Time
	presign              time.Duration // >0: presign with this X-Amz-Expires
	token                string        // session token of temporary credentials
}

func (s signedRequest) build(t testing.TB) *http.Request {
	t.Helper()
	var body io.Reader
	if s.body != "" {
		body = strings.NewReader(s.body)
	}
	r, err := http.NewRequest(s.method, s.url, body)
	if err != nil {
		t.Fatalf("new request: %v", err)
	}
	for k, v := range s.header {
		r.Header.Set(k, v)
	}
	hash := s.payloadHash
	if hash == "" {
		hash = hashHex([]byte(s.body))
	}
	opts := func(o *v4.SignerOptions) { o.DisableURIPathEscaping = s.s3Escaping }
	creds := testCreds
	creds.SessionToken = s.token
	signer := v4.NewSigner()
	if s.presign > 0 {
		q := r.URL.Query()
		q.Set("X-Amz-Expires", strconv.Itoa(int(s.presign/time.Second)))
		r.URL.RawQuery = q.Encode()
		signedURL, hdr, err := signer.PresignHTTP(context.Background(), creds, r, hash, s.service, "us-east-1", s.at, opts)
		if err != nil {
			t.Fatalf("presign: %v", err)
		}
		pr, err := http.NewRequest(s.method, signedURL, body)
		if err != nil {
			t.Fatalf("presigned request: %v", err)
		}
		for k, v := range hdr {
			if !strings.EqualFold(k, "host") {
				pr.Header[k] = v
			}
		}
		return onTheWire(t, pr)
	}
	if err := signer.SignHTTP(context.Background(), creds, r, hash, s.service, "us-east-1", s.at, opts); err != nil {
		t.Fatalf("sign: %v", err)
	}
	return onTheWire(t, r)
}

// readBody returns the request body bytes (the edge's buffering).
func readBody(t testing.TB, r *http.Request) []byte {
	t.Helper()
	b, err := io.ReadAll(r.Body)
	if err != nil {
		t.Fatalf("read body: %v", err)
	}
	r.Body = io.NopCloser(bytes.NewReader(b))
	return b
}

func nopBody(s string) io.ReadCloser { return io.NopCloser(strings.NewReader(s)) }

func readAll(r io.Reader) (string, error) {
	b, err := io.ReadAll(r)
	return string(b), err
}

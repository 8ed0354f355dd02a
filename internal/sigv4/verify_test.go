package sigv4

import (
	"errors"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"
)

var testNow = time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)

func testVerifier() *Verifier { return &Verifier{Now: func() time.Time { return testNow }} }

const stsBody = "Action=GetCallerIdentity&Version=2011-06-15"

var (
	stsPost = signedRequest{
		method: "POST", url: "http://127.0.0.1:4566/", service: "sts", at: testNow,
		header: map[string]string{"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"},
		body:   stsBody,
	}
	lambdaGet = signedRequest{
		method: "GET", url: "http://127.0.0.1:4566/2015-03-31/functions/arn%3Aaws%3Alambda%3Aus-east-1%3A000000000000%3Afunction%3Af1/configuration?Qualifier=%24LATEST",
		service: "lambda", at: testNow,
	}
	s3Get = signedRequest{
		method: "GET", url: "http://127.0.0.1:4566/bucket/dir%20one/%C3%BCber%2Bplus%20%26%20more.txt?versionId=a%2Bb&x=1&x=0",
		service: "s3", at: testNow, s3Escaping: true, payloadHash: UnsignedPayload,
		header: map[string]string{"X-Amz-Content-Sha256": UnsignedPayload, "Range": "bytes=0-9"},
	}
	s3Put = signedRequest{
		method: "PUT", url: "http://127.0.0.1:4566/bucket/key", service: "s3", at: testNow, s3Escaping: true,
		body: "hello, object", header: map[string]string{"X-Amz-Content-Sha256": hashHex([]byte("hello, object")), "X-Amz-Meta-Colour": "  deep   blue  "},
	}
	genericPath = signedRequest{
		method: "GET", url: "http://127.0.0.1:4566/a%20b/%C3%BC%2Bc/?b=2&a=%2B&a=1&empty", service: "execute-api", at: testNow,
	}
)

func TestVerifySDKSigned(t *testing.T) {
	cases := []struct {
		name    string
		req     signedRequest
		secret  string
		mutate  func(r *http.Request)
		buffer  bool // pass the buffered body to Verify
		skew    time.Duration
		wantErr error
	}{
		{name: "sts post", req: stsPost, buffer: true},
		{name: "lambda get with encoded path and query", req: lambdaGet},
		{name: "s3 get unsigned payload, unicode, space and plus in key, repeated query", req: s3Get},
		{name: "s3 put with hex content sha", req: s3Put, buffer: true},
		{name: "s3 put streamed body", req: s3Put},
		{name: "generic service double-encoded path", req: genericPath},
		{name: "presigned s3 get", req: withPresign(s3Get, 5*time.Minute)},
		{name: "presigned sts get-caller-identity", req: withPresign(signedRequest{
			method: "GET", url: "http://127.0.0.1:4566/?Action=GetCallerIdentity&Version=2011-06-15", service: "sts", at: testNow,
			header: map[string]string{"X-K8s-Aws-Id": "cluster"},
		}, time.Minute)},
		{name: "session token, header auth", req: withToken(stsPost, "FwoGZXIvYXdzEXAMPLE/token+=="), buffer: true},
		{name: "session token, presigned", req: withToken(withPresign(s3Get, time.Minute), "FwoGZXIvYXdzEXAMPLE/token+=="), skew: 30 * time.Second},
		{name: "session token swapped", req: withToken(stsPost, "FwoGZXIvYXdzEXAMPLE/token+=="), buffer: true, mutate: func(r *http.Request) {
			r.Header.Set("X-Amz-Security-Token", "FwoGZXIvYXdzOTHER")
		}, wantErr: ErrSignatureMismatch},
		{name: "skew just inside 15 minutes", req: withTime(stsPost, testNow.Add(-14*time.Minute)), buffer: true},

		{name: "wrong secret", req: stsPost, buffer: true, secret: "not-the-secret", wantErr: ErrSignatureMismatch},
		{name: "tampered signed header", req: lambdaGet, mutate: func(r *http.Request) { r.Host = "evil.example:4566" }, wantErr: ErrSignatureMismatch},
		{name: "tampered x-amz header", req: s3Put, buffer: true, mutate: func(r *http.Request) { r.Header.Set("X-Amz-Meta-Colour", "red") }, wantErr: ErrSignatureMismatch},
		{name: "tampered query", req: lambdaGet, mutate: func(r *http.Request) { r.URL.RawQuery = "Qualifier=1" }, wantErr: ErrSignatureMismatch},
		{name: "added query parameter", req: s3Get, mutate: func(r *http.Request) { r.URL.RawQuery += "&x=2" }, wantErr: ErrSignatureMismatch},
		{name: "tampered path", req: s3Get, mutate: func(r *http.Request) { r.RequestURI = strings.Replace(r.RequestURI, "%2Bplus", "+plus", 1) }, wantErr: ErrSignatureMismatch},
		{name: "tampered body of sts", req: stsPost, buffer: true, mutate: setBody("Action=GetCallerIdentity&Version=2011-06-16"), wantErr: ErrSignatureMismatch},
		{name: "tampered body of s3 put", req: s3Put, buffer: true, mutate: setBody("hello, OBJECT"), wantErr: ErrContentSHA256Mismatch},
		{name: "request 16 minutes old", req: withTime(stsPost, testNow.Add(-16*time.Minute)), buffer: true, wantErr: ErrSkewed},
		{name: "request 16 minutes ahead", req: withTime(stsPost, testNow.Add(16*time.Minute)), buffer: true, wantErr: ErrSkewed},
		{name: "presigned url expired", req: withPresign(s3Get, 5*time.Minute), skew: 6 * time.Minute, wantErr: ErrExpired},
		{name: "presigned url tampered", req: withPresign(s3Get, 5*time.Minute), mutate: func(r *http.Request) {
			r.URL.RawQuery = strings.Replace(r.URL.RawQuery, "versionId=a%2Bb", "versionId=a", 1)
		}, wantErr: ErrSignatureMismatch},
		{name: "presigned expiry extended", req: withPresign(s3Get, 5*time.Minute), mutate: func(r *http.Request) {
			r.URL.RawQuery = strings.Replace(r.URL.RawQuery, "X-Amz-Expires=300", "X-Amz-Expires=3000", 1)
		}, skew: 6 * time.Minute, wantErr: ErrSignatureMismatch},
		{name: "s3 header auth without content sha", req: s3Get, mutate: func(r *http.Request) { r.Header.Del("X-Amz-Content-Sha256") }, wantErr: ErrMissingContentSHA256},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := tc.req.build(t)
			if tc.mutate != nil {
				tc.mutate(r)
			}
			var body []byte
			if tc.buffer {
				body = readBody(t, r)
			}
			a, err := Parse(r)
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			if a.AccessKey != testAccessKey || a.Region != "us-east-1" || a.Service != tc.req.service || tc.wantErr == nil && a.SessionToken != tc.req.token {
				t.Fatalf("Parse got key %q region %q service %q", a.AccessKey, a.Region, a.Service)
			}
			secret := testSecret
			if tc.secret != "" {
				secret = tc.secret
			}
			v := testVerifier()
			v.Now = func() time.Time { return testNow.Add(tc.skew) }
			err = v.Verify(r, a, secret, body)
			if tc.wantErr == nil {
				if err != nil {
					var e *Error
					if errors.As(err, &e) && e.CanonicalRequest != "" {
						t.Logf("canonical request:\n%s", e.CanonicalRequest)
					}
					t.Fatalf("Verify: %v", err)
				}
				return
			}
			if !errors.Is(err, tc.wantErr) {
				t.Fatalf("Verify = %v, want %v", err, tc.wantErr)
			}
		})
	}
}

func withPresign(s signedRequest, d time.Duration) signedRequest { s.presign = d; return s }
func withToken(s signedRequest, token string) signedRequest      { s.token = token; return s }
func withTime(s signedRequest, at time.Time) signedRequest       { s.at = at; return s }

func setBody(b string) func(r *http.Request) {
	return func(r *http.Request) {

		r.Body = nopBody(b)
	}
}

// TestStreamedContentSHA256 checks a body the edge did not buffer: Verify
// accepts the header, and Body fails at EOF when the bytes differ.
func TestStreamedContentSHA256(t *testing.T) {
	for _, tc := range []struct {
		name, body string
		wantErr    error
	}{
		{"intact", "hello, object", nil},
		{"tampered", "hello, OBJECT", ErrContentSHA256Mismatch},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := s3Put.build(t)
			r.Body = nopBody(tc.body)
			v := testVerifier()
			a, err := Parse(r)
			if err != nil {
				t.Fatal(err)
			}
			if err := v.Verify(r, a, testSecret, nil); err != nil {
				t.Fatalf("Verify: %v", err)
			}
			rc, err := v.Body(r, a, testSecret)
			if err != nil {
				t.Fatal(err)
			}
			got, err := readAll(rc)
			if tc.wantErr == nil {
				if err != nil || got != tc.body {
					t.Fatalf("read %q, %v", got, err)
				}
				return
			}
			if !errors.Is(err, tc.wantErr) {
				t.Fatalf("read error %v, want %v", err, tc.wantErr)
			}
		})
	}
}

// TestVerifyConcurrent shares one Verifier between goroutines signing on
// different days, so the signing-key cache is read and written at once
// (run with -race).
func TestVerifyConcurrent(t *testing.T) {
	v := &Verifier{MaxSkew: 30 * 24 * time.Hour, Now: func() time.Time { return testNow }}
	var reqs []*http.Request
	var bodies [][]byte
	for day := range 8 {
		r := withTime(stsPost, testNow.AddDate(0, 0, -day)).build(t)
		bodies = append(bodies, readBody(t, r))
		reqs = append(reqs, r)
	}
	var wg sync.WaitGroup
	errs := make(chan error, len(reqs)*20)
	for i := range reqs {
		wg.Go(func() {
			for range 20 {
				a, err := Parse(reqs[i])
				if err == nil {
					err = v.Verify(reqs[i], a, testSecret, bodies[i])
				}
				if err != nil {
					errs <- err
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
}

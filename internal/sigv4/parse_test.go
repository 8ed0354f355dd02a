package sigv4

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

const goodAuthorization = "AWS4-HMAC-SHA256 Credential=AKID/20261127/us-east-1/sts/aws4_request, SignedHeaders=content-type;host;x-amz-date, Signature=0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

func TestParseHeader(t *testing.T) {
	r := httptest.NewRequest("POST", "http://127.0.0.1:4566/", nil)
	r.Header.Set("Authorization", goodAuthorization)
	r.Header.Set("X-Amz-Date", "20261127T120000Z")
	r.Header.Set("X-Amz-Security-Token", "token")
	a, err := Parse(r)
	if err != nil {
		t.Fatal(err)
	}
	want := Auth{AccessKey: "AKID", Date: "20261127", Region: "us-east-1", Service: "sts", AmzDate: "20261127T120000Z",
		Signature: "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef", SessionToken: "token"}
	if a.AccessKey != want.AccessKey || a.Date != want.Date || a.Region != want.Region || a.Service != want.Service ||
		a.AmzDate != want.AmzDate || a.Signature != want.Signature || a.SessionToken != want.SessionToken || a.Presigned ||
		!a.Time.Equal(testNow) || strings.Join(a.SignedHeaders, ";") != "content-type;host;x-amz-date" ||
		a.Scope() != "20261127/us-east-1/sts/aws4_request" {
		t.Fatalf("Parse = %+v", a)
	}
}

func TestParseDateHeader(t *testing.T) {
	r := httptest.NewRequest("GET", "http://127.0.0.1:4566/", nil)
	r.Header.Set("Authorization", strings.Replace(goodAuthorization, "x-amz-date", "date", 1))
	r.Header.Set("Date", testNow.Format(http.TimeFormat))
	a, err := Parse(r)
	if err != nil {
		t.Fatal(err)
	}
	if a.AmzDate != "20261127T120000Z" || !a.Time.Equal(testNow) {
		t.Fatalf("time from Date header = %s %v", a.AmzDate, a.Time)
	}
}

func TestParsePresigned(t *testing.T) {
	r := httptest.NewRequest("GET", "http://127.0.0.1:4566/b/k?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKID%2F20261127%2Fus-east-1%2Fs3%2Faws4_request&X-Amz-Date=20261127T120000Z&X-Amz-Expires=600&X-Amz-SignedHeaders=host&X-Amz-Security-Token=tok%2Ben&X-Amz-Signature=00", nil)
	a, err := Parse(r)
	if err != nil {
		t.Fatal(err)
	}
	if !a.Presigned || a.Expires != 10*time.Minute || a.SessionToken != "tok+en" || a.Service != "s3" || a.Signature != "00" {
		t.Fatalf("Parse = %+v", a)
	}
}

func TestParseRejects(t *testing.T) {
	cases := []struct {
		name    string
		header  map[string]string
		query   string
		wantErr error
	}{
		{"unsigned", nil, "", ErrNoAuth},
		{"sigv2", map[string]string{"Authorization": "AWS AKID:sig", "X-Amz-Date": "20261127T120000Z"}, "", ErrMalformed},
		{"sigv4a", map[string]string{"Authorization": strings.Replace(goodAuthorization, "AWS4-HMAC-SHA256", "AWS4-ECDSA-P256-SHA256", 1), "X-Amz-Date": "20261127T120000Z"}, "", ErrMalformed},
		{"missing signature", map[string]string{"Authorization": "AWS4-HMAC-SHA256 Credential=AKID/20261127/us-east-1/sts/aws4_request, SignedHeaders=host", "X-Amz-Date": "20261127T120000Z"}, "", ErrMalformed},
		{"pair without equals", map[string]string{"Authorization": "AWS4-HMAC-SHA256 Credential AKID/20261127/us-east-1/sts/aws4_request", "X-Amz-Date": "20261127T120000Z"}, "", ErrMalformed},
		{"no date", map[string]string{"Authorization": goodAuthorization}, "", ErrMalformed},
		{"bad date", map[string]string{"Authorization": goodAuthorization, "X-Amz-Date": "2026-11-27T12:00:00Z"}, "", ErrMalformed},
		{"scope date differs", map[string]string{"Authorization": goodAuthorization, "X-Amz-Date": "20261128T120000Z"}, "", ErrMalformed},
		{"short credential", map[string]string{"Authorization": strings.Replace(goodAuthorization, "/sts/aws4_request", "/aws4_request", 1), "X-Amz-Date": "20261127T120000Z"}, "", ErrMalformed},
		{"wrong terminator", map[string]string{"Authorization": strings.Replace(goodAuthorization, "aws4_request", "aws5_request", 1), "X-Amz-Date": "20261127T120000Z"}, "", ErrMalformed},
		{"host not signed", map[string]string{"Authorization": strings.Replace(goodAuthorization, "host;", "", 1), "X-Amz-Date": "20261127T120000Z"}, "", ErrMalformed},
		{"upper-case signed header", map[string]string{"Authorization": strings.Replace(goodAuthorization, "content-type", "Content-Type", 1), "X-Amz-Date": "20261127T120000Z"}, "", ErrMalformed},
		{"header and query auth", map[string]string{"Authorization": goodAuthorization, "X-Amz-Date": "20261127T120000Z"}, "X-Amz-Algorithm=AWS4-HMAC-SHA256", ErrMalformed},
		{"presigned other algorithm", nil, "X-Amz-Algorithm=AWS4-HMAC-SHA1&X-Amz-Credential=AKID%2F20261127%2Fus-east-1%2Fs3%2Faws4_request", ErrMalformed},
		{"presigned missing signature", nil, "X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKID%2F20261127%2Fus-east-1%2Fs3%2Faws4_request&X-Amz-Date=20261127T120000Z&X-Amz-SignedHeaders=host&X-Amz-Expires=60", ErrMalformed},
		{"presigned s3 without expires", nil, "X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKID%2F20261127%2Fus-east-1%2Fs3%2Faws4_request&X-Amz-Date=20261127T120000Z&X-Amz-SignedHeaders=host&X-Amz-Signature=00", ErrMalformed},
		{"presigned expiry over a week", nil, "X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKID%2F20261127%2Fus-east-1%2Fs3%2Faws4_request&X-Amz-Date=20261127T120000Z&X-Amz-SignedHeaders=host&X-Amz-Signature=00&X-Amz-Expires=604801", ErrMalformed},
		{"presigned negative expiry", nil, "X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKID%2F20261127%2Fus-east-1%2Fs3%2Faws4_request&X-Amz-Date=20261127T120000Z&X-Amz-SignedHeaders=host&X-Amz-Signature=00&X-Amz-Expires=-1", ErrMalformed},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := httptest.NewRequest("GET", "http://127.0.0.1:4566/?"+tc.query, nil)
			for k, v := range tc.header {
				r.Header.Set(k, v)
			}
			_, err := Parse(r)
			if !errors.Is(err, tc.wantErr) {
				t.Fatalf("Parse = %v, want %v", err, tc.wantErr)
			}
		})
	}
}

func TestVerifyRejectsInvalidContentSHA256(t *testing.T) {
	r := s3Get.build(t)
	r.Header.Set("X-Amz-Content-Sha256", "not-a-hash")
	a, err := Parse(r)
	if err != nil {
		t.Fatal(err)
	}
	if err := testVerifier().Verify(r, a, testSecret, nil); !errors.Is(err, ErrInvalidContentSHA256) {
		t.Fatalf("Verify = %v, want ErrInvalidContentSHA256", err)
	}
}

func TestNormalizePath(t *testing.T) {
	for in, want := range map[string]string{
		"":                    "/",
		"/":                   "/",
		"/a/b":                "/a/b",
		"//a//b//":            "/a/b/",
		"/a/./b/../c":         "/a/c",
		"/../..":              "/",
		"/a/b/..":             "/a",
		"/2015-03-31/fn%3Ax/": "/2015-03-31/fn%3Ax/",
	} {
		if got := normalizePath(in); got != want {
			t.Errorf("normalizePath(%q) = %q, want %q", in, got, want)
		}
	}
}

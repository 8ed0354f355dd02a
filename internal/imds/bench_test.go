package imds

import (
	"net/http"
	"net/http/httptest"
	"testing"
)

// discardWriter is a ResponseWriter that keeps only the status, so the
// benchmarks measure the handler rather than a recorder's buffering.
type discardWriter struct {
	header http.Header
	status int
}

func (w *discardWriter) Header() http.Header         { return w.header }
func (w *discardWriter) Write(b []byte) (int, error) { return len(b), nil }
func (w *discardWriter) WriteHeader(status int)      { w.status = status }

// benchmarkGet serves path to one sandbox over and over; withToken adds an
// IMDSv2 token, so the HMAC check is included.
func benchmarkGet(b *testing.B, path string, withToken bool) {
	hs := newHarness(b, map[string]*Instance{"sb-1": sampleInstance()})
	req := withSandbox(httptest.NewRequest(http.MethodGet, "http://169.254.169.254"+path, nil), "sb-1")
	if withToken {
		req.Header.Set(HeaderToken, hs.token("sb-1", "21600"))
	}
	w := &discardWriter{header: make(http.Header)}
	b.ReportAllocs()
	for b.Loop() {
		clear(w.header)
		hs.h.ServeHTTP(w, req)
		if w.status != http.StatusOK {
			b.Fatalf("status %d", w.status)
		}
	}
}

// A metadata leaf read with IMDSv1.
func BenchmarkGetInstanceID(b *testing.B) { benchmarkGet(b, "/latest/meta-data/instance-id", false) }

// The same read with an IMDSv2 token.
func BenchmarkGetInstanceIDWithToken(b *testing.B) {
	benchmarkGet(b, "/latest/meta-data/instance-id", true)
}

// The top-level listing, the largest directory.
func BenchmarkListMetaData(b *testing.B) { benchmarkGet(b, "/latest/meta-data/", false) }

// The identity document, the largest generated leaf.
func BenchmarkIdentityDocument(b *testing.B) {
	benchmarkGet(b, "/latest/dynamic/instance-identity/document", false)
}

// Minting a token (no hop limit here: the recorder cannot be hijacked).
func BenchmarkPutToken(b *testing.B) {
	hs := newHarness(b, map[string]*Instance{"sb-1": sampleInstance()})
	req := withSandbox(httptest.NewRequest(http.MethodPut, "http://169.254.169.254/latest/api/token", nil), "sb-1")
	req.Header.Set(HeaderTokenTTL, "21600")
	w := &discardWriter{header: make(http.Header)}
	b.ReportAllocs()
	for b.Loop() {
		clear(w.header)
		hs.h.ServeHTTP(w, req)
		if w.status != http.StatusOK {
			b.Fatalf("status %d", w.status)
		}
	}
}

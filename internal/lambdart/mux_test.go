package lambdart

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"
)

type sandboxKey struct{}

// TestMuxRoutesBySandbox serves two sessions on one listener; the calling
// sandbox comes from the request context, here set from a test header in
// place of the network layer.
func TestMuxRoutesBySandbox(t *testing.T) {
	m := NewMux(WithCaller(func(ctx context.Context) (string, bool) {
		id, ok := ctx.Value(sandboxKey{}).(string)
		return id, ok && id != ""
	}))
	a, b := NewSession(), NewSession()
	defer a.Close()
	defer b.Close()
	m.Add("sb-a", a)
	m.Add("sb-b", b)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx := context.WithValue(r.Context(), sandboxKey{}, r.Header.Get("X-Test-Sandbox"))
		m.ServeHTTP(w, r.WithContext(ctx))
	}))
	defer srv.Close()
	api := apiClient{tb: t, base: srv.URL}
	as := http.Header{"X-Test-Sandbox": {"sb-a"}}
	bs := http.Header{"X-Test-Sandbox": {"sb-b"}}

	out := startInvoke(t, b, Invocation{RequestID: "req-b", Payload: []byte(`"for b"`)})
	if r := api.do("GET", "/runtime/invocation/next", nil, bs); string(r.body) != `"for b"` {
		t.Fatalf("b's next: %d %s", r.status, r.body)
	}
	// Sandbox a cannot answer b's invocation: its own session has none.
	if r := api.do("POST", "/runtime/invocation/req-b/response", nil, as); r.status != http.StatusForbidden {
		t.Errorf("a answering b: %d %s", r.status, r.body)
	}
	if r := api.do("POST", "/runtime/invocation/req-b/response", nil, bs); r.status != http.StatusAccepted {
		t.Errorf("b answering: %d %s", r.status, r.body)
	}
	if o := awaitOutcome(t, out); o.err != nil {
		t.Fatal(o.err)
	}
	if a.State() != Initializing || b.State() != Idle {
		t.Errorf("states a=%s b=%s; want Initializing, Idle", a.State(), b.State())
	}
	for _, h := range []http.Header{{"X-Test-Sandbox": {"sb-unknown"}}, nil} {
		if r := api.do("GET", "/runtime/invocation/next", nil, h); r.status != http.StatusForbidden {
			t.Errorf("next from %v: %d", h, r.status)
		}
	}
	m.Remove("sb-b")
	if r := api.do("GET", "/runtime/invocation/next", nil, bs); r.status != http.StatusForbidden {
		t.Errorf("next from a removed sandbox: %d", r.status)
	}
}

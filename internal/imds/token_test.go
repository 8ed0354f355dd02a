package imds

import (
	"errors"
	"net/http"
	"strconv"
	"testing"
	"time"
)

func TestTokenTTLHeader(t *testing.T) {
	hs := newHarness(t, map[string]*Instance{"sb-1": sampleInstance()})
	cases := []struct {
		ttl    []string // nil: header absent
		status int
	}{
		{nil, http.StatusBadRequest},
		{[]string{""}, http.StatusBadRequest},
		{[]string{"0"}, http.StatusBadRequest},
		{[]string{"-1"}, http.StatusBadRequest},
		{[]string{"21601"}, http.StatusBadRequest},
		{[]string{"abc"}, http.StatusBadRequest},
		{[]string{"1.5"}, http.StatusBadRequest},
		{[]string{"1"}, http.StatusOK},
		{[]string{"300"}, http.StatusOK},
		{[]string{"21600"}, http.StatusOK},
	}
	for _, c := range cases {
		name := "absent"
		var headers []string
		if c.ttl != nil {
			name = strconv.Quote(c.ttl[0])
			headers = []string{HeaderTokenTTL, c.ttl[0]}
		}
		t.Run(name, func(t *testing.T) {
			res := hs.do("sb-1", http.MethodPut, "/latest/api/token", headers...)
			if res.status != c.status {
				t.Fatalf("status %d %q, want %d", res.status, res.body, c.status)
			}
			if c.status != http.StatusOK {
				return
			}
			if got := res.header.Get(HeaderTokenTTL); got != c.ttl[0] {
				t.Errorf("%s response header %q, want %q", HeaderTokenTTL, got, c.ttl[0])
			}
			if res.body == "" {
				t.Error("empty token")
			}
		})
	}
}

func TestTokenFlow(t *testing.T) {
	hs := newHarness(t, map[string]*Instance{"sb-1": sampleInstance()})
	token := hs.token("sb-1", "300")

	hs.clock.Advance(100 * time.Second)
	res := hs.do("sb-1", http.MethodGet, "/latest/meta-data/instance-id", HeaderToken, token)
	if res.status != http.StatusOK || res.body != "i-0123456789abcdef0" {
		t.Fatalf("GET with token: %d %q", res.status, res.body)
	}
	if got := res.header.Get(HeaderTokenTTL); got != "200" {
		t.Errorf("remaining TTL header %q, want 200", got)
	}
	// IMDSv1 still works where tokens are optional, and says nothing of TTLs.
	res = hs.do("sb-1", http.MethodGet, "/latest/meta-data/instance-id")
	if res.status != http.StatusOK || res.header.Get(HeaderTokenTTL) != "" {
		t.Errorf("IMDSv1 GET: %d, TTL header %q", res.status, res.header.Get(HeaderTokenTTL))
	}

	bad := []struct{ name, token string }{
		{"garbage", "not-a-token"},
		{"truncated", token[:len(token)-8]},
		{"tampered", flipChar(token, 12)},
		{"empty-signature", token[:16]},
	}
	for _, b := range bad {
		t.Run(b.name, func(t *testing.T) {
			res := hs.do("sb-1", http.MethodGet, "/latest/meta-data/instance-id", HeaderToken, b.token)
			if res.status != http.StatusUnauthorized {
				t.Errorf("status %d, want 401 (a bad token never falls back to IMDSv1)", res.status)
			}
		})
	}
}

func flipChar(s string, i int) string {
	b := []byte(s)
	if b[i] == 'A' {
		b[i] = 'B'
	} else {
		b[i] = 'A'
	}
	return string(b)
}

func TestTokenExpiry(t *testing.T) {
	hs := newHarness(t, map[string]*Instance{"sb-1": sampleInstance()})
	token := hs.token("sb-1", "60")
	hs.clock.Advance(59 * time.Second)
	res := hs.do("sb-1", http.MethodGet, "/latest/meta-data/instance-id", HeaderToken, token)
	if res.status != http.StatusOK || res.header.Get(HeaderTokenTTL) != "1" {
		t.Fatalf("a second before expiry: %d, TTL %q", res.status, res.header.Get(HeaderTokenTTL))
	}
	hs.clock.Advance(time.Second)
	if res := hs.do("sb-1", http.MethodGet, "/latest/meta-data/instance-id", HeaderToken, token); res.status != http.StatusUnauthorized {
		t.Errorf("at expiry: %d, want 401", res.status)
	}
	// Expiry is checked against the handler's clock, not the token's issuer.
	if _, err := hs.h.tokens.verify(token, "i-0123456789abcdef0", launch); err != nil {
		t.Errorf("token before its expiry: %v", err)
	}
}

func TestTokenBoundToInstance(t *testing.T) {
	a, b := sampleInstance(), sampleInstance()
	b.InstanceID = "i-0bbbbbbbbbbbbbbbb"
	hs := newHarness(t, map[string]*Instance{"sb-a": a, "sb-b": b})
	token := hs.token("sb-a", "600")
	if res := hs.do("sb-b", http.MethodGet, "/latest/meta-data/instance-id", HeaderToken, token); res.status != http.StatusUnauthorized {
		t.Errorf("instance b with a's token: %d %q, want 401", res.status, res.body)
	}
	if _, err := hs.h.tokens.verify(token, b.InstanceID, hs.clock.Now()); !errors.Is(err, errTokenInstance) {
		t.Errorf("verify for the other instance: %v, want errTokenInstance", err)
	}
	if res := hs.do("sb-a", http.MethodGet, "/latest/meta-data/instance-id", HeaderToken, token); res.status != http.StatusOK {
		t.Errorf("instance a with its own token: %d", res.status)
	}
}

func TestTokenSecretPerHandler(t *testing.T) {
	instances := map[string]*Instance{"sb-1": sampleInstance()}
	first := newHarness(t, instances)
	token := first.token("sb-1", "600")
	// A restarted nimbus draws a new secret: old tokens are refused.
	restarted := newHarness(t, instances)
	if res := restarted.do("sb-1", http.MethodGet, "/latest/meta-data/instance-id", HeaderToken, token); res.status != http.StatusUnauthorized {
		t.Errorf("token from another process: %d, want 401", res.status)
	}
	// Replicas sharing a secret accept each other's tokens.
	secret := []byte("0123456789abcdef0123456789abcdef")
	r1, r2 := newHarness(t, instances, WithSecret(secret)), newHarness(t, instances, WithSecret(secret))
	token = r1.token("sb-1", "600")
	if res := r2.do("sb-1", http.MethodGet, "/latest/meta-data/instance-id", HeaderToken, token); res.status != http.StatusOK {
		t.Errorf("token from a replica with the same secret: %d, want 200", res.status)
	}
}

func TestHTTPTokensRequired(t *testing.T) {
	in := sampleInstance()
	in.Options.HTTPTokens = HTTPTokensRequired
	hs := newHarness(t, map[string]*Instance{"sb-1": in})
	for _, path := range []string{"/latest/meta-data/instance-id", "/latest/user-data", "/latest/meta-data/", "/"} {
		if res := hs.do("sb-1", http.MethodGet, path); res.status != http.StatusUnauthorized {
			t.Errorf("%s without token: %d, want 401", path, res.status)
		}
	}
	token := hs.token("sb-1", "21600")
	res := hs.do("sb-1", http.MethodGet, "/latest/meta-data/instance-id", HeaderToken, token)
	if res.status != http.StatusOK || res.body != in.InstanceID {
		t.Errorf("with token: %d %q", res.status, res.body)
	}
}

func TestForwardedTokenRequestRefused(t *testing.T) {
	hs := newHarness(t, map[string]*Instance{"sb-1": sampleInstance()})
	res := hs.do("sb-1", http.MethodPut, "/latest/api/token", HeaderTokenTTL, "60", "X-Forwarded-For", "203.0.113.7")
	if res.status != http.StatusForbidden || res.body == "" || res.header.Get(HeaderTokenTTL) != "" {
		t.Errorf("proxied PUT: %d, TTL header %q, want 403 and no token", res.status, res.header.Get(HeaderTokenTTL))
	}
	// A forwarded GET is not refused by IMDS itself (EC2 only refuses the PUT).
	if res := hs.do("sb-1", http.MethodGet, "/latest/meta-data/instance-id", "X-Forwarded-For", "203.0.113.7"); res.status != http.StatusOK {
		t.Errorf("forwarded GET: %d", res.status)
	}
}

func TestEndpointDisabled(t *testing.T) {
	in := sampleInstance()
	in.Options.HTTPEndpoint = EndpointDisabled
	hs := newHarness(t, map[string]*Instance{"sb-1": in})
	if res := hs.do("sb-1", http.MethodPut, "/latest/api/token", HeaderTokenTTL, "60"); res.status != http.StatusForbidden {
		t.Errorf("PUT token with endpoint disabled: %d, want 403", res.status)
	}
	for _, path := range []string{"/", "/latest/meta-data/instance-id", "/latest/user-data", "/latest/nothing"} {
		if res := hs.do("sb-1", http.MethodGet, path); res.status != http.StatusForbidden {
			t.Errorf("GET %s with endpoint disabled: %d, want 403", path, res.status)
		}
	}
}

func TestMethods(t *testing.T) {
	hs := newHarness(t, map[string]*Instance{"sb-1": sampleInstance()})
	cases := []struct {
		method, path string
		status       int
		allow        string
	}{
		{http.MethodPost, "/latest/meta-data/instance-id", http.StatusMethodNotAllowed, "GET, HEAD"},
		{http.MethodDelete, "/latest/meta-data/", http.StatusMethodNotAllowed, "GET, HEAD"},
		{http.MethodPut, "/latest/meta-data/instance-id", http.StatusMethodNotAllowed, "GET, HEAD"},
		{http.MethodOptions, "/", http.StatusMethodNotAllowed, "GET, HEAD"},
		{http.MethodGet, "/latest/api/token", http.StatusMethodNotAllowed, "PUT"},
		{http.MethodPost, "/latest/api/token", http.StatusMethodNotAllowed, "PUT"},
		{http.MethodHead, "/latest/meta-data/instance-id", http.StatusOK, ""},
	}
	for _, c := range cases {
		t.Run(c.method+c.path, func(t *testing.T) {
			res := hs.do("sb-1", c.method, c.path, HeaderTokenTTL, "60")
			if res.status != c.status {
				t.Fatalf("status %d, want %d", res.status, c.status)
			}
			if got := res.header.Get("Allow"); got != c.allow {
				t.Errorf("Allow %q, want %q", got, c.allow)
			}
		})
	}
}

func TestCallerResolution(t *testing.T) {
	hs := newHarness(t, map[string]*Instance{"sb-1": sampleInstance()})
	if res := hs.do("", http.MethodGet, "/latest/meta-data/instance-id"); res.status != http.StatusForbidden {
		t.Errorf("request without a sandbox: %d, want 403", res.status)
	}
	if res := hs.do("lambda-sandbox", http.MethodGet, "/latest/meta-data/instance-id"); res.status != http.StatusNotFound {
		t.Errorf("sandbox that is no instance: %d, want 404", res.status)
	}
	hs.lookup.err = errBackend
	if res := hs.do("sb-1", http.MethodGet, "/latest/meta-data/instance-id"); res.status != http.StatusInternalServerError {
		t.Errorf("lookup failure: %d, want 500", res.status)
	}
}

func TestDefaultCallerIsNetworkContext(t *testing.T) {
	// Without WithCaller the handler trusts only what network.MetadataServer
	// put in the context; a bare request has none.
	h := New(&fakeLookup{instances: map[string]*Instance{"sb-1": sampleInstance()}})
	hs := &harness{t: t, h: h}
	if res := hs.do("sb-1", http.MethodGet, "/latest/meta-data/instance-id"); res.status != http.StatusForbidden {
		t.Errorf("request with no network caller: %d, want 403", res.status)
	}
}

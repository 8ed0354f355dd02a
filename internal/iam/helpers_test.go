package iam

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/nimbus-dev/nimbus/internal/awserr"
	"github.com/nimbus-dev/nimbus/internal/identity"
	"github.com/nimbus-dev/nimbus/internal/service"
	"github.com/nimbus-dev/nimbus/internal/store/sqlitestore"
)

const testAccount = "123456789012"

// fakeClock is a settable clock for session expiry.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *fakeClock) advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

type harness struct {
	t     *testing.T
	iam   *IAM
	svc   *service.Service
	clock *fakeClock
	root  context.Context
}

func newHarness(t *testing.T) *harness {
	t.Helper()
	clock := &fakeClock{t: time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC)}
	m := New(Options{Store: sqlitestore.OpenTemp(t), Now: clock.now})
	svc, err := m.Service()
	if err != nil {
		t.Fatal(err)
	}
	root := identity.With(context.Background(), &identity.Call{Region: "us-east-1", SourceIP: "10.0.0.5",
		Principal: &identity.Principal{Type: identity.Root, Account: testAccount, ARN: identity.RootARN(testAccount), UserID: testAccount, Name: "root"}})
	return &harness{t: t, iam: m, svc: svc, clock: clock, root: root}
}

// do calls an operation's handler with an input document, as the edge
// does, and returns the output document.
func (h *harness) do(ctx context.Context, op string, in map[string]any) (map[string]any, error) {
	h.t.Helper()
	handler, ok := h.svc.Handler(op)
	if !ok {
		h.t.Fatalf("no handler for %s", op)
	}
	out, err := handler(ctx, in)
	if err != nil {
		return nil, err
	}
	doc, err := service.ToDocument(out)
	if err != nil {
		h.t.Fatalf("encode %s output: %v", op, err)
	}
	return doc, nil
}

// must calls an operation as root and fails the test on error.
func (h *harness) must(op string, in map[string]any) map[string]any {
	h.t.Helper()
	out, err := h.do(h.root, op, in)
	if err != nil {
		h.t.Fatalf("%s: %v", op, err)
	}
	return out
}

// wantCode checks an error's AWS code and, when status is not 0, its HTTP status.
func wantCode(t *testing.T, err error, code string, status int) {
	t.Helper()
	var ae *awserr.Error
	if !errors.As(err, &ae) {
		t.Fatalf("error %v, want AWS code %s", err, code)
	}
	if ae.Code != code {
		t.Fatalf("code %s (%s), want %s", ae.Code, ae.Message, code)
	}
	if status != 0 && ae.Status != status {
		t.Fatalf("status %d, want %d", ae.Status, status)
	}
}

func tagList(kv ...string) []any {
	var out []any
	for i := 0; i+1 < len(kv); i += 2 {
		out = append(out, map[string]any{"Key": kv[i], "Value": kv[i+1]})
	}
	return out
}

func field(doc map[string]any, path ...string) any {
	var v any = doc
	for _, p := range path {
		m, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		v = m[p]
	}
	return v
}

func str(doc map[string]any, path ...string) string { s, _ := field(doc, path...).(string); return s }

func items(doc map[string]any, name string) []any { l, _ := doc[name].([]any); return l }

package lambdart

import (
	"context"
	"net/http"
	"sync"

	"github.com/nimbus-dev/nimbus/internal/network"
)

// Mux serves the Runtime API of many sandboxes on one listener: each
// request goes to the Session registered for the sandbox that sent it, as
// the network layer names it in the request context. A request from a
// sandbox with no Session gets 403.
type Mux struct {
	caller func(ctx context.Context) (sandboxID string, ok bool)

	mu       sync.RWMutex
	sessions map[string]*Session
}

// MuxOption configures a Mux.
type MuxOption func(*Mux)

// WithCaller replaces how the calling sandbox is found in a request; by
// default network.SandboxFromContext.
func WithCaller(f func(ctx context.Context) (sandboxID string, ok bool)) MuxOption {
	return func(m *Mux) { m.caller = f }
}

// NewMux makes an empty Mux.
func NewMux(opts ...MuxOption) *Mux {
	m := &Mux{caller: sandboxFromNetwork, sessions: make(map[string]*Session)}
	for _, o := range opts {
		o(m)
	}
	return m
}

func sandboxFromNetwork(ctx context.Context) (string, bool) {
	c, ok := network.SandboxFromContext(ctx)
	return c.SandboxID, ok
}

// Add routes the sandbox's requests to s, replacing any earlier Session.
func (m *Mux) Add(sandboxID string, s *Session) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.sessions[sandboxID] = s
}

// Remove stops routing the sandbox's requests; it does not close the Session.
func (m *Mux) Remove(sandboxID string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.sessions, sandboxID)
}

// Session returns the Session registered for a sandbox.
func (m *Mux) Session(sandboxID string) (*Session, bool) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	s, ok := m.sessions[sandboxID]
	return s, ok
}

// ServeHTTP routes one request to its sandbox's Session.
func (m *Mux) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	id, ok := m.caller(r.Context())
	if !ok {
		renderError(w, http.StatusForbidden, "AccessDeniedException", "The request comes from no known sandbox")
		return
	}
	s, ok := m.Session(id)
	if !ok {
		renderError(w, http.StatusForbidden, "AccessDeniedException", "Sandbox %s runs no Lambda runtime", id)
		return
	}
	s.ServeHTTP(w, r)
}

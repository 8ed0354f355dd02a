package lambdart

import (
	"net/http"
	"strconv"
)

// handleNext serves GET /runtime/invocation/next: it blocks until Invoke
// hands over an invocation, then returns its payload and headers.
func (s *Session) handleNext(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	if err := s.transitionLocked(evNext); err != nil {
		from := s.state
		s.mu.Unlock()
		s.log.Warn("lambdart: refused next", "state", from, "err", err)
		renderRefused(w, from, "Next", err)
		return
	}
	s.mu.Unlock()

	var c *call
	select {
	case c = <-s.offer:
	case <-s.done:
		renderRefused(w, s.State(), "Next", ErrClosed)
		return
	case <-r.Context().Done():
		s.mu.Lock()
		_ = s.transitionLocked(evNextGone) // refused only if the session ended meanwhile
		s.mu.Unlock()
		return
	}

	s.mu.Lock()
	if err := s.transitionLocked(evDeliver); err != nil {
		from := s.state
		s.mu.Unlock()
		renderRefused(w, from, "Deliver", err)
		return
	}
	s.delivered = true
	s.mu.Unlock()

	inv := &c.inv
	h := w.Header()
	h.Set(HeaderRequestID, inv.RequestID)
	h.Set(HeaderDeadlineMs, strconv.FormatInt(inv.Deadline.UnixMilli(), 10))
	h.Set(HeaderInvokedFunctionARN, inv.FunctionARN)
	setIfPresent(h, HeaderTraceID, inv.TraceID)
	setIfPresent(h, HeaderClientContext, inv.ClientContext)
	setIfPresent(h, HeaderCognitoIdentity, inv.CognitoIdentity)
	setIfPresent(h, HeaderTenantID, inv.TenantID)
	h.Set("Content-Type", "application/json")
	h.Set("Content-Length", strconv.Itoa(len(inv.Payload)))
	w.WriteHeader(http.StatusOK)
	// A runtime that hangs up now never answers; the deadline covers it.
	_, _ = w.Write(inv.Payload)
}

func setIfPresent(h http.Header, key, value string) {
	if value != "" {
		h.Set(key, value)
	}
}

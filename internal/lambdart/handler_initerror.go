package lambdart

import (
	"net/http"
)

// handleInitError serves POST /runtime/init/error: the runtime could not
// load the function and is about to exit. The session ends with an
// *InitError.
func (s *Session) handleInitError(w http.ResponseWriter, r *http.Request) {
	body, tooLarge, err := readAnswer(w, r)
	if err != nil {
		renderError(w, http.StatusBadRequest, errorTypeTruncatedRequest, "HTTP request detected as truncated: %v", err)
		return
	}
	if tooLarge {
		body = nil // the type header still says what failed
	}
	res := functionError(r.Header.Get(HeaderFunctionErrorType), body)

	s.mu.Lock()
	if err := s.transitionLocked(evInitError); err != nil {
		from := s.state
		s.mu.Unlock()
		s.log.Warn("lambdart: refused init error", "state", from, "err", err)
		renderRefused(w, from, "InitError", err)
		return
	}
	s.endLocked(&InitError{ErrorType: res.ErrorType, Body: res.Payload})
	s.mu.Unlock()
	renderAccepted(w)
}

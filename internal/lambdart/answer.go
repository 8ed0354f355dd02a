package lambdart

import (
	"errors"
	"fmt"
	"io"
	"net/http"
)

// beginAnswer moves the session into Responding for the invocation named
// in the path, or answers the refusal itself and returns nil.
func (s *Session) beginAnswer(w http.ResponseWriter, r *http.Request, endpoint string) *call {
	id := r.PathValue("id")
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.transitionLocked(evAnswerBegin); err != nil {
		s.log.Warn("lambdart: refused answer", "endpoint", endpoint, "requestId", id, "state", s.state, "err", err)
		renderRefused(w, s.state, endpoint, err)
		return nil
	}
	if s.inflight == nil || !s.delivered || s.inflight.inv.RequestID != id {
		_ = s.transitionLocked(evAnswerAborted) // Responding always allows it
		renderError(w, http.StatusBadRequest, errorTypeInvalidRequestID, "Invalid request ID")
		return nil
	}
	return s.inflight
}

// serveAnswer is the shape both answer endpoints (response and error)
// share: claim the invocation, read the body whole, and complete the
// invocation with the Result toResult makes of it. A truncated body puts
// the invocation back; one over MaxPayloadSize completes it as
// Function.ResponseSizeTooLarge without calling toResult. toResult runs
// after the body is read, so it may look at the request's trailers.
func (s *Session) serveAnswer(w http.ResponseWriter, r *http.Request, endpoint string, toResult func(body []byte) *Result) {
	c := s.beginAnswer(w, r, endpoint)
	if c == nil {
		return
	}
	body, tooLarge, err := readAnswer(w, r)
	if err != nil {
		s.abortAnswer(w, err)
		return
	}
	if tooLarge {
		s.finishAnswer(w, c, responseTooLarge(), true)
		return
	}
	s.finishAnswer(w, c, toResult(body), false)
}

// readAnswer reads an answer body up to MaxPayloadSize. tooLarge reports a
// body over the limit; err any other failure to read it whole.
func readAnswer(w http.ResponseWriter, r *http.Request) (body []byte, tooLarge bool, err error) {
	body, err = io.ReadAll(http.MaxBytesReader(w, r.Body, MaxPayloadSize))
	var mbe *http.MaxBytesError
	if errors.As(err, &mbe) {
		return nil, true, nil
	}
	return body, false, err
}

// finishAnswer completes c with res and renders the runtime's reply.
func (s *Session) finishAnswer(w http.ResponseWriter, c *call, res *Result, tooLarge bool) {
	s.mu.Lock()
	err := s.transitionLocked(evAnswerDone)
	from := s.state
	if err == nil && s.inflight == c {
		s.inflight = nil
		s.delivered = false
		c.result <- res // buffered and sent once: never blocks
	}
	s.mu.Unlock()
	switch {
	case err != nil:
		renderRefused(w, from, "AnswerDone", err)
	case tooLarge:
		renderError(w, http.StatusRequestEntityTooLarge, errorTypeRequestEntityTooLarge,
			"Exceeded maximum allowed payload size (%d bytes).", MaxPayloadSize)
	default:
		renderAccepted(w)
	}
}

// abortAnswer puts the invocation back to Invoking after a body that was
// cut short, so the runtime may answer again before the deadline.
func (s *Session) abortAnswer(w http.ResponseWriter, err error) {
	s.mu.Lock()
	_ = s.transitionLocked(evAnswerAborted) // refused only if the session ended meanwhile
	s.mu.Unlock()
	renderError(w, http.StatusBadRequest, errorTypeTruncatedRequest, "HTTP request detected as truncated: %v", err)
}

// responseTooLarge is the function error Lambda reports for a response over
// the limit.
func responseTooLarge() *Result {
	return &Result{
		FunctionError: "Unhandled",
		ErrorType:     "Function.ResponseSizeTooLarge",
		ContentType:   "application/json",
		Payload: ErrorDocument{
			ErrorType:    "Function.ResponseSizeTooLarge",
			ErrorMessage: fmt.Sprintf("Response payload size exceeded maximum allowed payload size (%d bytes).", MaxPayloadSize),
		}.marshal(),
	}
}

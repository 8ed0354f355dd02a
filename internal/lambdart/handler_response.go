package lambdart

import (
	"encoding/base64"
	"net/http"
)

// handleResponse serves POST /runtime/invocation/{id}/response. The body
// may come chunked; a failure trailer (aws-lambda-go's streamed errors)
// turns it into a function error.
func (s *Session) handleResponse(w http.ResponseWriter, r *http.Request) {
	c := s.beginAnswer(w, r, "InvocationResponse")
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
	if errType := r.Trailer.Get(HeaderFunctionErrorType); errType != "" {
		doc, derr := base64.StdEncoding.DecodeString(r.Trailer.Get(HeaderFunctionErrorBody))
		if derr != nil || len(doc) == 0 {
			doc = nil
		}
		s.finishAnswer(w, c, functionError(errType, doc), false)
		return
	}
	s.finishAnswer(w, c, &Result{Payload: body, ContentType: r.Header.Get("Content-Type")}, false)
}

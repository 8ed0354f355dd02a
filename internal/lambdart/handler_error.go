package lambdart

import (
	"encoding/json"
	"net/http"
)

// handleInvocationError serves POST /runtime/invocation/{id}/error.
func (s *Session) handleInvocationError(w http.ResponseWriter, r *http.Request) {
	s.serveAnswer(w, r, "InvocationErrorResponse", func(body []byte) *Result {
		return functionError(r.Header.Get(HeaderFunctionErrorType), body)
	})
}

// functionError builds the Result of a runtime-reported error. The type
// comes from the header, else the body's errorType; a missing or non-JSON
// body is replaced by a document built from what is known.
func functionError(headerType string, body []byte) *Result {
	errType := headerType
	var doc ErrorDocument
	validDoc := len(body) > 0 && json.Unmarshal(body, &doc) == nil
	if errType == "" && validDoc {
		errType = doc.ErrorType
	}
	if errType == "" {
		errType = "Unhandled"
	}
	if !validDoc {
		msg := string(body)
		if msg == "" {
			msg = "Unknown application error occurred"
		}
		body = ErrorDocument{ErrorType: errType, ErrorMessage: msg}.marshal()
	}
	return &Result{Payload: body, ContentType: "application/json", FunctionError: "Unhandled", ErrorType: errType}
}

package lambdart

import (
	"encoding/base64"
	"net/http"
)

// handleResponse serves POST /runtime/invocation/{id}/response. The body
// may come chunked; a failure trailer (aws-lambda-go's streamed errors)
// turns it into a function error.
func (s *Session) handleResponse(w http.ResponseWriter, r *http.Request) {
	s.serveAnswer(w, r, "InvocationResponse", func(body []byte) *Result {
		if errType := r.Trailer.Get(HeaderFunctionErrorType); errType != "" {
			doc, derr := base64.StdEncoding.DecodeString(r.Trailer.Get(HeaderFunctionErrorBody))
			if derr != nil || len(doc) == 0 {
				doc = nil
			}
			return functionError(errType, doc)
		}
		return &Result{Payload: body, ContentType: r.Header.Get("Content-Type")}
	})
}

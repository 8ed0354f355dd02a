package wire

import (
	"net/http"
	"strconv"
)

// WriteBody writes a whole, buffered answer as the query and JSON
// protocols send it: Content-Type, Content-Length and x-amzn-RequestId
// (the header the SDKs read the request ID from), the status, then body.
// Headers the caller set before are kept.
func WriteBody(w http.ResponseWriter, status int, contentType, requestID string, body []byte) error {
	h := w.Header()
	h.Set("Content-Type", contentType)
	h.Set("Content-Length", strconv.Itoa(len(body)))
	h.Set("x-amzn-RequestId", requestID)
	w.WriteHeader(status)
	_, err := w.Write(body)
	return err
}

package lambdart

import (
	"encoding/json"
	"fmt"
	"net/http"
)

// Error types the Runtime API answers with, as Lambda's.
const (
	errorTypeInvalidStateTransition = "InvalidStateTransition"
	errorTypeInvalidRequestID       = "InvalidRequestID"
	errorTypeRequestEntityTooLarge  = "RequestEntityTooLarge"
	errorTypeTruncatedRequest       = "TruncatedHTTPRequest"
	errorTypeContainerError         = "Runtime.ContainerError"
)

type apiError struct {
	ErrorMessage string `json:"errorMessage"`
	ErrorType    string `json:"errorType"`
}

func renderJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(b) // a runtime that hung up learns nothing either way
}

func renderError(w http.ResponseWriter, status int, errorType, format string, args ...any) {
	renderJSON(w, status, apiError{ErrorType: errorType, ErrorMessage: fmt.Sprintf(format, args...)})
}

var acceptedBody = []byte(`{"status":"OK"}`)

func renderAccepted(w http.ResponseWriter) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusAccepted)
	_, _ = w.Write(acceptedBody)
}

// renderRefused answers a request the state machine refused: 403 while
// the session lives, 500 ("container error: exit now", per the Runtime
// API's spec) once it is over.
func renderRefused(w http.ResponseWriter, from State, endpoint string, err error) {
	if from.Terminal() {
		renderError(w, http.StatusInternalServerError, errorTypeContainerError,
			"The runtime session is over (%s); the runtime should exit", from)
		return
	}
	renderError(w, http.StatusForbidden, errorTypeInvalidStateTransition,
		"State transition from %s to %s failed for runtime. Error: %v", from, endpoint, err)
}

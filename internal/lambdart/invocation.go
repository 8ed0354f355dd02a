package lambdart

import (
	"encoding/json"
	"errors"
	"fmt"
	"time"
)

// MaxPayloadSize is the largest response or error body a runtime may post:
// Lambda's 6 MB synchronous limit plus the 100 bytes of slack the Runtime
// API allows, as the Runtime Interface Emulator does.
const MaxPayloadSize = 6*1024*1024 + 100

// Invocation is one event handed to a runtime.
type Invocation struct {
	RequestID   string
	Payload     []byte
	FunctionARN string // the ARN the caller invoked, with its qualifier
	// Timeout is the function's configured timeout; the message of a
	// TimeoutError names it. Deadline defaults to now plus Timeout.
	Timeout         time.Duration
	Deadline        time.Time
	TraceID         string // X-Amzn-Trace-Id value; empty for none
	ClientContext   string // the client context JSON, already base64-decoded
	CognitoIdentity string // the Cognito identity JSON
	TenantID        string // tenant of a multi-tenant function; empty for none
}

// Result is the runtime's answer to an invocation.
type Result struct {
	Payload     []byte
	ContentType string
	// FunctionError is "Unhandled" when the runtime reported an error (the
	// value of Invoke's X-Amz-Function-Error); Payload is then the error
	// document {errorMessage, errorType, stackTrace} and ErrorType its type.
	FunctionError string
	ErrorType     string
}

// ErrorDocument is the error body runtimes post and Invoke returns.
type ErrorDocument struct {
	ErrorMessage string   `json:"errorMessage"`
	ErrorType    string   `json:"errorType"`
	StackTrace   []string `json:"stackTrace,omitempty"`
}

func (d ErrorDocument) marshal() []byte {
	b, err := json.Marshal(d)
	if err != nil { // strings and a string slice always marshal
		panic(fmt.Sprintf("lambdart: marshal error document: %v", err))
	}
	return b
}

// Sentinel errors of the nimbus-side API.
var (
	// ErrBusy: an invocation is still in flight on this session.
	ErrBusy = errors.New("lambdart: an invocation is already in flight on this runtime")
	// ErrClosed: the session was closed.
	ErrClosed = errors.New("lambdart: runtime session closed")
	// ErrOutOfMemory marks an exit cause (wrap it) as the memory limit
	// killing the runtime, so it is reported as Runtime.OutOfMemory.
	ErrOutOfMemory = errors.New("runtime exceeded its memory limit")
)

// TimeoutError is returned by Invoke when the invocation's deadline passes
// before the runtime answers. The session is then finished: Lambda kills
// the sandbox of a timed-out invocation.
type TimeoutError struct {
	RequestID string
	Timeout   time.Duration
}

func (e *TimeoutError) Error() string {
	return fmt.Sprintf("Task timed out after %.2f seconds", e.Timeout.Seconds())
}

// Payload is the error document Invoke returns for a timeout.
func (e *TimeoutError) Payload() []byte {
	return ErrorDocument{
		ErrorType:    "Sandbox.Timedout",
		ErrorMessage: fmt.Sprintf("RequestId: %s Error: %s", e.RequestID, e.Error()),
	}.marshal()
}

// ExitError is returned by Invoke and WaitReady when the runtime process
// died before answering.
type ExitError struct {
	RequestID string // empty when the runtime died during init
	Cause     error  // nil when the process exited 0
}

func (e *ExitError) Error() string {
	if e.Cause == nil {
		return "Runtime exited without providing a reason"
	}
	return "Runtime exited with error: " + e.Cause.Error()
}

func (e *ExitError) Unwrap() error { return e.Cause }

// ErrorType is Runtime.OutOfMemory for a memory kill, else Runtime.ExitError.
func (e *ExitError) ErrorType() string {
	if errors.Is(e.Cause, ErrOutOfMemory) {
		return "Runtime.OutOfMemory"
	}
	return "Runtime.ExitError"
}

// Payload is the error document Invoke returns for a dead runtime.
func (e *ExitError) Payload() []byte {
	msg := e.Error()
	if e.RequestID != "" {
		msg = fmt.Sprintf("RequestId: %s Error: %s", e.RequestID, msg)
	}
	return ErrorDocument{ErrorType: e.ErrorType(), ErrorMessage: msg}.marshal()
}

// InitError is the error a runtime reported on POST /runtime/init/error.
type InitError struct {
	ErrorType string // the Lambda-Runtime-Function-Error-Type header, else the body's errorType
	Body      []byte // the error document as the runtime posted it
}

func (e *InitError) Error() string {
	var d ErrorDocument
	if json.Unmarshal(e.Body, &d) == nil && d.ErrorMessage != "" {
		return fmt.Sprintf("init error %s: %s", e.ErrorType, d.ErrorMessage)
	}
	return "init error " + e.ErrorType
}

// Payload is the error document Invoke returns for a failed init.
func (e *InitError) Payload() []byte { return e.Body }

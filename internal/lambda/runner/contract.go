// Package runner runs Lambda invocations in sandboxes: it keeps a warm pool
// of sandboxes per function version, starts one (a cold start) when none is
// idle, enforces concurrency, timeouts and memory, and frames each
// invocation's log with START, END and REPORT lines.
//
// This file is the contract between the Lambda API (package lambda, which
// owns functions, versions, aliases and the async queue) and the runner.
// The API hands the runner a snapshot of one function version per call; the
// runner keeps no function state of its own beyond its sandboxes.
package runner

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// Function is one version of a function as the runner needs it.
type Function struct {
	Account, Region string
	Name            string // function name
	Version         string // "$LATEST" or a published version number
	ARN             string // unqualified function ARN
	Runtime         string // e.g. python3.11, nodejs20.x, provided.al2023; empty for PackageType Image
	Handler         string
	CodeDir         string // unpacked deployment package, mounted read-only at /var/task
	ImageURI        string // PackageType Image: a reference in the nimbus image store
	ImageCommand    []string
	ImageEntryPoint []string
	ImageWorkDir    string
	MemoryMB        int           // 128-10240
	Timeout         time.Duration // 1 s - 900 s
	EphemeralMB     int           // size of /tmp, 512-10240
	Environment     map[string]string
	Architecture    string // x86_64 or arm64
	LogGroup        string // /aws/lambda/NAME unless LoggingConfig says otherwise
	// Revision changes with every code or configuration change of this
	// version; idle sandboxes of another revision are retired, busy ones
	// after their invocation.
	Revision string
	// Reserved is the function's reserved concurrency; nil when it has
	// none. Zero means every invocation is throttled.
	Reserved *int
	// UnreservedPool is how many concurrent executions functions without a
	// reservation share in this account and region: the account limit less
	// every reservation.
	UnreservedPool int
	// Credentials mints the execution role's temporary credentials, given
	// to the runtime as Lambda does (AWS_ACCESS_KEY_ID,
	// AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN); nil for none. It is called
	// at cold starts only: a sandbox keeps the credentials it started with.
	Credentials func(ctx context.Context) (*Credentials, error)
}

// Credentials are temporary AWS credentials.
type Credentials struct {
	AccessKeyID, SecretAccessKey, SessionToken string
}

// Request is one invocation.
type Request struct {
	RequestID       string
	Payload         []byte
	InvokedARN      string // the ARN the caller used, with its qualifier
	ClientContext   string // base64 JSON, as the caller sent it
	CognitoIdentity string // JSON
	TraceID         string // X-Amzn-Trace-Id value
	Tail            bool   // return the last 4 KB of the invocation's log
}

// Result is the runtime's answer. A function error (an unhandled error,
// a timeout, a crash, an init failure) is a Result with FunctionError
// set, as Lambda answers it, never a Go error.
type Result struct {
	Payload         []byte
	FunctionError   string // "" or "Unhandled"
	LogTail         []byte // last 4 KB of the log when Request.Tail, else nil
	ExecutedVersion string
	Duration        time.Duration // the invocation, measured by the runner
	BilledDuration  time.Duration // Duration rounded up to 1 ms
	InitDuration    time.Duration // cold starts only
	MemoryMB        int           // configured
	MaxMemoryUsedMB int           // measured from the sandbox
	ColdStart       bool
}

// Throttle reasons, as Lambda names them in TooManyRequestsException.
const (
	ReasonReservedLimit = "ReservedFunctionConcurrentInvocationLimitExceeded"
	ReasonAccountLimit  = "ConcurrentInvocationLimitExceeded"
)

// ThrottleError means the invocation would exceed a concurrency limit.
type ThrottleError struct{ Reason string }

func (e *ThrottleError) Error() string {
	if e.Reason == ReasonReservedLimit {
		return "Rate Exceeded."
	}
	return "Rate Exceeded."
}

// ErrThrottled matches every *ThrottleError with errors.Is.
var ErrThrottled = errors.New("throttled")

// Is makes errors.Is(err, ErrThrottled) true for a ThrottleError.
func (e *ThrottleError) Is(target error) bool { return target == ErrThrottled }

// Invoker runs invocations. Implementations are safe for concurrent use.
type Invoker interface {
	// Invoke runs req on a sandbox of fn, cold-starting one when none is
	// idle. Errors: *ThrottleError; ctx's error; anything else is nimbus's
	// own failure (a ServiceException to the caller).
	Invoke(ctx context.Context, fn *Function, req *Request) (*Result, error)
	// Retire removes every sandbox of the function (all versions), waiting
	// for none: busy ones go when their invocation ends. For DeleteFunction
	// and reset.
	Retire(ctx context.Context, account, region, name string) error
}

// Sprint formats a duration the way REPORT lines and timeout messages do.
func Sprint(d time.Duration) string { return fmt.Sprintf("%.2f", float64(d)/float64(time.Millisecond)) }

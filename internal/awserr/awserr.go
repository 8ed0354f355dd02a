// Package awserr is the one error type that crosses from services to the
// protocol edge. A service says what went wrong (a Kind, and where AWS has a
// service-specific code, that Code); the protocol codec turns it into the exact
// wire shape of its protocol. Following Upspin, the code is chosen from the
// kind in one table (CodeFor) rather than at every call site.
package awserr

import (
	"errors"
	"fmt"
	"net/http"
)

// Kind classifies an error independently of any AWS service.
type Kind int

const (
	Internal         Kind = iota // a bug or host failure: 500
	Validation                   // a malformed or out-of-range parameter: 400
	MissingParameter             // a required parameter is absent: 400
	UnknownOperation             // the service has no such operation: 400
	NotImplemented               // AWS has it, nimbus does not (yet): 501
	NotFound                     // the named resource does not exist: 400/404
	AlreadyExists                // a resource with that name exists: 400/409
	Conflict                     // the resource's state forbids the operation: 400/409
	AccessDenied                 // IAM said no: 403
	AuthFailure                  // the request's credentials or signature are wrong: 403
	Throttled                    // too many requests or concurrency exhausted: 429
	LimitExceeded                // a quota is exhausted: 400
	DryRun                       // EC2's DryRunOperation: the request would have succeeded
)

var kindNames = map[Kind]string{
	Internal: "internal", Validation: "validation", MissingParameter: "missing parameter",
	UnknownOperation: "unknown operation", NotImplemented: "not implemented", NotFound: "not found",
	AlreadyExists: "already exists", Conflict: "conflict", AccessDenied: "access denied",
	AuthFailure: "auth failure", Throttled: "throttled", LimitExceeded: "limit exceeded", DryRun: "dry run",
}

func (k Kind) String() string { return kindNames[k] }

// Error is an AWS API error. Code and Status are optional; when empty the
// protocol edge fills them from Kind for the service at hand.
type Error struct {
	Kind    Kind
	Code    string // AWS error code, e.g. "InvalidInstanceID.NotFound"
	Message string
	Status  int               // HTTP status; 0 means "from Kind"
	Fields  map[string]string // extra members some errors carry (Lambda's Reason, Type)
	Err     error             // underlying cause, never shown to clients for Internal
}

func (e *Error) Error() string {
	code := e.Code
	if code == "" {
		code = e.Kind.String()
	}
	if e.Err != nil && e.Message == "" {
		return fmt.Sprintf("%s: %v", code, e.Err)
	}
	return code + ": " + e.Message
}

func (e *Error) Unwrap() error { return e.Err }

// New returns an error of kind k with an AWS code and message.
func New(k Kind, code, format string, args ...any) *Error {
	return &Error{Kind: k, Code: code, Message: fmt.Sprintf(format, args...)}
}

// Validationf is the common "bad parameter" error; the code comes from the protocol.
func Validationf(format string, args ...any) *Error {
	return &Error{Kind: Validation, Message: fmt.Sprintf(format, args...)}
}

// Missing reports a required parameter that was not given.
func Missing(name string) *Error {
	return &Error{Kind: MissingParameter, Message: fmt.Sprintf("The request must contain the parameter %s", name)}
}

// Internalf wraps a server-side failure; its detail is logged, not returned.
func Internalf(err error, format string, args ...any) *Error {
	return &Error{Kind: Internal, Message: fmt.Sprintf(format, args...), Err: err}
}

// As converts any error into an *Error, treating unknown errors as Internal.
func As(err error) *Error {
	var e *Error
	if errors.As(err, &e) {
		return e
	}
	return &Error{Kind: Internal, Message: "We encountered an internal error. Please try again.", Err: err}
}

// StatusFor is the HTTP status for a kind when the error names none.
func StatusFor(k Kind) int {
	switch k {
	case Validation, MissingParameter, UnknownOperation, LimitExceeded, DryRun:
		return http.StatusBadRequest
	case NotFound:
		return http.StatusNotFound
	case AlreadyExists, Conflict:
		return http.StatusConflict
	case AccessDenied, AuthFailure:
		return http.StatusForbidden
	case Throttled:
		return http.StatusTooManyRequests
	case NotImplemented:
		return http.StatusNotImplemented
	}
	return http.StatusInternalServerError
}

// Family names the error vocabulary a service speaks. Codes for generic kinds
// differ between them (EC2's InvalidParameterValue, IAM's ValidationError,
// Lambda's ValidationException).
type Family int

const (
	FamilyJSON  Family = iota // json and rest-json services: Lambda, Batch, Logs, CE
	FamilyQuery               // query services: IAM, STS
	FamilyEC2                 // EC2
	FamilyS3                  // S3
)

// CodeFor returns the AWS code for a generic kind in a service family.
func CodeFor(f Family, k Kind) string {
	switch f {
	case FamilyEC2:
		switch k {
		case Validation:
			return "InvalidParameterValue"
		case MissingParameter:
			return "MissingParameter"
		case UnknownOperation:
			return "InvalidAction"
		case NotImplemented:
			return "NotImplemented"
		case AccessDenied:
			return "UnauthorizedOperation"
		case AuthFailure:
			return "AuthFailure"
		case Throttled:
			return "RequestLimitExceeded"
		case DryRun:
			return "DryRunOperation"
		case Internal:
			return "InternalError"
		}
	case FamilyQuery:
		switch k {
		case Validation:
			return "ValidationError"
		case MissingParameter:
			return "MissingParameter"
		case UnknownOperation:
			return "InvalidAction"
		case NotImplemented:
			return "NotImplemented"
		case AccessDenied:
			return "AccessDenied"
		case AuthFailure:
			return "SignatureDoesNotMatch"
		case Throttled:
			return "Throttling"
		case NotFound:
			return "NoSuchEntity"
		case AlreadyExists:
			return "EntityAlreadyExists"
		case LimitExceeded:
			return "LimitExceeded"
		case Internal:
			return "InternalFailure"
		}
	case FamilyS3:
		switch k {
		case Validation, MissingParameter:
			return "InvalidArgument"
		case UnknownOperation, NotImplemented:
			return "NotImplemented"
		case AccessDenied:
			return "AccessDenied"
		case AuthFailure:
			return "SignatureDoesNotMatch"
		case Throttled:
			return "SlowDown"
		case Internal:
			return "InternalError"
		}
	default:
		switch k {
		case Validation, MissingParameter:
			return "ValidationException"
		case UnknownOperation:
			return "UnknownOperationException"
		case NotImplemented:
			return "NotImplementedException"
		case AccessDenied:
			return "AccessDeniedException"
		case AuthFailure:
			return "UnrecognizedClientException"
		case Throttled:
			return "TooManyRequestsException"
		case NotFound:
			return "ResourceNotFoundException"
		case AlreadyExists:
			return "ResourceConflictException"
		case Conflict:
			return "ResourceConflictException"
		case LimitExceeded:
			return "LimitExceededException"
		case Internal:
			return "ServiceException"
		}
	}
	return "InternalFailure"
}

// Resolve fills Code and Status of e for family f, returning a copy.
func Resolve(f Family, e *Error) Error {
	out := *e
	if out.Code == "" {
		out.Code = CodeFor(f, e.Kind)
	}
	if out.Status == 0 {
		out.Status = StatusFor(e.Kind)
		// EC2 and the query services answer every client error with 400.
		if (f == FamilyEC2 || f == FamilyQuery) && out.Status >= 400 && out.Status < 500 &&
			e.Kind != AccessDenied && e.Kind != AuthFailure && e.Kind != Throttled {
			out.Status = http.StatusBadRequest
		}
		if f == FamilyEC2 && (e.Kind == AccessDenied || e.Kind == AuthFailure) {
			out.Status = http.StatusForbidden
			if e.Kind == AccessDenied {
				out.Status = http.StatusForbidden
			}
		}
	}
	if out.Kind == Internal && out.Err != nil {
		out.Message = "We encountered an internal error. Please try again."
	}
	return out
}

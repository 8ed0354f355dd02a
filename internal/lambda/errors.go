package lambda

import (
	"fmt"
	"net/http"

	"github.com/nimbus-dev/nimbus/internal/awserr"
)

// Lambda's own error codes, each with the HTTP status its model gives it.

func errNotFound(format string, args ...any) error {
	return awserr.New(awserr.NotFound, "ResourceNotFoundException", format, args...)
}

func errFunctionNotFound(arn string) error { return errNotFound("Function not found: %s", arn) }

func errConflict(format string, args ...any) error {
	return awserr.New(awserr.Conflict, "ResourceConflictException", format, args...)
}

func errInvalidParameter(format string, args ...any) error {
	return awserr.New(awserr.Validation, "InvalidParameterValueException", format, args...)
}

// errValidation is the one-constraint ValidationException in AWS's words.
func errValidation(value any, member, constraint string) error {
	return awserr.New(awserr.Validation, "ValidationException",
		"1 validation error detected: Value '%v' at '%s' failed to satisfy constraint: %s", value, member, constraint)
}

func errPrecondition(format string, args ...any) error {
	e := awserr.New(awserr.Conflict, "PreconditionFailedException", format, args...)
	e.Status = http.StatusPreconditionFailed
	return e
}

func errRevisionMismatch() error {
	return errPrecondition("The Revision Id provided does not match the latest Revision Id. Call the GetFunction/GetAlias API to retrieve the latest Revision Id")
}

func errTooLarge(limit int) error {
	e := awserr.New(awserr.Validation, "RequestTooLargeException",
		"Request must be smaller than %d bytes for the InvokeFunction operation", limit)
	e.Status = http.StatusRequestEntityTooLarge
	return e
}

func errInvalidContent(format string, args ...any) error {
	return awserr.New(awserr.Validation, "InvalidRequestContentException", format, args...)
}

func errThrottled(reason string) error {
	e := awserr.New(awserr.Throttled, "TooManyRequestsException", "Rate Exceeded.")
	e.Fields = map[string]string{"Reason": reason}
	return e
}

func errUpdateInProgress(arn string) error {
	return errConflict("The operation cannot be performed at this time. An update is in progress for resource: %s", arn)
}

func errStateForbids(state string) error {
	return errConflict("The operation cannot be performed at this time. The function is currently in the following state: %s", state)
}

func errInternal(err error, what string, args ...any) error {
	return awserr.Internalf(fmt.Errorf(what+": %w", append(args, err)...), "We encountered an internal error. Please try again.")
}

func errCodeStorageExceeded() error {
	return awserr.New(awserr.LimitExceeded, "CodeStorageExceededException", "Code storage limit exceeded.")
}

func errPolicyTooLong() error {
	return awserr.New(awserr.Validation, "PolicyLengthExceededException",
		"The final policy size (%d) is bigger than the limit (%d).", maxPolicySize+1, maxPolicySize)
}

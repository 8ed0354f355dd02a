package batch

import (
	"fmt"
	"net/http"

	"github.com/nimbus-dev/nimbus/internal/awserr"
)

// Batch has two error codes: ClientException (400) for anything the caller
// got wrong, including names that do not exist, and ServerException (500).

func errClient(format string, args ...any) error {
	e := awserr.New(awserr.Validation, "ClientException", format, args...)
	e.Status = http.StatusBadRequest
	return e
}

func errServer(err error, what string, args ...any) error {
	e := awserr.Internalf(fmt.Errorf(what+": %w", append(args, err)...), "Internal Server Error")
	e.Code = "ServerException"
	e.Status = http.StatusInternalServerError
	return e
}

package rest

import (
	"errors"
	"io"
	"net/http"

	"github.com/aws/smithy-go"
)

func apiCode(err error) string {
	var api smithy.APIError
	if errors.As(err, &api) {
		return api.ErrorCode()
	}
	return ""
}

// copyBody copies a response body to w and closes it.
func copyBody(w io.Writer, resp *http.Response) (int64, error) {
	defer resp.Body.Close()
	return io.Copy(w, resp.Body)
}

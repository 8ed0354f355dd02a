package rest

import (
	"errors"
	"net/http/httptest"

	"github.com/aws/smithy-go"
)

func newRecorder() *httptest.ResponseRecorder { return httptest.NewRecorder() }

func apiCode(err error) string {
	var api smithy.APIError
	if errors.As(err, &api) {
		return api.ErrorCode()
	}
	return ""
}

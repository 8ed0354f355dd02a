package s3

import (
	"fmt"
	"net/http"

	"github.com/nimbus-dev/nimbus/internal/awserr"
)

// s3Error is an S3 error with its exact code and HTTP status. S3 names its
// errors per situation rather than per kind, so the code and status are set
// here rather than derived from the kind at the edge.
func s3Error(status int, code, format string, args ...any) *awserr.Error {
	kind := awserr.Validation
	switch status {
	case http.StatusNotFound:
		kind = awserr.NotFound
	case http.StatusConflict:
		kind = awserr.Conflict
	case http.StatusForbidden:
		kind = awserr.AccessDenied
	case http.StatusNotImplemented:
		kind = awserr.NotImplemented
	}
	return &awserr.Error{Kind: kind, Code: code, Status: status, Message: fmt.Sprintf(format, args...)}
}

func errNoSuchBucket(bucket string) *awserr.Error {
	e := s3Error(http.StatusNotFound, "NoSuchBucket", "The specified bucket does not exist")
	e.Fields = map[string]string{"BucketName": bucket}
	return e
}

func errNoSuchKey(key string) *awserr.Error {
	e := s3Error(http.StatusNotFound, "NoSuchKey", "The specified key does not exist.")
	e.Fields = map[string]string{"Key": key}
	return e
}

func errNoSuchUpload(uploadID string) *awserr.Error {
	e := s3Error(http.StatusNotFound, "NoSuchUpload",
		"The specified upload does not exist. The upload ID may be invalid, or the upload may have been aborted or completed.")
	e.Fields = map[string]string{"UploadId": uploadID}
	return e
}

func errAccessDenied() *awserr.Error {
	return s3Error(http.StatusForbidden, "AccessDenied", "Access Denied")
}

func errInvalidBucketName(bucket string) *awserr.Error {
	e := s3Error(http.StatusBadRequest, "InvalidBucketName", "The specified bucket is not valid.")
	e.Fields = map[string]string{"BucketName": bucket}
	return e
}

func errInvalidArgument(name, value, format string, args ...any) *awserr.Error {
	e := s3Error(http.StatusBadRequest, "InvalidArgument", format, args...)
	e.Fields = map[string]string{"ArgumentName": name, "ArgumentValue": value}
	return e
}

func errMalformedXML() *awserr.Error {
	return s3Error(http.StatusBadRequest, "MalformedXML",
		"The XML you provided was not well-formed or did not validate against our published schema")
}

func errPreconditionFailed(condition string) *awserr.Error {
	e := s3Error(http.StatusPreconditionFailed, "PreconditionFailed", "At least one of the pre-conditions you specified did not hold")
	e.Fields = map[string]string{"Condition": condition}
	return e
}

func errNotModified() *awserr.Error {
	return s3Error(http.StatusNotModified, "NotModified", "Not Modified")
}

func errInvalidRange(requested string, size int64) *awserr.Error {
	e := s3Error(http.StatusRequestedRangeNotSatisfiable, "InvalidRange", "The requested range is not satisfiable")
	e.Fields = map[string]string{"RangeRequested": requested, "ActualObjectSize": fmt.Sprint(size)}
	return e
}

func errInternal(err error, format string, args ...any) *awserr.Error {
	e := awserr.Internalf(err, format, args...)
	e.Code = "InternalError"
	return e
}

package sigv4

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/nimbus-dev/nimbus/internal/awserr"
)

func TestAWSError(t *testing.T) {
	const (
		json  = awserr.FamilyJSON
		query = awserr.FamilyQuery
		ec2   = awserr.FamilyEC2
		s3    = awserr.FamilyS3
	)
	reqTime := time.Date(2026, 11, 27, 11, 40, 0, 0, time.UTC)
	skewed := &Error{Reason: ReasonSkewed, RequestTime: reqTime, ServerTime: testNow}
	cases := []struct {
		err    error
		family awserr.Family
		code   string
		status int
		msg    string // checked when set
	}{
		{ErrNoAuth, json, "MissingAuthenticationTokenException", 403, "Missing Authentication Token"},
		{ErrNoAuth, query, "MissingAuthenticationToken", 403, "Request is missing Authentication Token"},
		{ErrNoAuth, ec2, "AuthFailure", 401, ""},
		{ErrNoAuth, s3, "AccessDenied", 403, "Access Denied"},
		{malformed(false, "x"), json, "IncompleteSignatureException", 400, "x"},
		{malformed(false, "x"), query, "IncompleteSignature", 400, "x"},
		{malformed(false, "x"), s3, "AuthorizationHeaderMalformed", 400, "The authorization header is malformed; x"},
		{malformed(true, "x"), s3, "AuthorizationQueryParametersError", 400, "x"},
		{ErrUnknownAccessKey, json, "UnrecognizedClientException", 403, "The security token included in the request is invalid."},
		{ErrUnknownAccessKey, query, "InvalidClientTokenId", 403, "The security token included in the request is invalid."},
		{ErrUnknownAccessKey, ec2, "AuthFailure", 401, "AWS was not able to validate the provided access credentials"},
		{&Error{Reason: ReasonUnknownAccessKey, AccessKey: "AKIDX"}, s3, "InvalidAccessKeyId", 403, "The AWS Access Key Id you provided does not exist in our records."},
		{ErrExpiredToken, query, "ExpiredToken", 403, ""},
		{ErrExpiredToken, json, "ExpiredTokenException", 403, ""},
		{ErrSignatureMismatch, json, "InvalidSignatureException", 403, msgSignatureMismatch},
		{ErrSignatureMismatch, query, "SignatureDoesNotMatch", 403, msgSignatureMismatch},
		{ErrSignatureMismatch, ec2, "SignatureDoesNotMatch", 403, msgSignatureMismatch},
		{ErrSignatureMismatch, s3, "SignatureDoesNotMatch", 403, msgS3SignatureMismatch},
		{skewed, json, "InvalidSignatureException", 403, "Signature expired: 20261127T114000Z is now earlier than 20261127T114500Z (20261127T120000Z - 15 min.)"},
		{skewed, query, "SignatureDoesNotMatch", 403, "Signature expired: 20261127T114000Z is now earlier than 20261127T114500Z (20261127T120000Z - 15 min.)"},
		{skewed, ec2, "RequestExpired", 400, "Request has expired."},
		{skewed, s3, "RequestTimeTooSkewed", 403, "The difference between the request time and the current time is too large."},
		{&Error{Reason: ReasonExpired, RequestTime: reqTime, Expires: reqTime.Add(5 * time.Minute), ServerTime: testNow}, s3, "AccessDenied", 403, "Request has expired"},
		{ErrMissingContentSHA256, s3, "InvalidRequest", 400, "Missing required header for this request: x-amz-content-sha256"},
		{ErrInvalidContentSHA256, s3, "InvalidArgument", 400, ""},
		{ErrContentSHA256Mismatch, s3, "XAmzContentSHA256Mismatch", 400, "The provided 'x-amz-content-sha256' header does not match what was computed."},
		{ErrContentSHA256Mismatch, json, "InvalidSignatureException", 403, msgSignatureMismatch},
		{&Error{Reason: ReasonChecksumMismatch, Algorithm: "CRC32"}, s3, "BadDigest", 400, "The CRC32 you specified did not match the calculated checksum."},
		{ErrIncompleteBody, s3, "IncompleteBody", 400, ""},
		{ErrMalformedTrailer, s3, "MalformedTrailerError", 400, ""},
		{fmt.Errorf("read body: %w", ErrChecksumMismatch), s3, "BadDigest", 400, ""},
		{errors.New("disk on fire"), s3, "", 0, ""},
	}
	for _, tc := range cases {
		t.Run(fmt.Sprintf("%v/%d", tc.err, tc.family), func(t *testing.T) {
			got := AWSError(tc.err, tc.family)
			if tc.code == "" {
				if got.Kind != awserr.Internal {
					t.Fatalf("non-sigv4 error mapped to %+v, want internal", got)
				}
				return
			}
			if got.Code != tc.code || got.Status != tc.status {
				t.Fatalf("got %s %d, want %s %d", got.Code, got.Status, tc.code, tc.status)
			}
			if tc.msg != "" && got.Message != tc.msg {
				t.Fatalf("message %q, want %q", got.Message, tc.msg)
			}
		})
	}
}

func TestAWSErrorS3Fields(t *testing.T) {
	e := AWSError(&Error{Reason: ReasonSkewed, RequestTime: testNow.Add(-time.Hour), ServerTime: testNow}, awserr.FamilyS3)
	if e.Fields["RequestTime"] != "20261127T110000Z" || e.Fields["ServerTime"] != "2026-11-27T12:00:00Z" || e.Fields["MaxAllowedSkewMilliseconds"] != "900000" {
		t.Fatalf("RequestTimeTooSkewed fields = %v", e.Fields)
	}
	e = AWSError(&Error{Reason: ReasonSignatureMismatch, AccessKey: "AKID", StringToSign: "sts", CanonicalRequest: "cr", SignatureProvided: "abc"}, awserr.FamilyS3)
	if e.Fields["AWSAccessKeyId"] != "AKID" || e.Fields["StringToSign"] != "sts" || e.Fields["CanonicalRequest"] != "cr" || e.Fields["SignatureProvided"] != "abc" {
		t.Fatalf("SignatureDoesNotMatch fields = %v", e.Fields)
	}
}

package sigv4

import (
	"errors"
	"net/http"
	"strconv"
	"time"

	"github.com/nimbus-dev/nimbus/internal/awserr"
)

// AWS's own wording, shared by several families.
const (
	msgSignatureMismatch   = "The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method. Consult the service documentation for details."
	msgS3SignatureMismatch = "The request signature we calculated does not match the signature you provided. Check your key and signing method."
	msgInvalidToken        = "The security token included in the request is invalid."
	msgExpiredToken        = "The security token included in the request is expired"
	msgEC2AuthFailure      = "AWS was not able to validate the provided access credentials"
	msgEC2RequestExpired   = "Request has expired."
)

// AWSError maps an authentication failure to the error a service of family f
// answers with: code, message, HTTP status and, for S3, the extra elements
// AWS adds (RequestTime, StringToSign, ...). An error that is not an *Error
// becomes awserr's internal error.
func AWSError(err error, f awserr.Family) *awserr.Error {
	var e *Error
	if !errors.As(err, &e) {
		return awserr.As(err)
	}
	out := &awserr.Error{Kind: awserr.AuthFailure, Err: err}
	set := func(code string, status int, msg string) {
		out.Code, out.Status, out.Message = code, status, msg
	}
	field := func(k, v string) {
		if out.Fields == nil {
			out.Fields = map[string]string{}
		}
		out.Fields[k] = v
	}
	byFamily := func(json, query, ec2, s3 func()) {
		switch f {
		case awserr.FamilyQuery:
			query()
		case awserr.FamilyEC2:
			ec2()
		case awserr.FamilyS3:
			s3()
		default:
			json()
		}
	}

	switch e.Reason {
	case ReasonMissingAuth:
		byFamily(
			func() { set("MissingAuthenticationTokenException", 403, "Missing Authentication Token") },
			func() { set("MissingAuthenticationToken", 403, "Request is missing Authentication Token") },
			func() { set("AuthFailure", 401, msgEC2AuthFailure) },
			func() { out.Kind = awserr.AccessDenied; set("AccessDenied", 403, "Access Denied") },
		)
	case ReasonMalformed:
		byFamily(
			func() { set("IncompleteSignatureException", 400, e.Detail) },
			func() { set("IncompleteSignature", 400, e.Detail) },
			func() { set("IncompleteSignature", 400, e.Detail) },
			func() {
				if e.Presigned {
					set("AuthorizationQueryParametersError", 400, e.Detail)
				} else {
					set("AuthorizationHeaderMalformed", 400, "The authorization header is malformed; "+e.Detail)
				}
			},
		)
	case ReasonUnknownAccessKey:
		byFamily(
			func() { set("UnrecognizedClientException", 403, msgInvalidToken) },
			func() { set("InvalidClientTokenId", 403, msgInvalidToken) },
			func() { set("AuthFailure", 401, msgEC2AuthFailure) },
			func() {
				set("InvalidAccessKeyId", 403, "The AWS Access Key Id you provided does not exist in our records.")
				field("AWSAccessKeyId", e.AccessKey)
			},
		)
	case ReasonInvalidToken:
		byFamily(
			func() { set("UnrecognizedClientException", 403, msgInvalidToken) },
			func() { set("InvalidClientTokenId", 403, msgInvalidToken) },
			func() { set("AuthFailure", 401, msgEC2AuthFailure) },
			func() { set("InvalidToken", 400, "The provided token is malformed or otherwise invalid.") },
		)
	case ReasonExpiredToken:
		byFamily(
			func() { set("ExpiredTokenException", 403, msgExpiredToken) },
			func() { set("ExpiredToken", 403, msgExpiredToken) },
			func() { set("RequestExpired", 400, msgEC2RequestExpired) },
			func() { set("ExpiredToken", 400, "The provided token has expired.") },
		)
	case ReasonSignatureMismatch:
		byFamily(
			func() { set("InvalidSignatureException", 403, msgSignatureMismatch) },
			func() { set("SignatureDoesNotMatch", 403, msgSignatureMismatch) },
			func() { set("SignatureDoesNotMatch", 403, msgSignatureMismatch) },
			func() {
				set("SignatureDoesNotMatch", 403, msgS3SignatureMismatch)
				field("AWSAccessKeyId", e.AccessKey)
				if e.StringToSign != "" {
					field("StringToSign", e.StringToSign)
					field("CanonicalRequest", e.CanonicalRequest)
				}
				field("SignatureProvided", e.SignatureProvided)
			},
		)
	case ReasonSkewed, ReasonExpired:
		mapTime(e, f, out, set, field)
	case ReasonMissingContentSHA256:
		out.Kind = awserr.Validation
		set(s3Or(f, "InvalidRequest", awserr.CodeFor(f, awserr.Validation)), 400, "Missing required header for this request: x-amz-content-sha256")
	case ReasonInvalidContentSHA256:
		out.Kind = awserr.Validation
		set(s3Or(f, "InvalidArgument", awserr.CodeFor(f, awserr.Validation)), 400,
			"x-amz-content-sha256 must be UNSIGNED-PAYLOAD, STREAMING-UNSIGNED-PAYLOAD-TRAILER, STREAMING-AWS4-HMAC-SHA256-PAYLOAD, STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER, STREAMING-AWS4-ECDSA-P256-SHA256-PAYLOAD, STREAMING-AWS4-ECDSA-P256-SHA256-PAYLOAD-TRAILER or a valid sha256 value.")
		if f == awserr.FamilyS3 {
			field("ArgumentName", "x-amz-content-sha256")
			field("ArgumentValue", e.ClientValue)
		}
	case ReasonContentSHA256Mismatch:
		if f != awserr.FamilyS3 {
			// Outside S3 the body is part of the signature: a changed body
			// is a signature that does not match.
			return AWSError(&Error{Reason: ReasonSignatureMismatch, AccessKey: e.AccessKey}, f)
		}
		out.Kind = awserr.Validation
		set("XAmzContentSHA256Mismatch", 400, "The provided 'x-amz-content-sha256' header does not match what was computed.")
		field("ClientComputedContentSHA256", e.ClientValue)
		field("S3ComputedContentSHA256", e.ComputedValue)
	case ReasonChecksumMismatch:
		out.Kind = awserr.Validation
		set(s3Or(f, "BadDigest", awserr.CodeFor(f, awserr.Validation)), 400, "The "+e.Algorithm+" you specified did not match the calculated checksum.")
	case ReasonIncompleteBody:
		out.Kind = awserr.Validation
		set(s3Or(f, "IncompleteBody", awserr.CodeFor(f, awserr.Validation)), 400, "You did not provide the number of bytes specified by the Content-Length HTTP header.")
	case ReasonMalformedBody:
		out.Kind = awserr.Validation
		set(s3Or(f, "IncompleteBody", awserr.CodeFor(f, awserr.Validation)), 400, "The request body terminated unexpectedly")
	case ReasonMalformedTrailer:
		out.Kind = awserr.Validation
		set(s3Or(f, "MalformedTrailerError", awserr.CodeFor(f, awserr.Validation)), 400, "The request contained trailing data that was not well-formed or did not conform to our published schema.")
	default:
		return awserr.As(err)
	}
	if out.Status == 0 {
		out.Status = http.StatusForbidden
	}
	return out
}

func s3Or(f awserr.Family, s3, other string) string {
	if f == awserr.FamilyS3 {
		return s3
	}
	return other
}

// mapTime answers a request whose time is outside the allowed window.
func mapTime(e *Error, f awserr.Family, out *awserr.Error, set func(string, int, string), field func(string, string)) {
	switch f {
	case awserr.FamilyEC2:
		set("RequestExpired", 400, msgEC2RequestExpired)
		return
	case awserr.FamilyS3:
		if e.Reason == ReasonExpired {
			out.Kind = awserr.AccessDenied
			set("AccessDenied", 403, "Request has expired")
			field("X-Amz-Expires", strconv.Itoa(int(e.Expires.Sub(e.RequestTime)/time.Second)))
			field("Expires", e.Expires.UTC().Format(time.RFC3339))
			field("ServerTime", e.ServerTime.UTC().Format(time.RFC3339))
			return
		}
		set("RequestTimeTooSkewed", 403, "The difference between the request time and the current time is too large.")
		field("RequestTime", e.RequestTime.UTC().Format(TimeFormat))
		field("ServerTime", e.ServerTime.UTC().Format(time.RFC3339))
		field("MaxAllowedSkewMilliseconds", "900000")
		return
	}
	code := "InvalidSignatureException"
	if f == awserr.FamilyQuery {
		code = "SignatureDoesNotMatch"
	}
	set(code, 403, skewMessage(e))
}

// skewMessage is the wording of the JSON and query services:
// "Signature expired: 20130524T000000Z is now earlier than 20130524T001500Z (20130524T003000Z - 15 min.)".
func skewMessage(e *Error) string {
	now := e.ServerTime.UTC()
	req := e.RequestTime.UTC().Format(TimeFormat)
	if e.Reason == ReasonExpired {
		return "Signature expired: " + e.Expires.UTC().Format(TimeFormat) + " is now earlier than " + now.Format(TimeFormat) + "."
	}
	if e.RequestTime.After(now) {
		return "Signature not yet current: " + req + " is still later than " + now.Add(DefaultMaxSkew).Format(TimeFormat) +
			" (" + now.Format(TimeFormat) + " + 15 min.)"
	}
	return "Signature expired: " + req + " is now earlier than " + now.Add(-DefaultMaxSkew).Format(TimeFormat) +
		" (" + now.Format(TimeFormat) + " - 15 min.)"
}

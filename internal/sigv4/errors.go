package sigv4

import (
	"fmt"
	"time"
)

// Reason says why a request failed authentication. The edge turns it into
// each service family's own code with AWSError.
type Reason int

const (
	// ReasonMissingAuth: the request carries no SigV4 signature at all.
	ReasonMissingAuth Reason = iota + 1
	// ReasonMalformed: an Authorization header or presigned query that is
	// not well formed (missing parts, bad scope, unsupported algorithm).
	ReasonMalformed
	// ReasonUnknownAccessKey: the caller found no secret for the access key.
	ReasonUnknownAccessKey
	// ReasonInvalidToken: the session token does not belong to the key.
	ReasonInvalidToken
	// ReasonExpiredToken: the session credentials have expired.
	ReasonExpiredToken
	// ReasonSignatureMismatch: the signature (of the request, of a chunk or
	// of a trailer) is not the one the secret gives.
	ReasonSignatureMismatch
	// ReasonSkewed: the request time is more than MaxSkew from now.
	ReasonSkewed
	// ReasonExpired: a presigned URL used after X-Amz-Date + X-Amz-Expires.
	ReasonExpired
	// ReasonMissingContentSHA256: S3 header auth without x-amz-content-sha256.
	ReasonMissingContentSHA256
	// ReasonInvalidContentSHA256: x-amz-content-sha256 is neither a known
	// mode nor a hex SHA-256.
	ReasonInvalidContentSHA256
	// ReasonContentSHA256Mismatch: the body does not hash to x-amz-content-sha256.
	ReasonContentSHA256Mismatch
	// ReasonChecksumMismatch: an x-amz-checksum-* value (header or trailer)
	// does not match the payload.
	ReasonChecksumMismatch
	// ReasonIncompleteBody: the body ended early or is longer than declared.
	ReasonIncompleteBody
	// ReasonMalformedBody: aws-chunked framing that does not parse.
	ReasonMalformedBody
	// ReasonMalformedTrailer: aws-chunked trailers missing or not parsable.
	ReasonMalformedTrailer
)

var reasonNames = map[Reason]string{
	ReasonMissingAuth:           "missing authentication",
	ReasonMalformed:             "malformed signature",
	ReasonUnknownAccessKey:      "unknown access key",
	ReasonInvalidToken:          "invalid security token",
	ReasonExpiredToken:          "expired security token",
	ReasonSignatureMismatch:     "signature mismatch",
	ReasonSkewed:                "request time too skewed",
	ReasonExpired:               "presigned request expired",
	ReasonMissingContentSHA256:  "missing x-amz-content-sha256",
	ReasonInvalidContentSHA256:  "invalid x-amz-content-sha256",
	ReasonContentSHA256Mismatch: "x-amz-content-sha256 mismatch",
	ReasonChecksumMismatch:      "checksum mismatch",
	ReasonIncompleteBody:        "incomplete body",
	ReasonMalformedBody:         "malformed aws-chunked body",
	ReasonMalformedTrailer:      "malformed aws-chunked trailer",
}

func (r Reason) String() string {
	if s, ok := reasonNames[r]; ok {
		return s
	}
	return fmt.Sprintf("reason(%d)", int(r))
}

// Error is an authentication failure. Only Reason is always set; the other
// fields carry what AWS puts into its error responses for that reason.
type Error struct {
	Reason Reason
	// Detail is a human explanation (what is malformed, which header).
	Detail string
	// AccessKey is the key the request named, when known.
	AccessKey string
	// RequestTime and ServerTime are set for ReasonSkewed and ReasonExpired;
	// Expires is the presigned URL's end of validity for ReasonExpired.
	RequestTime, ServerTime, Expires time.Time
	// Presigned tells whether the request used query authentication.
	Presigned bool
	// CanonicalRequest and StringToSign are what nimbus computed, for
	// ReasonSignatureMismatch of the request itself (S3 returns both).
	CanonicalRequest, StringToSign string
	// SignatureProvided is the signature the client sent.
	SignatureProvided string
	// ClientValue and ComputedValue are the two sides of a content hash or
	// checksum mismatch (hex for SHA-256, base64 for checksums).
	ClientValue, ComputedValue string
	// Algorithm names the checksum for ReasonChecksumMismatch (CRC32, SHA256...).
	Algorithm string
}

func (e *Error) Error() string {
	if e.Detail != "" {
		return "sigv4: " + e.Reason.String() + ": " + e.Detail
	}
	return "sigv4: " + e.Reason.String()
}

// Is makes errors.Is(err, sigv4.ErrSkewed) and friends match on Reason alone.
func (e *Error) Is(target error) bool {
	t, ok := target.(*Error)
	return ok && t.Reason == e.Reason
}

// Sentinels for errors.Is; the errors Verify returns carry more detail.
var (
	ErrNoAuth                = &Error{Reason: ReasonMissingAuth}
	ErrMalformed             = &Error{Reason: ReasonMalformed}
	ErrUnknownAccessKey      = &Error{Reason: ReasonUnknownAccessKey}
	ErrInvalidToken          = &Error{Reason: ReasonInvalidToken}
	ErrExpiredToken          = &Error{Reason: ReasonExpiredToken}
	ErrSignatureMismatch     = &Error{Reason: ReasonSignatureMismatch}
	ErrSkewed                = &Error{Reason: ReasonSkewed}
	ErrExpired               = &Error{Reason: ReasonExpired}
	ErrMissingContentSHA256  = &Error{Reason: ReasonMissingContentSHA256}
	ErrInvalidContentSHA256  = &Error{Reason: ReasonInvalidContentSHA256}
	ErrContentSHA256Mismatch = &Error{Reason: ReasonContentSHA256Mismatch}
	ErrChecksumMismatch      = &Error{Reason: ReasonChecksumMismatch}
	ErrIncompleteBody        = &Error{Reason: ReasonIncompleteBody}
	ErrMalformedBody         = &Error{Reason: ReasonMalformedBody}
	ErrMalformedTrailer      = &Error{Reason: ReasonMalformedTrailer}
)

func malformed(presigned bool, format string, args ...any) *Error {
	return &Error{Reason: ReasonMalformed, Presigned: presigned, Detail: fmt.Sprintf(format, args...)}
}

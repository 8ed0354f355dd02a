package sigv4

import (
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// Algorithm is the only signing algorithm nimbus accepts (SigV4a's
// AWS4-ECDSA-P256-SHA256 is not supported).
const Algorithm = "AWS4-HMAC-SHA256"

// Payload hash values with a meaning of their own (x-amz-content-sha256).
const (
	UnsignedPayload                 = "UNSIGNED-PAYLOAD"
	StreamingPayload                = "STREAMING-AWS4-HMAC-SHA256-PAYLOAD"
	StreamingPayloadTrailer         = "STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER"
	StreamingUnsignedPayloadTrailer = "STREAMING-UNSIGNED-PAYLOAD-TRAILER"
	// EmptySHA256 is the hex SHA-256 of no bytes.
	EmptySHA256 = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
)

// TimeFormat is SigV4's ISO 8601 basic format (X-Amz-Date).
const TimeFormat = "20060102T150405Z"

// maxPresignExpiry is S3's limit on X-Amz-Expires: seven days.
const maxPresignExpiry = 7 * 24 * time.Hour

// Auth is what a request says about its signature, before any check.
type Auth struct {
	AccessKey string
	Date      string // YYYYMMDD from the credential scope
	Region    string
	Service   string
	// Time is the signing time (X-Amz-Date, else the Date header); AmzDate is
	// the same instant in TimeFormat, as it enters the string to sign.
	Time    time.Time
	AmzDate string
	// SignedHeaders are the lower-case header names in the order signed.
	SignedHeaders []string
	Signature     string // lower-case hex, as sent
	Presigned     bool
	// Expires is X-Amz-Expires for presigned URLs; 0 when absent.
	Expires      time.Duration
	SessionToken string
	// PayloadHash is x-amz-content-sha256 (header, or query when presigned)
	// as sent, or "" when the request has none.
	PayloadHash string

	scope string // Date/Region/Service/aws4_request
}

// Scope is the credential scope: DATE/REGION/SERVICE/aws4_request.
func (a *Auth) Scope() string { return a.scope }

// Parse reads the SigV4 parameters of r from its Authorization header or its
// presigned query (X-Amz-Algorithm, X-Amz-Credential, X-Amz-Date,
// X-Amz-Expires, X-Amz-SignedHeaders, X-Amz-Signature, X-Amz-Security-Token).
// It returns ErrNoAuth (an *Error) when r is not signed at all and an *Error
// with ReasonMalformed when the parameters are incomplete or ill-formed. It
// checks no signature and no time: that is Verify's job.
func Parse(r *http.Request) (*Auth, error) {
	header := r.Header.Get("Authorization")
	presigned := strings.Contains(r.URL.RawQuery, "X-Amz-Algorithm=") ||
		strings.Contains(r.URL.RawQuery, "X-Amz-Credential=")
	switch {
	case header != "" && presigned:
		return nil, malformed(false, "Only one auth mechanism allowed; only the X-Amz-Algorithm query parameter, Signature query string parameter or the Authorization header should be specified")
	case header != "":
		return parseHeader(r, header)
	case presigned:
		return parseQuery(r)
	}
	return nil, &Error{Reason: ReasonMissingAuth}
}

func parseHeader(r *http.Request, header string) (*Auth, error) {
	alg, rest, _ := strings.Cut(strings.TrimSpace(header), " ")
	if alg != Algorithm {
		return nil, malformed(false, "Unsupported authorization type %q; only %s is supported", alg, Algorithm)
	}
	var credential, signedHeaders, signature string
	var haveCredential, haveSignedHeaders, haveSignature bool
	for part := range strings.SplitSeq(rest, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		key, value, ok := strings.Cut(part, "=")
		if !ok {
			return nil, malformed(false, "'%s' not a valid key=value pair (missing equal-sign) in Authorization header: '%s'.", part, header)
		}
		switch key {
		case "Credential":
			credential, haveCredential = value, true
		case "SignedHeaders":
			signedHeaders, haveSignedHeaders = value, true
		case "Signature":
			signature, haveSignature = value, true
		}
	}
	amzDate := r.Header.Get("X-Amz-Date")
	var missing []string
	if !haveCredential {
		missing = append(missing, "Authorization header requires 'Credential' parameter.")
	}
	if !haveSignature {
		missing = append(missing, "Authorization header requires 'Signature' parameter.")
	}
	if !haveSignedHeaders {
		missing = append(missing, "Authorization header requires 'SignedHeaders' parameter.")
	}
	if amzDate == "" && r.Header.Get("Date") == "" {
		missing = append(missing, "Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header.")
	}
	if len(missing) > 0 {
		return nil, malformed(false, "%s Authorization=%s", strings.Join(missing, " "), header)
	}
	a := &Auth{
		Signature:    signature,
		SessionToken: r.Header.Get("X-Amz-Security-Token"),
		PayloadHash:  r.Header.Get("X-Amz-Content-Sha256"),
	}
	if err := a.setCredential(credential, false); err != nil {
		return nil, err
	}
	if err := a.setSignedHeaders(signedHeaders, false); err != nil {
		return nil, err
	}
	if amzDate != "" {
		if err := a.setTime(amzDate, false); err != nil {
			return nil, err
		}
	} else {
		t, err := http.ParseTime(r.Header.Get("Date"))
		if err != nil {
			return nil, malformed(false, "Date header %q is not an HTTP date", r.Header.Get("Date"))
		}
		a.Time, a.AmzDate = t.UTC(), t.UTC().Format(TimeFormat)
	}
	if err := a.checkScopeDate(false); err != nil {
		return nil, err
	}
	return a, nil
}

func parseQuery(r *http.Request) (*Auth, error) {
	q, err := url.ParseQuery(r.URL.RawQuery)
	if err != nil {
		return nil, malformed(true, "Query string is not well formed: %v", err)
	}
	if alg := q.Get("X-Amz-Algorithm"); alg != Algorithm {
		return nil, malformed(true, "X-Amz-Algorithm only supports \"%s\"", Algorithm)
	}
	var missing []string
	for _, name := range []string{"X-Amz-Credential", "X-Amz-Signature", "X-Amz-SignedHeaders", "X-Amz-Date"} {
		if q.Get(name) == "" {
			missing = append(missing, name)
		}
	}
	if len(missing) > 0 {
		return nil, malformed(true, "Query-string authentication version 4 requires the X-Amz-Algorithm, X-Amz-Credential, X-Amz-Signature, X-Amz-Date, X-Amz-SignedHeaders, and X-Amz-Expires parameters (missing %s).", strings.Join(missing, ", "))
	}
	a := &Auth{
		Presigned:    true,
		Signature:    q.Get("X-Amz-Signature"),
		SessionToken: q.Get("X-Amz-Security-Token"),
		PayloadHash:  q.Get("X-Amz-Content-Sha256"),
	}
	if err := a.setCredential(q.Get("X-Amz-Credential"), true); err != nil {
		return nil, err
	}
	if err := a.setSignedHeaders(q.Get("X-Amz-SignedHeaders"), true); err != nil {
		return nil, err
	}
	if err := a.setTime(q.Get("X-Amz-Date"), true); err != nil {
		return nil, err
	}
	if err := a.checkScopeDate(true); err != nil {
		return nil, err
	}
	if v := q.Get("X-Amz-Expires"); v != "" {
		secs, err := strconv.ParseInt(v, 10, 64)
		switch {
		case err != nil:
			return nil, malformed(true, "X-Amz-Expires should be a number")
		case secs < 0:
			return nil, malformed(true, "X-Amz-Expires must be non-negative")
		case time.Duration(secs)*time.Second > maxPresignExpiry:
			return nil, malformed(true, "X-Amz-Expires must be less than a week (in seconds) that is 604800")
		}
		a.Expires = time.Duration(secs) * time.Second
	} else if a.Service == "s3" {
		return nil, malformed(true, "Query-string authentication version 4 requires the X-Amz-Algorithm, X-Amz-Credential, X-Amz-Signature, X-Amz-Date, X-Amz-SignedHeaders, and X-Amz-Expires parameters.")
	}
	return a, nil
}

// setCredential splits AKID/DATE/REGION/SERVICE/aws4_request.
func (a *Auth) setCredential(credential string, presigned bool) error {
	parts := strings.Split(credential, "/")
	if len(parts) != 5 || parts[0] == "" || parts[1] == "" || parts[2] == "" || parts[3] == "" || parts[4] != "aws4_request" {
		return malformed(presigned, "the Credential is mal-formed; expecting \"<YOUR-AKID>/YYYYMMDD/REGION/SERVICE/aws4_request\".")
	}
	a.AccessKey, a.Date, a.Region, a.Service = parts[0], parts[1], parts[2], parts[3]
	a.scope = credential[len(parts[0])+1:]
	return nil
}

func (a *Auth) setSignedHeaders(list string, presigned bool) error {
	if list == "" {
		return malformed(presigned, "SignedHeaders is empty")
	}
	a.SignedHeaders = strings.Split(list, ";")
	hasHost := false
	for _, h := range a.SignedHeaders {
		if h == "" || h != strings.ToLower(h) {
			return malformed(presigned, "SignedHeaders %q must be lower-case names separated by ';'", list)
		}
		if h == "host" {
			hasHost = true
		}
	}
	if !hasHost {
		return malformed(presigned, "'Host' or ':authority' must be a 'SignedHeader' in the AWS Authorization.")
	}
	return nil
}

func (a *Auth) setTime(amzDate string, presigned bool) error {
	t, err := time.Parse(TimeFormat, amzDate)
	if err != nil {
		return malformed(presigned, "X-Amz-Date must be in the ISO8601 Long Format \"yyyyMMdd'T'HHmmss'Z'\"")
	}
	a.Time, a.AmzDate = t, amzDate
	return nil
}

func (a *Auth) checkScopeDate(presigned bool) error {
	if a.AmzDate[:8] != a.Date {
		return malformed(presigned, "Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP: '%s' != '%s', from '%s'.", a.Date, a.AmzDate[:8], a.AmzDate)
	}
	return nil
}

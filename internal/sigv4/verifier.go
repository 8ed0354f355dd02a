package sigv4

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/http"
	"sync"
	"time"
)

// DefaultMaxSkew is how far a request's time may be from the server's.
const DefaultMaxSkew = 15 * time.Minute

// Verifier checks SigV4 signatures. The zero value is ready to use; one
// Verifier is shared by all requests (it caches derived signing keys).
type Verifier struct {
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// MaxSkew is the allowed distance between request and server time;
	// 0 means DefaultMaxSkew.
	MaxSkew time.Duration

	keys keyCache
}

func (v *Verifier) now() time.Time {
	if v.Now != nil {
		return v.Now()
	}
	return time.Now()
}

func (v *Verifier) maxSkew() time.Duration {
	if v.MaxSkew > 0 {
		return v.MaxSkew
	}
	return DefaultMaxSkew
}

var bufPool = sync.Pool{New: func() any { return new(bytes.Buffer) }}

// Verify checks that a (from Parse) is a valid signature of r by secret, the
// secret access key of a.AccessKey, which the caller looked up (an unknown
// key is the caller's ErrUnknownAccessKey).
//
// body is the whole request body when the edge buffered it: its SHA-256 is
// then the payload hash, or is checked against x-amz-content-sha256. Pass
// nil when the body was not buffered (large S3 uploads); the edge then reads
// the payload through Body, which checks it as it streams. A request without
// x-amz-content-sha256 and with a non-empty body needs its body here. For
// the STREAMING-* modes the signature covers only the headers here; the
// payload must always be read through Body, which checks the chunks.
//
// Errors are *Error (map them with AWSError), except for misuse by the caller.
func (v *Verifier) Verify(r *http.Request, a *Auth, secret string, body []byte) error {
	if err := v.checkTime(a); err != nil {
		return err
	}
	payloadHash, checkBody, err := payloadHashFor(r, a, body)
	if err != nil {
		return err
	}
	var want [sha256.Size]byte
	if len(a.Signature) != 2*sha256.Size {
		return mismatch(r, a, payloadHash)
	}
	if _, err := hex.Decode(want[:], []byte(a.Signature)); err != nil {
		return mismatch(r, a, payloadHash)
	}
	key := v.keys.get(secret, a.Date, a.Region, a.Service)
	primary, alternative := canonicalURIs(r, a.Service)
	ok := signatureMatches(r, a, key, primary, payloadHash, &want)
	if !ok && alternative != "" {
		ok = signatureMatches(r, a, key, alternative, payloadHash, &want)
	}
	if !ok {
		return mismatch(r, a, payloadHash)
	}
	if checkBody {
		sum := sha256.Sum256(body)
		got := hex.EncodeToString(sum[:])
		if got != payloadHash {
			return &Error{Reason: ReasonContentSHA256Mismatch, AccessKey: a.AccessKey, ClientValue: payloadHash, ComputedValue: got}
		}
	}
	return nil
}

// checkTime rejects header-signed requests more than MaxSkew from now, and
// presigned URLs outside [X-Amz-Date - MaxSkew, X-Amz-Date + X-Amz-Expires].
func (v *Verifier) checkTime(a *Auth) error {
	now := v.now().UTC()
	skew := v.maxSkew()
	if a.Presigned && a.Expires > 0 {
		if end := a.Time.Add(a.Expires); now.After(end) {
			return &Error{Reason: ReasonExpired, Presigned: true, AccessKey: a.AccessKey, RequestTime: a.Time, ServerTime: now, Expires: end}
		}
		if now.Before(a.Time.Add(-skew)) {
			return &Error{Reason: ReasonSkewed, Presigned: true, AccessKey: a.AccessKey, RequestTime: a.Time, ServerTime: now}
		}
		return nil
	}
	if d := now.Sub(a.Time); d > skew || d < -skew {
		return &Error{Reason: ReasonSkewed, Presigned: a.Presigned, AccessKey: a.AccessKey, RequestTime: a.Time, ServerTime: now}
	}
	return nil
}

// payloadHashFor decides the payload hash that enters the canonical request
// and whether body must still be checked against it.
func payloadHashFor(r *http.Request, a *Auth, body []byte) (hash string, checkBody bool, err error) {
	h := a.PayloadHash
	switch {
	case h == UnsignedPayload || h == StreamingPayload || h == StreamingPayloadTrailer || h == StreamingUnsignedPayloadTrailer:
		if a.Presigned && h != UnsignedPayload {
			return "", false, &Error{Reason: ReasonInvalidContentSHA256, Presigned: true, AccessKey: a.AccessKey, ClientValue: h, Detail: "streaming payloads need header authentication"}
		}
		return h, false, nil
	case h != "":
		if !isHexSHA256(h) {
			return "", false, &Error{Reason: ReasonInvalidContentSHA256, Presigned: a.Presigned, AccessKey: a.AccessKey, ClientValue: h}
		}
		return h, body != nil, nil
	case a.Presigned && rawPathServices(a.Service):
		// S3 presigned URLs never cover the body.
		return UnsignedPayload, false, nil
	case !a.Presigned && a.Service == "s3":
		return "", false, &Error{Reason: ReasonMissingContentSHA256, AccessKey: a.AccessKey}
	case body != nil:
		sum := sha256.Sum256(body)
		return hex.EncodeToString(sum[:]), false, nil
	case r.ContentLength == 0 || r.Body == nil || r.Body == http.NoBody:
		return EmptySHA256, false, nil
	}
	return "", false, fmt.Errorf("sigv4: verify %s %s: the request has a body but no x-amz-content-sha256, so Verify needs the buffered body", r.Method, r.URL.Path)
}

func isHexSHA256(s string) bool {
	if len(s) != 2*sha256.Size {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F') {
			return false
		}
	}
	return true
}

// signatureMatches computes the request signature for one canonical URI and
// compares it with want in constant time.
func signatureMatches(r *http.Request, a *Auth, key []byte, canonicalURI, payloadHash string, want *[sha256.Size]byte) bool {
	buf := bufPool.Get().(*bytes.Buffer)
	defer bufPool.Put(buf)
	buf.Reset()
	appendCanonicalRequest(buf, r, a, canonicalURI, payloadHash)
	crHash := sha256.Sum256(buf.Bytes())

	buf.Reset()
	appendStringToSign(buf, a, crHash[:])
	m := hmac.New(sha256.New, key)
	m.Write(buf.Bytes())
	var got [sha256.Size]byte
	return hmac.Equal(m.Sum(got[:0]), want[:])
}

func appendStringToSign(buf *bytes.Buffer, a *Auth, crHash []byte) {
	buf.WriteString(Algorithm)
	buf.WriteByte('\n')
	buf.WriteString(a.AmzDate)
	buf.WriteByte('\n')
	buf.WriteString(a.scope)
	buf.WriteByte('\n')
	var hx [2 * sha256.Size]byte
	hex.Encode(hx[:], crHash)
	buf.Write(hx[:])
}

// mismatch builds the SignatureDoesNotMatch error with what nimbus signed,
// which S3 returns to help clients debug; it runs only on failure.
func mismatch(r *http.Request, a *Auth, payloadHash string) error {
	primary, _ := canonicalURIs(r, a.Service)
	var cr bytes.Buffer
	appendCanonicalRequest(&cr, r, a, primary, payloadHash)
	crHash := sha256.Sum256(cr.Bytes())
	var sts bytes.Buffer
	appendStringToSign(&sts, a, crHash[:])
	return &Error{
		Reason:            ReasonSignatureMismatch,
		Presigned:         a.Presigned,
		AccessKey:         a.AccessKey,
		CanonicalRequest:  cr.String(),
		StringToSign:      sts.String(),
		SignatureProvided: a.Signature,
	}
}

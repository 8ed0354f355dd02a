// Package sigv4 verifies AWS Signature Version 4 on incoming requests, as AWS
// does before any handler runs: the Authorization header and presigned URLs,
// clock skew and presigned expiry, UNSIGNED-PAYLOAD, x-amz-content-sha256,
// and S3's aws-chunked streaming uploads with chained chunk signatures and
// trailing checksums.
//
// The edge uses it in three steps:
//
//	a, err := sigv4.Parse(r)                 // ErrNoAuth when unsigned
//	if err != nil { return sigv4.AWSError(err, family) }
//	secret, ok := lookup(a.AccessKey)        // the caller's key store
//	if !ok { return sigv4.AWSError(sigv4.ErrUnknownAccessKey, family) }
//	if err := verifier.Verify(r, a, secret, body); err != nil {
//		return sigv4.AWSError(err, family)
//	}
//
// body is the buffered request body, or nil for a large S3 upload the edge
// streams; then it replaces r.Body with verifier.Body(r, a, secret), whose
// reads fail (with an *Error) when the payload does not match what was
// signed: the handler must discard the data when Read returns anything but
// io.EOF.
//
// Canonicalisation follows the SigV4 specification and aws-sdk-go-v2's
// signer: S3 signs the path exactly as sent; every other service normalises
// it and encodes it once more. Derived signing keys are cached per (secret,
// date, region, service), and signatures are compared in constant time.
package sigv4

package sigv4

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"hash"
	"io"
	"net/http"
	"strconv"
	"strings"
)

// Body returns the reader a handler must take r's payload from, after
// Verify accepted r with a nil body. It checks the payload against what the
// signature promised while it streams:
//   - STREAMING-* modes: a *ChunkedReader that decodes aws-chunked, checks
//     chained chunk signatures and trailer checksums;
//   - a hex x-amz-content-sha256: a reader that hashes and fails at EOF with
//     ReasonContentSHA256Mismatch (S3's XAmzContentSHA256Mismatch);
//   - any x-amz-checksum-* request header is checked at EOF too.
//
// Read errors other than io.EOF are *Error (map them with AWSError) or the
// transport's; on any of them the handler must discard what it read.
func (v *Verifier) Body(r *http.Request, a *Auth, secret string) (io.ReadCloser, error) {
	body := r.Body
	if body == nil {
		body = http.NoBody
	}
	switch a.PayloadHash {
	case StreamingPayload, StreamingPayloadTrailer, StreamingUnsignedPayloadTrailer:
		opt := chunkedOptions{
			seed:          a.Signature,
			trailerMode:   a.PayloadHash != StreamingPayload,
			trailerSigned: a.PayloadHash == StreamingPayloadTrailer,
			decodedLength: -1,
			checksums:     headerChecksums(r.Header),
		}
		if a.PayloadHash != StreamingUnsignedPayloadTrailer {
			opt.signer = &chunkSigner{key: v.keys.get(secret, a.Date, a.Region, a.Service), amzDate: a.AmzDate, scope: a.scope}
		}
		if dl := r.Header.Get("X-Amz-Decoded-Content-Length"); dl != "" {
			n, err := strconv.ParseInt(dl, 10, 64)
			if err != nil || n < 0 {
				return nil, &Error{Reason: ReasonMalformedBody, AccessKey: a.AccessKey, Detail: fmt.Sprintf("x-amz-decoded-content-length %q is not a length", dl)}
			}
			opt.decodedLength = n
		}
		for _, list := range r.Header.Values("X-Amz-Trailer") {
			for name := range strings.SplitSeq(list, ",") {
				if name = strings.ToLower(strings.TrimSpace(name)); name != "" {
					opt.trailers = append(opt.trailers, name)
				}
			}
		}
		if len(opt.trailers) > 0 && !opt.trailerMode {
			return nil, &Error{Reason: ReasonMalformedTrailer, AccessKey: a.AccessKey, Detail: "x-amz-trailer needs a *-TRAILER x-amz-content-sha256"}
		}
		return newChunkedReader(body, opt), nil
	}
	vr := &verifyingReader{src: body, sums: headerChecksums(r.Header)}
	if isHexSHA256(a.PayloadHash) {
		vr.sha = sha256.New()
		vr.wantSHA = strings.ToLower(a.PayloadHash)
	}
	if vr.sha == nil && len(vr.sums) == 0 {
		return body, nil
	}
	return vr, nil
}

// verifyingReader hashes a plain body as it is read and fails at EOF when
// it does not match x-amz-content-sha256 or an x-amz-checksum-* header.
type verifyingReader struct {
	src     io.ReadCloser
	sha     hash.Hash
	wantSHA string
	sums    []*payloadChecksum
	err     error
}

func (r *verifyingReader) Read(p []byte) (int, error) {
	if r.err != nil {
		return 0, r.err
	}
	n, err := r.src.Read(p)
	if n > 0 {
		if r.sha != nil {
			r.sha.Write(p[:n])
		}
		for _, s := range r.sums {
			s.hash.Write(p[:n])
		}
	}
	if err == io.EOF {
		err = r.finish()
	}
	r.err = err
	return n, err
}

func (r *verifyingReader) finish() error {
	if r.sha != nil {
		got := hex.EncodeToString(r.sha.Sum(nil))
		if got != r.wantSHA {
			return &Error{Reason: ReasonContentSHA256Mismatch, ClientValue: r.wantSHA, ComputedValue: got}
		}
	}
	for _, s := range r.sums {
		if err := s.verify(); err != nil {
			return err
		}
	}
	return io.EOF
}

func (r *verifyingReader) Close() error { return r.src.Close() }

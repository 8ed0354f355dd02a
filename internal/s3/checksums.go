package s3

import (
	"bytes"
	"crypto/md5"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/nimbus-dev/nimbus/internal/sigv4"
)

// checksumMembers pairs S3's flexible checksum members with their header
// (and trailer) names. The edge's body reader verifies each one a request
// carries; S3 keeps the values and answers them back.
var checksumMembers = []struct{ member, header string }{
	{"ChecksumCRC32", "x-amz-checksum-crc32"},
	{"ChecksumCRC32C", "x-amz-checksum-crc32c"},
	{"ChecksumCRC64NVME", "x-amz-checksum-crc64nvme"},
	{"ChecksumSHA1", "x-amz-checksum-sha1"},
	{"ChecksumSHA256", "x-amz-checksum-sha256"},
}

// trailered is the edge's aws-chunked body reader, whose trailers carry
// the checksums an SDK computed while it streamed.
type trailered interface {
	Trailers() http.Header
}

// checksumsOf collects the checksums of a request read to its end: from
// headers (in) and from the trailers of its body.
func checksumsOf(in map[string]any, r io.Reader) map[string]string {
	out := map[string]string{}
	for _, c := range checksumMembers {
		if v := str(in, c.member); v != "" {
			out[c.member] = v
		}
	}
	if t, ok := r.(trailered); ok {
		for _, c := range checksumMembers {
			if v := t.Trailers().Get(c.header); v != "" {
				out[c.member] = v
			}
		}
	}
	if len(out) == 0 {
		return nil
	}
	return out
}

// contentMD5 decodes Content-MD5: nil when absent, InvalidDigest when it
// is not the base64 of 16 bytes.
func contentMD5(in map[string]any) ([]byte, error) {
	v := str(in, "ContentMD5")
	if v == "" {
		return nil, nil
	}
	sum, err := base64.StdEncoding.DecodeString(v)
	if err != nil || len(sum) != md5.Size {
		e := s3Error(http.StatusBadRequest, "InvalidDigest", "The Content-MD5 you specified was invalid.")
		e.Fields = map[string]string{"Content-MD5": v}
		return nil, e
	}
	return sum, nil
}

func checkMD5(want, got []byte) error {
	if want == nil || bytes.Equal(want, got) {
		return nil
	}
	e := s3Error(http.StatusBadRequest, "BadDigest", "The Content-MD5 you specified did not match what we received.")
	e.Fields = map[string]string{
		"ExpectedDigest":   base64.StdEncoding.EncodeToString(want),
		"CalculatedDigest": base64.StdEncoding.EncodeToString(got),
	}
	return e
}

func quotedETag(sum []byte) string { return `"` + hex.EncodeToString(sum) + `"` }

// etagMatches compares an If-Match style list of ETags with an object's.
func etagMatches(list, etag string) bool {
	for _, v := range strings.Split(list, ",") {
		v = strings.TrimSpace(v)
		v = strings.TrimPrefix(v, "W/")
		if v == "*" || strings.Trim(v, `"`) == strings.Trim(etag, `"`) {
			return true
		}
	}
	return false
}

// bodyError maps a failure to read a request body: the edge's signature
// and checksum errors keep their own S3 codes, a body cut short is
// IncompleteBody.
func bodyError(err error) error {
	var se *sigv4.Error
	if errors.As(err, &se) {
		return err
	}
	if errors.Is(err, io.ErrUnexpectedEOF) {
		return s3Error(http.StatusBadRequest, "IncompleteBody",
			"You did not provide the number of bytes specified by the Content-Length HTTP header.")
	}
	return errInternal(err, "store object body")
}

func checksumDoc(out map[string]any, sums map[string]string) {
	for k, v := range sums {
		out[k] = v
	}
}

func fmtSize(n int64) string { return fmt.Sprint(n) }

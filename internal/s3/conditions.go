package s3

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// checkConditions evaluates GET and HEAD's conditional headers in RFC 7232's
// order, as S3 does: If-Match (else If-Unmodified-Since) failing is 412;
// If-None-Match (else If-Modified-Since) failing is 304.
func checkConditions(in map[string]any, rec *objectRecord) error {
	modified := rec.LastModified.Truncate(time.Second)
	if m := str(in, "IfMatch"); m != "" {
		if !etagMatches(m, rec.ETag) {
			return errPreconditionFailed("If-Match")
		}
	} else if t, ok := timestamp(in, "IfUnmodifiedSince"); ok && modified.After(t) {
		return errPreconditionFailed("If-Unmodified-Since")
	}
	if m := str(in, "IfNoneMatch"); m != "" {
		if etagMatches(m, rec.ETag) {
			return errNotModified()
		}
	} else if t, ok := timestamp(in, "IfModifiedSince"); ok && !modified.After(t) {
		return errNotModified()
	}
	return nil
}

// checkCopyConditions evaluates CopyObject's x-amz-copy-source-if-*
// headers; every failure is 412.
func checkCopyConditions(in map[string]any, rec *objectRecord) error {
	modified := rec.LastModified.Truncate(time.Second)
	if m := str(in, "CopySourceIfMatch"); m != "" {
		if !etagMatches(m, rec.ETag) {
			return errPreconditionFailed("x-amz-copy-source-If-Match")
		}
	} else if t, ok := timestamp(in, "CopySourceIfUnmodifiedSince"); ok && modified.After(t) {
		return errPreconditionFailed("x-amz-copy-source-If-Unmodified-Since")
	}
	if m := str(in, "CopySourceIfNoneMatch"); m != "" {
		if etagMatches(m, rec.ETag) {
			return errPreconditionFailed("x-amz-copy-source-If-None-Match")
		}
	} else if t, ok := timestamp(in, "CopySourceIfModifiedSince"); ok && !modified.After(t) {
		return errPreconditionFailed("x-amz-copy-source-If-Modified-Since")
	}
	return nil
}

// byteRange is an inclusive range of an object's bytes.
type byteRange struct{ first, last int64 }

func (r *byteRange) length() int64 { return r.last - r.first + 1 }

func (r *byteRange) contentRange(size int64) string {
	return fmt.Sprintf("bytes %d-%d/%d", r.first, r.last, size)
}

// parseRange resolves a Range header against an object's size: nil for
// none, or for one S3 ignores (not bytes=, several ranges, unparsable), so
// the whole object is answered; InvalidRange when no byte of it exists.
func parseRange(header string, size int64) (*byteRange, error) {
	spec, ok := strings.CutPrefix(strings.TrimSpace(header), "bytes=")
	if !ok || strings.Contains(spec, ",") {
		return nil, nil
	}
	firstText, lastText, ok := strings.Cut(strings.TrimSpace(spec), "-")
	if !ok {
		return nil, nil
	}
	if firstText == "" {
		n, err := strconv.ParseInt(lastText, 10, 64)
		if err != nil || n < 0 {
			return nil, nil
		}
		if n == 0 || size == 0 {
			return nil, errInvalidRange(header, size)
		}
		if n > size {
			n = size
		}
		return &byteRange{first: size - n, last: size - 1}, nil
	}
	first, err := strconv.ParseInt(firstText, 10, 64)
	if err != nil || first < 0 {
		return nil, nil
	}
	last := size - 1
	if lastText != "" {
		if last, err = strconv.ParseInt(lastText, 10, 64); err != nil || last < first {
			return nil, nil
		}
		if last >= size {
			last = size - 1
		}
	}
	if first >= size {
		return nil, errInvalidRange(header, size)
	}
	return &byteRange{first: first, last: last}, nil
}

// parseCopyRange parses UploadPartCopy's x-amz-copy-source-range, which
// must be a whole bytes=first-last within the source.
func parseCopyRange(header string, size int64) (*byteRange, error) {
	if header == "" {
		return nil, nil
	}
	spec, ok := strings.CutPrefix(header, "bytes=")
	firstText, lastText, ok2 := strings.Cut(spec, "-")
	first, err1 := strconv.ParseInt(firstText, 10, 64)
	last, err2 := strconv.ParseInt(lastText, 10, 64)
	if !ok || !ok2 || err1 != nil || err2 != nil || first < 0 || last < first {
		return nil, errInvalidArgument("x-amz-copy-source-range", header,
			"The x-amz-copy-source-range value must be of the form bytes=first-last where first and last are the zero-based offsets of the first and last bytes to copy")
	}
	if last >= size {
		return nil, errInvalidArgument("x-amz-copy-source-range", header,
			"Range specified is not valid for source object of size: %d", size)
	}
	return &byteRange{first: first, last: last}, nil
}

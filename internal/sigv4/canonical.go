package sigv4

import (
	"bytes"
	"net/http"
	"net/textproto"
	"net/url"
	"slices"
	"strconv"
	"strings"
)

// rawPathServices sign the request path exactly as sent: S3 neither
// normalises nor double-encodes it (aws-sdk-go-v2's DisableURIPathEscaping,
// botocore's S3SigV4Auth). Every other service normalises the path and
// URI-encodes it once more.
func rawPathServices(service string) bool {
	switch service {
	case "s3", "s3-object-lambda", "s3-outposts", "s3express":
		return true
	}
	return false
}

// requestPath is the path as it came over the wire, still percent-encoded.
func requestPath(r *http.Request) string {
	if uri := r.RequestURI; uri != "" {
		if i := strings.IndexByte(uri, '?'); i >= 0 {
			uri = uri[:i]
		}
		// Absolute-form request targets (proxies) carry scheme and host.
		if !strings.HasPrefix(uri, "/") {
			if i := strings.Index(uri, "://"); i >= 0 {
				uri = uri[i+3:]
				if j := strings.IndexByte(uri, '/'); j >= 0 {
					uri = uri[j:]
				} else {
					uri = "/"
				}
			}
		}
		if uri == "" {
			return "/"
		}
		return uri
	}
	// A request built in process (tests, an in-process client) has no
	// RequestURI; aws-sdk-go-v2 signs URL.Opaque when set, else EscapedPath.
	if op := r.URL.Opaque; op != "" {
		op = strings.TrimPrefix(op, "//")
		if i := strings.IndexByte(op, '/'); i >= 0 {
			return op[i:]
		}
		return "/"
	}
	if p := r.URL.EscapedPath(); p != "" {
		return p
	}
	return "/"
}

// normalizePath removes "." and ".." segments and empty segments (repeated
// slashes), keeping a trailing slash, as the SigV4 test suite's normalised
// cases require.
func normalizePath(p string) string {
	if p == "" {
		return "/"
	}
	if !strings.Contains(p, "//") && !strings.Contains(p, "/.") {
		return p
	}
	var out []string
	for seg := range strings.SplitSeq(p, "/") {
		switch seg {
		case "", ".":
		case "..":
			if len(out) > 0 {
				out = out[:len(out)-1]
			}
		default:
			out = append(out, seg)
		}
	}
	var b strings.Builder
	b.WriteByte('/')
	b.WriteString(strings.Join(out, "/"))
	if strings.HasSuffix(p, "/") && len(out) > 0 {
		b.WriteByte('/')
	}
	return b.String()
}

const upperHex = "0123456789ABCDEF"

func unreserved(c byte) bool {
	return 'A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9' ||
		c == '-' || c == '.' || c == '_' || c == '~'
}

// appendEscaped writes s with every byte but the RFC 3986 unreserved ones
// (and '/' when keepSlash) percent-encoded in upper-case hex.
func appendEscaped(buf *bytes.Buffer, s string, keepSlash bool) {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if unreserved(c) || keepSlash && c == '/' {
			buf.WriteByte(c)
			continue
		}
		buf.WriteByte('%')
		buf.WriteByte(upperHex[c>>4])
		buf.WriteByte(upperHex[c&15])
	}
}

type queryPair struct{ key, value string }

// appendCanonicalQuery writes the canonical query string: every parameter
// decoded, re-encoded per RFC 3986, sorted by key then value; a presigned
// request's own X-Amz-Signature is left out.
func appendCanonicalQuery(buf *bytes.Buffer, rawQuery string, presigned bool) {
	if rawQuery == "" {
		return
	}
	var small [8]queryPair
	pairs := small[:0]
	var enc bytes.Buffer
	for piece := range strings.SplitSeq(rawQuery, "&") {
		if piece == "" {
			continue
		}
		k, v, _ := strings.Cut(piece, "=")
		k, v = unescapeQuery(k), unescapeQuery(v)
		if presigned && k == "X-Amz-Signature" {
			continue
		}
		pairs = append(pairs, queryPair{escapeQuery(&enc, k), escapeQuery(&enc, v)})
	}
	slices.SortFunc(pairs, func(a, b queryPair) int {
		if c := strings.Compare(a.key, b.key); c != 0 {
			return c
		}
		return strings.Compare(a.value, b.value)
	})
	for i, p := range pairs {
		if i > 0 {
			buf.WriteByte('&')
		}
		buf.WriteString(p.key)
		buf.WriteByte('=')
		buf.WriteString(p.value)
	}
}

// unescapeQuery decodes a query component the way aws-sdk-go-v2 reads
// URL.Query() ('+' is a space); a component that does not decode is kept.
func unescapeQuery(s string) string {
	if !strings.ContainsAny(s, "%+") {
		return s
	}
	if d, err := url.QueryUnescape(s); err == nil {
		return d
	}
	return s
}

func escapeQuery(scratch *bytes.Buffer, s string) string {
	clean := true
	for i := 0; i < len(s); i++ {
		if !unreserved(s[i]) {
			clean = false
			break
		}
	}
	if clean {
		return s
	}
	scratch.Reset()
	appendEscaped(scratch, s, false)
	return scratch.String()
}

// headerValues returns the values of a signed header as the server sees them.
func headerValues(r *http.Request, name string) []string {
	if v, ok := r.Header[textproto.CanonicalMIMEHeaderKey(name)]; ok {
		return v
	}
	// Names Go does not canonicalise (odd characters) keep their case.
	for k, v := range r.Header {
		if strings.EqualFold(k, name) {
			return v
		}
	}
	return nil
}

// appendCanonicalHeaders writes "name:value\n" for each signed header: host
// from r.Host, values trimmed with inner runs of spaces collapsed, repeated
// headers joined with commas.
func appendCanonicalHeaders(buf *bytes.Buffer, r *http.Request, signed []string) {
	for _, name := range signed {
		buf.WriteString(name)
		buf.WriteByte(':')
		switch name {
		case "host":
			host := r.Host
			if host == "" {
				host = r.URL.Host
			}
			appendTrimmed(buf, host)
		case "content-length":
			if v := headerValues(r, name); v != nil {
				appendValues(buf, v)
			} else if r.ContentLength >= 0 {
				buf.WriteString(strconv.FormatInt(r.ContentLength, 10))
			}
		case "transfer-encoding":
			// net/http moves Transfer-Encoding out of the header map.
			appendValues(buf, r.TransferEncoding)
		default:
			appendValues(buf, headerValues(r, name))
		}
		buf.WriteByte('\n')
	}
}

func appendValues(buf *bytes.Buffer, values []string) {
	for i, v := range values {
		if i > 0 {
			buf.WriteByte(',')
		}
		appendTrimmed(buf, v)
	}
}

// appendTrimmed writes v without leading or trailing spaces and with each
// run of inner spaces reduced to one.
func appendTrimmed(buf *bytes.Buffer, v string) {
	v = strings.Trim(v, " \t")
	space := false
	for i := 0; i < len(v); i++ {
		c := v[i]
		if c == ' ' {
			if !space {
				buf.WriteByte(' ')
			}
			space = true
			continue
		}
		space = false
		buf.WriteByte(c)
	}
}

// appendCanonicalRequest writes the whole canonical request.
func appendCanonicalRequest(buf *bytes.Buffer, r *http.Request, a *Auth, canonicalURI, payloadHash string) {
	buf.WriteString(r.Method)
	buf.WriteByte('\n')
	buf.WriteString(canonicalURI)
	buf.WriteByte('\n')
	appendCanonicalQuery(buf, r.URL.RawQuery, a.Presigned)
	buf.WriteByte('\n')
	appendCanonicalHeaders(buf, r, a.SignedHeaders)
	buf.WriteByte('\n')
	for i, h := range a.SignedHeaders {
		if i > 0 {
			buf.WriteByte(';')
		}
		buf.WriteString(h)
	}
	buf.WriteByte('\n')
	buf.WriteString(payloadHash)
}

// canonicalURIs returns the canonical URI for the request, and a second
// candidate when normalisation changed the path: aws-sdk-go-v2 does not
// normalise while botocore and the SigV4 specification do, so both are
// legitimate signatures of what was sent.
func canonicalURIs(r *http.Request, service string) (primary, alternative string) {
	raw := requestPath(r)
	if rawPathServices(service) {
		return raw, ""
	}
	var b bytes.Buffer
	norm := normalizePath(raw)
	appendEscaped(&b, norm, true)
	primary = b.String()
	if norm != raw {
		b.Reset()
		appendEscaped(&b, raw, true)
		alternative = b.String()
	}
	return primary, alternative
}

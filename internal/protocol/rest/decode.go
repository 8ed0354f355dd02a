package rest

import (
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/nimbus-dev/nimbus/internal/awserr"
	"github.com/nimbus-dev/nimbus/internal/awsmodel"
	"github.com/nimbus-dev/nimbus/internal/protocol/wire"
)

// maxBody bounds a non-streaming body Decode reads itself when the edge
// passed none.
const maxBody = 64 << 20

// Decode binds the request's path labels, query string, headers and body to
// the members of op's input and validates the result.
func (c *codec) Decode(r *http.Request, body []byte, op *awsmodel.Operation) (map[string]any, error) {
	doc := map[string]any{}
	if op.Input == nil || op.Input.Shape == nil {
		return doc, nil
	}
	in := op.Input.Shape
	labels, err := c.routeOf(r, op)
	if err != nil {
		return nil, c.withCode(err, false)
	}
	query := r.URL.Query()
	bound := map[string]bool{} // query keys bound to named members
	var queryMap string        // the member that takes the remaining query keys
	for _, m := range in.MemberOrder {
		ref := in.Members[m]
		switch ref.Location {
		case "uri":
			if s, ok := labels[wireName(m, ref)]; ok {
				v, err := parseText(ref, s)
				if err != nil {
					return nil, c.withCode(bindingError(m, err), false)
				}
				doc[m] = v
			}
		case "querystring":
			if ref.Shape.Type == "map" {
				queryMap = m
				continue
			}
			name := wireName(m, ref)
			bound[name] = true
			if v, ok, err := queryValue(ref, query[name]); err != nil {
				return nil, c.withCode(bindingError(m, err), false)
			} else if ok {
				doc[m] = v
			}
		case "header":
			if v, ok, err := headerValue(ref, requestHeader(r, wireName(m, ref))); err != nil {
				return nil, c.withCode(bindingError(m, err), false)
			} else if ok {
				doc[m] = v
			}
		case "headers":
			if v, ok, err := prefixHeaders(ref, r.Header, wireName(m, ref)); err != nil {
				return nil, c.withCode(bindingError(m, err), false)
			} else if ok {
				doc[m] = v
			}
		}
	}
	if queryMap != "" {
		if v, ok, err := queryParams(in.Members[queryMap], query, bound); err != nil {
			return nil, c.withCode(bindingError(queryMap, err), false)
		} else if ok {
			doc[queryMap] = v
		}
	}
	if err := c.decodeBody(r, body, in, doc); err != nil {
		return nil, c.withCode(err, true)
	}
	if err := validate(in, doc, "", 0); err != nil {
		return nil, c.withCode(err, false)
	}
	return doc, nil
}

// wireName is the name a bound member travels under: its locationName,
// else the member name.
func wireName(member string, ref *awsmodel.Ref) string {
	if ref.LocationName != "" {
		return ref.LocationName
	}
	return member
}

func bindingError(member string, err error) error {
	if _, ok := err.(*awserr.Error); ok {
		return err
	}
	return &awserr.Error{Kind: awserr.Validation, Message: fmt.Sprintf("Invalid value for %s: %v", member, err)}
}

// queryValue parses a querystring member: every value for a list, the first
// for a scalar.
func queryValue(ref *awsmodel.Ref, values []string) (any, bool, error) {
	if len(values) == 0 {
		return nil, false, nil
	}
	if ref.Shape.Type == "list" {
		items := make([]any, 0, len(values))
		for _, s := range values {
			v, err := parseText(ref.Shape.Member, s)
			if err != nil {
				return nil, false, err
			}
			items = append(items, v)
		}
		return items, true, nil
	}
	v, err := parseText(ref, values[0])
	return v, err == nil, err
}

// queryParams fills a map-bound querystring member with every query key no
// other member binds: a map of strings takes the first value, a map of
// lists every value.
func queryParams(ref *awsmodel.Ref, query url.Values, bound map[string]bool) (any, bool, error) {
	out := map[string]any{}
	valueRef := ref.Shape.Value
	for k, vs := range query {
		if bound[k] || len(vs) == 0 {
			continue
		}
		if valueRef.Shape.Type == "list" {
			items := make([]any, 0, len(vs))
			for _, s := range vs {
				v, err := parseText(valueRef.Shape.Member, s)
				if err != nil {
					return nil, false, err
				}
				items = append(items, v)
			}
			out[k] = items
			continue
		}
		v, err := parseText(valueRef, vs[0])
		if err != nil {
			return nil, false, err
		}
		out[k] = v
	}
	return out, len(out) > 0, nil
}

// headerValue parses a header member. Lists are comma-separated, except
// http-date timestamps, whose own commas split them in pairs.
func headerValue(ref *awsmodel.Ref, values []string) (any, bool, error) {
	if len(values) == 0 {
		return nil, false, nil
	}
	if ref.Shape.Type != "list" {
		v, err := parseText(ref, strings.Join(values, ","))
		return v, err == nil, err
	}
	member := ref.Shape.Member
	var parts []string
	for _, hv := range values {
		split := strings.Split(hv, ",")
		if member.Shape.Type == "timestamp" && wire.TimestampFormat(member, wire.RFC822) == wire.RFC822 {
			for i := 0; i+1 < len(split); i += 2 {
				parts = append(parts, split[i]+","+split[i+1])
			}
			continue
		}
		parts = append(parts, split...)
	}
	items := make([]any, 0, len(parts))
	for _, p := range parts {
		p = strings.TrimSpace(p)
		if len(p) >= 2 && p[0] == '"' && p[len(p)-1] == '"' {
			p = strings.ReplaceAll(p[1:len(p)-1], `\"`, `"`)
		}
		v, err := parseText(member, p)
		if err != nil {
			return nil, false, err
		}
		items = append(items, v)
	}
	return items, true, nil
}

// prefixHeaders collects headers starting with prefix (S3's x-amz-meta-)
// into a map keyed by the rest of the name, lower-cased as S3 stores it.
func prefixHeaders(ref *awsmodel.Ref, h http.Header, prefix string) (any, bool, error) {
	prefix = strings.ToLower(prefix)
	out := map[string]any{}
	for name, vs := range h {
		lower := strings.ToLower(name)
		if !strings.HasPrefix(lower, prefix) || len(lower) == len(prefix) || len(vs) == 0 {
			continue
		}
		v, err := parseText(ref.Shape.Value, strings.Join(vs, ","))
		if err != nil {
			return nil, false, err
		}
		out[lower[len(prefix):]] = v
	}
	return out, len(out) > 0, nil
}

// decodeBody binds the body: the payload member when the input names one,
// else the remaining members as a JSON object (rest-json) or XML element
// (rest-xml).
func (c *codec) decodeBody(r *http.Request, body []byte, in *awsmodel.Shape, doc map[string]any) error {
	if in.Payload != "" {
		ref, ok := in.Members[in.Payload]
		if !ok {
			return nil
		}
		if isStreaming(in, in.Payload) && body == nil {
			if r.Body != nil && r.Body != http.NoBody {
				doc[in.Payload] = io.Reader(r.Body)
			}
			return nil
		}
		body, err := readBody(r, body)
		if err != nil {
			return err
		}
		v, ok, err := c.decodePayload(body, in.Payload, ref)
		if err != nil {
			return err
		}
		if ok {
			doc[in.Payload] = v
		}
		return nil
	}
	if !hasBodyMembers(in) {
		return nil
	}
	body, err := readBody(r, body)
	if err != nil {
		return err
	}
	if c.xml {
		return c.decodeXMLMembers(body, in, doc)
	}
	return decodeJSONBody(body, in, doc)
}

func (c *codec) decodePayload(body []byte, member string, ref *awsmodel.Ref) (any, bool, error) {
	switch ref.Shape.Type {
	case "blob":
		if len(body) == 0 {
			return nil, false, nil
		}
		return body, true, nil
	case "string":
		if len(body) == 0 {
			return nil, false, nil
		}
		return string(body), true, nil
	}
	if len(strings.TrimSpace(string(body))) == 0 {
		return nil, false, nil
	}
	if c.xml {
		v, err := c.decodeXMLValue(body, ref)
		return v, v != nil, err
	}
	v, err := decodeJSONValue(body, ref, member)
	return v, v != nil, err
}

func hasBodyMembers(sh *awsmodel.Shape) bool {
	for _, ref := range sh.Members {
		if ref.Location == "" {
			return true
		}
	}
	return false
}

// readBody returns body, or reads r.Body when the edge passed none.
func readBody(r *http.Request, body []byte) ([]byte, error) {
	if body != nil || r.Body == nil {
		return body, nil
	}
	b, err := io.ReadAll(io.LimitReader(r.Body, maxBody+1))
	if err != nil {
		return nil, &awserr.Error{Kind: awserr.Validation, Message: "reading the request body failed", Err: fmt.Errorf("read request body: %w", err)}
	}
	if len(b) > maxBody {
		return nil, &awserr.Error{Kind: awserr.Validation, Message: "The request body is too large"}
	}
	return b, nil
}

// streamingMembers are the blob payloads the S3 model marks streaming on
// the member rather than on the shape; awsmodel.Ref does not carry the
// member-level trait, so they are named here.
var streamingMembers = map[string]bool{
	"PutObjectRequest.Body":              true,
	"UploadPartRequest.Body":             true,
	"WriteGetObjectResponseRequest.Body": true,
	"GetObjectOutput.Body":               true,
	"GetObjectTorrentOutput.Body":        true,
}

// StreamingInput reports whether op's input payload is a streaming blob
// (S3 PutObject and UploadPart): the edge should then pass Decode a nil
// body and leave r.Body unread, since Decode hands r.Body to the handler.
// It knows the S3 members the model marks streaming on the member ref,
// which awsmodel.Shape.Streaming alone misses.
func StreamingInput(op *awsmodel.Operation) bool {
	if op == nil || op.Input == nil || op.Input.Shape == nil || op.Input.Shape.Payload == "" {
		return false
	}
	return isStreaming(op.Input.Shape, op.Input.Shape.Payload)
}

// isStreaming reports whether member of structure sh is a streaming blob.
func isStreaming(sh *awsmodel.Shape, member string) bool {
	ref, ok := sh.Members[member]
	if !ok || ref.Shape.Type != "blob" {
		return false
	}
	return ref.Shape.Streaming || streamingMembers[sh.Name+"."+member]
}

// requestHeader returns the values of a header member's header, seen as the
// client meant them. Go's server keeps Content-Length in r.ContentLength;
// an aws-chunked upload (what the SDKs send over TLS with a trailing
// checksum) states the object's length in X-Amz-Decoded-Content-Length and
// marks Content-Encoding with aws-chunked, which S3 does not store.
func requestHeader(r *http.Request, name string) []string {
	chunked := isAWSChunked(r.Header)
	switch http.CanonicalHeaderKey(name) {
	case "Content-Length":
		if chunked {
			if dl := r.Header.Get("X-Amz-Decoded-Content-Length"); dl != "" {
				return []string{dl}
			}
		}
		if vs := r.Header.Values(name); len(vs) > 0 {
			return vs
		}
		if r.ContentLength > 0 {
			return []string{strconv.FormatInt(r.ContentLength, 10)}
		}
		return nil
	case "Content-Encoding":
		if chunked {
			var kept []string
			for _, v := range r.Header.Values(name) {
				for _, enc := range strings.Split(v, ",") {
					if enc = strings.TrimSpace(enc); enc != "" && !strings.EqualFold(enc, "aws-chunked") {
						kept = append(kept, enc)
					}
				}
			}
			if len(kept) == 0 {
				return nil
			}
			return []string{strings.Join(kept, ",")}
		}
	}
	return r.Header.Values(name)
}

func isAWSChunked(h http.Header) bool {
	for _, v := range h.Values("Content-Encoding") {
		for _, enc := range strings.Split(v, ",") {
			if strings.EqualFold(strings.TrimSpace(enc), "aws-chunked") {
				return true
			}
		}
	}
	return false
}

package rest

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"

	"github.com/nimbus-dev/nimbus/internal/awsmodel"
	"github.com/nimbus-dev/nimbus/internal/protocol/wire"
)

// Encode writes a successful response: the status from the operation's
// responseCode or a statusCode member, header and prefix-header members,
// and the body: the payload member, or the remaining members as JSON or
// XML. HEAD responses and 204/304 carry headers only. The response is
// built in full before anything reaches w, so when Encode fails the caller
// can still answer with EncodeError on the same writer.
func (c *codec) Encode(w http.ResponseWriter, op *awsmodel.Operation, out map[string]any, requestID string) error {
	resp, err := c.buildResponse(op, out)
	if err != nil {
		if rc, ok := resp.stream.(io.Closer); ok {
			rc.Close()
		}
		return fmt.Errorf("encode %s output: %w", op.Name, err)
	}
	h := w.Header()
	for k, vs := range resp.header {
		h[k] = vs
	}
	c.setRequestID(h, requestID)
	return resp.send(w)
}

// response is an encoded answer not yet written.
type response struct {
	status int
	header http.Header
	body   []byte
	stream io.Reader // a streaming payload, written after the headers
}

func (r *response) send(w http.ResponseWriter) error {
	if r.stream != nil {
		return streamBody(w, r.status, r.stream)
	}
	w.WriteHeader(r.status)
	if len(r.body) == 0 {
		return nil
	}
	_, err := w.Write(r.body)
	return err
}

// setBody sets a buffered body with its length and, when the handler set
// none, its content type.
func (r *response) setBody(body []byte, ctype string) {
	r.body = body
	if len(body) > 0 && r.header.Get("Content-Type") == "" {
		r.header.Set("Content-Type", ctype)
	}
	r.header.Set("Content-Length", strconv.Itoa(len(body)))
}

func (c *codec) buildResponse(op *awsmodel.Operation, out map[string]any) (*response, error) {
	resp := &response{status: op.HTTP.ResponseCode, header: http.Header{}}
	if resp.status == 0 {
		resp.status = http.StatusOK
	}
	if op.Output == nil || op.Output.Shape == nil {
		if !c.xml && resp.status != http.StatusNoContent {
			resp.setBody([]byte("{}"), "application/json")
		} else {
			resp.header.Set("Content-Length", "0")
		}
		return resp, nil
	}
	outShape := op.Output.Shape
	out = wire.CanonicalMembers(outShape, out)
	if s, err := c.setHeaders(resp.header, outShape, out); err != nil {
		return resp, err
	} else if s != 0 {
		resp.status = s
	}
	if c.xml && resp.status == http.StatusOK && resp.header.Get("Content-Range") != "" && !hasStatusMember(outShape) {
		// S3 answers a satisfied Range with 206 and its Content-Range;
		// GetObject's model has no member for the status to ride in.
		resp.status = http.StatusPartialContent
	}
	headOnly := strings.EqualFold(op.HTTP.Method, http.MethodHead) || resp.status == http.StatusNoContent || resp.status == http.StatusNotModified
	if outShape.Payload != "" {
		return resp, c.setPayload(resp, outShape, out, headOnly)
	}
	if headOnly {
		return resp, nil
	}
	var body []byte
	var err error
	if c.xml {
		if hasBodyValues(outShape, out) {
			body, err = c.appendXMLOutput(nil, op.Output, out)
		}
	} else {
		body, err = appendJSONMembers(nil, outShape, out, "")
	}
	if err != nil {
		return resp, err
	}
	resp.setBody(body, contentType(c.xml))
	return resp, nil
}

func contentType(xml bool) string {
	if xml {
		return "application/xml"
	}
	return "application/json"
}

func hasStatusMember(sh *awsmodel.Shape) bool {
	for _, ref := range sh.Members {
		if ref.Location == "statusCode" {
			return true
		}
	}
	return false
}

// hasBodyValues reports whether any body member of sh has a value in doc:
// S3 answers operations whose output is all headers with an empty body.
func hasBodyValues(sh *awsmodel.Shape, doc map[string]any) bool {
	for m, v := range doc {
		if ref, ok := sh.Members[m]; ok && ref.Location == "" && !isNil(v) {
			return true
		}
	}
	return false
}

// setHeaders writes header and prefix-header members, returning the value
// of a statusCode member (0 when there is none).
func (c *codec) setHeaders(h http.Header, sh *awsmodel.Shape, doc map[string]any) (int, error) {
	status := 0
	for _, m := range sh.MemberOrder {
		ref := sh.Members[m]
		if ref.Location == "" {
			continue
		}
		v, ok := doc[m]
		if !ok || isNil(v) {
			continue
		}
		switch ref.Location {
		case "statusCode":
			n, ok := wire.Int64(v)
			if !ok || n < 100 || n > 999 {
				return 0, fmt.Errorf("member %s: status code %v is not an HTTP status", m, v)
			}
			status = int(n)
		case "header":
			text, err := headerText(ref, v)
			if err != nil {
				return 0, fmt.Errorf("header member %s: %w", m, err)
			}
			h.Set(wireName(m, ref), text)
		case "headers":
			fields, ok := wire.Fields(v)
			if !ok {
				return 0, fmt.Errorf("headers member %s: value is %T, want a map", m, v)
			}
			prefix := wireName(m, ref)
			for k, fv := range fields {
				if isNil(fv) {
					continue
				}
				text, err := formatText(ref.Shape.Value, fv, wire.RFC822)
				if err != nil {
					return 0, fmt.Errorf("headers member %s[%s]: %w", m, k, err)
				}
				// S3 answers x-amz-meta-* in lower case, and botocore keeps
				// the case it receives as the metadata key; writing the map
				// directly skips Go's canonicalisation to X-Amz-Meta-Key.
				name := strings.ToLower(prefix + k)
				h.Del(name)
				h[name] = []string{text}
			}
		}
	}
	return status, nil
}

// headerText formats a header member: scalars as text (timestamps as
// http-date), lists comma-joined.
func headerText(ref *awsmodel.Ref, v any) (string, error) {
	if ref.Shape.Type != "list" {
		return formatText(ref, v, wire.RFC822)
	}
	items, ok := wire.Items(v)
	if !ok {
		return "", fmt.Errorf("list value is %T", v)
	}
	parts := make([]string, 0, len(items))
	for _, item := range items {
		s, err := formatText(ref.Shape.Member, item, wire.RFC822)
		if err != nil {
			return "", err
		}
		if ref.Shape.Member.Shape.Type == "string" && strings.ContainsAny(s, `,"`) {
			s = strconv.Quote(s)
		}
		parts = append(parts, s)
	}
	return strings.Join(parts, ", "), nil
}

// setPayload encodes the payload member: a blob or string raw (an
// io.Reader streamed), a structure as a JSON object or XML element.
func (c *codec) setPayload(resp *response, sh *awsmodel.Shape, out map[string]any, headOnly bool) error {
	h := resp.header
	member := sh.Payload
	ref, ok := sh.Members[member]
	if !ok {
		return nil
	}
	v, present := out[member]
	if present && isNil(v) {
		present = false
	}
	if headOnly {
		if rc, ok := v.(io.Closer); ok {
			rc.Close() // a HEAD never reads the stream the handler opened
		}
		return nil
	}
	switch ref.Shape.Type {
	case "blob", "string":
		if !present {
			if h.Get("Content-Length") == "" {
				h.Set("Content-Length", "0")
			}
			return nil
		}
		ctype := "application/octet-stream"
		if ref.Shape.Type == "string" {
			ctype = "text/plain"
		}
		if r, ok := v.(io.Reader); ok {
			if h.Get("Content-Type") == "" {
				h.Set("Content-Type", ctype)
			}
			resp.stream = r
			return nil
		}
		raw, err := rawPayload(ref, v)
		if err != nil {
			return fmt.Errorf("payload %s: %w", member, err)
		}
		resp.setBody(raw, ctype)
		return nil
	}
	if !present {
		h.Set("Content-Length", "0")
		return nil
	}
	var body []byte
	var err error
	if c.xml {
		body, err = c.appendXMLPayload(nil, member, ref, v)
	} else {
		body, err = appendJSON(nil, ref, v, member)
	}
	if err != nil {
		return fmt.Errorf("payload %s: %w", member, err)
	}
	resp.setBody(body, contentType(c.xml))
	return nil
}

// rawPayload is the bytes of a blob or string payload value.
func rawPayload(ref *awsmodel.Ref, v any) ([]byte, error) {
	if ref.Shape.Type == "string" {
		s, ok := wire.Text(v)
		if !ok {
			return nil, fmt.Errorf("string value is %T", v)
		}
		return []byte(s), nil
	}
	switch x := v.(type) {
	case []byte:
		return x, nil
	case json.RawMessage:
		return x, nil
	case string:
		// Handlers that build documents through encoding/json hold
		// blobs as base64; anything else is the raw text.
		if b, err := base64.StdEncoding.DecodeString(x); err == nil {
			return b, nil
		}
		return []byte(x), nil
	}
	return nil, fmt.Errorf("blob value is %T", v)
}

// streamBody copies a streaming payload, closing it when it is a Closer.
// Content-Length is whatever the handler's ContentLength member set; a
// stream of unknown length goes out chunked.
func streamBody(w http.ResponseWriter, status int, r io.Reader) error {
	if c, ok := r.(io.Closer); ok {
		defer c.Close()
	}
	w.WriteHeader(status)
	if _, err := io.Copy(w, r); err != nil {
		return fmt.Errorf("stream response body: %w", err)
	}
	return nil
}

// setRequestID writes the request-ID headers each protocol's clients read.
func (c *codec) setRequestID(h http.Header, requestID string) {
	if requestID == "" {
		return
	}
	if c.xml {
		h.Set("x-amz-request-id", requestID)
		h.Set("x-amz-id-2", hostID(requestID))
		return
	}
	h.Set("x-amzn-RequestId", requestID)
}

// hostID derives S3's x-amz-id-2 from the request ID: S3 answers an opaque
// base64 token there, and deriving it keeps one request's two IDs related.
func hostID(requestID string) string {
	return base64.StdEncoding.EncodeToString([]byte(requestID))
}

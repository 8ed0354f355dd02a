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
)

// Encode writes a successful response: the status from the operation's
// responseCode or a statusCode member, header and prefix-header members,
// and the body: the payload member, or the remaining members as JSON or
// XML. HEAD responses and 204/304 carry headers only.
func (c *codec) Encode(w http.ResponseWriter, op *awsmodel.Operation, out map[string]any, requestID string) error {
	h := w.Header()
	c.setRequestID(h, requestID)
	status := op.HTTP.ResponseCode
	if status == 0 {
		status = http.StatusOK
	}
	var outShape *awsmodel.Shape
	if op.Output != nil && op.Output.Shape != nil {
		outShape = op.Output.Shape
		out = canonical(outShape, out)
	}
	if outShape == nil {
		if !c.xml && status != http.StatusNoContent {
			h.Set("Content-Type", "application/json")
			h.Set("Content-Length", "2")
			w.WriteHeader(status)
			_, err := w.Write([]byte("{}"))
			return err
		}
		h.Set("Content-Length", "0")
		w.WriteHeader(status)
		return nil
	}
	if s, err := c.setHeaders(h, outShape, out); err != nil {
		return err
	} else if s != 0 {
		status = s
	}
	headOnly := strings.EqualFold(op.HTTP.Method, http.MethodHead) || status == http.StatusNoContent || status == http.StatusNotModified

	if outShape.Payload != "" {
		return c.writePayload(w, outShape, out, status, headOnly)
	}
	if headOnly {
		w.WriteHeader(status)
		return nil
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
		return fmt.Errorf("encode %s output: %w", op.Name, err)
	}
	return writeBody(w, status, body, contentType(c.xml))
}

func contentType(xml bool) string {
	if xml {
		return "application/xml"
	}
	return "application/json"
}

func writeBody(w http.ResponseWriter, status int, body []byte, ctype string) error {
	h := w.Header()
	if len(body) > 0 && h.Get("Content-Type") == "" {
		h.Set("Content-Type", ctype)
	}
	h.Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(status)
	if len(body) == 0 {
		return nil
	}
	_, err := w.Write(body)
	return err
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
			n, ok := asInt64(v)
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
			fields, ok := asFields(v)
			if !ok {
				return 0, fmt.Errorf("headers member %s: value is %T, want a map", m, v)
			}
			prefix := wireName(m, ref)
			for k, fv := range fields {
				if isNil(fv) {
					continue
				}
				text, err := formatText(ref.Shape.Value, fv, formatHTTPDate)
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
		return formatText(ref, v, formatHTTPDate)
	}
	items, ok := asItems(v)
	if !ok {
		return "", fmt.Errorf("list value is %T", v)
	}
	parts := make([]string, 0, len(items))
	for _, item := range items {
		s, err := formatText(ref.Shape.Member, item, formatHTTPDate)
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

// writePayload writes the payload member: a blob or string raw (an
// io.Reader streamed), a structure as a JSON object or XML element.
func (c *codec) writePayload(w http.ResponseWriter, sh *awsmodel.Shape, out map[string]any, status int, headOnly bool) error {
	h := w.Header()
	member := sh.Payload
	ref, ok := sh.Members[member]
	if !ok {
		w.WriteHeader(status)
		return nil
	}
	v, present := out[member]
	if present && isNil(v) {
		present = false
	}
	if headOnly {
		if c, ok := v.(io.Closer); ok {
			c.Close() // a HEAD never reads the stream the handler opened
		}
		w.WriteHeader(status)
		return nil
	}
	switch ref.Shape.Type {
	case "blob", "string":
		if !present {
			if h.Get("Content-Length") == "" {
				h.Set("Content-Length", "0")
			}
			w.WriteHeader(status)
			return nil
		}
		if h.Get("Content-Type") == "" {
			ctype := "application/octet-stream"
			if ref.Shape.Type == "string" {
				ctype = "text/plain"
			}
			h.Set("Content-Type", ctype)
		}
		if r, ok := v.(io.Reader); ok {
			return streamBody(w, status, r)
		}
		var raw []byte
		if ref.Shape.Type == "string" {
			s, ok := asString(v)
			if !ok {
				return fmt.Errorf("payload %s: string value is %T", member, v)
			}
			raw = []byte(s)
		} else {
			switch x := v.(type) {
			case []byte:
				raw = x
			case json.RawMessage:
				raw = x
			case string:
				// Handlers that build documents through encoding/json
				// hold blobs as base64; anything else is the raw text.
				if b, err := base64.StdEncoding.DecodeString(x); err == nil {
					raw = b
				} else {
					raw = []byte(x)
				}
			default:
				return fmt.Errorf("payload %s: blob value is %T", member, v)
			}
		}
		h.Set("Content-Length", strconv.Itoa(len(raw)))
		w.WriteHeader(status)
		_, err := w.Write(raw)
		return err
	}
	if !present {
		h.Set("Content-Length", "0")
		w.WriteHeader(status)
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
		return fmt.Errorf("encode payload %s: %w", member, err)
	}
	return writeBody(w, status, body, contentType(c.xml))
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

package jsonrpc

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"strconv"
	"strings"

	"github.com/nimbus-dev/nimbus/internal/awserr"
	"github.com/nimbus-dev/nimbus/internal/awsmodel"
	"github.com/nimbus-dev/nimbus/internal/protocol/wire"
)

// Decode reads the JSON body into the operation's input document. An empty
// body is an empty input, as the SDKs send for operations without members.
func (c *codec) Decode(_ *http.Request, body []byte, op *awsmodel.Operation) (map[string]any, error) {
	body = bytes.TrimSpace(body)
	var raw any = map[string]any{}
	if len(body) > 0 {
		dec := json.NewDecoder(bytes.NewReader(body))
		dec.UseNumber()
		if err := dec.Decode(&raw); err != nil {
			return nil, serializationError("Start of structure or map found where not expected, or the body is not JSON", err)
		}
		if _, err := dec.Token(); !errors.Is(err, io.EOF) {
			return nil, serializationError("Unexpected content after the JSON object", nil)
		}
	}
	obj, ok := raw.(map[string]any)
	if !ok {
		return nil, serializationError("The request body must be a JSON object", nil)
	}
	if op.Input == nil || op.Input.Shape == nil {
		return map[string]any{}, nil
	}
	var errs validationErrors
	doc := decodeStructure(obj, op.Input.Shape, nil, &errs)
	if err := errs.err(); err != nil {
		if e, ok := err.(*awserr.Error); ok && e.Code == "" {
			e.Code = c.validationCode
		}
		return nil, err
	}
	return doc, nil
}

// serializationError is a body that is not the JSON the protocol requires;
// AWS answers it with SerializationException rather than ValidationException.
func serializationError(msg string, cause error) *awserr.Error {
	return &awserr.Error{Kind: awserr.Validation, Code: "SerializationException", Message: msg, Err: cause}
}

// validationErrors collects constraint failures so one response names them
// all, as AWS's "N validation errors detected: ..." messages do. Type and
// JSON-shape errors stop decoding at once instead.
type validationErrors struct {
	msgs    []string
	missing bool // the first failure was a required member left out
	fatal   *awserr.Error
}

func (v *validationErrors) add(msg string, missing bool) {
	if len(v.msgs) == 0 {
		v.missing = missing
	}
	v.msgs = append(v.msgs, msg)
}

func (v *validationErrors) err() error {
	if v.fatal != nil {
		return v.fatal
	}
	if len(v.msgs) == 0 {
		return nil
	}
	kind := awserr.Validation
	if v.missing {
		kind = awserr.MissingParameter
	}
	head := "1 validation error detected: "
	if len(v.msgs) > 1 {
		head = fmt.Sprintf("%d validation errors detected: ", len(v.msgs))
	}
	return &awserr.Error{Kind: kind, Message: head + strings.Join(v.msgs, "; ")}
}

// location names a value for error messages in AWS's form
// ("logEvents.1.member.message"). It is a chain of stack values rendered
// only when a message needs it, so valid requests build no path strings.
type location struct {
	parent *location
	seg    string // member name or map key; "" for a list item
	index  int    // 1-based list position when seg is ""
}

func (l *location) String() string {
	if l == nil {
		return ""
	}
	seg := l.seg
	if seg == "" {
		seg = strconv.Itoa(l.index) + ".member"
	}
	if l.parent == nil {
		return seg
	}
	return l.parent.String() + "." + seg
}

// decodeStructure converts obj in place: the decoded JSON is ours, and
// reusing its maps halves the allocations of a request.
func decodeStructure(obj map[string]any, sh *awsmodel.Shape, at *location, errs *validationErrors) map[string]any {
	// Walking the model rather than the object ignores members the model
	// does not know, as Smithy servers do so newer clients keep working, and
	// reports failures in a stable order.
	kept := 0
	for _, key := range sh.MemberOrder {
		raw, ok := obj[key]
		if !ok {
			continue
		}
		var v any
		if raw != nil {
			v = decodeValue(raw, sh.Members[key], &location{parent: at, seg: key}, errs)
			if errs.fatal != nil {
				return nil
			}
		}
		if v == nil {
			delete(obj, key)
			continue
		}
		obj[key] = v
		kept++
	}
	if kept != len(obj) {
		for key := range obj {
			if _, known := sh.Members[key]; !known {
				delete(obj, key)
			}
		}
	}
	for _, m := range sh.Required {
		if _, ok := obj[m]; ok {
			continue
		}
		if ref := sh.Members[m]; ref == nil || ref.IdempotencyToken {
			continue
		}
		errs.add(fmt.Sprintf("Value null at '%s' failed to satisfy constraint: Member must not be null", &location{parent: at, seg: m}), true)
	}
	return obj
}

func typeError(errs *validationErrors, at *location, want string, raw any) any {
	errs.fatal = serializationError(fmt.Sprintf("Value at '%s' must be %s, not %s", at, want, wire.JSONKind(raw)), nil)
	return nil
}

// decodeValue converts one JSON value to its document type, or records why
// it cannot and returns nil.
func decodeValue(raw any, ref *awsmodel.Ref, at *location, errs *validationErrors) any {
	sh := ref.Shape
	var v any
	switch sh.Type {
	case "structure":
		obj, ok := raw.(map[string]any)
		if !ok {
			return typeError(errs, at, "an object", raw)
		}
		if sh.Document {
			return plain(raw)
		}
		v = decodeStructure(obj, sh, at, errs)
	case "list":
		if sh.Member == nil {
			return plain(raw) // a model without a member shape: keep what was sent
		}
		arr, ok := raw.([]any)
		if !ok {
			return typeError(errs, at, "an array", raw)
		}
		items := arr[:0] // converted in place, nulls dropped
		for i, item := range arr {
			if item == nil {
				continue
			}
			if iv := decodeValue(item, sh.Member, &location{parent: at, index: i + 1}, errs); iv != nil {
				items = append(items, iv)
			}
			if errs.fatal != nil {
				return nil
			}
		}
		v = items
	case "map":
		if sh.Key == nil || sh.Value == nil {
			return plain(raw)
		}
		obj, ok := raw.(map[string]any)
		if !ok {
			return typeError(errs, at, "an object", raw)
		}
		for k, item := range obj {
			if item == nil {
				delete(obj, k)
				continue
			}
			if msg := wire.Violation(sh.Key.Shape, k); msg != "" {
				errs.add(fmt.Sprintf("Value '%s' at '%s' failed to satisfy constraint: Map keys must satisfy constraint: [%s]", k, at, msg), false)
			}
			iv := decodeValue(item, sh.Value, &location{parent: at, seg: k}, errs)
			if errs.fatal != nil {
				return nil
			}
			obj[k] = iv
		}
		v = obj
	case "string":
		s, ok := raw.(string)
		if !ok {
			return typeError(errs, at, "a string", raw)
		}
		v = s
	case "integer", "long", "short", "byte":
		n, ok := raw.(json.Number)
		if !ok {
			return typeError(errs, at, "a number", raw)
		}
		i, err := n.Int64()
		if err != nil {
			f, ferr := n.Float64()
			if ferr != nil || f != math.Trunc(f) || math.Abs(f) > math.MaxInt64 {
				errs.fatal = &awserr.Error{Kind: awserr.Validation, Code: "SerializationException", Message: fmt.Sprintf("Value %s at '%s' is not a valid integer", n, at)}
				return nil
			}
			i = int64(f)
		}
		v = i
	case "float", "double":
		v = decodeFloat(raw, at, errs)
		if v == nil {
			return nil
		}
	case "boolean":
		b, ok := raw.(bool)
		if !ok {
			return typeError(errs, at, "a boolean", raw)
		}
		v = b
	case "timestamp":
		v = decodeTimestamp(raw, ref, at, errs)
		if v == nil {
			return nil
		}
	case "blob":
		s, ok := raw.(string)
		if !ok {
			return typeError(errs, at, "a base64 string", raw)
		}
		b, err := base64.StdEncoding.DecodeString(s)
		if err != nil {
			errs.fatal = serializationError(fmt.Sprintf("Value at '%s' is not valid base64", at), err)
			return nil
		}
		v = b
	default:
		return plain(raw)
	}
	if msg := wire.Violation(sh, v); msg != "" {
		errs.add(fmt.Sprintf("Value %s at '%s' failed to satisfy constraint: %s", wire.Quote(v), at, msg), false)
	}
	return v
}

func decodeFloat(raw any, at *location, errs *validationErrors) any {
	switch x := raw.(type) {
	case json.Number:
		f, err := x.Float64()
		if err == nil {
			return f
		}
	case string:
		// Smithy writes the IEEE specials as strings.
		switch x {
		case "NaN":
			return math.NaN()
		case "Infinity":
			return math.Inf(1)
		case "-Infinity":
			return math.Inf(-1)
		}
	}
	return typeError(errs, at, "a number", raw)
}

// decodeTimestamp accepts epoch seconds (the protocol's default, fractional
// allowed) or a string in the ref's timestampFormat.
func decodeTimestamp(raw any, ref *awsmodel.Ref, at *location, errs *validationErrors) any {
	switch x := raw.(type) {
	case json.Number:
		f, err := x.Float64()
		if err == nil && math.Abs(f) < 1e13 {
			t, _ := wire.ParseTimestamp(x.String(), wire.UnixTimestamp)
			return t
		}
	case string:
		if t, err := wire.ParseTimestamp(x, wire.TimestampFormat(ref, wire.UnixTimestamp)); err == nil {
			return t
		}
	}
	return typeError(errs, at, "a timestamp", raw)
}

// plain converts decoded JSON for a document-typed member: json.Number
// becomes int64 when integral, float64 otherwise.
func plain(raw any) any {
	switch x := raw.(type) {
	case json.Number:
		if i, err := x.Int64(); err == nil {
			return i
		}
		f, _ := x.Float64()
		return f
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = plain(e)
		}
		return out
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			out[k] = plain(e)
		}
		return out
	}
	return raw
}

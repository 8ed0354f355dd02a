package rest

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"strconv"

	"github.com/nimbus-dev/nimbus/internal/awserr"
	"github.com/nimbus-dev/nimbus/internal/awsmodel"
	"github.com/nimbus-dev/nimbus/internal/protocol/wire"
)

// maxJSONDepth bounds nesting so a hostile body cannot exhaust the stack;
// no AWS shape nests anywhere near this deep (document members aside, which
// encoding/json bounds itself).
const maxJSONDepth = 64

// codeSerialization marks errors of bodies that do not parse or do not fit
// their shape; Decode replaces it with the service's own code.
const codeSerialization = "SerializationException"

// decodeJSONBody parses a rest-json body into the body members of sh,
// adding them to doc. An empty body means no body members.
func decodeJSONBody(body []byte, sh *awsmodel.Shape, doc map[string]any) error {
	if len(bytes.TrimSpace(body)) == 0 {
		return nil
	}
	raw, err := parseJSON(body)
	if err != nil {
		return err
	}
	obj, ok := raw.(map[string]any)
	if !ok {
		return serializationError("the request body must be a JSON object", nil)
	}
	for key, v := range obj {
		name, ref, ok := bodyMember(sh, key)
		if !ok || v == nil {
			continue // unknown members are ignored, as AWS services do
		}
		dv, err := fromJSON(v, ref, jsonPath("", name), 0)
		if err != nil {
			return err
		}
		doc[name] = dv
	}
	return nil
}

// decodeJSONValue parses a JSON body holding one value of ref's shape: a
// structure payload member.
func decodeJSONValue(body []byte, ref *awsmodel.Ref, path string) (any, error) {
	raw, err := parseJSON(body)
	if err != nil {
		return nil, err
	}
	if raw == nil {
		return nil, nil
	}
	return fromJSON(raw, ref, path, 0)
}

func parseJSON(body []byte) (any, error) {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	var raw any
	if err := dec.Decode(&raw); err != nil {
		return nil, serializationError("the request body is not valid JSON", err)
	}
	if dec.More() {
		return nil, serializationError("the request body holds more than one JSON value", nil)
	}
	return raw, nil
}

func serializationError(msg string, err error) *awserr.Error {
	if err != nil {
		msg += ": " + err.Error()
	}
	return &awserr.Error{Kind: awserr.Validation, Code: codeSerialization, Message: msg, Err: err}
}

// bodyMember finds the body member a JSON key names: its locationName when
// the model gives one, else the member name.
func bodyMember(sh *awsmodel.Shape, key string) (string, *awsmodel.Ref, bool) {
	if ref, ok := sh.Members[key]; ok && ref.Location == "" && ref.LocationName == "" {
		return key, ref, true
	}
	for _, m := range sh.MemberOrder {
		ref := sh.Members[m]
		if ref.Location == "" && ref.LocationName == key {
			return m, ref, true
		}
	}
	return "", nil, false
}

func jsonName(member string, ref *awsmodel.Ref) string {
	if ref.LocationName != "" {
		return ref.LocationName
	}
	return member
}

func jsonPath(parent, member string) string {
	if parent == "" {
		return member
	}
	return parent + "." + member
}

func typeError(path string, v any, want string) *awserr.Error {
	return &awserr.Error{Kind: awserr.Validation, Code: codeSerialization,
		Message: fmt.Sprintf("Value of %s must be %s, got %s", path, want, wire.JSONKind(v))}
}

// fromJSON converts a decoded JSON value to the document type of ref's shape.
func fromJSON(v any, ref *awsmodel.Ref, path string, depth int) (any, error) {
	sh := ref.Shape
	if depth > maxJSONDepth {
		return nil, &awserr.Error{Kind: awserr.Validation, Code: codeSerialization, Message: "The request body nests too deeply at " + path}
	}
	if sh.Document {
		return plainJSON(v), nil
	}
	switch sh.Type {
	case "structure":
		obj, ok := v.(map[string]any)
		if !ok {
			return nil, typeError(path, v, "an object")
		}
		out := make(map[string]any, len(obj))
		for key, mv := range obj {
			name, mref, ok := bodyMember(sh, key)
			if !ok || mv == nil {
				continue
			}
			dv, err := fromJSON(mv, mref, jsonPath(path, name), depth+1)
			if err != nil {
				return nil, err
			}
			out[name] = dv
		}
		return out, nil
	case "list":
		arr, ok := v.([]any)
		if !ok {
			return nil, typeError(path, v, "an array")
		}
		out := make([]any, 0, len(arr))
		for i, item := range arr {
			if item == nil {
				continue
			}
			dv, err := fromJSON(item, sh.Member, path+"."+strconv.Itoa(i+1)+".member", depth+1)
			if err != nil {
				return nil, err
			}
			out = append(out, dv)
		}
		return out, nil
	case "map":
		obj, ok := v.(map[string]any)
		if !ok {
			return nil, typeError(path, v, "an object")
		}
		out := make(map[string]any, len(obj))
		for key, mv := range obj {
			if mv == nil {
				continue
			}
			dv, err := fromJSON(mv, sh.Value, path+"."+key, depth+1)
			if err != nil {
				return nil, err
			}
			out[key] = dv
		}
		return out, nil
	case "string":
		if ref.JSONValue {
			return plainJSON(v), nil
		}
		s, ok := v.(string)
		if !ok {
			return nil, typeError(path, v, "a string")
		}
		return s, nil
	case "integer", "long":
		n, ok := v.(json.Number)
		if !ok {
			return nil, typeError(path, v, "an integer")
		}
		i, err := n.Int64()
		if err != nil {
			return nil, typeError(path, v, "an integer")
		}
		return i, nil
	case "float", "double":
		switch x := v.(type) {
		case json.Number:
			f, err := x.Float64()
			if err != nil {
				return nil, typeError(path, v, "a number")
			}
			return f, nil
		case string: // NaN and the infinities travel as strings
			f, err := parseFloat(x)
			if err != nil || (x != "NaN" && x != "Infinity" && x != "-Infinity") {
				return nil, typeError(path, v, "a number")
			}
			return f, nil
		}
		return nil, typeError(path, v, "a number")
	case "boolean":
		b, ok := v.(bool)
		if !ok {
			return nil, typeError(path, v, "a boolean")
		}
		return b, nil
	case "timestamp":
		var text string
		switch x := v.(type) {
		case json.Number:
			text = x.String()
		case string:
			text = x
		default:
			return nil, typeError(path, v, "a timestamp")
		}
		t, err := parseTime(text)
		if err != nil {
			return nil, typeError(path, v, "a timestamp")
		}
		return t, nil
	case "blob":
		s, ok := v.(string)
		if !ok {
			return nil, typeError(path, v, "a base64 string")
		}
		b, err := base64.StdEncoding.DecodeString(s)
		if err != nil {
			return nil, typeError(path, v, "a base64 string")
		}
		return b, nil
	}
	return nil, fmt.Errorf("shape %s: unsupported type %q", sh.Name, sh.Type)
}

// plainJSON turns json.Numbers into float64, the "decoded JSON" form of
// document members.
func plainJSON(v any) any {
	switch x := v.(type) {
	case json.Number:
		if f, err := x.Float64(); err == nil {
			return f
		}
		return x.String()
	case []any:
		for i := range x {
			x[i] = plainJSON(x[i])
		}
	case map[string]any:
		for k := range x {
			x[k] = plainJSON(x[k])
		}
	}
	return v
}

// appendJSONMembers appends a JSON object of sh's body members found in doc.
func appendJSONMembers(dst []byte, sh *awsmodel.Shape, doc map[string]any, path string) ([]byte, error) {
	doc = wire.CanonicalMembers(sh, doc)
	dst = append(dst, '{')
	first := true
	for _, m := range sh.MemberOrder {
		ref := sh.Members[m]
		if ref.Location != "" {
			continue
		}
		v, ok := doc[m]
		if !ok || isNil(v) {
			continue
		}
		if !first {
			dst = append(dst, ',')
		}
		first = false
		dst = wire.AppendJSONString(dst, jsonName(m, ref))
		dst = append(dst, ':')
		var err error
		if dst, err = appendJSON(dst, ref, v, jsonPath(path, m)); err != nil {
			return dst, err
		}
	}
	return append(dst, '}'), nil
}

// appendJSON appends v, a value of ref's shape, as JSON.
func appendJSON(dst []byte, ref *awsmodel.Ref, v any, path string) ([]byte, error) {
	sh := ref.Shape
	if sh.Document || (sh.Type == "string" && ref.JSONValue) {
		raw, err := json.Marshal(v)
		if err != nil {
			return dst, fmt.Errorf("%s: %w", path, err)
		}
		return append(dst, raw...), nil
	}
	switch sh.Type {
	case "structure":
		doc, ok := wire.Fields(v)
		if !ok {
			return dst, fmt.Errorf("%s: structure value is %T, want a map", path, v)
		}
		return appendJSONMembers(dst, sh, doc, path)
	case "list":
		items, ok := wire.Items(v)
		if !ok {
			return dst, fmt.Errorf("%s: list value is %T, want a slice", path, v)
		}
		dst = append(dst, '[')
		first := true
		for _, item := range items {
			if isNil(item) {
				continue
			}
			if !first {
				dst = append(dst, ',')
			}
			first = false
			var err error
			if dst, err = appendJSON(dst, sh.Member, item, path+"[]"); err != nil {
				return dst, err
			}
		}
		return append(dst, ']'), nil
	case "map":
		fields, ok := wire.Fields(v)
		if !ok {
			return dst, fmt.Errorf("%s: map value is %T, want a map", path, v)
		}
		dst = append(dst, '{')
		first := true
		for _, k := range sortedKeys(fields) {
			if isNil(fields[k]) {
				continue
			}
			if !first {
				dst = append(dst, ',')
			}
			first = false
			dst = wire.AppendJSONString(dst, k)
			dst = append(dst, ':')
			var err error
			if dst, err = appendJSON(dst, sh.Value, fields[k], path+"."+k); err != nil {
				return dst, err
			}
		}
		return append(dst, '}'), nil
	case "string":
		s, ok := wire.Text(v)
		if !ok {
			return dst, fmt.Errorf("%s: string value is %T", path, v)
		}
		return wire.AppendJSONString(dst, s), nil
	case "integer", "long":
		n, ok := wire.Int64(v)
		if !ok {
			return dst, fmt.Errorf("%s: integer value is %T (%v)", path, v, v)
		}
		return strconv.AppendInt(dst, n, 10), nil
	case "float", "double":
		f, ok := wire.Float64(v)
		if !ok {
			return dst, fmt.Errorf("%s: number value is %T", path, v)
		}
		s := wire.FormatFloat(f)
		if s == "NaN" || s == "Infinity" || s == "-Infinity" {
			return wire.AppendJSONString(dst, s), nil
		}
		return append(dst, s...), nil
	case "boolean":
		b, ok := wire.Bool(v)
		if !ok {
			return dst, fmt.Errorf("%s: boolean value is %T", path, v)
		}
		return strconv.AppendBool(dst, b), nil
	case "timestamp":
		t, ok := asTime(v)
		if !ok {
			return dst, fmt.Errorf("%s: timestamp value is %T (%v)", path, v, v)
		}
		f := wire.TimestampFormat(ref, wire.UnixTimestamp)
		if f == wire.UnixTimestamp {
			return append(dst, formatTime(t, f)...), nil
		}
		return wire.AppendJSONString(dst, formatTime(t, f)), nil
	case "blob":
		b, ok := wire.Bytes(v)
		if !ok {
			return dst, fmt.Errorf("%s: blob value is %T", path, v)
		}
		dst = append(dst, '"')
		dst = base64.StdEncoding.AppendEncode(dst, b)
		return append(dst, '"'), nil
	}
	return dst, fmt.Errorf("%s: shape %s has unsupported type %q", path, sh.Name, sh.Type)
}

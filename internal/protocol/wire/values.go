package wire

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"math"
	"reflect"
	"strconv"
	"strings"
	"time"

	"github.com/nimbus-dev/nimbus/internal/awsmodel"
)

// Int64 converts a lenient document number (any Go integer or float,
// json.Number, or a decimal string) to int64.
func Int64(v any) (int64, bool) {
	switch n := v.(type) {
	case int64:
		return n, true
	case int:
		return int64(n), true
	case int32:
		return int64(n), true
	case float64:
		if n != math.Trunc(n) || math.IsInf(n, 0) {
			return 0, false
		}
		return int64(n), true
	case json.Number:
		if i, err := n.Int64(); err == nil {
			return i, true
		}
		f, err := n.Float64()
		if err != nil || f != math.Trunc(f) {
			return 0, false
		}
		return int64(f), true
	case string:
		i, err := strconv.ParseInt(strings.TrimSpace(n), 10, 64)
		return i, err == nil
	}
	rv := reflect.ValueOf(v)
	switch rv.Kind() {
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return rv.Int(), true
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		u := rv.Uint()
		return int64(u), u <= math.MaxInt64
	case reflect.Float32:
		f := rv.Float()
		return int64(f), f == math.Trunc(f)
	case reflect.Pointer:
		if !rv.IsNil() {
			return Int64(rv.Elem().Interface())
		}
	}
	return 0, false
}

// Float64 converts a lenient document number to float64.
func Float64(v any) (float64, bool) {
	switch n := v.(type) {
	case float64:
		return n, true
	case json.Number:
		f, err := n.Float64()
		return f, err == nil
	case string:
		f, err := strconv.ParseFloat(strings.TrimSpace(n), 64)
		return f, err == nil
	}
	rv := reflect.ValueOf(v)
	switch rv.Kind() {
	case reflect.Float32, reflect.Float64:
		return rv.Float(), true
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		return float64(rv.Uint()), true // Int64 refuses those past MaxInt64
	case reflect.Pointer:
		if !rv.IsNil() {
			return Float64(rv.Elem().Interface())
		}
	}
	if i, ok := Int64(v); ok {
		return float64(i), true
	}
	return 0, false
}

// FormatFloat writes f as AWS's text protocols do, NaN and infinities by name.
func FormatFloat(f float64) string {
	switch {
	case math.IsNaN(f):
		return "NaN"
	case math.IsInf(f, 1):
		return "Infinity"
	case math.IsInf(f, -1):
		return "-Infinity"
	}
	return strconv.FormatFloat(f, 'f', -1, 64)
}

// Bool converts a lenient document boolean (bool or "true"/"false").
func Bool(v any) (bool, bool) {
	switch b := v.(type) {
	case bool:
		return b, true
	case *bool:
		if b != nil {
			return *b, true
		}
	case string:
		p, err := strconv.ParseBool(b)
		return p, err == nil
	}
	return false, false
}

// Time converts a lenient document timestamp: time.Time, an RFC 3339 (or
// other accepted) string, or epoch seconds as a number.
func Time(v any) (time.Time, bool) {
	switch t := v.(type) {
	case time.Time:
		return t, true
	case *time.Time:
		if t != nil {
			return *t, true
		}
		return time.Time{}, false
	case string:
		p, err := ParseTimestamp(t, ISO8601)
		return p, err == nil
	}
	if f, ok := Float64(v); ok && !math.IsNaN(f) && !math.IsInf(f, 0) {
		return EpochTime(f), true
	}
	return time.Time{}, false
}

// Base64 converts a lenient document blob ([]byte, or a string already in
// base64) to its base64 text. The string is passed through unchecked: the
// text protocols write it as it is.
func Base64(v any) (string, bool) {
	switch b := v.(type) {
	case []byte:
		return base64.StdEncoding.EncodeToString(b), true
	case string:
		return b, true
	}
	return "", false
}

// Bytes converts a lenient document blob to its bytes: []byte, a base64
// string (decoded, so it must be valid), or json.RawMessage taken as the
// bytes themselves. REST payloads and headers need the bytes.
func Bytes(v any) ([]byte, bool) {
	switch b := v.(type) {
	case []byte:
		return b, true
	case string:
		d, err := base64.StdEncoding.DecodeString(b)
		return d, err == nil
	case json.RawMessage:
		return b, true
	}
	return nil, false
}

// Text converts a lenient document string (string, []byte, or a
// fmt.Stringer or number a handler put in a string member).
func Text(v any) (string, bool) {
	switch s := v.(type) {
	case string:
		return s, true
	case []byte:
		return string(s), true
	case *string:
		if s != nil {
			return *s, true
		}
		return "", false
	case fmt.Stringer:
		return s.String(), true
	case json.Number:
		return s.String(), true
	}
	rv := reflect.ValueOf(v)
	if rv.Kind() == reflect.String {
		return rv.String(), true
	}
	return "", false
}

// Items converts a lenient document list ([]any or any slice or array) to
// []any. A slice of bytes is a blob, never a list.
func Items(v any) ([]any, bool) {
	if l, ok := v.([]any); ok {
		return l, true
	}
	rv := reflect.ValueOf(v)
	switch {
	case rv.Kind() == reflect.Slice && rv.Type().Elem().Kind() == reflect.Uint8:
		return nil, false
	case rv.Kind() != reflect.Slice && rv.Kind() != reflect.Array:
		return nil, false
	}
	out := make([]any, rv.Len())
	for i := range out {
		out[i] = rv.Index(i).Interface()
	}
	return out, true
}

// Fields converts a lenient document structure or map (map[string]any or
// any map keyed by strings) to map[string]any.
func Fields(v any) (map[string]any, bool) {
	if m, ok := v.(map[string]any); ok {
		return m, true
	}
	rv := reflect.ValueOf(v)
	if rv.Kind() != reflect.Map || rv.Type().Key().Kind() != reflect.String {
		return nil, false
	}
	out := make(map[string]any, rv.Len())
	iter := rv.MapRange()
	for iter.Next() {
		out[iter.Key().String()] = iter.Value().Interface()
	}
	return out, true
}

// IsNil reports whether a document value is absent: nil, or a nil pointer,
// map or slice that a handler left unset. A nil []any or map[string]any is
// not absent but empty, so the codecs write an empty list or structure for
// it (the rest codec alone leaves those out; see its isNil).
func IsNil(v any) bool {
	if v == nil {
		return true
	}
	switch v.(type) {
	case string, bool, int64, float64, map[string]any, []any, time.Time:
		return false
	}
	rv := reflect.ValueOf(v)
	switch rv.Kind() {
	case reflect.Pointer, reflect.Map, reflect.Slice, reflect.Interface:
		return rv.IsNil()
	}
	return false
}

// CanonicalMembers returns doc keyed by the structure's exact member names,
// matching keys ignoring case; keys naming no member are dropped, and where
// two keys name one member the exact one wins, so the answer does not
// depend on map order. It returns doc itself when every key already
// matches, which is the common case.
func CanonicalMembers(sh *awsmodel.Shape, doc map[string]any) map[string]any {
	exact := true
	for k := range doc {
		if _, ok := sh.Members[k]; !ok {
			exact = false
			break
		}
	}
	if exact {
		return doc
	}
	out := make(map[string]any, len(doc))
	for k, v := range doc {
		if name, _, ok := sh.MemberFold(k); ok {
			if _, taken := out[name]; !taken || k == name {
				out[name] = v
			}
		}
	}
	return out
}

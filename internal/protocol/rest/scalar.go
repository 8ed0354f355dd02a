package rest

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"math"
	"net/url"
	"reflect"
	"strconv"
	"strings"
	"time"

	"github.com/nimbus-dev/nimbus/internal/awsmodel"
)

// Timestamp formats of the model's timestampFormat trait.
const (
	formatISO8601  = "iso8601"
	formatHTTPDate = "rfc822"
	formatEpoch    = "unixTimestamp"
)

func escapeSegment(s string) string { return url.PathEscape(s) }

// timestampFormat is the format of a timestamp at ref: the ref's trait, the
// shape's, else def (the location's default).
func timestampFormat(ref *awsmodel.Ref, def string) string {
	if ref != nil && ref.TimestampFormat != "" {
		return ref.TimestampFormat
	}
	if ref != nil && ref.Shape != nil && ref.Shape.TimestampFormat != "" {
		return ref.Shape.TimestampFormat
	}
	return def
}

func formatTime(t time.Time, format string) string {
	t = t.UTC()
	switch format {
	case formatHTTPDate:
		return t.Format(http1123)
	case formatEpoch:
		return strconv.FormatFloat(float64(t.UnixMilli())/1000, 'f', -1, 64)
	}
	if t.Nanosecond() == 0 {
		return t.Format("2006-01-02T15:04:05Z")
	}
	return t.Format("2006-01-02T15:04:05.000Z")
}

// http1123 is RFC 1123 with GMT, the http-date the SDKs write and read.
const http1123 = "Mon, 02 Jan 2006 15:04:05 GMT"

// parseTime accepts the three AWS timestamp formats whatever the declared
// one: clients disagree (the AWS CLI sends ISO 8601 where the model says
// epoch seconds), and the value is unambiguous.
func parseTime(s string) (time.Time, error) {
	s = strings.TrimSpace(s)
	if f, err := strconv.ParseFloat(s, 64); err == nil && !math.IsNaN(f) && !math.IsInf(f, 0) {
		sec, frac := math.Modf(f)
		return time.Unix(int64(sec), int64(math.Round(frac*1e3))*1e6).UTC(), nil
	}
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05Z0700", "2006-01-02T15:04:05", http1123, time.RFC1123, time.RFC1123Z, time.RFC850, time.ANSIC} {
		if t, err := time.Parse(layout, s); err == nil {
			return t.UTC(), nil
		}
	}
	return time.Time{}, fmt.Errorf("%q is not a timestamp", s)
}

// parseText turns the text of a URI label, query value or header into a
// value of ref's scalar shape.
func parseText(ref *awsmodel.Ref, s string) (any, error) {
	switch ref.Shape.Type {
	case "string":
		if ref.JSONValue {
			return decodeJSONValueHeader(s)
		}
		return s, nil
	case "integer", "long":
		n, err := strconv.ParseInt(strings.TrimSpace(s), 10, 64)
		if err != nil {
			return nil, fmt.Errorf("%q is not an integer", s)
		}
		return n, nil
	case "float", "double":
		f, err := parseFloat(strings.TrimSpace(s))
		if err != nil {
			return nil, fmt.Errorf("%q is not a number", s)
		}
		return f, nil
	case "boolean":
		switch strings.ToLower(strings.TrimSpace(s)) {
		case "true":
			return true, nil
		case "false":
			return false, nil
		}
		return nil, fmt.Errorf("%q is not a boolean", s)
	case "timestamp":
		return parseTime(s)
	case "blob":
		b, err := base64.StdEncoding.DecodeString(s)
		if err != nil {
			return nil, fmt.Errorf("%q is not base64", s)
		}
		return b, nil
	}
	return nil, fmt.Errorf("shape %s of type %s cannot be bound to text", ref.Shape.Name, ref.Shape.Type)
}

func parseFloat(s string) (float64, error) {
	switch s {
	case "NaN":
		return math.NaN(), nil
	case "Infinity":
		return math.Inf(1), nil
	case "-Infinity":
		return math.Inf(-1), nil
	}
	return strconv.ParseFloat(s, 64)
}

// decodeJSONValueHeader decodes a jsonvalue header: base64 of a JSON text.
func decodeJSONValueHeader(s string) (any, error) {
	raw, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		return nil, fmt.Errorf("jsonvalue header is not base64: %w", err)
	}
	var v any
	if err := json.Unmarshal(raw, &v); err != nil {
		return nil, fmt.Errorf("jsonvalue header is not JSON: %w", err)
	}
	return v, nil
}

// formatText writes a scalar value of ref's shape as header or query text,
// accepting what handlers produce (see package wire).
func formatText(ref *awsmodel.Ref, v any, defaultTime string) (string, error) {
	switch ref.Shape.Type {
	case "string":
		if ref.JSONValue {
			raw, err := json.Marshal(v)
			if err != nil {
				return "", fmt.Errorf("jsonvalue: %w", err)
			}
			return base64.StdEncoding.EncodeToString(raw), nil
		}
		if s, ok := asString(v); ok {
			return s, nil
		}
	case "integer", "long":
		if n, ok := asInt64(v); ok {
			return strconv.FormatInt(n, 10), nil
		}
	case "float", "double":
		if f, ok := asFloat64(v); ok {
			return formatFloat(f), nil
		}
	case "boolean":
		if b, ok := asBool(v); ok {
			return strconv.FormatBool(b), nil
		}
	case "timestamp":
		if t, ok := asTime(v); ok {
			return formatTime(t, timestampFormat(ref, defaultTime)), nil
		}
	case "blob":
		if b, ok := asBytes(v); ok {
			return base64.StdEncoding.EncodeToString(b), nil
		}
	}
	return "", fmt.Errorf("%T value does not fit %s shape %s", v, ref.Shape.Type, ref.Shape.Name)
}

func formatFloat(f float64) string {
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

// The as* helpers coerce what a handler put in a document to one wire type.

func asString(v any) (string, bool) {
	switch x := v.(type) {
	case string:
		return x, true
	case []byte:
		return string(x), true
	case fmt.Stringer:
		return x.String(), true
	}
	rv := reflect.ValueOf(v)
	if rv.Kind() == reflect.String { // named string types such as enums
		return rv.String(), true
	}
	return "", false
}

func asInt64(v any) (int64, bool) {
	switch x := v.(type) {
	case int64:
		return x, true
	case int:
		return int64(x), true
	case json.Number:
		if n, err := x.Int64(); err == nil {
			return n, true
		}
		f, err := x.Float64()
		return int64(f), err == nil && f == math.Trunc(f)
	case float64:
		return int64(x), x == math.Trunc(x)
	case string:
		n, err := strconv.ParseInt(x, 10, 64)
		return n, err == nil
	}
	rv := reflect.ValueOf(v)
	switch rv.Kind() {
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return rv.Int(), true
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return int64(rv.Uint()), rv.Uint() <= math.MaxInt64
	case reflect.Float32:
		f := rv.Float()
		return int64(f), f == math.Trunc(f)
	}
	return 0, false
}

func asFloat64(v any) (float64, bool) {
	switch x := v.(type) {
	case float64:
		return x, true
	case json.Number:
		f, err := x.Float64()
		return f, err == nil
	case string:
		f, err := parseFloat(x)
		return f, err == nil
	}
	rv := reflect.ValueOf(v)
	switch rv.Kind() {
	case reflect.Float32, reflect.Float64:
		return rv.Float(), true
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return float64(rv.Int()), true
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return float64(rv.Uint()), true
	}
	return 0, false
}

func asBool(v any) (bool, bool) {
	switch x := v.(type) {
	case bool:
		return x, true
	case string:
		b, err := strconv.ParseBool(x)
		return b, err == nil
	}
	return false, false
}

func asTime(v any) (time.Time, bool) {
	switch x := v.(type) {
	case time.Time:
		return x.UTC(), true
	case *time.Time:
		if x != nil {
			return x.UTC(), true
		}
	case string:
		t, err := parseTime(x)
		return t, err == nil
	}
	if f, ok := asFloat64(v); ok {
		sec, frac := math.Modf(f)
		return time.Unix(int64(sec), int64(math.Round(frac*1e3))*1e6).UTC(), true
	}
	return time.Time{}, false
}

func asBytes(v any) ([]byte, bool) {
	switch x := v.(type) {
	case []byte:
		return x, true
	case string:
		b, err := base64.StdEncoding.DecodeString(x)
		return b, err == nil
	case json.RawMessage:
		return x, true
	}
	return nil, false
}

// asItems accepts []any and any other slice a handler built.
func asItems(v any) ([]any, bool) {
	if x, ok := v.([]any); ok {
		return x, true
	}
	rv := reflect.ValueOf(v)
	if rv.Kind() != reflect.Slice || rv.Type().Elem().Kind() == reflect.Uint8 {
		return nil, false
	}
	out := make([]any, rv.Len())
	for i := range out {
		out[i] = rv.Index(i).Interface()
	}
	return out, true
}

// asFields accepts map[string]any and any other string-keyed map.
func asFields(v any) (map[string]any, bool) {
	if x, ok := v.(map[string]any); ok {
		return x, true
	}
	rv := reflect.ValueOf(v)
	if rv.Kind() != reflect.Map || rv.Type().Key().Kind() != reflect.String {
		return nil, false
	}
	out := make(map[string]any, rv.Len())
	for it := rv.MapRange(); it.Next(); {
		out[it.Key().String()] = it.Value().Interface()
	}
	return out, true
}

// isNil reports a value an encoder skips: nil, a nil pointer, map or slice.
func isNil(v any) bool {
	if v == nil {
		return true
	}
	rv := reflect.ValueOf(v)
	switch rv.Kind() {
	case reflect.Pointer, reflect.Map, reflect.Slice, reflect.Interface:
		return rv.IsNil()
	}
	return false
}

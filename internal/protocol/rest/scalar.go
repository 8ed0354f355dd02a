package rest

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"math"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/nimbus-dev/nimbus/internal/awsmodel"
	"github.com/nimbus-dev/nimbus/internal/protocol/wire"
)

func escapeSegment(s string) string { return url.PathEscape(s) }

// formatTime writes t as wire.FormatTimestamp does, except that ISO 8601
// leaves out the milliseconds of a whole second.
func formatTime(t time.Time, format string) string {
	if format != wire.RFC822 && format != wire.UnixTimestamp && t.Nanosecond() == 0 {
		return t.UTC().Format("2006-01-02T15:04:05Z")
	}
	return wire.FormatTimestamp(t, format)
}

// http1123 is RFC 1123 with GMT, the http-date the SDKs write and read.
const http1123 = "Mon, 02 Jan 2006 15:04:05 GMT"

// parseTime accepts the three AWS timestamp formats whatever the declared
// one: clients disagree (the AWS CLI sends ISO 8601 where the model says
// epoch seconds), and the value is unambiguous.
func parseTime(s string) (time.Time, error) {
	s = strings.TrimSpace(s)
	if f, err := strconv.ParseFloat(s, 64); err == nil && !math.IsNaN(f) && !math.IsInf(f, 0) {
		return wire.EpochTime(f), nil
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
		if s, ok := wire.Text(v); ok {
			return s, nil
		}
	case "integer", "long":
		if n, ok := wire.Int64(v); ok {
			return strconv.FormatInt(n, 10), nil
		}
	case "float", "double":
		if f, ok := wire.Float64(v); ok {
			return wire.FormatFloat(f), nil
		}
	case "boolean":
		if b, ok := wire.Bool(v); ok {
			return strconv.FormatBool(b), nil
		}
	case "timestamp":
		if t, ok := asTime(v); ok {
			return formatTime(t, wire.TimestampFormat(ref, defaultTime)), nil
		}
	case "blob":
		if b, ok := wire.Bytes(v); ok {
			return base64.StdEncoding.EncodeToString(b), nil
		}
	}
	return "", fmt.Errorf("%T value does not fit %s shape %s", v, ref.Shape.Type, ref.Shape.Name)
}

// asTime reads a handler's timestamp. Strings are read as parseTime reads
// request text, in any of the three formats whatever the declared one;
// everything else as wire.Time reads it.
func asTime(v any) (time.Time, bool) {
	if s, ok := v.(string); ok {
		t, err := parseTime(s)
		return t, err == nil
	}
	return wire.Time(v)
}

// isNil is wire.IsNil, except that a nil []any or map[string]any is absent
// too: the rest codec has always left such members out where the other
// codecs write them empty, and clients see the difference.
func isNil(v any) bool {
	switch x := v.(type) {
	case []any:
		return x == nil
	case map[string]any:
		return x == nil
	}
	return wire.IsNil(v)
}

package s3

import (
	"encoding/base64"
	"errors"
	"io"
	"strings"
	"time"

	"github.com/nimbus-dev/nimbus/internal/store"
)

// Handlers take the input document the rest-xml codec decoded (see package
// wire) rather than typed structures: PutObject's body is an io.Reader,
// which typed decoding cannot carry. These read its members.

func str(doc map[string]any, member string) string {
	s, _ := doc[member].(string)
	return s
}

func integer(doc map[string]any, member string) (int64, bool) {
	switch v := doc[member].(type) {
	case int64:
		return v, true
	case int:
		return int64(v), true
	case float64:
		return int64(v), true
	}
	return 0, false
}

func boolean(doc map[string]any, member string) bool {
	b, _ := doc[member].(bool)
	return b
}

func timestamp(doc map[string]any, member string) (time.Time, bool) {
	t, ok := doc[member].(time.Time)
	return t, ok
}

func structure(doc map[string]any, member string) map[string]any {
	m, _ := doc[member].(map[string]any)
	return m
}

func list(doc map[string]any, member string) []map[string]any {
	items, _ := doc[member].([]any)
	out := make([]map[string]any, 0, len(items))
	for _, it := range items {
		if m, ok := it.(map[string]any); ok {
			out = append(out, m)
		}
	}
	return out
}

func stringList(doc map[string]any, member string) []string {
	items, _ := doc[member].([]any)
	out := make([]string, 0, len(items))
	for _, it := range items {
		if s, ok := it.(string); ok {
			out = append(out, s)
		}
	}
	return out
}

// metadata reads x-amz-meta-* headers; S3 keeps their names lower-case.
func metadata(doc map[string]any) map[string]string {
	m := structure(doc, "Metadata")
	if len(m) == 0 {
		return nil
	}
	out := make(map[string]string, len(m))
	for k, v := range m {
		if s, ok := v.(string); ok {
			out[strings.ToLower(k)] = s
		}
	}
	return out
}

func body(doc map[string]any) io.Reader {
	switch b := doc["Body"].(type) {
	case io.Reader:
		return b
	case []byte:
		return strings.NewReader(string(b))
	}
	return strings.NewReader("")
}

func metadataDoc(m map[string]string) map[string]any {
	if len(m) == 0 {
		return nil
	}
	out := make(map[string]any, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

func base64Std(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }

func isNotFound(err error) bool { return errors.Is(err, store.ErrNotFound) }

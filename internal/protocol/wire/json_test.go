package wire

import (
	"bytes"
	"encoding/json"
	"testing"
)

// TestAppendJSONStringMatchesEncodingJSON compares the codecs' string
// writer with encoding/json (HTML escaping off, as the codecs write it).
func TestAppendJSONStringMatchesEncodingJSON(t *testing.T) {
	for _, s := range []string{"", "plain", `quote " and \ slash`, "tab\tnew\nline\rcr", "\x00\x01\x1f\x7f",
		"héllo wörld ✓", "line\u2028para\u2029end", "bad \xff byte", "\xe2\x80", "<&>", "emoji 😀 then \xc3"} {
		var want bytes.Buffer
		enc := json.NewEncoder(&want)
		enc.SetEscapeHTML(false)
		if err := enc.Encode(s); err != nil {
			t.Fatal(err)
		}
		if got := string(AppendJSONString(nil, s)); got != string(bytes.TrimSuffix(want.Bytes(), []byte("\n"))) {
			t.Errorf("%q: got %s want %s", s, got, want.Bytes())
		}
	}
}

func TestJSONKind(t *testing.T) {
	var decoded []any
	dec := json.NewDecoder(bytes.NewReader([]byte(`[{}, [], "s", 1.5, true, null]`)))
	dec.UseNumber()
	if err := dec.Decode(&decoded); err != nil {
		t.Fatal(err)
	}
	want := []string{"an object", "an array", "a string", "a number", "a boolean", "null"}
	for i, v := range decoded {
		if got := JSONKind(v); got != want[i] {
			t.Errorf("%v: got %q want %q", v, got, want[i])
		}
	}
}

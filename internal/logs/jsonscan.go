package logs

import (
	"bytes"
	"encoding/json"
	"strconv"
)

// JSON filter patterns are evaluated over every event a FilterLogEvents
// call searches, a million of them in the benchmark, so instead of decoding
// each message into maps they scan it for the selected members only,
// without allocating: scanMember walks the object along a selector and
// returns the raw bytes of the value found.

// scanMember returns the raw JSON value at sel in msg, and whether it
// exists. A message that is not a JSON object has no members.
func scanMember(msg []byte, sel []selectorStep) ([]byte, bool) {
	i := skipSpace(msg, 0)
	if i >= len(msg) || msg[i] != '{' {
		return nil, false
	}
	v := msg[i:]
	for _, st := range sel {
		var ok bool
		if st.name != "" {
			v, ok = objectMember(v, st.name)
		} else {
			v, ok = arrayElement(v, st.index)
		}
		if !ok {
			return nil, false
		}
	}
	return v, true
}

// objectMember finds a member of the object at the start of v and returns
// its value (through the end of v: callers read only the value's prefix).
func objectMember(v []byte, name string) ([]byte, bool) {
	if len(v) == 0 || v[0] != '{' {
		return nil, false
	}
	i := skipSpace(v, 1)
	for i < len(v) && v[i] != '}' {
		if v[i] != '"' {
			return nil, false
		}
		end := stringEnd(v, i)
		if end < 0 {
			return nil, false
		}
		key := v[i+1 : end-1]
		i = skipSpace(v, end)
		if i >= len(v) || v[i] != ':' {
			return nil, false
		}
		i = skipSpace(v, i+1)
		if keyEquals(key, name) {
			return v[i:], true
		}
		if i = skipValue(v, i); i < 0 {
			return nil, false
		}
		i = skipSpace(v, i)
		if i < len(v) && v[i] == ',' {
			i = skipSpace(v, i+1)
		}
	}
	return nil, false
}

func arrayElement(v []byte, index int) ([]byte, bool) {
	if len(v) == 0 || v[0] != '[' || index < 0 {
		return nil, false
	}
	i := skipSpace(v, 1)
	for n := 0; i < len(v) && v[i] != ']'; n++ {
		if n == index {
			return v[i:], true
		}
		if i = skipValue(v, i); i < 0 {
			return nil, false
		}
		i = skipSpace(v, i)
		if i < len(v) && v[i] == ',' {
			i = skipSpace(v, i+1)
		}
	}
	return nil, false
}

func keyEquals(raw []byte, name string) bool {
	if bytes.IndexByte(raw, '\\') < 0 {
		return string(raw) == name
	}
	s, ok := unquote(raw)
	return ok && s == name
}

func skipSpace(v []byte, i int) int {
	for i < len(v) && (v[i] == ' ' || v[i] == '\t' || v[i] == '\n' || v[i] == '\r') {
		i++
	}
	return i
}

// stringEnd returns the index just past the string starting at v[i], or -1.
func stringEnd(v []byte, i int) int {
	for j := i + 1; j < len(v); j++ {
		switch v[j] {
		case '\\':
			j++
		case '"':
			return j + 1
		}
	}
	return -1
}

// skipValue returns the index just past the value starting at v[i], or -1.
func skipValue(v []byte, i int) int {
	if i >= len(v) {
		return -1
	}
	switch v[i] {
	case '"':
		return stringEnd(v, i)
	case '{', '[':
		depth := 0
		for j := i; j < len(v); j++ {
			switch v[j] {
			case '"':
				if j = stringEnd(v, j); j < 0 {
					return -1
				}
				j--
			case '{', '[':
				depth++
			case '}', ']':
				depth--
				if depth == 0 {
					return j + 1
				}
			}
		}
		return -1
	}
	j := i
	for j < len(v) && v[j] != ',' && v[j] != '}' && v[j] != ']' && v[j] != ' ' && v[j] != '\t' && v[j] != '\n' && v[j] != '\r' {
		j++
	}
	if j == i {
		return -1
	}
	return j
}

// scalar is a raw value read as the comparison needs it.
type scalar struct {
	kind byte // 's' string, 'n' number, 't' true, 'f' false, 'z' null, 'o' object or array
	str  []byte
	num  float64
}

func parseScalar(raw []byte) (scalar, bool) {
	if len(raw) == 0 {
		return scalar{}, false
	}
	switch raw[0] {
	case '"':
		end := stringEnd(raw, 0)
		if end < 0 {
			return scalar{}, false
		}
		body := raw[1 : end-1]
		if bytes.IndexByte(body, '\\') >= 0 {
			s, ok := unquote(raw[:end])
			return scalar{kind: 's', str: []byte(s)}, ok
		}
		return scalar{kind: 's', str: body}, true
	case '{', '[':
		return scalar{kind: 'o'}, true
	}
	end := skipValue(raw, 0)
	if end < 0 {
		return scalar{}, false
	}
	lit := raw[:end]
	switch string(lit) {
	case "true":
		return scalar{kind: 't'}, true
	case "false":
		return scalar{kind: 'f'}, true
	case "null":
		return scalar{kind: 'z'}, true
	}
	f, err := strconv.ParseFloat(string(lit), 64)
	if err != nil {
		return scalar{}, false
	}
	return scalar{kind: 'n', str: lit, num: f}, true
}

// unquote decodes a JSON string with escapes (the rare, slow path).
func unquote(raw []byte) (string, bool) {
	if len(raw) == 0 || raw[0] != '"' {
		raw = append(append([]byte{'"'}, raw...), '"')
	}
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		return "", false
	}
	return s, true
}

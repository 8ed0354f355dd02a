package imds

import (
	"bytes"
	"encoding/json"
)

// field is one member of a JSON object whose order matters.
type field struct {
	Name  string
	Value any
}

// prettyJSON renders an object the way IMDS does (Jackson's default pretty
// printer: two-space indent and " : " between name and value), keeping the
// fields in the given order. Clients parse it as ordinary JSON; the layout
// only matters to scripts that grep it, which do exist.
func prettyJSON(fields []field) []byte {
	var b bytes.Buffer
	b.WriteString("{\n")
	for i, f := range fields {
		b.WriteString("  ")
		writeJSON(&b, f.Name)
		b.WriteString(" : ")
		writeJSON(&b, f.Value)
		if i < len(fields)-1 {
			b.WriteByte(',')
		}
		b.WriteByte('\n')
	}
	b.WriteString("}")
	return b.Bytes()
}

func writeJSON(b *bytes.Buffer, v any) {
	out, err := json.Marshal(v)
	if err != nil {
		// Only strings, nil and numbers are passed in; none fail to marshal.
		out = []byte("null")
	}
	b.Write(out)
}

package xmlshape

import (
	"fmt"
	"sort"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/nimbus-dev/nimbus/internal/awsmodel"
	"github.com/nimbus-dev/nimbus/internal/protocol/wire"
)

// AppendMembers appends the elements of a structure document's members,
// without an enclosing element, to dst: the body of a query <OpResult> or an
// EC2 <OpResponse>. Members bound outside the body (headers, URI, status
// code) and attribute members are skipped; so are nil values. A nil or empty
// doc appends nothing.
func (c Conventions) AppendMembers(dst []byte, sh *awsmodel.Shape, doc map[string]any) ([]byte, error) {
	if sh == nil || len(doc) == 0 {
		return dst, nil
	}
	start := len(dst)
	dst, matched, err := c.appendMembersExact(dst, sh, doc)
	if err != nil || matched == len(doc) {
		return dst, err
	}
	// Some keys differ from member names in case (or name nothing): start
	// over from the canonical document. Rare, so the common path never
	// iterates the map.
	dst, _, err = c.appendMembersExact(dst[:start], sh, wire.CanonicalMembers(sh, doc))
	return dst, err
}

// appendMembersExact appends the members doc holds under their exact names,
// in model order, and counts the keys it matched.
func (c Conventions) appendMembersExact(dst []byte, sh *awsmodel.Shape, doc map[string]any) ([]byte, int, error) {
	matched := 0
	for _, name := range sh.MemberOrder {
		v, ok := doc[name]
		if !ok {
			continue
		}
		matched++
		ref := sh.Members[name]
		if wire.IsNil(v) || ref.Location != "" || ref.XMLAttribute {
			continue
		}
		var err error
		if dst, err = c.appendValue(dst, ElementName(name, ref), ref, v); err != nil {
			return dst, matched, err
		}
	}
	return dst, matched, nil
}

// AppendElement appends one element named name holding v, a value of ref's
// shape, with the xmlns declaration of ref or its shape: an S3 body's root.
// name is usually ElementName or RootName of the payload member.
func (c Conventions) AppendElement(dst []byte, name string, ref *awsmodel.Ref, v any) ([]byte, error) {
	if wire.IsNil(v) {
		v = map[string]any{}
	}
	return c.appendValue(dst, name, ref, v)
}

// ElementName is the element a structure member is written as: its
// locationName, else the member name.
func ElementName(member string, ref *awsmodel.Ref) string {
	if ref != nil && ref.LocationName != "" {
		return ref.LocationName
	}
	return member
}

// RootName is the element name of a body whose shape is ref's: the ref's
// locationName, the shape's locationName, else the shape name.
func RootName(ref *awsmodel.Ref) string {
	switch {
	case ref.LocationName != "":
		return ref.LocationName
	case ref.Shape != nil && ref.Shape.LocationName != "":
		return ref.Shape.LocationName
	case ref.Shape != nil:
		return ref.Shape.Name
	}
	return ref.ShapeName
}

func (c Conventions) appendValue(dst []byte, name string, ref *awsmodel.Ref, v any) ([]byte, error) {
	sh := ref.Shape
	if sh == nil {
		return dst, fmt.Errorf("element %s: unresolved shape %q", name, ref.ShapeName)
	}
	switch sh.Type {
	case "structure":
		return c.appendStructure(dst, name, ref, v)
	case "list":
		return c.appendList(dst, name, ref, v)
	case "map":
		return c.appendMap(dst, name, ref, v)
	}
	text, err := scalarText(ref, v, wire.ISO8601)
	if err != nil {
		return dst, fmt.Errorf("element %s: %w", name, err)
	}
	dst = appendOpen(dst, name, ref, nil)
	dst = appendEscaped(dst, text, false)
	return appendClose(dst, name), nil
}

func (c Conventions) appendStructure(dst []byte, name string, ref *awsmodel.Ref, v any) ([]byte, error) {
	doc, ok := wire.Fields(v)
	if !ok {
		return dst, fmt.Errorf("element %s: structure value is %T, want a map", name, v)
	}
	sh := ref.Shape
	var attrs [][2]string
	for _, m := range sh.MemberOrder {
		mref := sh.Members[m]
		if !mref.XMLAttribute {
			continue
		}
		if av, ok := memberValue(doc, m); ok && !wire.IsNil(av) {
			text, err := scalarText(mref, av, wire.ISO8601)
			if err != nil {
				return dst, fmt.Errorf("attribute %s of %s: %w", ElementName(m, mref), name, err)
			}
			attrs = append(attrs, [2]string{ElementName(m, mref), text})
		}
	}
	dst = appendOpen(dst, name, ref, attrs)
	dst, err := c.AppendMembers(dst, sh, doc)
	if err != nil {
		return dst, err
	}
	return appendClose(dst, name), nil
}

func (c Conventions) appendList(dst []byte, name string, ref *awsmodel.Ref, v any) ([]byte, error) {
	items, ok := wire.Items(v)
	if !ok {
		return dst, fmt.Errorf("element %s: list value is %T, want a slice", name, v)
	}
	member := ref.Shape.Member
	if member == nil {
		return dst, fmt.Errorf("element %s: list shape %s has no member", name, ref.Shape.Name)
	}
	if ref.Flattened || ref.Shape.Flattened {
		var err error
		for i, item := range items {
			if wire.IsNil(item) {
				continue
			}
			if dst, err = c.appendValue(dst, name, member, item); err != nil {
				return dst, fmt.Errorf("%s[%d]: %w", name, i, err)
			}
		}
		return dst, nil
	}
	itemName := member.LocationName
	if itemName == "" {
		itemName = c.listMember()
	}
	dst = appendOpen(dst, name, ref, nil)
	var err error
	for i, item := range items {
		if wire.IsNil(item) {
			continue
		}
		if dst, err = c.appendValue(dst, itemName, member, item); err != nil {
			return dst, fmt.Errorf("%s[%d]: %w", name, i, err)
		}
	}
	return appendClose(dst, name), nil
}

func (c Conventions) appendMap(dst []byte, name string, ref *awsmodel.Ref, v any) ([]byte, error) {
	entries, ok := wire.Fields(v)
	if !ok {
		return dst, fmt.Errorf("element %s: map value is %T, want a map", name, v)
	}
	sh := ref.Shape
	if sh.Key == nil || sh.Value == nil {
		return dst, fmt.Errorf("element %s: map shape %s lacks key or value", name, sh.Name)
	}
	keyName, valueName := ElementName("key", sh.Key), ElementName("value", sh.Value)
	keys := make([]string, 0, len(entries))
	for k := range entries {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	flat := ref.Flattened || sh.Flattened
	entryName := "entry"
	if flat {
		entryName = name
	} else {
		dst = appendOpen(dst, name, ref, nil)
	}
	var err error
	for _, k := range keys {
		val := entries[k]
		if wire.IsNil(val) {
			continue
		}
		dst = append(dst, '<')
		dst = append(dst, entryName...)
		dst = append(dst, '>')
		if dst, err = c.appendValue(dst, keyName, sh.Key, k); err != nil {
			return dst, err
		}
		if dst, err = c.appendValue(dst, valueName, sh.Value, val); err != nil {
			return dst, fmt.Errorf("%s[%q]: %w", name, k, err)
		}
		dst = appendClose(dst, entryName)
	}
	if !flat {
		dst = appendClose(dst, name)
	}
	return dst, nil
}

// memberValue finds member m in doc, by exact name or ignoring case.
func memberValue(doc map[string]any, m string) (any, bool) {
	if v, ok := doc[m]; ok {
		return v, true
	}
	for k, v := range doc {
		if strings.EqualFold(k, m) {
			return v, true
		}
	}
	return nil, false
}

// scalarText renders a scalar document value as the text of its element,
// accepting the lenient forms package wire allows.
func scalarText(ref *awsmodel.Ref, v any, defaultTime string) (string, error) {
	sh := ref.Shape
	switch sh.Type {
	case "string":
		if s, ok := wire.Text(v); ok {
			return s, nil
		}
	case "integer", "long", "short", "byte":
		if i, ok := wire.Int64(v); ok {
			return strconv.FormatInt(i, 10), nil
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
		if t, ok := wire.Time(v); ok {
			return wire.FormatTimestamp(t, wire.TimestampFormat(ref, defaultTime)), nil
		}
	case "blob":
		if s, ok := wire.Base64(v); ok {
			return s, nil
		}
	default:
		return "", fmt.Errorf("shape %s of type %q has no XML form", sh.Name, sh.Type)
	}
	return "", fmt.Errorf("%s value %v (%T) does not fit shape %s", sh.Type, v, v, sh.Name)
}

func appendOpen(dst []byte, name string, ref *awsmodel.Ref, attrs [][2]string) []byte {
	dst = append(dst, '<')
	dst = append(dst, name...)
	ns := ref.XMLNamespace
	if ns == nil && ref.Shape != nil {
		ns = ref.Shape.XMLNamespace
	}
	if ns != nil && ns.URI != "" {
		dst = append(dst, " xmlns"...)
		if ns.Prefix != "" {
			dst = append(dst, ':')
			dst = append(dst, ns.Prefix...)
		}
		dst = append(dst, `="`...)
		dst = appendEscaped(dst, ns.URI, true)
		dst = append(dst, '"')
	}
	for _, a := range attrs {
		dst = append(dst, ' ')
		dst = append(dst, a[0]...)
		dst = append(dst, `="`...)
		dst = appendEscaped(dst, a[1], true)
		dst = append(dst, '"')
	}
	return append(dst, '>')
}

func appendClose(dst []byte, name string) []byte {
	dst = append(dst, "</"...)
	dst = append(dst, name...)
	return append(dst, '>')
}

// AppendText appends s escaped as XML character data, replacing invalid
// UTF-8 and characters XML cannot carry with U+FFFD.
func AppendText(dst []byte, s string) []byte { return appendEscaped(dst, s, false) }

// escapes holds, per ASCII byte, what character data writes instead of it;
// "" means the byte is written as is. Attribute values escape more.
var textEscapes, attrEscapes [utf8.RuneSelf]string

func init() {
	for b := 0; b < 0x20; b++ {
		textEscapes[b] = "\uFFFD" // control characters XML 1.0 cannot carry
	}
	textEscapes['\t'], textEscapes['\n'] = "", ""
	textEscapes['\r'] = "&#xD;" // a literal CR would be normalised away
	textEscapes['&'], textEscapes['<'], textEscapes['>'] = "&amp;", "&lt;", "&gt;"
	attrEscapes = textEscapes
	attrEscapes['"'], attrEscapes['\t'], attrEscapes['\n'] = "&quot;", "&#x9;", "&#xA;"
}

func appendEscaped(dst []byte, s string, attr bool) []byte {
	escapes := &textEscapes
	if attr {
		escapes = &attrEscapes
	}
	start := 0 // s[start:i] is plain text not yet appended
	for i := 0; i < len(s); {
		b := s[i]
		if b < utf8.RuneSelf {
			if esc := escapes[b]; esc != "" {
				dst = append(dst, s[start:i]...)
				dst = append(dst, esc...)
				start = i + 1
			}
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 || !isXMLChar(r) {
			dst = append(dst, s[start:i]...)
			dst = append(dst, "\uFFFD"...)
			start = i + size
		}
		i += size
	}
	return append(dst, s[start:]...)
}

func isXMLChar(r rune) bool {
	return r >= 0x20 && r <= 0xD7FF || r >= 0xE000 && r <= 0xFFFD || r >= 0x10000 && r <= 0x10FFFF
}

package xmlshape

import (
	"bytes"
	"encoding/base64"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/nimbus-dev/nimbus/internal/awserr"
	"github.com/nimbus-dev/nimbus/internal/awsmodel"
	"github.com/nimbus-dev/nimbus/internal/protocol/wire"
)

// maxDepth bounds element nesting so a hostile body cannot exhaust the stack;
// no AWS shape nests anywhere near this deep.
const maxDepth = 64

// node is one parsed element.
type node struct {
	name     string // local name
	attrs    []xml.Attr
	children []*node
	text     strings.Builder
}

func (n *node) child(name string) *node {
	for _, c := range n.children {
		if c.name == name {
			return c
		}
	}
	return nil
}

// Decode parses XML whose root element holds a value of ref's shape and
// returns its document (map[string]any for a structure). The root element's
// name is not checked: S3 clients name it from the model, and the model is
// what the caller already chose. Errors are *awserr.Error: Validation for
// malformed XML or a value that does not fit its shape, MissingParameter for
// an absent required member.
func (c Conventions) Decode(data []byte, ref *awsmodel.Ref) (any, error) {
	root, err := parseTree(data)
	if err != nil {
		return nil, &awserr.Error{Kind: awserr.Validation, Message: "The XML you provided was not well-formed or did not validate against our published schema", Err: err}
	}
	return c.decodeValue(root, ref, root.name)
}

func parseTree(data []byte) (*node, error) {
	dec := xml.NewDecoder(bytes.NewReader(data))
	var stack []*node
	var root *node
	for {
		tok, err := dec.Token()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, err
		}
		switch t := tok.(type) {
		case xml.StartElement:
			if root != nil && len(stack) == 0 {
				return nil, errors.New("more than one root element")
			}
			if len(stack) >= maxDepth {
				return nil, fmt.Errorf("elements nest deeper than %d", maxDepth)
			}
			n := &node{name: t.Name.Local, attrs: t.Attr}
			if len(stack) > 0 {
				parent := stack[len(stack)-1]
				parent.children = append(parent.children, n)
			} else {
				root = n
			}
			stack = append(stack, n)
		case xml.EndElement:
			stack = stack[:len(stack)-1]
		case xml.CharData:
			if len(stack) > 0 {
				stack[len(stack)-1].text.Write(t)
			}
		}
	}
	if root == nil {
		return nil, errors.New("no root element")
	}
	return root, nil
}

func (c Conventions) decodeValue(n *node, ref *awsmodel.Ref, path string) (any, error) {
	sh := ref.Shape
	switch sh.Type {
	case "structure":
		return c.decodeStructure(n, sh, path)
	case "list":
		if sh.Member == nil {
			return nil, invalid(path, "list shape has no member")
		}
		itemName := sh.Member.LocationName
		if itemName == "" {
			itemName = c.listMember()
		}
		items := make([]any, 0, len(n.children))
		for _, child := range n.children {
			if child.name != itemName {
				continue
			}
			v, err := c.decodeValue(child, sh.Member, path+"."+itemName)
			if err != nil {
				return nil, err
			}
			items = append(items, v)
		}
		return checked(ref, items, path)
	case "map":
		entries := n.children
		out := make(map[string]any, len(entries))
		for _, e := range entries {
			if e.name != "entry" {
				continue
			}
			if err := c.decodeEntry(e, sh, path, out); err != nil {
				return nil, err
			}
		}
		return checked(ref, out, path)
	}
	return ParseScalar(ref, n.text.String(), wire.ISO8601, path)
}

func (c Conventions) decodeEntry(e *node, sh *awsmodel.Shape, path string, out map[string]any) error {
	if sh.Key == nil || sh.Value == nil {
		return invalid(path, "map shape lacks key or value")
	}
	k := e.child(ElementName("key", sh.Key))
	if k == nil {
		return invalid(path, "map entry has no key")
	}
	vn := e.child(ElementName("value", sh.Value))
	if vn == nil {
		return invalid(path, "map entry has no value")
	}
	key := k.text.String()
	v, err := c.decodeValue(vn, sh.Value, path+"."+key)
	if err != nil {
		return err
	}
	out[key] = v
	return nil
}

func (c Conventions) decodeStructure(n *node, sh *awsmodel.Shape, path string) (any, error) {
	out := make(map[string]any, len(sh.Members))
	for _, m := range sh.MemberOrder {
		ref := sh.Members[m]
		if ref.Location != "" {
			continue
		}
		name := ElementName(m, ref)
		if ref.XMLAttribute {
			local := name[strings.IndexByte(name, ':')+1:]
			for _, a := range n.attrs {
				if a.Name.Local == local {
					v, err := ParseScalar(ref, a.Value, wire.ISO8601, path+"@"+name)
					if err != nil {
						return nil, err
					}
					out[m] = v
				}
			}
			continue
		}
		flat := ref.Flattened || ref.Shape.Flattened
		if flat && (ref.Shape.Type == "list" || ref.Shape.Type == "map") {
			v, found, err := c.decodeFlattened(n, name, ref, path+"."+name)
			if err != nil {
				return nil, err
			}
			if found {
				out[m] = v
			}
			continue
		}
		child := n.child(name)
		if child == nil {
			continue
		}
		v, err := c.decodeValue(child, ref, path+"."+name)
		if err != nil {
			return nil, err
		}
		out[m] = v
	}
	for _, m := range sh.Required {
		if ref := sh.Members[m]; ref != nil && ref.Location == "" {
			if _, ok := out[m]; !ok {
				return nil, &awserr.Error{Kind: awserr.MissingParameter, Message: fmt.Sprintf("The XML element %s.%s is required", path, ElementName(m, ref))}
			}
		}
	}
	return out, nil
}

// decodeFlattened collects the repeated elements of a flattened list or map.
func (c Conventions) decodeFlattened(n *node, name string, ref *awsmodel.Ref, path string) (any, bool, error) {
	sh := ref.Shape
	var items []any
	entries := map[string]any{}
	found := false
	for _, child := range n.children {
		if child.name != name {
			continue
		}
		found = true
		if sh.Type == "map" {
			if err := c.decodeEntry(child, sh, path, entries); err != nil {
				return nil, false, err
			}
			continue
		}
		if sh.Member == nil {
			return nil, false, invalid(path, "list shape has no member")
		}
		v, err := c.decodeValue(child, sh.Member, path)
		if err != nil {
			return nil, false, err
		}
		items = append(items, v)
	}
	if !found {
		return nil, false, nil
	}
	if sh.Type == "map" {
		v, err := checked(ref, entries, path)
		return v, true, err
	}
	v, err := checked(ref, items, path)
	return v, true, err
}

// ParseScalar reads the text of a scalar (string, number, boolean,
// timestamp, blob) into its document type, checking enum and range
// constraints. defaultTime is the protocol's timestamp format when the model
// names none. path names the value in error messages.
func ParseScalar(ref *awsmodel.Ref, text, defaultTime, path string) (any, error) {
	sh := ref.Shape
	var v any
	switch sh.Type {
	case "string":
		v = text
	case "integer", "long", "short", "byte":
		i, err := strconv.ParseInt(strings.TrimSpace(text), 10, 64)
		if err != nil {
			return nil, invalid(path, fmt.Sprintf("Invalid value '%s' for %s: not an integer", text, path))
		}
		v = i
	case "float", "double":
		f, err := strconv.ParseFloat(strings.TrimSpace(text), 64)
		if err != nil {
			return nil, invalid(path, fmt.Sprintf("Invalid value '%s' for %s: not a number", text, path))
		}
		v = f
	case "boolean":
		switch strings.TrimSpace(text) {
		case "true":
			v = true
		case "false":
			v = false
		default:
			return nil, invalid(path, fmt.Sprintf("Invalid value '%s' for %s: not a boolean", text, path))
		}
	case "timestamp":
		t, err := wire.ParseTimestamp(text, wire.TimestampFormat(ref, defaultTime))
		if err != nil {
			return nil, invalid(path, fmt.Sprintf("Invalid value '%s' for %s: not a timestamp", text, path))
		}
		v = t
	case "blob":
		b, err := base64.StdEncoding.DecodeString(strings.TrimSpace(text))
		if err != nil {
			return nil, invalid(path, fmt.Sprintf("Invalid value for %s: not base64", path))
		}
		v = b
	default:
		return nil, invalid(path, fmt.Sprintf("%s cannot be given as text", path))
	}
	return checked(ref, v, path)
}

func checked(ref *awsmodel.Ref, v any, path string) (any, error) {
	if msg := wire.Violation(ref.Shape, v); msg != "" {
		return nil, &awserr.Error{Kind: awserr.Validation, Message: fmt.Sprintf("1 validation error detected: Value %s at '%s' failed to satisfy constraint: %s", wire.Quote(v), path, msg)}
	}
	return v, nil
}

func invalid(path, msg string) *awserr.Error {
	if !strings.Contains(msg, path) {
		msg = path + ": " + msg
	}
	return &awserr.Error{Kind: awserr.Validation, Message: msg}
}

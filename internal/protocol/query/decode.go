package query

import (
	"fmt"
	"net/http"
	"sort"
	"strconv"
	"strings"

	"github.com/nimbus-dev/nimbus/internal/awserr"
	"github.com/nimbus-dev/nimbus/internal/awsmodel"
	"github.com/nimbus-dev/nimbus/internal/protocol/wire"
	"github.com/nimbus-dev/nimbus/internal/protocol/xmlshape"
)

// Decode reads the form body (and any query string) into the operation's
// input document.
func (c *codec) Decode(r *http.Request, body []byte, op *awsmodel.Operation) (map[string]any, error) {
	var rawQuery []byte
	if r != nil && r.URL != nil {
		rawQuery = []byte(r.URL.RawQuery)
	}
	if (op.Input == nil || op.Input.Shape == nil || len(op.Input.Shape.Members) == 0) &&
		escapesValid(body) && escapesValid(rawQuery) {
		// Nothing to decode (GetCallerIdentity and other operations
		// without input members): the form need only be well formed,
		// which its escapes alone decide, so skip building its tree.
		return map[string]any{}, nil
	}
	root := &param{}
	if err := parseForm(root, body); err != nil {
		return nil, awserr.Validationf("The request body is not a valid form: %v", err)
	}
	if len(rawQuery) > 0 {
		if err := parseForm(root, rawQuery); err != nil {
			return nil, awserr.Validationf("The query string is not valid: %v", err)
		}
	}
	if op.Input == nil || op.Input.Shape == nil {
		return map[string]any{}, nil
	}
	return c.decodeStructure(root, op.Input.Shape, "", "")
}

// memberKey is the form key segment of a structure member: for EC2 its
// queryName, else its locationName capitalised, else the member name; for
// query its locationName, else the member name.
func (c *codec) memberKey(name string, ref *awsmodel.Ref) string {
	if c.ec2 {
		if ref.QueryName != "" {
			return ref.QueryName
		}
		if ref.LocationName != "" {
			return strings.ToUpper(ref.LocationName[:1]) + ref.LocationName[1:]
		}
		return name
	}
	if ref.LocationName != "" {
		return ref.LocationName
	}
	return name
}

// paths name a value in error messages: EC2 names the form key
// ("BlockDeviceMapping.1.Ebs.VolumeSize"), the query services the
// lowerCamel member path ("tags.1.member.key").
func (c *codec) memberPath(parent, key, member string) string {
	seg := key
	if !c.ec2 {
		seg = strings.ToLower(member[:1]) + member[1:]
	}
	if parent == "" {
		return seg
	}
	return parent + "." + seg
}

func (c *codec) decodeStructure(p *param, sh *awsmodel.Shape, keyPrefix, path string) (map[string]any, error) {
	out := make(map[string]any, len(p.children))
	if len(p.children) > 0 {
		for _, name := range sh.MemberOrder {
			ref := sh.Members[name]
			key := c.memberKey(name, ref)
			child := p.child(key)
			if child == nil {
				continue
			}
			v, err := c.decodeValue(child, ref, keyPrefix+key, c.memberPath(path, key, name))
			if err != nil {
				return nil, err
			}
			if v != nil {
				out[name] = v
			}
		}
	}
	for _, name := range sh.Required {
		if _, ok := out[name]; ok {
			continue
		}
		ref := sh.Members[name]
		if ref == nil || ref.IdempotencyToken {
			continue
		}
		key := c.memberKey(name, ref)
		return nil, c.missing(keyPrefix+key, c.memberPath(path, key, name))
	}
	return out, nil
}

// missing words a required member's absence as each family does: EC2 names
// the form key, the query services the member path.
func (c *codec) missing(key, path string) *awserr.Error {
	if c.ec2 {
		return awserr.Missing(key)
	}
	return &awserr.Error{Kind: awserr.MissingParameter, Message: fmt.Sprintf("1 validation error detected: Value null at '%s' failed to satisfy constraint: Member must not be null", path)}
}

// decodeValue reads one member's node into its document type. key is the
// member's full form key and path its lowerCamel member path, for errors.
func (c *codec) decodeValue(p *param, ref *awsmodel.Ref, key, path string) (any, error) {
	sh := ref.Shape
	switch sh.Type {
	case "structure":
		return c.decodeStructure(p, sh, key+".", path)
	case "list":
		return c.decodeList(p, ref, key, path)
	case "map":
		return c.decodeMap(p, ref, key, path)
	}
	if !p.hasValue {
		return nil, awserr.Validationf("Invalid value for %s: a %s is expected, not a structure", c.errName(key, path), sh.Type)
	}
	v, err := xmlshape.ParseScalar(ref, p.value, wire.ISO8601, c.errName(key, path))
	if err != nil {
		return nil, err
	}
	return v, nil
}

func (c *codec) errName(key, path string) string {
	if c.ec2 {
		return key
	}
	return path
}

func (c *codec) decodeList(p *param, ref *awsmodel.Ref, key, path string) (any, error) {
	member := ref.Shape.Member
	if member == nil {
		return nil, nil
	}
	items := p
	if !c.ec2 && !ref.Flattened && !ref.Shape.Flattened {
		name := member.LocationName
		if name == "" {
			name = "member"
		}
		items = p.child(name)
		key += "." + name
		if !c.ec2 {
			path += "." + name
		}
	}
	indexes, err := indexed(items, key)
	if err != nil {
		return nil, err
	}
	out := make([]any, 0, len(indexes))
	for _, seg := range indexes {
		v, err := c.decodeValue(items.children[seg], member, key+"."+seg, path+"."+seg)
		if err != nil {
			return nil, err
		}
		if v == nil {
			v = map[string]any{}
		}
		out = append(out, v)
	}
	return checked(ref, out, c.errName(key, path))
}

func (c *codec) decodeMap(p *param, ref *awsmodel.Ref, key, path string) (any, error) {
	sh := ref.Shape
	if sh.Key == nil || sh.Value == nil {
		return nil, nil
	}
	entries := p
	if !c.ec2 && !ref.Flattened && !sh.Flattened {
		entries = p.child("entry")
		key += ".entry"
	}
	indexes, err := indexed(entries, key)
	if err != nil {
		return nil, err
	}
	keyName, valueName := xmlshape.ElementName("key", sh.Key), xmlshape.ElementName("value", sh.Value)
	out := make(map[string]any, len(indexes))
	for _, seg := range indexes {
		entry := entries.children[seg]
		entryKey := key + "." + seg
		k := entry.child(keyName)
		if k == nil || !k.hasValue {
			return nil, awserr.Validationf("Invalid value for %s: a map entry needs a %s", entryKey, keyName)
		}
		vp := entry.child(valueName)
		if vp == nil {
			return nil, awserr.Validationf("Invalid value for %s: a map entry needs a %s", entryKey, valueName)
		}
		v, err := c.decodeValue(vp, sh.Value, entryKey+"."+valueName, path+"."+k.value)
		if err != nil {
			return nil, err
		}
		if v == nil {
			v = map[string]any{}
		}
		out[k.value] = v
	}
	return checked(ref, out, c.errName(key, path))
}

// indexed lists the position segments of a list or map node in numeric
// order. A node with no children is an empty list ("Tags=" is how SDKs send
// one). Positions are decimal numbers from 1 without leading zeros, so that
// "1" and "01" cannot name the same item twice.
func indexed(p *param, key string) ([]string, error) {
	if p == nil || len(p.children) == 0 {
		return nil, nil
	}
	segs := make([]string, 0, len(p.children))
	for seg := range p.children {
		i, err := strconv.Atoi(seg)
		if err != nil || i < 1 || strconv.Itoa(i) != seg {
			return nil, awserr.Validationf("Invalid parameter %s.%s: list and map positions are numbers from 1", key, seg)
		}
		segs = append(segs, seg)
	}
	sort.Slice(segs, func(a, b int) bool {
		if len(segs[a]) != len(segs[b]) {
			return len(segs[a]) < len(segs[b])
		}
		return segs[a] < segs[b]
	})
	return segs, nil
}

func checked(ref *awsmodel.Ref, v any, name string) (any, error) {
	if msg := wire.Violation(ref.Shape, v); msg != "" {
		return nil, awserr.Validationf("1 validation error detected: Value %s at '%s' failed to satisfy constraint: %s", wire.Quote(v), name, msg)
	}
	return v, nil
}

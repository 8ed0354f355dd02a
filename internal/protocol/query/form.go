package query

import (
	"bytes"
	"net/url"
	"strings"
)

// param is one node of the parameter tree a form body spells with dotted
// keys: "Tags.member.1.Key=a" becomes Tags -> member -> 1 -> Key = "a".
// Building the tree once lets decoding walk the model without scanning every
// key at every structure.
type param struct {
	value    string
	hasValue bool
	children map[string]*param
}

func (p *param) child(name string) *param {
	if p == nil || p.children == nil {
		return nil
	}
	return p.children[name]
}

// parseForm reads an application/x-www-form-urlencoded body (or query
// string) into a parameter tree. The first occurrence of a key wins, as with
// url.Values.Get. Pairs that do not unescape are reported.
func parseForm(root *param, form []byte) error {
	for len(form) > 0 {
		var pair []byte
		if i := bytes.IndexByte(form, '&'); i >= 0 {
			pair, form = form[:i], form[i+1:]
		} else {
			pair, form = form, nil
		}
		if len(pair) == 0 {
			continue
		}
		rawKey, rawValue := pair, []byte(nil)
		if i := bytes.IndexByte(pair, '='); i >= 0 {
			rawKey, rawValue = pair[:i], pair[i+1:]
		}
		key, err := unescape(rawKey)
		if err != nil {
			return err
		}
		value, err := unescape(rawValue)
		if err != nil {
			return err
		}
		insert(root, key, value)
	}
	return nil
}

func insert(root *param, key, value string) {
	n := root
	for key != "" {
		var part string
		if i := strings.IndexByte(key, '.'); i >= 0 {
			part, key = key[:i], key[i+1:]
		} else {
			part, key = key, ""
		}
		if n.children == nil {
			n.children = make(map[string]*param, 4)
		}
		c := n.children[part]
		if c == nil {
			c = &param{}
			n.children[part] = c
		}
		n = c
	}
	if !n.hasValue {
		n.value, n.hasValue = value, true
	}
}

// unescape decodes a form component, skipping the allocation-heavy general
// path for the plain ASCII that most keys and many values are.
func unescape(b []byte) (string, error) {
	if bytes.IndexByte(b, '%') < 0 && bytes.IndexByte(b, '+') < 0 {
		return string(b), nil
	}
	return url.QueryUnescape(string(b))
}

// escapesValid reports whether every %-escape of a form is complete (a %
// and two hex digits): the one way url.QueryUnescape, and so parseForm,
// rejects a form component.
func escapesValid(form []byte) bool {
	for i := 0; i < len(form); i++ {
		if form[i] != '%' {
			continue
		}
		if i+2 >= len(form) || !isHex(form[i+1]) || !isHex(form[i+2]) {
			return false
		}
		i += 2
	}
	return true
}

func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

// rawFormValue finds the first value of key in a form body, still escaped:
// Resolve needs only Action, and mostly without a copy.
func rawFormValue(form []byte, key string) ([]byte, bool) {
	for len(form) > 0 {
		var pair []byte
		if i := bytes.IndexByte(form, '&'); i >= 0 {
			pair, form = form[:i], form[i+1:]
		} else {
			pair, form = form, nil
		}
		if len(pair) > len(key) && pair[len(key)] == '=' && string(pair[:len(key)]) == key {
			return pair[len(key)+1:], true
		}
	}
	return nil, false
}

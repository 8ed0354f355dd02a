package policy

import "strings"

// Context is a request's condition keys and their values. Keys are stored
// lower-cased, since condition keys are case-insensitive; a key with no
// values is absent.
type Context map[string][]string

// Set sets key to values (replacing any earlier ones); no values removes it.
func (c Context) Set(key string, values ...string) {
	k := strings.ToLower(key)
	if len(values) == 0 {
		delete(c, k)
		return
	}
	c[k] = values
}

// Get returns a key's values.
func (c Context) Get(key string) []string { return c[strings.ToLower(key)] }

func (c Context) values(lowerKey string) ([]string, bool) {
	v, ok := c[lowerKey]
	return v, ok && len(v) > 0
}

// expand substitutes policy variables (${aws:username}, ${aws:PrincipalTag/team},
// ${key, 'default'}, and the escapes ${*}, ${?}, ${$}) in s. ok is false when
// a variable has no value and no default: the element then matches nothing.
func expand(s string, ctx Context) (string, bool) {
	if !strings.Contains(s, "${") {
		return s, true
	}
	var b strings.Builder
	for {
		i := strings.Index(s, "${")
		if i < 0 {
			b.WriteString(s)
			return b.String(), true
		}
		j := strings.IndexByte(s[i:], '}')
		if j < 0 {
			b.WriteString(s)
			return b.String(), true
		}
		b.WriteString(s[:i])
		inner := strings.TrimSpace(s[i+2 : i+j])
		s = s[i+j+1:]
		switch inner {
		case "*", "?", "$":
			b.WriteString(inner)
			continue
		}
		key, def, hasDef := strings.Cut(inner, ",")
		key = strings.TrimSpace(key)
		if vals, ok := ctx.values(strings.ToLower(key)); ok && len(vals) == 1 {
			b.WriteString(vals[0])
			continue
		}
		if !hasDef {
			return "", false
		}
		def = strings.TrimSpace(def)
		b.WriteString(strings.Trim(def, "'"))
	}
}

// expandAll expands each value, dropping those whose variables are unset.
func expandAll(vals []string, ctx Context) []string {
	need := false
	for _, v := range vals {
		if strings.Contains(v, "${") {
			need = true
			break
		}
	}
	if !need {
		return vals
	}
	out := make([]string, 0, len(vals))
	for _, v := range vals {
		if e, ok := expand(v, ctx); ok {
			out = append(out, e)
		}
	}
	return out
}

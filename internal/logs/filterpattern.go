package logs

import (
	"bytes"
	"fmt"
	"math"
	"strconv"
	"strings"
	"unicode"
)

// parseFilterPattern compiles a CloudWatch Logs filter pattern. It
// understands the two forms events are usually searched with:
//
//   - terms: ERROR (the message contains it, case-sensitively), "quoted
//     phrases", ?alternatives (at least one of them), -exclusions (none of
//     them); every plain term must be present;
//   - JSON: { $.level = "error" && ($.latency > 100 || $.retry IS TRUE) },
//     with =, !=, <, <=, >, >=, * wildcards in string values, IS TRUE,
//     IS FALSE, IS NULL and NOT EXISTS.
//
// An empty pattern matches every event (nil matcher). Space-delimited
// ([a, b]) and regular-expression (%re%) patterns are refused.
func parseFilterPattern(p string) (matcher, error) {
	p = strings.TrimSpace(p)
	switch {
	case p == "":
		return nil, nil
	case strings.HasPrefix(p, "{"):
		return parseJSONPattern(p)
	case strings.HasPrefix(p, "["):
		return nil, fmt.Errorf("space-delimited filter patterns are not supported")
	case strings.HasPrefix(p, "%"):
		return nil, fmt.Errorf("regular-expression filter patterns are not supported")
	}
	return parseTermPattern(p)
}

// termPattern matches unstructured events by their terms.
type termPattern struct {
	all  [][]byte // every one must be present
	any  [][]byte // when given, at least one must be present
	none [][]byte // none may be present
}

func parseTermPattern(p string) (*termPattern, error) {
	t := &termPattern{}
	for i := 0; i < len(p); {
		if p[i] == ' ' || p[i] == '\t' {
			i++
			continue
		}
		list := &t.all
		switch p[i] {
		case '?':
			list = &t.any
			i++
		case '-':
			list = &t.none
			i++
		}
		var term string
		if i < len(p) && p[i] == '"' {
			end := i + 1
			var b strings.Builder
			for ; end < len(p) && p[end] != '"'; end++ {
				if p[end] == '\\' && end+1 < len(p) {
					end++
				}
				b.WriteByte(p[end])
			}
			if end >= len(p) {
				return nil, fmt.Errorf("unterminated quoted term in filter pattern")
			}
			term, i = b.String(), end+1
		} else {
			end := i
			for end < len(p) && p[end] != ' ' && p[end] != '\t' {
				end++
			}
			term, i = p[i:end], end
		}
		if term == "" {
			return nil, fmt.Errorf("empty term in filter pattern")
		}
		*list = append(*list, []byte(term))
	}
	return t, nil
}

func (t *termPattern) match(msg []byte) bool {
	for _, term := range t.all {
		if !bytes.Contains(msg, term) {
			return false
		}
	}
	for _, term := range t.none {
		if bytes.Contains(msg, term) {
			return false
		}
	}
	if len(t.any) == 0 {
		return true
	}
	for _, term := range t.any {
		if bytes.Contains(msg, term) {
			return true
		}
	}
	return false
}

// jsonPattern matches events whose message is a JSON object.
type jsonPattern struct {
	expr jsonExpr
}

func (j *jsonPattern) match(msg []byte) bool {
	i := skipSpace(msg, 0)
	if i >= len(msg) || msg[i] != '{' {
		return false
	}
	return j.expr.eval(msg[i:])
}

type jsonExpr interface {
	eval(msg []byte) bool
}

type jsonAnd struct{ l, r jsonExpr }
type jsonOr struct{ l, r jsonExpr }

func (e jsonAnd) eval(msg []byte) bool { return e.l.eval(msg) && e.r.eval(msg) }
func (e jsonOr) eval(msg []byte) bool  { return e.l.eval(msg) || e.r.eval(msg) }

// selector step: a member name or an array index.
type selectorStep struct {
	name  string
	index int // used when name is ""
}

type jsonComparison struct {
	selector []selectorStep
	op       string // =, !=, <, <=, >, >=, IS, EXISTS, NOT EXISTS
	str      string // string operand (may hold * wildcards)
	num      float64
	isNum    bool
	is       string // TRUE, FALSE, NULL for IS
}

func (c jsonComparison) eval(msg []byte) bool {
	raw, found := scanMember(msg, c.selector)
	switch c.op {
	case "NOT EXISTS":
		return !found
	case "EXISTS":
		return found
	}
	if !found {
		return false
	}
	v, ok := parseScalar(raw)
	if !ok {
		return false
	}
	if c.op == "IS" {
		switch c.is {
		case "NULL":
			return v.kind == 'z'
		case "TRUE":
			return v.kind == 't'
		case "FALSE":
			return v.kind == 'f'
		}
		return false
	}
	if c.isNum {
		if v.kind != 'n' {
			return false
		}
		f := v.num
		switch c.op {
		case "=":
			return f == c.num
		case "!=":
			return f != c.num
		case "<":
			return f < c.num
		case "<=":
			return f <= c.num
		case ">":
			return f > c.num
		case ">=":
			return f >= c.num
		}
		return false
	}
	if v.kind != 's' && v.kind != 'n' {
		return false
	}
	var eq bool
	if strings.Contains(c.str, "*") {
		eq = wildcardMatch(c.str, string(v.str))
	} else {
		eq = string(v.str) == c.str // compared without converting (allocating)
	}
	switch c.op {
	case "=":
		return eq
	case "!=":
		return !eq
	}
	return false
}

// wildcardMatch compares s with a pattern whose * matches any run of
// characters.
func wildcardMatch(pattern, s string) bool {
	parts := strings.Split(pattern, "*")
	if len(parts) == 1 {
		return pattern == s
	}
	if !strings.HasPrefix(s, parts[0]) {
		return false
	}
	s = s[len(parts[0]):]
	last := parts[len(parts)-1]
	for _, part := range parts[1 : len(parts)-1] {
		i := strings.Index(s, part)
		if i < 0 {
			return false
		}
		s = s[i+len(part):]
	}
	return len(s) >= len(last) && strings.HasSuffix(s, last)
}

// jsonParser is a recursive-descent parser over the pattern text between
// the braces:
//
//	expr := and { "||" and }
//	and  := unary { "&&" unary }
//	unary := "(" expr ")" | comparison
type jsonParser struct {
	s   string
	pos int
}

func parseJSONPattern(p string) (*jsonPattern, error) {
	if !strings.HasSuffix(p, "}") {
		return nil, fmt.Errorf("JSON filter pattern must end with }")
	}
	ps := &jsonParser{s: p[1 : len(p)-1]}
	e, err := ps.expr()
	if err != nil {
		return nil, err
	}
	ps.space()
	if ps.pos != len(ps.s) {
		return nil, fmt.Errorf("unexpected %q in JSON filter pattern", ps.s[ps.pos:])
	}
	return &jsonPattern{expr: e}, nil
}

func (p *jsonParser) space() {
	for p.pos < len(p.s) && unicode.IsSpace(rune(p.s[p.pos])) {
		p.pos++
	}
}

func (p *jsonParser) eat(tok string) bool {
	p.space()
	if strings.HasPrefix(p.s[p.pos:], tok) {
		p.pos += len(tok)
		return true
	}
	return false
}

func (p *jsonParser) expr() (jsonExpr, error) {
	l, err := p.and()
	if err != nil {
		return nil, err
	}
	for p.eat("||") {
		r, err := p.and()
		if err != nil {
			return nil, err
		}
		l = jsonOr{l, r}
	}
	return l, nil
}

func (p *jsonParser) and() (jsonExpr, error) {
	l, err := p.unary()
	if err != nil {
		return nil, err
	}
	for p.eat("&&") {
		r, err := p.unary()
		if err != nil {
			return nil, err
		}
		l = jsonAnd{l, r}
	}
	return l, nil
}

func (p *jsonParser) unary() (jsonExpr, error) {
	if p.eat("(") {
		e, err := p.expr()
		if err != nil {
			return nil, err
		}
		if !p.eat(")") {
			return nil, fmt.Errorf("missing ) in JSON filter pattern")
		}
		return e, nil
	}
	return p.comparison()
}

func (p *jsonParser) comparison() (jsonExpr, error) {
	sel, err := p.selector()
	if err != nil {
		return nil, err
	}
	c := jsonComparison{selector: sel}
	p.space()
	rest := p.s[p.pos:]
	upper := strings.ToUpper(rest)
	switch {
	case strings.HasPrefix(upper, "NOT EXISTS"):
		p.pos += len("NOT EXISTS")
		c.op = "NOT EXISTS"
		return c, nil
	case strings.HasPrefix(upper, "EXISTS"):
		p.pos += len("EXISTS")
		c.op = "EXISTS"
		return c, nil
	case strings.HasPrefix(upper, "IS "):
		p.pos += len("IS ")
		p.space()
		word := strings.ToUpper(p.word())
		if word != "TRUE" && word != "FALSE" && word != "NULL" {
			return nil, fmt.Errorf("IS must be followed by TRUE, FALSE or NULL in JSON filter pattern")
		}
		c.op, c.is = "IS", word
		return c, nil
	}
	for _, op := range []string{"!=", "<=", ">=", "=", "<", ">"} {
		if strings.HasPrefix(rest, op) {
			c.op = op
			p.pos += len(op)
			break
		}
	}
	if c.op == "" {
		return nil, fmt.Errorf("expected a comparison after selector in JSON filter pattern")
	}
	p.space()
	if p.pos < len(p.s) && p.s[p.pos] == '"' {
		s, err := p.quoted()
		if err != nil {
			return nil, err
		}
		c.str = s
	} else {
		w := p.word()
		if w == "" {
			return nil, fmt.Errorf("missing value after %s in JSON filter pattern", c.op)
		}
		if f, err := strconv.ParseFloat(w, 64); err == nil && !math.IsInf(f, 0) && !math.IsNaN(f) {
			c.num, c.isNum = f, true
		} else {
			c.str = w
		}
	}
	if !c.isNum && c.op != "=" && c.op != "!=" {
		return nil, fmt.Errorf("%s needs a numeric value in JSON filter pattern", c.op)
	}
	return c, nil
}

// word reads a bare value: up to a space, a parenthesis or an operator.
func (p *jsonParser) word() string {
	start := p.pos
	for p.pos < len(p.s) {
		ch := p.s[p.pos]
		if unicode.IsSpace(rune(ch)) || ch == ')' || ch == '(' || ch == '&' || ch == '|' {
			break
		}
		p.pos++
	}
	return p.s[start:p.pos]
}

func (p *jsonParser) quoted() (string, error) {
	var b strings.Builder
	p.pos++ // opening quote
	for p.pos < len(p.s) {
		ch := p.s[p.pos]
		p.pos++
		switch ch {
		case '"':
			return b.String(), nil
		case '\\':
			if p.pos < len(p.s) {
				b.WriteByte(p.s[p.pos])
				p.pos++
			}
		default:
			b.WriteByte(ch)
		}
	}
	return "", fmt.Errorf("unterminated string in JSON filter pattern")
}

func (p *jsonParser) selector() ([]selectorStep, error) {
	p.space()
	if p.pos >= len(p.s) || p.s[p.pos] != '$' {
		return nil, fmt.Errorf("JSON filter pattern selectors start with $")
	}
	p.pos++
	var steps []selectorStep
	for p.pos < len(p.s) {
		switch p.s[p.pos] {
		case '.':
			p.pos++
			start := p.pos
			for p.pos < len(p.s) && isSelectorChar(p.s[p.pos]) {
				p.pos++
			}
			if p.pos == start {
				return nil, fmt.Errorf("empty member name in JSON filter pattern selector")
			}
			steps = append(steps, selectorStep{name: p.s[start:p.pos]})
		case '[':
			end := strings.IndexByte(p.s[p.pos:], ']')
			if end < 0 {
				return nil, fmt.Errorf("missing ] in JSON filter pattern selector")
			}
			n, err := strconv.Atoi(p.s[p.pos+1 : p.pos+end])
			if err != nil {
				return nil, fmt.Errorf("bad array index in JSON filter pattern selector: %w", err)
			}
			steps = append(steps, selectorStep{index: n})
			p.pos += end + 1
		default:
			if len(steps) == 0 {
				return nil, fmt.Errorf("JSON filter pattern selector names no member")
			}
			return steps, nil
		}
	}
	if len(steps) == 0 {
		return nil, fmt.Errorf("JSON filter pattern selector names no member")
	}
	return steps, nil
}

func isSelectorChar(c byte) bool {
	return c == '_' || c == '-' || c == '@' || c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z'
}

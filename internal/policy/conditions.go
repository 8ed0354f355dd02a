package policy

import (
	"encoding/base64"
	"net/netip"
	"strconv"
	"strings"
	"time"
)

// SetQualifier is a condition operator's ForAnyValue: or ForAllValues:
// prefix, for keys with several values in one request.
type SetQualifier int

const (
	Single       SetQualifier = iota // no prefix
	ForAnyValue                      // true if any request value matches
	ForAllValues                     // true if every request value matches (and when there are none)
)

// Operator is a parsed condition operator such as ForAnyValue:StringLikeIfExists.
type Operator struct {
	Name     string // as written, for messages
	Base     string // StringLike
	Set      SetQualifier
	IfExists bool
}

// Condition is one key of one operator block: every Condition of a
// statement must hold (AND); any of its Values may match (OR).
type Condition struct {
	Operator Operator
	Key      string // lower-cased: condition keys are case-insensitive
	Values   []string

	nums  []float64
	dates []time.Time
	nets  []netip.Prefix
}

// operatorKinds lists the base operators and whether each is a negation
// (true when the key is absent, and true only if no value matches).
var operatorKinds = map[string]bool{
	"StringEquals": false, "StringNotEquals": true, "StringEqualsIgnoreCase": false,
	"StringNotEqualsIgnoreCase": true, "StringLike": false, "StringNotLike": true,
	"NumericEquals": false, "NumericNotEquals": true, "NumericLessThan": false,
	"NumericLessThanEquals": false, "NumericGreaterThan": false, "NumericGreaterThanEquals": false,
	"DateEquals": false, "DateNotEquals": true, "DateLessThan": false, "DateLessThanEquals": false,
	"DateGreaterThan": false, "DateGreaterThanEquals": false,
	"Bool": false, "BinaryEquals": false, "IpAddress": false, "NotIpAddress": true,
	"ArnEquals": false, "ArnLike": false, "ArnNotEquals": true, "ArnNotLike": true,
	"Null": false,
}

func parseOperator(name string) (Operator, error) {
	op := Operator{Name: name}
	rest := name
	if r, ok := strings.CutPrefix(rest, "ForAnyValue:"); ok {
		op.Set, rest = ForAnyValue, r
	} else if r, ok := strings.CutPrefix(rest, "ForAllValues:"); ok {
		op.Set, rest = ForAllValues, r
	}
	if r, ok := strings.CutSuffix(rest, "IfExists"); ok && rest != "Null" {
		op.IfExists, rest = true, r
	}
	if _, ok := operatorKinds[rest]; !ok {
		return op, malformed("Invalid Condition type : %s.", name)
	}
	if rest == "Null" && (op.IfExists || op.Set != Single) {
		return op, malformed("Invalid Condition type : %s.", name)
	}
	op.Base = rest
	return op, nil
}

func (c *Condition) negated() bool { return operatorKinds[c.Operator.Base] }

// compile checks the values' syntax for the operator and pre-parses them.
func (c *Condition) compile() error {
	bad := func() error {
		return malformed("Invalid Condition value for %s: %s", c.Operator.Name, strings.Join(c.Values, ","))
	}
	switch {
	case strings.HasPrefix(c.Operator.Base, "Numeric"):
		for _, v := range c.Values {
			if strings.Contains(v, "${") {
				continue
			}
			f, err := strconv.ParseFloat(v, 64)
			if err != nil {
				return bad()
			}
			c.nums = append(c.nums, f)
		}
	case strings.HasPrefix(c.Operator.Base, "Date"):
		for _, v := range c.Values {
			t, ok := parseDate(v)
			if !ok {
				return bad()
			}
			c.dates = append(c.dates, t)
		}
	case c.Operator.Base == "IpAddress" || c.Operator.Base == "NotIpAddress":
		for _, v := range c.Values {
			p, ok := parseNet(v)
			if !ok {
				return bad()
			}
			c.nets = append(c.nets, p)
		}
	case c.Operator.Base == "Bool" || c.Operator.Base == "Null":
		for _, v := range c.Values {
			if !strings.EqualFold(v, "true") && !strings.EqualFold(v, "false") {
				return bad()
			}
		}
	}
	return nil
}

func parseDate(s string) (time.Time, bool) {
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05Z0700", "2006-01-02T15:04Z07:00", "2006-01-02"} {
		if t, err := time.Parse(layout, s); err == nil {
			return t, true
		}
	}
	if n, err := strconv.ParseInt(s, 10, 64); err == nil {
		return time.Unix(n, 0).UTC(), true
	}
	return time.Time{}, false
}

func parseNet(s string) (netip.Prefix, bool) {
	if p, err := netip.ParsePrefix(s); err == nil {
		return p.Masked(), true
	}
	if a, err := netip.ParseAddr(s); err == nil {
		return netip.PrefixFrom(a, a.BitLen()), true
	}
	return netip.Prefix{}, false
}

// eval decides the condition against the request context.
func (c *Condition) eval(ctx Context, expand bool) bool {
	vals, present := ctx.values(c.Key)
	if c.Operator.Base == "Null" {
		// "true" means the key must be absent.
		want := strings.EqualFold(c.Values[0], "true")
		return want == !present
	}
	if !present || len(vals) == 0 {
		switch {
		case c.Operator.IfExists:
			return true
		case c.Operator.Set == ForAllValues:
			return true
		case c.Operator.Set == ForAnyValue:
			return false
		}
		return c.negated()
	}
	policyVals := c.Values
	if expand {
		policyVals = expandAll(c.Values, ctx)
	}
	switch c.Operator.Set {
	case ForAllValues:
		for _, v := range vals {
			if !c.matchOne(v, policyVals) {
				return false
			}
		}
		return true
	case ForAnyValue:
		for _, v := range vals {
			if c.matchOne(v, policyVals) {
				return true
			}
		}
		return false
	}
	// A single-valued operator given several request values holds if
	// any of them does.
	for _, v := range vals {
		if c.matchOne(v, policyVals) {
			return true
		}
	}
	return false
}

// matchOne reports whether one request value satisfies the operator
// against the policy's values: for positive operators, some value matches;
// for negations, none does.
func (c *Condition) matchOne(v string, policyVals []string) bool {
	neg := c.negated()
	hit := c.anyMatches(v, policyVals)
	if neg {
		return !hit
	}
	return hit
}

// anyMatches applies the positive form of the operator.
func (c *Condition) anyMatches(v string, policyVals []string) bool {
	switch c.Operator.Base {
	case "StringEquals", "StringNotEquals":
		for _, p := range policyVals {
			if v == p {
				return true
			}
		}
	case "StringEqualsIgnoreCase", "StringNotEqualsIgnoreCase":
		for _, p := range policyVals {
			if strings.EqualFold(v, p) {
				return true
			}
		}
	case "StringLike", "StringNotLike":
		for _, p := range policyVals {
			if Glob(p, v) {
				return true
			}
		}
	case "ArnEquals", "ArnNotEquals", "ArnLike", "ArnNotLike":
		for _, p := range policyVals {
			if ArnMatch(p, v) {
				return true
			}
		}
	case "Bool":
		for _, p := range policyVals {
			if strings.EqualFold(v, p) {
				return true
			}
		}
	case "BinaryEquals":
		got, err := base64.StdEncoding.DecodeString(v)
		for _, p := range policyVals {
			want, perr := base64.StdEncoding.DecodeString(p)
			if err == nil && perr == nil && string(got) == string(want) {
				return true
			}
		}
	case "IpAddress", "NotIpAddress":
		a, err := netip.ParseAddr(v)
		if err != nil {
			return false
		}
		a = a.Unmap()
		for _, n := range c.nets {
			if n.Contains(a) {
				return true
			}
		}
	default:
		if strings.HasPrefix(c.Operator.Base, "Numeric") {
			return c.numeric(v, policyVals)
		}
		if strings.HasPrefix(c.Operator.Base, "Date") {
			return c.date(v)
		}
	}
	return false
}

func (c *Condition) numeric(v string, policyVals []string) bool {
	got, err := strconv.ParseFloat(v, 64)
	if err != nil {
		return false
	}
	nums := c.nums
	if len(nums) != len(policyVals) {
		// Some values were policy variables: parse what they became.
		nums = nums[:0:0]
		for _, p := range policyVals {
			if f, err := strconv.ParseFloat(p, 64); err == nil {
				nums = append(nums, f)
			}
		}
	}
	for _, want := range nums {
		if compare(c.Operator.Base, "Numeric", cmpFloat(got, want)) {
			return true
		}
	}
	return false
}

func (c *Condition) date(v string) bool {
	got, ok := parseDate(v)
	if !ok {
		return false
	}
	for _, want := range c.dates {
		if compare(c.Operator.Base, "Date", got.Compare(want)) {
			return true
		}
	}
	return false
}

func cmpFloat(a, b float64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// compare applies a Numeric* or Date* comparison to cmp(request, policy).
// Negations use the positive form (Equals) and are inverted by matchOne.
func compare(base, family string, cmp int) bool {
	switch strings.TrimPrefix(base, family) {
	case "Equals", "NotEquals":
		return cmp == 0
	case "LessThan":
		return cmp < 0
	case "LessThanEquals":
		return cmp <= 0
	case "GreaterThan":
		return cmp > 0
	case "GreaterThanEquals":
		return cmp >= 0
	}
	return false
}

// Package policy is IAM's policy language: it parses and validates policy
// documents and evaluates requests against them the way AWS does (explicit
// Deny wins, then Allow, else implicit deny) across identity policies,
// permissions boundaries, session policies and resource-based policies.
// It is pure logic: no I/O, no clock (the caller puts aws:CurrentTime in the
// request context), so it is tested and benchmarked alone.
package policy

import (
	"bytes"
	"encoding/json"
	"fmt"
	"sort"
	"strings"
)

// Effect is a statement's Allow or Deny.
type Effect string

const (
	Allow Effect = "Allow"
	Deny  Effect = "Deny"
)

// Versions of the policy language. Only 2012-10-17 expands policy
// variables; 2008-10-17 treats ${...} literally, as AWS does.
const (
	Version2012 = "2012-10-17"
	Version2008 = "2008-10-17"
)

// Policy is a parsed policy document.
type Policy struct {
	// Name labels the policy in denial messages and simulation results (a
	// managed policy's ARN, or an inline policy's name); it is not part of
	// the document.
	Name       string
	Version    string
	ID         string
	Statements []*Statement
}

// Statement is one statement of a policy. Exactly one of Action and
// NotAction is set; Resource and NotResource at most one (trust policies
// have neither); Principal and NotPrincipal only in resource policies.
type Statement struct {
	Sid          string
	Effect       Effect
	Principal    *Principals
	NotPrincipal *Principals
	Action       []string
	NotAction    []string
	Resource     []string
	NotResource  []string
	Conditions   []Condition
	varsExpand   bool // the policy's Version expands ${...}
}

// Principals is a Principal or NotPrincipal element: "*" or a map of
// principal kinds (AWS, Service, Federated, CanonicalUser) to values.
type Principals struct {
	All           bool // "Principal": "*"
	AWS           []string
	Service       []string
	Federated     []string
	CanonicalUser []string
}

// MalformedError is a policy document AWS would refuse with
// MalformedPolicyDocument; Reason is AWS's wording of what is wrong.
type MalformedError struct{ Reason string }

func (e *MalformedError) Error() string { return "malformed policy document: " + e.Reason }

func malformed(format string, args ...any) error {
	return &MalformedError{Reason: fmt.Sprintf(format, args...)}
}

// Kind says where a document is used, which decides the elements it must
// and must not have.
type Kind int

const (
	// Identity policies (managed, inline, boundaries, session policies)
	// name actions and resources, never a principal.
	Identity Kind = iota
	// Resource policies (S3 bucket, Lambda function) name a principal.
	Resource
	// Trust policies (a role's AssumeRolePolicyDocument) name a principal
	// and no resource.
	Trust
)

// Parse parses and validates a policy document of the given kind.
func Parse(doc string, kind Kind) (*Policy, error) {
	dec := json.NewDecoder(strings.NewReader(doc))
	dec.UseNumber()
	var top map[string]json.RawMessage
	if err := dec.Decode(&top); err != nil {
		return nil, malformed("Syntax errors in policy.")
	}
	if dec.More() {
		return nil, malformed("Syntax errors in policy.")
	}
	p := &Policy{Version: Version2008}
	for k, raw := range top {
		switch k {
		case "Version":
			if err := json.Unmarshal(raw, &p.Version); err != nil {
				return nil, malformed("Syntax errors in policy.")
			}
			if p.Version != Version2012 && p.Version != Version2008 {
				return nil, malformed("The policy failed legacy parsing")
			}
		case "Id":
			if err := json.Unmarshal(raw, &p.ID); err != nil {
				return nil, malformed("Syntax errors in policy.")
			}
		case "Statement":
		default:
			return nil, malformed("Syntax errors in policy.")
		}
	}
	rawStmts, ok := top["Statement"]
	if !ok {
		return nil, malformed("Syntax errors in policy.")
	}
	var objs []map[string]json.RawMessage
	if bytes.HasPrefix(bytes.TrimSpace(rawStmts), []byte("[")) {
		if err := json.Unmarshal(rawStmts, &objs); err != nil {
			return nil, malformed("Syntax errors in policy.")
		}
	} else {
		var one map[string]json.RawMessage
		if err := json.Unmarshal(rawStmts, &one); err != nil || one == nil {
			return nil, malformed("Syntax errors in policy.")
		}
		objs = []map[string]json.RawMessage{one}
	}
	if len(objs) == 0 {
		return nil, malformed("Syntax errors in policy.")
	}
	sids := map[string]bool{}
	for _, obj := range objs {
		st, err := parseStatement(obj, kind)
		if err != nil {
			return nil, err
		}
		if st.Sid != "" {
			if sids[st.Sid] {
				return nil, malformed("Statement IDs (SID) in a single policy must be unique")
			}
			sids[st.Sid] = true
		}
		st.varsExpand = p.Version == Version2012
		p.Statements = append(p.Statements, st)
	}
	return p, nil
}

// MustParse parses a document known to be valid (built-in policies, tests).
func MustParse(doc string, kind Kind) *Policy {
	p, err := Parse(doc, kind)
	if err != nil {
		panic(fmt.Sprintf("policy.MustParse: %v", err))
	}
	return p
}

func parseStatement(obj map[string]json.RawMessage, kind Kind) (*Statement, error) {
	st := &Statement{}
	for k, raw := range obj {
		var err error
		switch k {
		case "Sid":
			if json.Unmarshal(raw, &st.Sid) != nil {
				return nil, malformed("Syntax errors in policy.")
			}
		case "Effect":
			var e string
			if json.Unmarshal(raw, &e) != nil {
				return nil, malformed("Syntax errors in policy.")
			}
			st.Effect = Effect(e)
		case "Action":
			st.Action, err = stringOrList(raw)
		case "NotAction":
			st.NotAction, err = stringOrList(raw)
		case "Resource":
			st.Resource, err = stringOrList(raw)
		case "NotResource":
			st.NotResource, err = stringOrList(raw)
		case "Principal":
			st.Principal, err = parsePrincipals(raw)
		case "NotPrincipal":
			st.NotPrincipal, err = parsePrincipals(raw)
		case "Condition":
			st.Conditions, err = parseConditions(raw)
		default:
			return nil, malformed("Syntax errors in policy.")
		}
		if err != nil {
			return nil, err
		}
	}
	return st, validateStatement(st, obj, kind)
}

func validateStatement(st *Statement, obj map[string]json.RawMessage, kind Kind) error {
	if st.Effect != Allow && st.Effect != Deny {
		return malformed("Syntax errors in policy.")
	}
	_, hasAction := obj["Action"]
	_, hasNotAction := obj["NotAction"]
	switch {
	case hasAction && hasNotAction:
		return malformed("Syntax errors in policy.")
	case !hasAction && !hasNotAction:
		return malformed("Policy statement must contain actions.")
	}
	for _, a := range append(append([]string{}, st.Action...), st.NotAction...) {
		if a == "*" {
			continue
		}
		svc, name, ok := strings.Cut(a, ":")
		if !ok || svc == "" || name == "" {
			return malformed("Actions/Conditions must be prefaced by a vendor, e.g., iam, sdb, ec2, etc.")
		}
		if strings.ContainsAny(svc, "*?") {
			return malformed("Vendor %s is not valid", svc)
		}
	}
	_, hasResource := obj["Resource"]
	_, hasNotResource := obj["NotResource"]
	if hasResource && hasNotResource {
		return malformed("Syntax errors in policy.")
	}
	hasPrincipal := st.Principal != nil || st.NotPrincipal != nil
	if st.Principal != nil && st.NotPrincipal != nil {
		return malformed("Syntax errors in policy.")
	}
	switch kind {
	case Identity:
		if hasPrincipal {
			return malformed("Policy document should not specify a principal.")
		}
		if !hasResource && !hasNotResource {
			return malformed("Policy statement must contain resources.")
		}
	case Resource:
		if !hasPrincipal {
			return malformed("Missing required field Principal")
		}
	case Trust:
		if !hasPrincipal {
			return malformed("Missing required field Principal")
		}
		if hasResource || hasNotResource {
			return malformed("Has prohibited field Resource")
		}
	}
	for _, r := range append(append([]string{}, st.Resource...), st.NotResource...) {
		if r != "*" && !strings.HasPrefix(r, "arn:") {
			return malformed("Resource %s must be in ARN format or \"*\".", r)
		}
	}
	for _, pr := range []*Principals{st.Principal, st.NotPrincipal} {
		if pr == nil {
			continue
		}
		for _, a := range pr.AWS {
			if a != "*" && !isAccountID(a) && !strings.HasPrefix(a, "arn:") {
				return malformed("Invalid principal in policy: \"AWS\":\"%s\"", a)
			}
		}
	}
	return nil
}

func isAccountID(s string) bool {
	if len(s) != 12 {
		return false
	}
	for _, c := range s {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

// stringOrList reads an element that is one string or a list of them.
func stringOrList(raw json.RawMessage) ([]string, error) {
	var one string
	if json.Unmarshal(raw, &one) == nil {
		return []string{one}, nil
	}
	var many []string
	if json.Unmarshal(raw, &many) != nil || len(many) == 0 {
		return nil, malformed("Syntax errors in policy.")
	}
	return many, nil
}

func parsePrincipals(raw json.RawMessage) (*Principals, error) {
	var star string
	if json.Unmarshal(raw, &star) == nil {
		if star != "*" {
			return nil, malformed("Invalid principal in policy: \"%s\"", star)
		}
		return &Principals{All: true}, nil
	}
	var m map[string]json.RawMessage
	if json.Unmarshal(raw, &m) != nil || len(m) == 0 {
		return nil, malformed("Syntax errors in policy.")
	}
	p := &Principals{}
	for k, v := range m {
		vals, err := stringOrList(v)
		if err != nil {
			return nil, err
		}
		switch k {
		case "AWS":
			p.AWS = vals
		case "Service":
			p.Service = vals
		case "Federated":
			p.Federated = vals
		case "CanonicalUser":
			p.CanonicalUser = vals
		default:
			return nil, malformed("Invalid principal in policy: \"%s\"", k)
		}
	}
	return p, nil
}

func parseConditions(raw json.RawMessage) ([]Condition, error) {
	var ops map[string]map[string]json.RawMessage
	if json.Unmarshal(raw, &ops) != nil {
		return nil, malformed("Syntax errors in policy.")
	}
	names := make([]string, 0, len(ops))
	for n := range ops {
		names = append(names, n)
	}
	sort.Strings(names)
	var out []Condition
	for _, name := range names {
		op, err := parseOperator(name)
		if err != nil {
			return nil, err
		}
		keys := make([]string, 0, len(ops[name]))
		for k := range ops[name] {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, key := range keys {
			if !strings.Contains(key, ":") {
				return nil, malformed("Actions/Conditions must be prefaced by a vendor, e.g., iam, sdb, ec2, etc.")
			}
			vals, err := conditionValues(ops[name][key])
			if err != nil {
				return nil, err
			}
			c := Condition{Operator: op, Key: strings.ToLower(key), Values: vals}
			if err := c.compile(); err != nil {
				return nil, err
			}
			out = append(out, c)
		}
	}
	return out, nil
}

// conditionValues reads a condition's values: strings, numbers or booleans,
// alone or in a list, all compared as text.
func conditionValues(raw json.RawMessage) ([]string, error) {
	var list []json.RawMessage
	if bytes.HasPrefix(bytes.TrimSpace(raw), []byte("[")) {
		if json.Unmarshal(raw, &list) != nil {
			return nil, malformed("Syntax errors in policy.")
		}
	} else {
		list = []json.RawMessage{raw}
	}
	out := make([]string, 0, len(list))
	for _, v := range list {
		var s string
		if json.Unmarshal(v, &s) == nil {
			out = append(out, s)
			continue
		}
		var b bool
		if json.Unmarshal(v, &b) == nil {
			out = append(out, fmt.Sprint(b))
			continue
		}
		var n json.Number
		if json.Unmarshal(v, &n) == nil {
			out = append(out, n.String())
			continue
		}
		return nil, malformed("Syntax errors in policy.")
	}
	return out, nil
}

package lambda

import (
	"regexp"
	"strconv"
	"strings"
)

var (
	functionNamePattern = regexp.MustCompile(`^[a-zA-Z0-9_-]{1,64}$`)
	qualifierPattern    = regexp.MustCompile(`^(\$LATEST|[a-zA-Z0-9_-]{1,128})$`)
	aliasPattern        = regexp.MustCompile(`^[a-zA-Z0-9_-]{1,128}$`)
	versionNumber       = regexp.MustCompile(`^[0-9]+$`)
	accountPattern      = regexp.MustCompile(`^\d{12}$`)
	rolePattern         = regexp.MustCompile(`^arn:(aws[a-zA-Z-]*)?:iam::\d{12}:role/?[a-zA-Z_0-9+=,.@\-_/]+$`)
)

// functionRef is a FunctionName parameter taken apart.
type functionRef struct {
	Name      string
	Qualifier string // "" when the name carries none
}

// parseFunctionName reads a function name as Lambda accepts it: NAME,
// NAME:QUALIFIER, ACCOUNT:function:NAME[:QUALIFIER] or
// arn:PARTITION:lambda:REGION:ACCOUNT:function:NAME[:QUALIFIER]. An ARN
// for another account or region names a function that is not here.
func parseFunctionName(account, region, s string) (functionRef, error) {
	parts := strings.Split(s, ":")
	var rest []string
	switch {
	case len(parts) >= 7 && parts[0] == "arn" && parts[2] == "lambda" && parts[5] == "function":
		if parts[3] != region || parts[4] != account {
			return functionRef{}, errFunctionNotFound(s)
		}
		rest = parts[6:]
	case len(parts) >= 3 && accountPattern.MatchString(parts[0]) && parts[1] == "function":
		if parts[0] != account {
			return functionRef{}, errFunctionNotFound(s)
		}
		rest = parts[2:]
	default:
		rest = parts
	}
	ref := functionRef{Name: rest[0]}
	if len(rest) == 2 {
		ref.Qualifier = rest[1]
	}
	if len(rest) > 2 || !functionNamePattern.MatchString(ref.Name) ||
		(len(rest) == 2 && !qualifierPattern.MatchString(ref.Qualifier)) {
		return functionRef{}, errValidation(s, "functionName",
			"Member must satisfy regular expression pattern: (arn:(aws[a-zA-Z-]*)?:lambda:)?([a-z]{2}(-gov)?-[a-z]+-\\d{1}:)?(\\d{12}:)?(function:)?([a-zA-Z0-9-_]+)(:(\\$LATEST|[a-zA-Z0-9-_]+))?")
	}
	return ref, nil
}

// withQualifier merges a Qualifier parameter into ref: Lambda refuses one
// that differs from the qualifier in the name.
func (r functionRef) withQualifier(q string) (functionRef, error) {
	switch {
	case q == "":
	case r.Qualifier == "":
		if !qualifierPattern.MatchString(q) {
			return r, errValidation(q, "qualifier", "Member must satisfy regular expression pattern: (|[a-zA-Z0-9$_-]+)")
		}
		r.Qualifier = q
	case r.Qualifier != q:
		return r, errInvalidParameter("The derived qualifier from the function name does not match the specified qualifier.")
	}
	return r, nil
}

// functionARN is the unqualified ARN of a function.
func functionARN(account, region, name string) string {
	return "arn:aws:lambda:" + region + ":" + account + ":function:" + name
}

// qualifiedARN adds a qualifier when there is one.
func qualifiedARN(account, region, name, qualifier string) string {
	if qualifier == "" {
		return functionARN(account, region, name)
	}
	return functionARN(account, region, name) + ":" + qualifier
}

func isVersionNumber(q string) bool { return versionNumber.MatchString(q) }

func versionString(n int) string { return strconv.Itoa(n) }

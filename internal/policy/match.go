package policy

import "strings"

// Glob matches s against a pattern where * matches any run of characters
// (including none) and ? exactly one, case-sensitively.
func Glob(pattern, s string) bool { return glob(pattern, s, false) }

// GlobFold is Glob without regard to case (actions are case-insensitive).
func GlobFold(pattern, s string) bool { return glob(pattern, s, true) }

func glob(p, s string, fold bool) bool {
	// Iterative matching with one backtrack point: linear for patterns
	// with a single star, and never exponential.
	pi, si := 0, 0
	star, mark := -1, 0
	for si < len(s) {
		if pi < len(p) && (p[pi] == '?' || eqByte(p[pi], s[si], fold)) {
			pi++
			si++
			continue
		}
		if pi < len(p) && p[pi] == '*' {
			star, mark = pi, si
			pi++
			continue
		}
		if star >= 0 {
			pi = star + 1
			mark++
			si = mark
			continue
		}
		return false
	}
	for pi < len(p) && p[pi] == '*' {
		pi++
	}
	return pi == len(p)
}

func eqByte(a, b byte, fold bool) bool {
	if a == b {
		return true
	}
	if !fold {
		return false
	}
	if 'A' <= a && a <= 'Z' {
		a += 'a' - 'A'
	}
	if 'A' <= b && b <= 'Z' {
		b += 'a' - 'A'
	}
	return a == b
}

// ArnMatch matches an ARN against a pattern component by component (the
// six colon-separated parts), each with * and ? wildcards, as ArnLike and
// ArnEquals do; the last component keeps any further colons.
func ArnMatch(pattern, arn string) bool {
	if pattern == "*" {
		return true
	}
	pp := strings.SplitN(pattern, ":", 6)
	ap := strings.SplitN(arn, ":", 6)
	if len(pp) != 6 || len(ap) != 6 {
		return false // not an ARN, or a pattern short of components
	}
	for i := range pp {
		if !Glob(pp[i], ap[i]) {
			return false
		}
	}
	return true
}

// actionMatches matches an action name such as ec2:RunInstances against a
// policy's pattern without regard to case.
func actionMatches(pattern, action string) bool {
	if pattern == "*" {
		return true
	}
	return GlobFold(pattern, action)
}

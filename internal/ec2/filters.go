package ec2

import (
	"strings"

	"github.com/nimbus-dev/nimbus/internal/awserr"
)

// Filter is EC2's Name/Values filter. Values may use * and ? wildcards.
type Filter struct {
	Name   string
	Values []string
}

// Tag is an EC2 tag.
type Tag struct {
	Key   string
	Value string
}

// TagSpecification tags a resource at creation.
type TagSpecification struct {
	ResourceType string
	Tags         []Tag
}

// tagsFor collects the tags of specs that apply to resourceType.
func tagsFor(specs []TagSpecification, resourceType string) ([]Tag, error) {
	var tags []Tag
	for _, s := range specs {
		if s.ResourceType != resourceType {
			return nil, awserr.New(awserr.Validation, "InvalidParameterValue",
				"'%s' is not a valid taggable resource type for this operation.", s.ResourceType)
		}
		tags = append(tags, s.Tags...)
	}
	return tags, nil
}

// matchAny reports whether v matches one of the filter values.
func matchAny(values []string, v string) bool {
	for _, want := range values {
		if want == v {
			return true
		}
		if strings.ContainsAny(want, "*?") && wildcardMatch(want, v) {
			return true
		}
	}
	return false
}

// wildcardMatch is EC2's filter matching: * is any run of characters and ?
// any one, "/" included (path.Match stops at "/", which breaks CIDR filters
// such as 172.31.*), and a backslash escapes the next character.
func wildcardMatch(pattern, s string) bool {
	p, str := []rune(pattern), []rune(s)
	var pi, si int
	star, mark := -1, 0
	for si < len(str) {
		switch {
		case pi < len(p) && p[pi] == '\\' && pi+1 < len(p) && p[pi+1] == str[si]:
			pi += 2
			si++
		case pi < len(p) && (p[pi] == '?' || (p[pi] != '*' && p[pi] != '\\' && p[pi] == str[si])):
			pi++
			si++
		case pi < len(p) && p[pi] == '*':
			star, mark = pi, si
			pi++
		case star >= 0:
			pi = star + 1
			mark++
			si = mark
		default:
			return false
		}
	}
	for pi < len(p) && p[pi] == '*' {
		pi++
	}
	return pi == len(p)
}

// fields answers a filter name for one resource: the values it has under that
// name (several for list-valued attributes), and whether the name is known.
type fields func(name string) ([]string, bool)

// matchFilters applies filters (AND across filters, OR within values).
func matchFilters(filters []Filter, f fields, tags []Tag) (bool, error) {
	for _, flt := range filters {
		var have []string
		switch {
		case strings.HasPrefix(flt.Name, "tag:"):
			k := strings.TrimPrefix(flt.Name, "tag:")
			for _, t := range tags {
				if t.Key == k {
					have = append(have, t.Value)
				}
			}
		case flt.Name == "tag-key":
			for _, t := range tags {
				have = append(have, t.Key)
			}
		case flt.Name == "tag-value":
			for _, t := range tags {
				have = append(have, t.Value)
			}
		default:
			vals, ok := f(flt.Name)
			if !ok {
				return false, awserr.New(awserr.Validation, "InvalidParameterValue",
					"The filter '%s' is invalid", flt.Name)
			}
			have = vals
		}
		hit := false
		for _, h := range have {
			if matchAny(flt.Values, h) {
				hit = true
				break
			}
		}
		if !hit {
			return false, nil
		}
	}
	return true, nil
}

// matching returns, in order, the items the filters match; fieldsOf and
// tagsOf give matchFilters what one item has.
func matching[T any](items []T, filters []Filter, fieldsOf func(T) fields, tagsOf func(T) []Tag) ([]T, error) {
	var out []T
	for _, item := range items {
		ok, err := matchFilters(filters, fieldsOf(item), tagsOf(item))
		if err != nil {
			return nil, err
		}
		if ok {
			out = append(out, item)
		}
	}
	return out, nil
}

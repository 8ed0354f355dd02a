package rest

import (
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/nimbus-dev/nimbus/internal/awserr"
	"github.com/nimbus-dev/nimbus/internal/awsmodel"
)

// validate checks a decoded document against the constraints of its
// shape: required members, enums, and min/max of lengths and values.
// Types were checked while decoding. Messages follow the wording of AWS's
// own validation errors ("Value null at 'FunctionName' failed to satisfy
// constraint: Member must not be null").
func validate(sh *awsmodel.Shape, v any, path string, depth int) *awserr.Error {
	if depth > maxJSONDepth || sh == nil {
		return nil
	}
	switch sh.Type {
	case "structure":
		doc, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		for _, m := range sh.MemberOrder {
			mv, present := doc[m]
			if !present || mv == nil {
				if sh.IsRequired(m) {
					return &awserr.Error{Kind: awserr.MissingParameter, Message: constraintMessage("null", jsonPath(path, m), "Member must not be null")}
				}
				continue
			}
			if err := validate(sh.Members[m].Shape, mv, jsonPath(path, m), depth+1); err != nil {
				return err
			}
		}
		return nil
	case "list":
		items, ok := v.([]any)
		if !ok {
			return nil
		}
		if err := checkRange(sh, float64(len(items)), "length", path, "list"); err != nil {
			return err
		}
		for i, item := range items {
			if err := validate(sh.Member.Shape, item, path+"."+strconv.Itoa(i+1)+".member", depth+1); err != nil {
				return err
			}
		}
		return nil
	case "map":
		fields, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		if err := checkRange(sh, float64(len(fields)), "length", path, "map"); err != nil {
			return err
		}
		for _, k := range sortedKeys(fields) {
			if err := validate(sh.Key.Shape, k, path+".key", depth+1); err != nil {
				return err
			}
			if err := validate(sh.Value.Shape, fields[k], path+"."+k, depth+1); err != nil {
				return err
			}
		}
		return nil
	case "string":
		s, ok := v.(string)
		if !ok {
			return nil
		}
		if len(sh.Enum) > 0 && !contains(sh.Enum, s) {
			return &awserr.Error{Kind: awserr.Validation, Message: constraintMessage(quote(s), path,
				"Member must satisfy enum value set: ["+strings.Join(sh.Enum, ", ")+"]")}
		}
		return checkRange(sh, float64(utf8.RuneCountInString(s)), "length", path, quote(s))
	case "blob":
		if _, streaming := v.(io.Reader); streaming {
			return nil
		}
		if b, ok := v.([]byte); ok {
			return checkRange(sh, float64(len(b)), "length", path, "blob")
		}
	case "integer", "long":
		if n, ok := v.(int64); ok {
			return checkRange(sh, float64(n), "value", path, strconv.FormatInt(n, 10))
		}
	case "float", "double":
		if f, ok := v.(float64); ok {
			return checkRange(sh, f, "value", path, formatFloat(f))
		}
	}
	return nil
}

func checkRange(sh *awsmodel.Shape, n float64, what, path, shown string) *awserr.Error {
	if sh.Min != nil && n < *sh.Min {
		return &awserr.Error{Kind: awserr.Validation, Message: constraintMessage(shown, path,
			fmt.Sprintf("Member must have %s greater than or equal to %s", what, formatFloat(*sh.Min)))}
	}
	if sh.Max != nil && n > *sh.Max {
		return &awserr.Error{Kind: awserr.Validation, Message: constraintMessage(shown, path,
			fmt.Sprintf("Member must have %s less than or equal to %s", what, formatFloat(*sh.Max)))}
	}
	return nil
}

func constraintMessage(value, path, constraint string) string {
	return fmt.Sprintf("1 validation error detected: Value %s at '%s' failed to satisfy constraint: %s", value, path, constraint)
}

func quote(s string) string {
	if len(s) > 256 {
		s = s[:256] + "..."
	}
	return "'" + s + "'"
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func sortedKeys(m map[string]any) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// canonical re-keys a handler's structure document by model member name,
// matching keys ignoring case; it returns doc itself when every key is
// already a member name.
func canonical(sh *awsmodel.Shape, doc map[string]any) map[string]any {
	exact := true
	for k := range doc {
		if _, ok := sh.Members[k]; !ok {
			exact = false
			break
		}
	}
	if exact {
		return doc
	}
	out := make(map[string]any, len(doc))
	for k, v := range doc {
		if name, _, ok := sh.MemberFold(k); ok {
			if _, taken := out[name]; !taken || k == name {
				out[name] = v
			}
		}
	}
	return out
}

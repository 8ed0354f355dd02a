package rest

import (
	"fmt"
	"io"
	"sort"
	"strconv"

	"github.com/nimbus-dev/nimbus/internal/awserr"
	"github.com/nimbus-dev/nimbus/internal/awsmodel"
	"github.com/nimbus-dev/nimbus/internal/protocol/wire"
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
		if err := violation(sh, items, path, "list"); err != nil {
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
		if err := violation(sh, fields, path, "map"); err != nil {
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
		return violation(sh, s, path, quote(s))
	case "blob":
		if _, streaming := v.(io.Reader); streaming {
			return nil
		}
		if b, ok := v.([]byte); ok {
			return violation(sh, b, path, "blob")
		}
	case "integer", "long":
		if n, ok := v.(int64); ok {
			return violation(sh, n, path, strconv.FormatInt(n, 10))
		}
	case "float", "double":
		if f, ok := v.(float64); ok {
			return violation(sh, f, path, wire.FormatFloat(f))
		}
	}
	return nil
}

// violation reports v breaking sh's enum, length or range constraint, with
// the value shown as shown.
func violation(sh *awsmodel.Shape, v any, path, shown string) *awserr.Error {
	if msg := wire.Violation(sh, v); msg != "" {
		return &awserr.Error{Kind: awserr.Validation, Message: constraintMessage(shown, path, msg)}
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

func sortedKeys(m map[string]any) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

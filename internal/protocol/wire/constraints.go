package wire

import (
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/nimbus-dev/nimbus/internal/awsmodel"
)

// Violation checks a decoded document value against its shape's enum, min
// and max constraints and returns the constraint it breaks, worded as AWS
// words it ("Member must have length less than or equal to 64"), or "".
// Patterns are not checked: the models carry Java regular expressions that
// Go's regexp does not always accept.
func Violation(sh *awsmodel.Shape, v any) string {
	switch sh.Type {
	case "string":
		s, _ := v.(string)
		if len(sh.Enum) > 0 && !contains(sh.Enum, s) {
			return "Member must satisfy enum value set: [" + strings.Join(sh.Enum, ", ") + "]"
		}
		return lengthViolation(sh, utf8.RuneCountInString(s))
	case "list":
		l, _ := v.([]any)
		return lengthViolation(sh, len(l))
	case "map":
		m, _ := v.(map[string]any)
		return lengthViolation(sh, len(m))
	case "blob":
		b, _ := v.([]byte)
		return lengthViolation(sh, len(b))
	case "integer", "long", "short", "byte", "float", "double":
		var f float64
		switch n := v.(type) {
		case int64:
			f = float64(n)
		case float64:
			f = n
		}
		if sh.Min != nil && f < *sh.Min {
			return "Member must have value greater than or equal to " + formatBound(*sh.Min)
		}
		if sh.Max != nil && f > *sh.Max {
			return "Member must have value less than or equal to " + formatBound(*sh.Max)
		}
	}
	return ""
}

func lengthViolation(sh *awsmodel.Shape, n int) string {
	if sh.Min != nil && float64(n) < *sh.Min {
		return "Member must have length greater than or equal to " + formatBound(*sh.Min)
	}
	if sh.Max != nil && float64(n) > *sh.Max {
		return "Member must have length less than or equal to " + formatBound(*sh.Max)
	}
	return ""
}

func formatBound(f float64) string { return strconv.FormatFloat(f, 'f', -1, 64) }

func contains(list []string, s string) bool {
	for _, e := range list {
		if e == s {
			return true
		}
	}
	return false
}

// Quote renders a value as AWS validation messages show it: strings in
// single quotes, numbers bare, lists and maps as a count.
func Quote(v any) string {
	switch x := v.(type) {
	case string:
		return "'" + x + "'"
	case int64:
		return "'" + strconv.FormatInt(x, 10) + "'"
	case float64:
		return "'" + FormatFloat(x) + "'"
	case bool:
		return "'" + strconv.FormatBool(x) + "'"
	case time.Time:
		return "'" + x.Format(time.RFC3339) + "'"
	case []any:
		return fmt.Sprintf("of %d items", len(x))
	case map[string]any:
		return fmt.Sprintf("of %d entries", len(x))
	}
	return "'...'"
}

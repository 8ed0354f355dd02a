package service

import (
	"encoding"
	"encoding/json"
	"math"
	"reflect"
	"strings"
	"sync"
	"time"
	"unicode/utf8"
)

// fromDocument fills dst, a settable value, from an input document value by
// reflection, with the result encoding/json gives when the document is
// marshalled and decoded into dst: members match exported fields by name,
// exactly or else without regard to case; numbers reach interface fields as
// float64; blobs are copied; timestamps pass through their JSON text. It
// replaces that round trip, which cost more than decoding the request.
//
// It reports false, leaving dst partly filled, wherever the round trip does
// something it does not copy (custom unmarshalers, ",string" fields,
// numbers that overflow, values JSON would reject or alter); the caller then
// decodes a fresh value through the round trip itself, so results and error
// messages stay exactly encoding/json's.
func fromDocument(dst reflect.Value, src any) bool {
	if src == nil {
		// JSON null leaves a fresh value at its zero.
		return true
	}
	t := dst.Type()
	if t.Kind() == reflect.Pointer {
		// JSON allocates the pointer and decodes into its target, through
		// the target's unmarshaler where it has one.
		p := reflect.New(t.Elem())
		if !fromDocument(p.Elem(), src) {
			return false
		}
		dst.Set(p)
		return true
	}
	if hasUnmarshaler(t) {
		return fromDocumentUnmarshaler(dst, src)
	}
	switch t.Kind() {
	case reflect.Interface:
		if t.NumMethod() != 0 {
			return false
		}
		v, ok := interfaceValue(src)
		if !ok {
			return false
		}
		if v != nil {
			dst.Set(reflect.ValueOf(v))
		}
		return true
	}
	switch s := src.(type) {
	case string:
		if t.Kind() != reflect.String || t == numberType || !utf8.ValidString(s) {
			return false
		}
		dst.SetString(s)
		return true
	case bool:
		if t.Kind() != reflect.Bool {
			return false
		}
		dst.SetBool(s)
		return true
	case int64:
		return setInt(dst, s)
	case int:
		return setInt(dst, int64(s))
	case float64:
		if t.Kind() != reflect.Float64 || math.IsNaN(s) || math.IsInf(s, 0) {
			// Integral floats decode into integers through JSON, and
			// float32 rounds through text: leave both to the round trip.
			return false
		}
		dst.SetFloat(s)
		return true
	case []byte:
		if t.Kind() != reflect.Slice || t.Elem() != byteType {
			return false
		}
		// JSON carries a blob as base64 and decodes it into a new slice;
		// a nil blob is null and leaves the field nil.
		if s != nil {
			dst.SetBytes(append([]byte{}, s...))
		}
		return true
	case []any:
		if t.Kind() != reflect.Slice || t.Elem().Kind() == reflect.Uint8 {
			return false
		}
		out := reflect.MakeSlice(t, len(s), len(s))
		for i, item := range s {
			if !fromDocument(out.Index(i), item) {
				return false
			}
		}
		dst.Set(out)
		return true
	case map[string]any:
		switch t.Kind() {
		case reflect.Struct:
			return fromDocumentStruct(dst, s)
		case reflect.Map:
			return fromDocumentMap(dst, s)
		}
	}
	return false
}

// fromDocumentUnmarshaler handles the one unmarshaler documents commonly
// meet, time.Time, through its own JSON methods so the location and
// precision come out as the round trip's do.
func fromDocumentUnmarshaler(dst reflect.Value, src any) bool {
	ts, ok := src.(time.Time)
	if !ok || dst.Type() != timeType {
		return false
	}
	text, err := ts.MarshalJSON()
	if err != nil {
		return false
	}
	var out time.Time
	if err := out.UnmarshalJSON(text); err != nil {
		return false
	}
	dst.Set(reflect.ValueOf(out))
	return true
}

func setInt(dst reflect.Value, n int64) bool {
	switch dst.Kind() {
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		if dst.OverflowInt(n) {
			return false
		}
		dst.SetInt(n)
		return true
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		if n < 0 || dst.OverflowUint(uint64(n)) {
			return false
		}
		dst.SetUint(uint64(n))
		return true
	case reflect.Float64:
		dst.SetFloat(float64(n))
		return true
	}
	return false
}

// interfaceValue is what JSON decodes src into when the target is an empty
// interface: numbers become float64, lists []any, structures map[string]any.
func interfaceValue(src any) (any, bool) {
	switch s := src.(type) {
	case nil:
		return nil, true
	case string:
		return s, utf8.ValidString(s)
	case bool:
		return s, true
	case int64:
		return float64(s), true
	case int:
		return float64(s), true
	case float64:
		return s, !math.IsNaN(s) && !math.IsInf(s, 0)
	case []any:
		out := make([]any, len(s))
		for i, item := range s {
			v, ok := interfaceValue(item)
			if !ok {
				return nil, false
			}
			out[i] = v
		}
		return out, true
	case map[string]any:
		out := make(map[string]any, len(s))
		for k, item := range s {
			v, ok := interfaceValue(item)
			if !ok || !utf8.ValidString(k) {
				return nil, false
			}
			out[k] = v
		}
		return out, true
	}
	return nil, false
}

func fromDocumentMap(dst reflect.Value, src map[string]any) bool {
	t := dst.Type()
	if t.Key().Kind() != reflect.String || hasUnmarshaler(t.Key()) {
		return false
	}
	out := reflect.MakeMapWithSize(t, len(src))
	for k, item := range src {
		if !utf8.ValidString(k) {
			return false
		}
		elem := reflect.New(t.Elem()).Elem()
		if !fromDocument(elem, item) {
			return false
		}
		out.SetMapIndex(reflect.ValueOf(k).Convert(t.Key()), elem)
	}
	dst.Set(out)
	return true
}

func fromDocumentStruct(dst reflect.Value, src map[string]any) bool {
	fields, ok := inputFieldsOf(dst.Type())
	if !ok {
		return false
	}
	// Two members landing on one field would depend on JSON's key order.
	var seen uint64
	for k, item := range src {
		i := fields.lookup(k)
		if i == -2 {
			return false
		}
		if i < 0 {
			// JSON ignores members no field takes, once it has
			// marshalled them.
			if !marshalable(item) {
				return false
			}
			continue
		}
		if i < 64 {
			if seen&(1<<i) != 0 {
				return false
			}
			seen |= 1 << i
		} else {
			return false
		}
		if !fromDocument(dst.FieldByIndex(fields.list[i].index), item) {
			return false
		}
	}
	return true
}

// inputFields are a struct's decodable fields with a lookup by name.
type inputFields struct {
	list  []field
	exact map[string]int
}

// lookup returns the index of the field a member name fills, -1 for none,
// or -2 where only a non-ASCII case fold could tell (left to JSON).
func (f *inputFields) lookup(name string) int {
	if i, ok := f.exact[name]; ok {
		return i
	}
	for i := 0; i < len(name); i++ {
		if name[i] >= utf8.RuneSelf {
			return -2
		}
	}
	for i, fl := range f.list {
		if strings.EqualFold(fl.name, name) {
			return i
		}
	}
	return -1
}

type inputFieldsEntry struct {
	fields *inputFields
	ok     bool
}

var inputFieldCache sync.Map // reflect.Type -> inputFieldsEntry

// inputFieldsOf lists the fields of a struct the way fieldsOf does for
// output, and reports false where encoding/json's own rules could differ
// from that simple list: names clashing (JSON's dominance rules pick among
// them), fields reached through embedded pointers (JSON allocates them),
// ",string" options, non-ASCII names.
func inputFieldsOf(t reflect.Type) (*inputFields, bool) {
	if e, ok := inputFieldCache.Load(t); ok {
		e := e.(inputFieldsEntry)
		return e.fields, e.ok
	}
	list := fieldsOf(t)
	f := &inputFields{list: list, exact: make(map[string]int, len(list))}
	ok := len(list) <= 64 && plainFields(t)
	folded := make(map[string]bool, len(list))
	for i, fl := range list {
		lower := strings.ToLower(fl.name)
		if folded[lower] {
			ok = false
		}
		folded[lower] = true
		for j := 0; j < len(fl.name); j++ {
			if fl.name[j] >= utf8.RuneSelf {
				ok = false
			}
		}
		f.exact[fl.name] = i
	}
	inputFieldCache.Store(t, inputFieldsEntry{fields: f, ok: ok})
	return f, ok
}

// plainFields reports whether t's fields, embedded ones included, carry no
// ",string" option and embed no struct through a pointer.
func plainFields(t reflect.Type) bool {
	for i := 0; i < t.NumField(); i++ {
		sf := t.Field(i)
		tag := sf.Tag.Get("json")
		if tag == "-" {
			continue
		}
		name, opts, _ := strings.Cut(tag, ",")
		for _, o := range strings.Split(opts, ",") {
			if o == "string" {
				return false
			}
		}
		if sf.Anonymous && name == "" {
			ft := sf.Type
			if ft.Kind() == reflect.Pointer {
				if ft.Elem().Kind() == reflect.Struct {
					return false
				}
				continue
			}
			if ft.Kind() == reflect.Struct && !plainFields(ft) {
				return false
			}
		}
	}
	return true
}

var (
	byteType            = reflect.TypeFor[byte]()
	jsonUnmarshalerType = reflect.TypeFor[json.Unmarshaler]()
	textUnmarshalerType = reflect.TypeFor[encoding.TextUnmarshaler]()
	hasUnmarshalerCache sync.Map // reflect.Type -> bool
)

// hasUnmarshaler reports whether JSON decodes t through a method of its own.
func hasUnmarshaler(t reflect.Type) bool {
	if v, ok := hasUnmarshalerCache.Load(t); ok {
		return v.(bool)
	}
	has := t.Implements(jsonUnmarshalerType) || t.Implements(textUnmarshalerType)
	if t.Kind() != reflect.Pointer {
		pt := reflect.PointerTo(t)
		has = has || pt.Implements(jsonUnmarshalerType) || pt.Implements(textUnmarshalerType)
	}
	hasUnmarshalerCache.Store(t, has)
	return has
}

// marshalable reports whether json.Marshal accepts a document value.
func marshalable(src any) bool {
	switch s := src.(type) {
	case nil, string, bool, int, int64, []byte:
		return true
	case float64:
		return !math.IsNaN(s) && !math.IsInf(s, 0)
	case time.Time:
		return s.Year() >= 0 && s.Year() <= 9999
	case []any:
		for _, item := range s {
			if !marshalable(item) {
				return false
			}
		}
		return true
	case map[string]any:
		for _, item := range s {
			if !marshalable(item) {
				return false
			}
		}
		return true
	}
	return false
}

package jsonrpc

import (
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"sort"
	"strconv"

	"github.com/nimbus-dev/nimbus/internal/awserr"
	"github.com/nimbus-dev/nimbus/internal/awsmodel"
	"github.com/nimbus-dev/nimbus/internal/protocol/wire"
)

// buffers recycles response bodies between requests.
var buffers = wire.NewBodyPool(2048)

// Encode writes the output document as a JSON object.
func (c *codec) Encode(w http.ResponseWriter, op *awsmodel.Operation, out map[string]any, requestID string) error {
	bp := buffers.Get()
	body := (*bp)[:0]
	var err error
	if op.Output != nil && op.Output.Shape != nil {
		body, err = appendStructure(body, op.Output.Shape, out)
	} else {
		body = append(body, "{}"...)
	}
	defer buffers.Put(bp, body)
	if err != nil {
		return fmt.Errorf("encode %s response: %w", op.Name, err)
	}
	if err := wire.WriteBody(w, http.StatusOK, c.contentType, requestID, body); err != nil {
		return fmt.Errorf("write %s response: %w", op.Name, err)
	}
	return nil
}

// EncodeError writes {"__type": code, "message": ...} plus e.Fields, and
// names the code in X-Amzn-ErrorType as AWS does.
func (c *codec) EncodeError(w http.ResponseWriter, _ *awsmodel.Operation, e awserr.Error, requestID string) {
	if e.Code == "" || e.Status == 0 {
		e = awserr.Resolve(awserr.FamilyJSON, &e) // a caller that skipped Resolve still gets a complete envelope
	}
	status := e.Status
	body := append(make([]byte, 0, 128), `{"__type":`...)
	body = wire.AppendJSONString(body, e.Code)
	body = append(body, `,"message":`...)
	body = wire.AppendJSONString(body, e.Message)
	keys := make([]string, 0, len(e.Fields))
	for k := range e.Fields {
		if k != "__type" && k != "message" {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	for _, k := range keys {
		body = append(body, ',')
		body = wire.AppendJSONString(body, k)
		body = append(body, ':')
		body = wire.AppendJSONString(body, e.Fields[k])
	}
	body = append(body, '}')
	w.Header().Set("X-Amzn-ErrorType", e.Code)
	_ = wire.WriteBody(w, status, c.contentType, requestID, body) // the client went away; nothing left to tell it
}

func appendStructure(dst []byte, sh *awsmodel.Shape, doc map[string]any) ([]byte, error) {
	start := len(dst)
	dst, matched, err := appendMembersExact(dst, sh, doc)
	if err != nil || matched == len(doc) {
		return dst, err
	}
	// Some keys differ from member names in case (or name nothing): start
	// over from the canonical document. Rare, so the common path never
	// iterates the map.
	dst, _, err = appendMembersExact(dst[:start], sh, wire.CanonicalMembers(sh, doc))
	return dst, err
}

// appendMembersExact writes the object of the members doc holds under their
// exact names, in model order, and counts the keys it matched.
func appendMembersExact(dst []byte, sh *awsmodel.Shape, doc map[string]any) ([]byte, int, error) {
	dst = append(dst, '{')
	matched := 0
	first := true
	for _, name := range sh.MemberOrder {
		v, ok := doc[name]
		if !ok {
			continue
		}
		matched++
		if wire.IsNil(v) {
			continue
		}
		if !first {
			dst = append(dst, ',')
		}
		first = false
		dst = wire.AppendJSONString(dst, name)
		dst = append(dst, ':')
		var err error
		if dst, err = appendValue(dst, sh.Members[name], v); err != nil {
			return dst, matched, fmt.Errorf("%s: %w", name, err)
		}
	}
	return append(dst, '}'), matched, nil
}

func appendValue(dst []byte, ref *awsmodel.Ref, v any) ([]byte, error) {
	sh := ref.Shape
	if sh == nil || sh.Type == "list" && sh.Member == nil || sh.Type == "map" && sh.Value == nil {
		return dst, fmt.Errorf("shape %s is incomplete in the model", ref.ShapeName)
	}
	switch sh.Type {
	case "structure":
		if sh.Document {
			return appendJSON(dst, v)
		}
		doc, ok := wire.Fields(v)
		if !ok {
			break
		}
		return appendStructure(dst, sh, doc)
	case "list":
		items, ok := wire.Items(v)
		if !ok {
			break
		}
		dst = append(dst, '[')
		first := true
		for i, item := range items {
			if wire.IsNil(item) {
				continue
			}
			if !first {
				dst = append(dst, ',')
			}
			first = false
			var err error
			if dst, err = appendValue(dst, sh.Member, item); err != nil {
				return dst, fmt.Errorf("[%d]: %w", i, err)
			}
		}
		return append(dst, ']'), nil
	case "map":
		entries, ok := wire.Fields(v)
		if !ok {
			break
		}
		keys := make([]string, 0, len(entries))
		for k, e := range entries {
			if !wire.IsNil(e) {
				keys = append(keys, k)
			}
		}
		sort.Strings(keys)
		dst = append(dst, '{')
		for i, k := range keys {
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = wire.AppendJSONString(dst, k)
			dst = append(dst, ':')
			var err error
			if dst, err = appendValue(dst, sh.Value, entries[k]); err != nil {
				return dst, fmt.Errorf("[%q]: %w", k, err)
			}
		}
		return append(dst, '}'), nil
	case "string":
		if s, ok := wire.Text(v); ok {
			return wire.AppendJSONString(dst, s), nil
		}
	case "integer", "long", "short", "byte":
		if i, ok := wire.Int64(v); ok {
			return strconv.AppendInt(dst, i, 10), nil
		}
	case "float", "double":
		if f, ok := wire.Float64(v); ok {
			if math.IsNaN(f) || math.IsInf(f, 0) {
				return wire.AppendJSONString(dst, wire.FormatFloat(f)), nil
			}
			return strconv.AppendFloat(dst, f, 'g', -1, 64), nil
		}
	case "boolean":
		if b, ok := wire.Bool(v); ok {
			return strconv.AppendBool(dst, b), nil
		}
	case "timestamp":
		if t, ok := wire.Time(v); ok {
			format := wire.TimestampFormat(ref, wire.UnixTimestamp)
			if format == wire.UnixTimestamp {
				return append(dst, wire.FormatEpoch(t)...), nil
			}
			return wire.AppendJSONString(dst, wire.FormatTimestamp(t, format)), nil
		}
	case "blob":
		if s, ok := wire.Base64(v); ok {
			return wire.AppendJSONString(dst, s), nil
		}
	default:
		return appendJSON(dst, v)
	}
	return dst, fmt.Errorf("%s value %v (%T) does not fit shape %s", sh.Type, v, v, sh.Name)
}

// appendJSON writes a document-typed value as encoding/json would.
func appendJSON(dst []byte, v any) ([]byte, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return dst, fmt.Errorf("document value: %w", err)
	}
	return append(dst, b...), nil
}

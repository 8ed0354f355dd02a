package service

import (
	"bytes"
	"context"
	"encoding/json"
	"math"
	"reflect"
	"testing"
	"time"
)

type docTag struct {
	Key   string
	Value *string
	N     int32
}

type DocEmbedded struct {
	EmbeddedName string
	Shared       int
}

type docKind string

type docInput struct {
	DocEmbedded
	InstanceIds []string
	MaxResults  *int32
	Count       int
	Small       int8
	U           uint16
	Ratio       float64
	F32         float32
	DryRun      bool
	Flag        *bool
	Tags        []docTag
	TagPtrs     []*docTag
	Nested      [][]string
	Labels      map[string]string
	Kinds       map[docKind]int64
	Deep        map[string][]docTag
	Blob        []byte
	When        time.Time
	WhenPtr     *time.Time
	Any         any
	Renamed     string `json:"jobQueue"`
	Skipped     string `json:"-"`
	Omit        string `json:",omitempty"`
	Raw         json.RawMessage
	Num         json.Number
	Kind        docKind
	Fixed       [2]string
}

// Shapes encoding/json resolves by its own rules; fromDocument must defer.
type docClash struct {
	Name string
	NAME string
}

type docQuoted struct {
	Quoted int `json:",string"`
}

type docEmbeddedPtr struct {
	*DocEmbedded
	Other string
}

// jsonRoundTrip is what Op did before fromDocument: marshal the document and
// decode it into a fresh value.
func jsonRoundTrip[T any](doc map[string]any) (*T, error) {
	in := new(T)
	raw, err := json.Marshal(doc)
	if err != nil {
		return nil, err
	}
	err = json.NewDecoder(bytes.NewReader(raw)).Decode(in)
	return in, err
}

// viaOp runs doc through Op, returning what the typed function received.
func viaOp[T any](doc map[string]any) (*T, error) {
	var got *T
	h := Op(func(_ context.Context, in *T) (*struct{}, error) {
		got = in
		return &struct{}{}, nil
	})
	_, err := h(context.Background(), doc)
	return got, err
}

func TestFromDocumentMatchesJSONRoundTrip(t *testing.T) {
	zone := time.FixedZone("", 5*3600+30*60)
	when := time.Date(2026, 11, 27, 23, 59, 58, 123456789, zone)
	tests := []struct {
		name string
		doc  map[string]any
		fast bool // fromDocument decodes it without the round trip
	}{
		{"scalars", map[string]any{"InstanceIds": []any{"i-1", "i-2"}, "MaxResults": int64(5), "Count": int64(-3),
			"Small": int64(127), "U": int64(65535), "Ratio": 2.5, "DryRun": true, "Flag": false, "Kind": "k"}, true},
		{"case-insensitive names", map[string]any{"instanceids": []any{"i-1"}, "MAXRESULTS": int64(1), "JobQueue": "q", "dryRun": true}, true},
		{"json tag name", map[string]any{"jobQueue": "q1"}, true},
		{"json tag hides field", map[string]any{"Skipped": "x", "-": "y"}, true},
		{"unknown members ignored", map[string]any{"Nope": map[string]any{"a": []any{int64(1), "b"}}}, true},
		{"embedded struct fields", map[string]any{"EmbeddedName": "e", "shared": int64(7)}, true},
		{"nested structures", map[string]any{
			"Tags":    []any{map[string]any{"Key": "a", "Value": "b", "N": int64(3)}, map[string]any{"key": "c"}},
			"TagPtrs": []any{map[string]any{"Key": "p"}, nil},
			"Nested":  []any{[]any{"x", "y"}, []any{}, nil},
			"Labels":  map[string]any{"a": "1", "b": "2"},
			"Kinds":   map[string]any{"x": int64(1)},
			"Deep":    map[string]any{"d": []any{map[string]any{"Key": "k", "N": int64(-1)}}},
		}, true},
		{"empty list and map", map[string]any{"InstanceIds": []any{}, "Labels": map[string]any{}}, true},
		{"nil values", map[string]any{"InstanceIds": nil, "MaxResults": nil, "Labels": nil, "Any": nil, "When": nil}, true},
		{"blob", map[string]any{"Blob": []byte{0, 1, 2, 255}}, true},
		{"empty blob", map[string]any{"Blob": []byte{}}, true},
		{"nil blob", map[string]any{"Blob": []byte(nil)}, true},
		{"timestamps keep JSON's location", map[string]any{"When": when, "WhenPtr": when.UTC()}, true},
		{"any takes JSON's types", map[string]any{"Any": map[string]any{"n": int64(1) << 60, "f": 1.5, "l": []any{true, "s", nil}}}, true},
		{"int into float", map[string]any{"Ratio": int64(1)<<53 + 1}, true},
		{"int as plain go int", map[string]any{"Count": 4}, true},

		{"string into int fails", map[string]any{"Count": "3"}, false},
		{"int into string fails", map[string]any{"Kind": int64(3)}, false},
		{"overflow fails", map[string]any{"Small": int64(300)}, false},
		{"negative into unsigned fails", map[string]any{"U": int64(-1)}, false},
		{"integral float into int", map[string]any{"Count": 2.0}, false},
		{"fractional float into int fails", map[string]any{"Count": 2.5}, false},
		{"float32", map[string]any{"F32": 0.1}, false},
		{"NaN fails to marshal", map[string]any{"Ratio": math.NaN()}, false},
		{"NaN in ignored member", map[string]any{"Ignored": math.Inf(1)}, false},
		{"invalid UTF-8 is replaced", map[string]any{"Kind": "a\xffb"}, false},
		{"string into blob is base64", map[string]any{"Blob": "AAEC"}, false},
		{"list into blob fails", map[string]any{"Blob": []any{int64(1)}}, false},
		{"raw message", map[string]any{"Raw": map[string]any{"a": int64(1)}}, false},
		{"json number", map[string]any{"Num": int64(12)}, false},
		{"array", map[string]any{"Fixed": []any{"a", "b", "c"}}, false},
		{"timestamp from string", map[string]any{"When": "2026-01-02T03:04:05Z"}, false},
		{"structure into string fails", map[string]any{"Kind": map[string]any{}}, false},
		{"two members on one field", map[string]any{"Count": int64(1), "count": int64(2)}, false},
		{"non-ASCII member name", map[string]any{"Ｃount": int64(1)}, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			want, wantErr := jsonRoundTrip[docInput](tc.doc)
			got, err := viaOp[docInput](tc.doc)
			if (err == nil) != (wantErr == nil) {
				t.Fatalf("error %v, JSON round trip's %v", err, wantErr)
			}
			if err == nil && !reflect.DeepEqual(got, want) {
				t.Errorf("decoded\n%#v\nJSON round trip gives\n%#v", got, want)
			}
			fast := fromDocument(reflect.ValueOf(new(docInput)).Elem(), tc.doc)
			if fast != tc.fast {
				t.Errorf("fromDocument decoded it itself: %v, want %v", fast, tc.fast)
			}
		})
	}
}

func TestFromDocumentDefersToJSONForItsFieldRules(t *testing.T) {
	clash := map[string]any{"name": "a", "NAME": "b", "Name": "c"}
	want, wantErr := jsonRoundTrip[docClash](clash)
	got, err := viaOp[docClash](clash)
	if err != nil || wantErr != nil || !reflect.DeepEqual(got, want) {
		t.Errorf("clashing names: got %#v (%v), JSON gives %#v (%v)", got, err, want, wantErr)
	}
	if fromDocument(reflect.ValueOf(new(docClash)).Elem(), clash) {
		t.Error("fromDocument decoded clashing field names itself")
	}

	quoted := map[string]any{"Quoted": "12"}
	wantQ, wantErr := jsonRoundTrip[docQuoted](quoted)
	gotQ, err := viaOp[docQuoted](quoted)
	if err != nil || wantErr != nil || !reflect.DeepEqual(gotQ, wantQ) || gotQ.Quoted != 12 {
		t.Errorf("string option: got %#v (%v), JSON gives %#v (%v)", gotQ, err, wantQ, wantErr)
	}
	if fromDocument(reflect.ValueOf(new(docQuoted)).Elem(), quoted) {
		t.Error("fromDocument decoded a \",string\" field itself")
	}

	ptr := map[string]any{"EmbeddedName": "e", "Other": "o"}
	wantP, wantErr := jsonRoundTrip[docEmbeddedPtr](ptr)
	gotP, err := viaOp[docEmbeddedPtr](ptr)
	if err != nil || wantErr != nil || !reflect.DeepEqual(gotP, wantP) {
		t.Errorf("embedded pointer: got %#v (%v), JSON gives %#v (%v)", gotP, err, wantP, wantErr)
	}
	if fromDocument(reflect.ValueOf(new(docEmbeddedPtr)).Elem(), ptr) {
		t.Error("fromDocument decoded through an embedded pointer itself")
	}
}

func BenchmarkOpDecode(b *testing.B) {
	doc := map[string]any{
		"InstanceIds": []any{"i-0123456789abcdef0", "i-0123456789abcdef1"},
		"MaxResults":  int64(100),
		"DryRun":      false,
		"Tags":        []any{map[string]any{"Key": "Name", "Value": "web"}, map[string]any{"Key": "env", "Value": "prod"}},
		"Labels":      map[string]any{"a": "1"},
	}
	h := Op(func(_ context.Context, in *docInput) (*struct{}, error) { return &struct{}{}, nil })
	b.Run("op", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := h(context.Background(), doc); err != nil {
				b.Fatal(err)
			}
		}
	})
	// The JSON round trip Op used before, for comparison.
	b.Run("json-round-trip", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := jsonRoundTrip[docInput](doc); err != nil {
				b.Fatal(err)
			}
		}
	})
}

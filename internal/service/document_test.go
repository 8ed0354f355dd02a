package service

import (
	"encoding/json"
	"reflect"
	"testing"
	"time"
)

type inner struct {
	Key   string
	Value string `json:",omitempty"`
}

type embedded struct{ Shared string }

type outer struct {
	embedded
	Name    string
	Count   int32
	Ratio   float64
	Ok      bool
	When    time.Time
	Raw     []byte
	Items   []inner
	Empty   []inner
	Nil     []inner
	Ptr     *inner
	NilPtr  *inner
	Labels  map[string]string
	Skipped string `json:"-"`
	Renamed string `json:"jobName"`
	Omitted int    `json:",omitempty"`
	Num     json.Number
	private string
	Iface   any
}

// ToDocument must agree with what a JSON round trip would give, in the
// document types codecs expect.
func TestToDocumentMatchesJSON(t *testing.T) {
	when := time.Date(2026, 11, 27, 10, 0, 0, 0, time.UTC)
	v := &outer{embedded: embedded{"s"}, Name: "n", Count: 3, Ratio: 0.5, Ok: true, When: when, Raw: []byte{1, 2},
		Items: []inner{{Key: "a", Value: "b"}, {Key: "c"}}, Empty: []inner{}, Ptr: &inner{Key: "p"},
		Labels: map[string]string{"x": "y"}, Skipped: "no", Renamed: "r", Num: "12", private: "p", Iface: []string{"i"}}
	got, err := ToDocument(v)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]any{
		"Shared": "s", "Name": "n", "Count": int64(3), "Ratio": 0.5, "Ok": true, "When": when, "Raw": []byte{1, 2},
		"Items": []any{map[string]any{"Key": "a", "Value": "b"}, map[string]any{"Key": "c"}},
		"Empty": []any{}, "Ptr": map[string]any{"Key": "p"}, "Labels": map[string]any{"x": "y"},
		"jobName": "r", "Num": json.Number("12"), "Iface": []any{"i"},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("ToDocument =\n%#v\nwant\n%#v", got, want)
	}
	if d, err := ToDocument(nil); err != nil || len(d) != 0 {
		t.Errorf("nil: %v %v", d, err)
	}
	if _, err := ToDocument(42); err == nil {
		t.Error("a number is not a document")
	}
}

package wire

import (
	"encoding/json"
	"math"
	"testing"
	"time"

	"github.com/nimbus-dev/nimbus/internal/awsmodel"
)

type level string

func TestLenientNumbers(t *testing.T) {
	seven := int64(7)
	cases := []struct {
		in     any
		want   int64
		wantOK bool
	}{
		{int64(7), 7, true}, {7, 7, true}, {int32(7), 7, true}, {uint8(7), 7, true}, {&seven, 7, true},
		{7.0, 7, true}, {7.5, 0, false}, {math.Inf(1), 0, false}, {math.NaN(), 0, false},
		{json.Number("7"), 7, true}, {json.Number("7e0"), 7, true}, {json.Number("7.5"), 0, false},
		{"7", 7, true}, {" 7 ", 7, true}, {"seven", 0, false},
		{uint64(math.MaxUint64), 0, false}, {true, 0, false}, {nil, 0, false},
	}
	for _, tc := range cases {
		if got, ok := Int64(tc.in); ok != tc.wantOK || (ok && got != tc.want) {
			t.Errorf("Int64(%#v) = %d, %v; want %d, %v", tc.in, got, ok, tc.want, tc.wantOK)
		}
	}
	floats := []struct {
		in     any
		want   float64
		wantOK bool
	}{
		{1.5, 1.5, true}, {float32(0.5), 0.5, true}, {json.Number("2.25"), 2.25, true}, {" 3.5", 3.5, true},
		{int64(4), 4, true}, {uint64(math.MaxUint64), math.MaxUint64, true}, {"NaN", math.NaN(), true},
		{"Infinity", math.Inf(1), true}, {"-Infinity", math.Inf(-1), true}, {"x", 0, false}, {false, 0, false},
	}
	for _, tc := range floats {
		got, ok := Float64(tc.in)
		same := got == tc.want || (math.IsNaN(got) && math.IsNaN(tc.want))
		if ok != tc.wantOK || (ok && !same) {
			t.Errorf("Float64(%#v) = %v, %v; want %v, %v", tc.in, got, ok, tc.want, tc.wantOK)
		}
	}
}

func TestLenientTextBlobsAndLists(t *testing.T) {
	for _, tc := range []struct {
		in     any
		want   string
		wantOK bool
	}{
		{"a", "a", true}, {level("info"), "info", true}, {json.Number("12"), "12", true}, {[]byte("raw"), "raw", true},
		{time.Second, "1s", true}, {(*string)(nil), "", false}, {42, "", false},
	} {
		if got, ok := Text(tc.in); ok != tc.wantOK || got != tc.want {
			t.Errorf("Text(%#v) = %q, %v; want %q, %v", tc.in, got, ok, tc.want, tc.wantOK)
		}
	}
	if got, ok := Base64("not checked"); !ok || got != "not checked" {
		t.Errorf("Base64 of a string: %q %v", got, ok)
	}
	if got, ok := Base64([]byte("hi")); !ok || got != "aGk=" {
		t.Errorf("Base64 of bytes: %q %v", got, ok)
	}
	for _, tc := range []struct {
		in     any
		want   string
		wantOK bool
	}{
		{[]byte("hi"), "hi", true}, {"aGk=", "hi", true}, {"not base64!", "", false}, {json.RawMessage(`{"a":1}`), `{"a":1}`, true}, {7, "", false},
	} {
		if got, ok := Bytes(tc.in); ok != tc.wantOK || string(got) != tc.want {
			t.Errorf("Bytes(%#v) = %q, %v; want %q, %v", tc.in, got, ok, tc.want, tc.wantOK)
		}
	}
	if items, ok := Items([]string{"a", "b"}); !ok || len(items) != 2 || items[1] != "b" {
		t.Errorf("Items of a string slice: %v %v", items, ok)
	}
	if items, ok := Items([2]int{1, 2}); !ok || len(items) != 2 {
		t.Errorf("Items of an array: %v %v", items, ok)
	}
	for _, blob := range []any{[]byte("ab"), json.RawMessage(`[1]`)} {
		if _, ok := Items(blob); ok {
			t.Errorf("Items took the blob %#v for a list", blob)
		}
	}
	if f, ok := Fields(map[string]int{"a": 1}); !ok || f["a"] != 1 {
		t.Errorf("Fields of a typed map: %v %v", f, ok)
	}
	if _, ok := Fields(map[int]string{1: "a"}); ok {
		t.Error("Fields took a map keyed by ints")
	}
	for _, v := range []any{nil, (*int)(nil), map[string]int(nil), []string(nil)} {
		if !IsNil(v) {
			t.Errorf("IsNil(%#v) = false", v)
		}
	}
	// A nil []any or map[string]any is an empty list or structure, which
	// the XML and JSON codecs write (see IsNil).
	for _, v := range []any{"", 0, false, map[string]any{}, []any{}, map[string]any(nil), []any(nil)} {
		if IsNil(v) {
			t.Errorf("IsNil(%#v) = true", v)
		}
	}
}

func TestLenientTimes(t *testing.T) {
	want := time.Date(2023, 11, 14, 22, 13, 20, 123e6, time.UTC)
	for _, in := range []any{want, &want, "2023-11-14T22:13:20.123Z", 1700000000.123, json.Number("1700000000.123")} {
		if got, ok := Time(in); !ok || !got.Equal(want) {
			t.Errorf("Time(%#v) = %v, %v", in, got, ok)
		}
	}
	for _, in := range []any{math.NaN(), "yesterday", (*time.Time)(nil), true} {
		if _, ok := Time(in); ok {
			t.Errorf("Time(%#v) accepted", in)
		}
	}
	if got := EpochTime(-1.5); !got.Equal(time.Unix(-2, 5e8)) || got.Location() != time.UTC {
		t.Errorf("EpochTime(-1.5) = %v", got)
	}
}

func TestCanonicalMembers(t *testing.T) {
	sh := awsmodel.MustLoad("iam").Operations["CreateUser"].Input.Shape
	exact := map[string]any{"UserName": "a"}
	if got := CanonicalMembers(sh, exact); got["UserName"] != "a" || len(got) != 1 {
		t.Errorf("exact keys: %v", got)
	}
	// Run it often: map order varies, the answer must not.
	for range 50 {
		got := CanonicalMembers(sh, map[string]any{"username": "folded", "UserName": "exact", "path": "/", "Other": 1})
		if got["UserName"] != "exact" || got["Path"] != "/" || len(got) != 2 {
			t.Fatalf("re-keyed to %v", got)
		}
	}
}

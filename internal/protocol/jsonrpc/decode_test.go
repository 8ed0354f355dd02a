package jsonrpc

import (
	"errors"
	"math"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/nimbus-dev/nimbus/internal/awserr"
	"github.com/nimbus-dev/nimbus/internal/awsmodel"
)

func targetRequest(target string) *http.Request {
	r := httptest.NewRequest(http.MethodPost, "/", nil)
	if target != "" {
		r.Header.Set("X-Amz-Target", target)
	}
	return r
}

func TestResolve(t *testing.T) {
	c := New(awsmodel.MustLoad("logs"))
	cases := []struct{ target, wantOp string }{
		{"Logs_20140328.PutLogEvents", "PutLogEvents"},
		{"Logs_20140328.LaunchRocket", ""},
		{"OtherService.PutLogEvents", ""},
		{"PutLogEvents", ""},
		{"", ""},
	}
	for _, tc := range cases {
		op, err := c.Resolve(targetRequest(tc.target), nil)
		if tc.wantOp != "" {
			if err != nil || op.Name != tc.wantOp {
				t.Errorf("%q: %v, %v", tc.target, op, err)
			}
			continue
		}
		ae := awserr.As(err)
		if got := awserr.Resolve(c.Family(), ae); ae.Kind != awserr.UnknownOperation || got.Code != "UnknownOperationException" || got.Status != 400 {
			t.Errorf("%q: got %v %s %d", tc.target, ae.Kind, got.Code, got.Status)
		}
	}
	if op, err := New(awsmodel.MustLoad("ce")).Resolve(targetRequest("AWSInsightsIndexService.GetCostAndUsage"), nil); err != nil || op.Name != "GetCostAndUsage" {
		t.Errorf("cost explorer: %v %v", op, err)
	}
}

func TestDecodeValidation(t *testing.T) {
	cases := []struct {
		name     string
		op       string
		body     string
		want     map[string]any
		wantKind awserr.Kind
		wantCode string // explicit code: AWS answers JSON that does not fit the shape with SerializationException
		wantMsg  string
	}{
		{name: "empty body is an empty input", op: "DescribeLogGroups", body: "", want: map[string]any{}},
		{name: "nulls and unknown members are ignored", op: "DescribeLogGroups", body: `{"logGroupNamePrefix":null,"futureMember":1,"limit":5}`, want: map[string]any{"limit": int64(5)}},
		{name: "malformed JSON", op: "CreateLogGroup", body: `{"logGroupName":`, wantKind: awserr.Validation, wantCode: "SerializationException"},
		{name: "trailing content", op: "CreateLogGroup", body: `{"logGroupName":"g"} {}`, wantKind: awserr.Validation, wantCode: "SerializationException"},
		{name: "not an object", op: "CreateLogGroup", body: `["g"]`, wantKind: awserr.Validation, wantCode: "SerializationException"},
		{name: "string for an integer", op: "DescribeLogGroups", body: `{"limit":"5"}`, wantKind: awserr.Validation, wantCode: "SerializationException", wantMsg: "'limit' must be a number"},
		{name: "fraction for an integer", op: "DescribeLogGroups", body: `{"limit":1.5}`, wantKind: awserr.Validation, wantCode: "SerializationException", wantMsg: "not a valid integer"},
		{name: "number for a string", op: "CreateLogGroup", body: `{"logGroupName":7}`, wantKind: awserr.Validation, wantCode: "SerializationException", wantMsg: "'logGroupName' must be a string"},
		{name: "object for a list", op: "PutLogEvents", body: `{"logGroupName":"g","logStreamName":"s","logEvents":{}}`, wantKind: awserr.Validation, wantCode: "SerializationException", wantMsg: "must be an array"},
		{name: "missing required", op: "CreateLogGroup", body: `{}`, wantKind: awserr.MissingParameter,
			wantMsg: "1 validation error detected: Value null at 'logGroupName' failed to satisfy constraint: Member must not be null"},
		{name: "missing required in a list item", op: "PutLogEvents", body: `{"logGroupName":"g","logStreamName":"s","logEvents":[{"timestamp":1}]}`, wantKind: awserr.MissingParameter,
			wantMsg: "Value null at 'logEvents.1.member.message'"},
		{name: "integer above max", op: "DescribeLogGroups", body: `{"limit":51}`, wantKind: awserr.Validation,
			wantMsg: "Value '51' at 'limit' failed to satisfy constraint: Member must have value less than or equal to 50"},
		{name: "enum outside its set", op: "DescribeLogStreams", body: `{"logGroupName":"g","orderBy":"Size"}`, wantKind: awserr.Validation, wantMsg: "Member must satisfy enum value set: [LogStreamName, LastEventTime]"},
		{name: "every constraint failure named", op: "CreateLogGroup", body: `{"logGroupName":"","tags":{}}`, wantKind: awserr.Validation, wantMsg: "2 validation errors detected"},
	}
	c := New(awsmodel.MustLoad("logs"))
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			op := awsmodel.MustLoad("logs").Operations[tc.op]
			got, err := c.Decode(targetRequest("Logs_20140328."+tc.op), []byte(tc.body), op)
			if tc.want != nil {
				if err != nil {
					t.Fatal(err)
				}
				if diff := cmp.Diff(tc.want, got); diff != "" {
					t.Errorf("(-want +got):\n%s", diff)
				}
				return
			}
			// CloudWatch Logs answers constraint failures as
			// InvalidParameterException.
			wantCode := tc.wantCode
			if wantCode == "" {
				wantCode = "InvalidParameterException"
			}
			var ae *awserr.Error
			if !errors.As(err, &ae) || ae.Kind != tc.wantKind || ae.Code != wantCode || !strings.Contains(ae.Message, tc.wantMsg) {
				t.Fatalf("got %v (%#v); want kind %v code %q with %q", err, got, tc.wantKind, wantCode, tc.wantMsg)
			}
		})
	}
}

// syntheticService is a json 1.0 model with the member types Logs and Cost
// Explorer lack: timestamps, blobs, doubles, and a documents.
func syntheticService() *awsmodel.Service {
	str := &awsmodel.Shape{Name: "S", Type: "string"}
	ts := &awsmodel.Shape{Name: "T", Type: "timestamp"}
	blob := &awsmodel.Shape{Name: "B", Type: "blob"}
	dbl := &awsmodel.Shape{Name: "D", Type: "double"}
	doc := &awsmodel.Shape{Name: "Doc", Type: "structure", Document: true}
	io := &awsmodel.Shape{Name: "IO", Type: "structure", MemberOrder: []string{"When", "WhenISO", "Data", "Ratio", "Name", "Any"}, Members: map[string]*awsmodel.Ref{
		"When":    {ShapeName: "T", Shape: ts},
		"WhenISO": {ShapeName: "T", Shape: ts, TimestampFormat: "iso8601"},
		"Data":    {ShapeName: "B", Shape: blob},
		"Ratio":   {ShapeName: "D", Shape: dbl},
		"Name":    {ShapeName: "S", Shape: str},
		"Any":     {ShapeName: "Doc", Shape: doc},
	}}
	ref := &awsmodel.Ref{ShapeName: "IO", Shape: io}
	return &awsmodel.Service{
		Key:        "synthetic",
		Metadata:   awsmodel.Metadata{Protocol: "json", JSONVersion: "1.0", TargetPrefix: "Synth"},
		Operations: map[string]*awsmodel.Operation{"Echo": {Name: "Echo", Input: ref, Output: ref}},
		Shapes:     map[string]*awsmodel.Shape{"S": str, "T": ts, "B": blob, "D": dbl, "IO": io, "Doc": doc},
	}
}

func TestTimestampsBlobsDoublesDocuments(t *testing.T) {
	svc := syntheticService()
	c := New(svc)
	op := svc.Operations["Echo"]
	in := `{"When":1700000000.25,"WhenISO":"2024-01-02T03:04:05Z","Data":"aGk=","Ratio":"NaN","Name":"n","Any":{"a":[1,2.5,"x"]}}`
	got, err := c.Decode(targetRequest("Synth.Echo"), []byte(in), op)
	if err != nil {
		t.Fatal(err)
	}
	when := time.Unix(1700000000, 250e6).UTC()
	if !got["When"].(time.Time).Equal(when) || !got["WhenISO"].(time.Time).Equal(time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC)) ||
		string(got["Data"].([]byte)) != "hi" || !math.IsNaN(got["Ratio"].(float64)) {
		t.Fatalf("decoded %#v", got)
	}
	if diff := cmp.Diff(map[string]any{"a": []any{int64(1), 2.5, "x"}}, got["Any"]); diff != "" {
		t.Errorf("document member (-want +got):\n%s", diff)
	}

	rec := httptest.NewRecorder()
	out := map[string]any{"When": when, "WhenISO": "2024-01-02T03:04:05Z", "Data": []byte("hi"), "Ratio": 0.5, "Name": nil, "Any": map[string]any{"k": true}}
	if err := c.Encode(rec, op, out, "rid"); err != nil {
		t.Fatal(err)
	}
	want := `{"When":1700000000.25,"WhenISO":"2024-01-02T03:04:05.000Z","Data":"aGk=","Ratio":0.5,"Any":{"k":true}}`
	if rec.Body.String() != want {
		t.Errorf("got  %s\nwant %s", rec.Body, want)
	}
	if ct := rec.Header().Get("Content-Type"); ct != "application/x-amz-json-1.0" {
		t.Errorf("content type %q", ct)
	}
}

func TestEncodeEmptyAndRejected(t *testing.T) {
	logs := awsmodel.MustLoad("logs")
	c := New(logs)
	rec := httptest.NewRecorder()
	if err := c.Encode(rec, logs.Operations["GetLogEvents"], nil, "rid"); err != nil || rec.Body.String() != "{}" {
		t.Errorf("nil output: %q %v", rec.Body, err)
	}
	if rec.Header().Get("Content-Type") != "application/x-amz-json-1.1" || rec.Header().Get("x-amzn-RequestId") != "rid" {
		t.Errorf("headers %v", rec.Header())
	}
	if err := c.Encode(httptest.NewRecorder(), logs.Operations["GetLogEvents"], map[string]any{"events": "nope"}, "rid"); err == nil {
		t.Error("a string for a list encoded without error")
	}
}

func TestEncodeErrorFields(t *testing.T) {
	c := New(awsmodel.MustLoad("logs"))
	rec := httptest.NewRecorder()
	e := awserr.Resolve(c.Family(), &awserr.Error{Kind: awserr.Conflict, Code: "InvalidSequenceTokenException", Message: "bad \"token\"", Fields: map[string]string{"expectedSequenceToken": "49"}})
	c.EncodeError(rec, nil, e, "rid")
	want := `{"__type":"InvalidSequenceTokenException","message":"bad \"token\"","expectedSequenceToken":"49"}`
	if rec.Body.String() != want || rec.Code != 409 || rec.Header().Get("X-Amzn-ErrorType") != "InvalidSequenceTokenException" {
		t.Errorf("got %d %s %v", rec.Code, rec.Body, rec.Header())
	}
}

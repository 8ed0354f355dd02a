package rest

import (
	"encoding/base64"
	"errors"
	"io"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/nimbus-dev/nimbus/internal/awserr"
	"github.com/nimbus-dev/nimbus/internal/awsmodel"
)

type decodeCase struct {
	name                    string
	service, method, target string
	host                    string
	header                  map[string]string
	body                    string
	nilBody                 bool // pass a nil body, as the edge does for streaming payloads
	op                      string
	want                    map[string]any // members that must decode to these values
	errKind                 awserr.Kind
	errText                 string // substring of the error message; "" means success
	code                    string // the error's code once resolved for the service
}

func TestDecode(t *testing.T) {
	lastMod := time.Date(2015, 10, 21, 7, 28, 0, 0, time.UTC)
	cases := []decodeCase{
		{name: "list querystring", service: "lambda", method: "DELETE", op: "UntagResource",
			target: "/2017-03-31/tags/arn%3Aaws%3Alambda%3Aus-east-1%3A1%3Afunction%3Af?tagKeys=a&tagKeys=b%20c",
			want:   map[string]any{"Resource": "arn:aws:lambda:us-east-1:1:function:f", "TagKeys": []any{"a", "b c"}}},
		{name: "long uri label", service: "lambda", method: "GET", op: "GetLayerVersion",
			target: "/2018-10-31/layers/my-layer/versions/3", want: map[string]any{"LayerName": "my-layer", "VersionNumber": int64(3)}},
		{name: "bad long uri label", service: "lambda", method: "GET", op: "GetLayerVersion",
			target: "/2018-10-31/layers/my-layer/versions/three", errKind: awserr.Validation, errText: "VersionNumber"},
		{name: "integer querystring", service: "lambda", method: "GET", op: "ListFunctions",
			target: "/2015-03-31/functions/?MaxItems=50&Marker=m&FunctionVersion=ALL",
			want:   map[string]any{"MaxItems": int64(50), "Marker": "m", "FunctionVersion": "ALL"}},
		{name: "querystring below min", service: "lambda", method: "GET", op: "ListFunctions",
			target: "/2015-03-31/functions/?MaxItems=0", errKind: awserr.Validation, errText: "MaxItems' failed to satisfy constraint: Member must have value greater than or equal to 1"},
		{name: "querystring not an integer", service: "lambda", method: "GET", op: "ListFunctions",
			target: "/2015-03-31/functions/?MaxItems=ten", errKind: awserr.Validation, errText: "MaxItems"},
		{name: "querystring enum", service: "lambda", method: "GET", op: "ListFunctions",
			target: "/2015-03-31/functions/?FunctionVersion=SOME", errKind: awserr.Validation, errText: "enum value set: [ALL]"},
		{name: "json body", service: "lambda", method: "POST", op: "CreateFunction", target: "/2015-03-31/functions",
			body: `{"FunctionName":"f","Role":"arn:aws:iam::1:role/r","Code":{"ZipFile":"UEsDBA=="},"Timeout":3,"Publish":true,"Unknown":{"x":1},"Description":null}`,
			want: map[string]any{"FunctionName": "f", "Code": map[string]any{"ZipFile": []byte("PK\x03\x04")}, "Timeout": int64(3), "Publish": true}},
		{name: "missing required body member", service: "lambda", method: "POST", op: "CreateFunction", target: "/2015-03-31/functions",
			body: `{"FunctionName":"f","Code":{}}`, errKind: awserr.MissingParameter, errText: "Value null at 'Role'", code: "ValidationException"},
		{name: "wrong JSON type", service: "lambda", method: "POST", op: "CreateFunction", target: "/2015-03-31/functions",
			body: `{"FunctionName":5,"Role":"r","Code":{}}`, errKind: awserr.Validation, errText: "FunctionName must be a string"},
		{name: "fractional integer", service: "lambda", method: "POST", op: "CreateFunction", target: "/2015-03-31/functions",
			body: `{"FunctionName":"f","Role":"r","Code":{},"Timeout":1.5}`, errKind: awserr.Validation, errText: "Timeout must be an integer"},
		{name: "bad enum in body", service: "lambda", method: "POST", op: "CreateFunction", target: "/2015-03-31/functions",
			body: `{"FunctionName":"f","Role":"r","Code":{},"Runtime":"cobol"}`, errKind: awserr.Validation, errText: "Value 'cobol' at 'Runtime'"},
		{name: "nested list member enum", service: "lambda", method: "POST", op: "CreateFunction", target: "/2015-03-31/functions",
			body: `{"FunctionName":"f","Role":"r","Code":{},"Architectures":["sparc"]}`, errKind: awserr.Validation, errText: "Architectures.1.member"},
		{name: "malformed JSON", service: "lambda", method: "POST", op: "CreateFunction", target: "/2015-03-31/functions",
			body: `{"FunctionName":`, errKind: awserr.Validation, errText: "not valid JSON", code: "InvalidRequestContentException"},
		{name: "JSON array body", service: "lambda", method: "POST", op: "CreateFunction", target: "/2015-03-31/functions",
			body: `[]`, errKind: awserr.Validation, errText: "must be a JSON object"},
		{name: "blob payload read from r.Body", service: "lambda", method: "POST", op: "Invoke", nilBody: true,
			target: "/2015-03-31/functions/f/invocations", body: `{"a":1}`,
			header: map[string]string{"X-Amz-Invocation-Type": "DryRun"},
			want:   map[string]any{"FunctionName": "f", "Payload": []byte(`{"a":1}`), "InvocationType": "DryRun"}},
		{name: "header enum", service: "lambda", method: "POST", op: "Invoke", target: "/2015-03-31/functions/f/invocations",
			header: map[string]string{"X-Amz-Invocation-Type": "Later"}, errKind: awserr.Validation, errText: "InvocationType"},
		{name: "batch missing member", service: "batch", method: "POST", op: "SubmitJob", target: "/v1/submitjob",
			body: `{"jobName":"j","jobDefinition":"d"}`, errKind: awserr.MissingParameter, errText: "jobQueue", code: "ClientException"},
		{name: "batch malformed JSON", service: "batch", method: "POST", op: "SubmitJob", target: "/v1/submitjob",
			body: `{"jobName":`, errKind: awserr.Validation, code: "ClientException"},
		{name: "batch nested map", service: "batch", method: "POST", op: "SubmitJob", target: "/v1/submitjob",
			body: `{"jobName":"j","jobDefinition":"d","jobQueue":"q","tags":{"a":"b"},"schedulingPriorityOverride":5}`,
			want: map[string]any{"tags": map[string]any{"a": "b"}, "schedulingPriorityOverride": int64(5)}},
		{name: "http-date header", service: "s3", method: "GET", op: "GetObject", target: "/b/k",
			header: map[string]string{"If-Modified-Since": "Wed, 21 Oct 2015 07:28:00 GMT"},
			want:   map[string]any{"Bucket": "b", "Key": "k", "IfModifiedSince": lastMod}},
		{name: "bad http-date header", service: "s3", method: "GET", op: "GetObject", target: "/b/k",
			header: map[string]string{"If-Modified-Since": "yesterday"}, errKind: awserr.Validation, errText: "IfModifiedSince"},
		{name: "list header", service: "s3", method: "GET", op: "GetObjectAttributes", target: "/b/k?attributes",
			header: map[string]string{"X-Amz-Object-Attributes": "ETag, ObjectSize"},
			want:   map[string]any{"ObjectAttributes": []any{"ETag", "ObjectSize"}}},
		{name: "key keeps slashes and escapes", service: "s3", method: "GET", op: "GetObject",
			target: "/b/a%2Fb/c%20d%2Be%3F%23%25/", want: map[string]any{"Bucket": "b", "Key": "a/b/c d+e?#%/"}},
		{name: "virtual-host key", service: "s3", method: "GET", op: "GetObject", host: "b.s3.localhost:4566",
			target: "/x/y.txt", want: map[string]any{"Bucket": "b", "Key": "x/y.txt"}},
		{name: "required uri label missing", service: "s3", method: "GET", op: "GetObject", target: "/b",
			errKind: awserr.MissingParameter, errText: "parameter Key"},
		{name: "empty uri label", service: "lambda", method: "POST", op: "Invoke", target: "/2015-03-31/functions//invocations",
			errKind: awserr.MissingParameter, errText: "parameter FunctionName", code: "ValidationException"},
		{name: "aws-chunked upload headers", service: "s3", method: "PUT", op: "PutObject", target: "/b/k", body: "hello",
			header: map[string]string{"Content-Encoding": "aws-chunked,gzip", "X-Amz-Decoded-Content-Length": "5", "Content-Length": "86",
				"X-Amz-Meta-Color": "blue"},
			want: map[string]any{"ContentEncoding": "gzip", "ContentLength": int64(5), "Metadata": map[string]any{"color": "blue"}, "Body": []byte("hello")}},
		{name: "streaming payload is r.Body", service: "s3", method: "PUT", op: "PutObject", target: "/b/k", body: "stream me", nilBody: true,
			want: map[string]any{"Body": []byte("stream me")}},
		{name: "xml payload", service: "s3", method: "PUT", op: "PutBucketTagging", target: "/b?tagging",
			body: `<Tagging xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><TagSet><Tag><Key>k</Key><Value>v</Value></Tag></TagSet></Tagging>`,
			want: map[string]any{"Tagging": map[string]any{"TagSet": []any{map[string]any{"Key": "k", "Value": "v"}}}}},
		{name: "missing xml payload", service: "s3", method: "PUT", op: "PutBucketTagging", target: "/b?tagging",
			errKind: awserr.MissingParameter, errText: "Tagging"},
		{name: "malformed xml payload", service: "s3", method: "POST", op: "DeleteObjects", target: "/b?delete",
			body: `<Delete><Object><Key>k</Key></Object>`, errKind: awserr.Validation, code: "MalformedXML"},
		{name: "bad header value", service: "s3", method: "GET", op: "GetObject", target: "/b/k",
			header: map[string]string{"If-Unmodified-Since": "soon"}, errKind: awserr.Validation, code: "InvalidArgument"},
		{name: "notification configuration", service: "s3", method: "PUT", op: "PutBucketNotificationConfiguration", target: "/b?notification",
			body: `<NotificationConfiguration><QueueConfiguration><Id>q</Id><Queue>arn:aws:sqs:us-east-1:1:q</Queue><Event>s3:ObjectCreated:*</Event></QueueConfiguration></NotificationConfiguration>`,
			want: map[string]any{"NotificationConfiguration": map[string]any{"QueueConfigurations": []any{map[string]any{
				"Id": "q", "QueueArn": "arn:aws:sqs:us-east-1:1:q", "Events": []any{"s3:ObjectCreated:*"}}}}}},
	}
	for _, tc := range cases {
		t.Run(tc.service+" "+tc.name, func(t *testing.T) {
			svc := awsmodel.MustLoad(tc.service)
			c := New(svc)
			r := httptest.NewRequest(tc.method, tc.target, strings.NewReader(tc.body))
			if tc.host != "" {
				r.Host = tc.host
			}
			for k, v := range tc.header {
				r.Header.Set(k, v)
			}
			var body []byte
			if !tc.nilBody {
				body = []byte(tc.body)
			}
			op := svc.Operations[tc.op]
			doc, err := c.Decode(r, body, op)
			if tc.errText != "" || tc.errKind != 0 {
				var e *awserr.Error
				if !errors.As(err, &e) {
					t.Fatalf("Decode = %#v, %v; want an *awserr.Error", doc, err)
				}
				if e.Kind != tc.errKind || !strings.Contains(e.Message, tc.errText) {
					t.Errorf("error kind %v %q, want %v containing %q", e.Kind, e.Message, tc.errKind, tc.errText)
				}
				if code := awserr.Resolve(c.Family(), e).Code; tc.code != "" && code != tc.code {
					t.Errorf("code %s, want %s", code, tc.code)
				}
				return
			}
			if err != nil {
				t.Fatalf("Decode: %v", err)
			}
			for k, w := range tc.want {
				got := doc[k]
				if rd, ok := got.(io.Reader); ok {
					b, err := io.ReadAll(rd)
					if err != nil {
						t.Fatal(err)
					}
					got = b
				}
				if !reflect.DeepEqual(got, w) {
					t.Errorf("%s = %#v, want %#v", k, got, w)
				}
			}
		})
	}
}

// TestDecodeSyntheticBindings covers bindings none of the three models
// uses today: a map-of-string querystring member and a jsonvalue header.
func TestDecodeSyntheticBindings(t *testing.T) {
	str := &awsmodel.Shape{Name: "String", Type: "string"}
	strList := &awsmodel.Shape{Name: "StringList", Type: "list", Member: &awsmodel.Ref{ShapeName: "String", Shape: str}}
	params := &awsmodel.Shape{Name: "Params", Type: "map", Key: &awsmodel.Ref{ShapeName: "String", Shape: str}, Value: &awsmodel.Ref{ShapeName: "String", Shape: str}}
	multi := &awsmodel.Shape{Name: "Multi", Type: "map", Key: &awsmodel.Ref{ShapeName: "String", Shape: str}, Value: &awsmodel.Ref{ShapeName: "StringList", Shape: strList}}
	in := &awsmodel.Shape{Name: "In", Type: "structure", MemberOrder: []string{"Id", "Params", "Context"}, Members: map[string]*awsmodel.Ref{
		"Id":      {ShapeName: "String", Shape: str, Location: "querystring", LocationName: "id"},
		"Params":  {ShapeName: "Params", Shape: params, Location: "querystring"},
		"Context": {ShapeName: "String", Shape: str, Location: "header", LocationName: "X-Context", JSONValue: true},
	}}
	in2 := &awsmodel.Shape{Name: "In2", Type: "structure", MemberOrder: []string{"All"}, Members: map[string]*awsmodel.Ref{
		"All": {ShapeName: "Multi", Shape: multi, Location: "querystring"},
	}}
	svc := &awsmodel.Service{Key: "synthetic", Metadata: awsmodel.Metadata{Protocol: "rest-json"}, Operations: map[string]*awsmodel.Operation{
		"Op":  {Name: "Op", HTTP: awsmodel.HTTP{Method: "GET", RequestURI: "/op"}, Input: &awsmodel.Ref{ShapeName: "In", Shape: in}},
		"Op2": {Name: "Op2", HTTP: awsmodel.HTTP{Method: "GET", RequestURI: "/op2"}, Input: &awsmodel.Ref{ShapeName: "In2", Shape: in2}},
	}}
	c := New(svc)
	ctxHeader := base64.StdEncoding.EncodeToString([]byte(`{"user":"ann","n":[1,2]}`))
	r := httptest.NewRequest("GET", "/op?id=7&color=red&size=L&size=XL", nil)
	r.Header.Set("X-Context", ctxHeader)
	doc, err := c.Decode(r, nil, svc.Operations["Op"])
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]any{
		"Id":      "7",
		"Params":  map[string]any{"color": "red", "size": "L"},
		"Context": map[string]any{"user": "ann", "n": []any{float64(1), float64(2)}},
	}
	if !reflect.DeepEqual(doc, want) {
		t.Errorf("decoded %#v\nwant    %#v", doc, want)
	}
	r = httptest.NewRequest("GET", "/op2?size=L&size=XL", nil)
	doc, err = c.Decode(r, nil, svc.Operations["Op2"])
	if err != nil {
		t.Fatal(err)
	}
	if got := doc["All"]; !reflect.DeepEqual(got, map[string]any{"size": []any{"L", "XL"}}) {
		t.Errorf("map of lists decoded as %#v", got)
	}

	r = httptest.NewRequest("GET", "/op", nil)
	r.Header.Set("X-Context", "not base64!")
	if _, err := c.Decode(r, nil, svc.Operations["Op"]); err == nil {
		t.Error("a jsonvalue header that is not base64 decoded without error")
	}
}

func TestStreamingInput(t *testing.T) {
	cases := []struct {
		service, op string
		want        bool
	}{
		{"s3", "PutObject", true},
		{"s3", "UploadPart", true},
		{"s3", "GetObject", false},
		{"s3", "PutBucketTagging", false},
		{"lambda", "Invoke", false},
		{"lambda", "CreateFunction", false},
		{"batch", "SubmitJob", false},
	}
	for _, tc := range cases {
		if got := StreamingInput(awsmodel.MustLoad(tc.service).Operations[tc.op]); got != tc.want {
			t.Errorf("StreamingInput(%s %s) = %v, want %v", tc.service, tc.op, got, tc.want)
		}
	}
	if StreamingInput(nil) {
		t.Error("StreamingInput(nil) = true")
	}
}

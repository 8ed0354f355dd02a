package xmlshape

import (
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/nimbus-dev/nimbus/internal/awserr"
	"github.com/nimbus-dev/nimbus/internal/awsmodel"
)

func shapeRef(t testing.TB, svc, shape string) *awsmodel.Ref {
	t.Helper()
	s := awsmodel.MustLoad(svc)
	sh, ok := s.Shapes[shape]
	if !ok {
		t.Fatalf("%s has no shape %s", svc, shape)
	}
	return &awsmodel.Ref{ShapeName: shape, Shape: sh}
}

func TestAppendMembers(t *testing.T) {
	stamp := time.Date(2024, 5, 6, 7, 8, 9, 0, time.UTC)
	cases := []struct {
		name  string
		conv  Conventions
		svc   string
		shape string
		doc   map[string]any
		want  string
	}{
		{
			name: "ec2 list items named by locationName", conv: EC2, svc: "ec2", shape: "DescribeRegionsResult",
			doc:  map[string]any{"Regions": []any{map[string]any{"RegionName": "us-east-1", "Endpoint": "ec2.us-east-1.amazonaws.com"}}},
			want: `<regionInfo><item><regionEndpoint>ec2.us-east-1.amazonaws.com</regionEndpoint><regionName>us-east-1</regionName></item></regionInfo>`,
		},
		{
			name: "query list members, lenient names and types", conv: Query, svc: "iam", shape: "ListUsersResponse",
			doc:  map[string]any{"users": []map[string]any{{"UserName": "a&b", "CreateDate": "2024-05-06T07:08:09Z", "UserId": "AID", "Arn": "arn", "Path": "/"}}, "IsTruncated": false, "Marker": nil},
			want: `<Users><member><Path>/</Path><UserName>a&amp;b</UserName><UserId>AID</UserId><Arn>arn</Arn><CreateDate>2024-05-06T07:08:09.000Z</CreateDate></member></Users><IsTruncated>false</IsTruncated>`,
		},
		{
			name: "rest-xml flattened list", conv: RestXML, svc: "s3", shape: "ListObjectsV2Output",
			doc:  map[string]any{"Name": "b", "Contents": []any{map[string]any{"Key": "k1", "Size": int64(3), "LastModified": stamp}, map[string]any{"Key": "k2", "Size": 4.0}}, "KeyCount": 2, "RequestCharged": "requester"},
			want: `<Contents><Key>k1</Key><LastModified>2024-05-06T07:08:09.000Z</LastModified><Size>3</Size></Contents><Contents><Key>k2</Key><Size>4</Size></Contents><Name>b</Name><KeyCount>2</KeyCount>`,
		},
		{
			name: "members bound to headers are skipped", conv: Query, svc: "s3", shape: "HeadObjectOutput",
			doc:  map[string]any{"ContentLength": 1},
			want: ``, // every member is a header
		},
		{
			name: "nil document", conv: Query, svc: "sts", shape: "GetCallerIdentityResponse", doc: nil, want: ``,
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := tc.conv.AppendMembers(nil, shapeRef(t, tc.svc, tc.shape).Shape, tc.doc)
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != tc.want {
				t.Errorf("got  %s\nwant %s", got, tc.want)
			}
		})
	}
}

func TestAppendElementAttributesAndNamespaces(t *testing.T) {
	ref := shapeRef(t, "s3", "AccessControlPolicy")
	ref.XMLNamespace = &awsmodel.XMLNamespace{URI: "http://s3.amazonaws.com/doc/2006-03-01/"}
	doc := map[string]any{
		"Owner":  map[string]any{"ID": "o1"},
		"Grants": []any{map[string]any{"Permission": "READ", "Grantee": map[string]any{"Type": "CanonicalUser", "ID": "g1"}}},
	}
	got, err := RestXML.AppendElement(nil, "AccessControlPolicy", ref, doc)
	if err != nil {
		t.Fatal(err)
	}
	want := `<AccessControlPolicy xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><AccessControlList><Grant><Grantee xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xsi:type="CanonicalUser"><ID>g1</ID></Grantee><Permission>READ</Permission></Grant></AccessControlList><Owner><ID>o1</ID></Owner></AccessControlPolicy>`
	if string(got) != want {
		t.Fatalf("got  %s\nwant %s", got, want)
	}
	back, err := RestXML.Decode(got, ref)
	if err != nil {
		t.Fatal(err)
	}
	wantDoc := map[string]any{
		"Owner":  map[string]any{"ID": "o1"},
		"Grants": []any{map[string]any{"Permission": "READ", "Grantee": map[string]any{"Type": "CanonicalUser", "ID": "g1"}}},
	}
	if !reflect.DeepEqual(back, wantDoc) {
		t.Fatalf("decode: got %#v", back)
	}
}

func TestDecode(t *testing.T) {
	cases := []struct {
		name     string
		shape    string
		body     string
		want     any
		wantKind awserr.Kind
	}{
		{
			name: "flattened list with locationName", shape: "CompletedMultipartUpload",
			body: `<CompleteMultipartUpload xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Part><ETag>"e1"</ETag><PartNumber>1</PartNumber></Part><Part><ETag>"e2"</ETag><PartNumber>2</PartNumber></Part></CompleteMultipartUpload>`,
			want: map[string]any{"Parts": []any{map[string]any{"ETag": `"e1"`, "PartNumber": int64(1)}, map[string]any{"ETag": `"e2"`, "PartNumber": int64(2)}}},
		},
		{
			name: "required flattened list present, booleans", shape: "Delete",
			body: `<Delete><Object><Key>a</Key></Object><Quiet>true</Quiet></Delete>`,
			want: map[string]any{"Objects": []any{map[string]any{"Key": "a"}}, "Quiet": true},
		},
		{name: "required member missing", shape: "Delete", body: `<Delete><Quiet>true</Quiet></Delete>`, wantKind: awserr.MissingParameter},
		{name: "integer not a number", shape: "CompletedPart", body: `<Part><PartNumber>one</PartNumber></Part>`, wantKind: awserr.Validation},
		{name: "boolean not a boolean", shape: "Delete", body: `<Delete><Object><Key>a</Key></Object><Quiet>yes</Quiet></Delete>`, wantKind: awserr.Validation},
		{name: "enum outside its set", shape: "CreateBucketConfiguration", body: `<CreateBucketConfiguration><LocationConstraint>mars-1</LocationConstraint></CreateBucketConfiguration>`, wantKind: awserr.Validation},
		{name: "malformed", shape: "Delete", body: `<Delete><Object>`, wantKind: awserr.Validation},
		{name: "empty body", shape: "Delete", body: ``, wantKind: awserr.Validation},
		{name: "too deep", shape: "Delete", body: strings.Repeat("<a>", 100) + strings.Repeat("</a>", 100), wantKind: awserr.Validation},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := RestXML.Decode([]byte(tc.body), shapeRef(t, "s3", tc.shape))
			if tc.want == nil {
				var ae *awserr.Error
				if !errors.As(err, &ae) || ae.Kind != tc.wantKind {
					t.Fatalf("got %v, %v; want kind %v", got, err, tc.wantKind)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("got  %#v\nwant %#v", got, tc.want)
			}
		})
	}
}

func TestMapRoundTrip(t *testing.T) {
	// A non-flattened map with default key/value names, written and read back.
	ref := &awsmodel.Ref{ShapeName: "Metadata", Shape: awsmodel.MustLoad("s3").Shapes["Metadata"]}
	in := map[string]any{"b": "2", "a": "1<"}
	x, err := RestXML.AppendElement(nil, "Metadata", ref, in)
	if err != nil {
		t.Fatal(err)
	}
	if want := `<Metadata><entry><key>a</key><value>1&lt;</value></entry><entry><key>b</key><value>2</value></entry></Metadata>`; string(x) != want {
		t.Fatalf("got %s", x)
	}
	out, err := RestXML.Decode(x, ref)
	if err != nil || !reflect.DeepEqual(out, in) {
		t.Fatalf("decode: %v %v", out, err)
	}
}

func TestEncodeRejectsWrongTypes(t *testing.T) {
	sh := shapeRef(t, "ec2", "DescribeRegionsResult").Shape
	if _, err := EC2.AppendMembers(nil, sh, map[string]any{"Regions": "not a list"}); err == nil {
		t.Fatal("a string for a list encoded without error")
	}
	if _, err := EC2.AppendMembers(nil, shapeRef(t, "s3", "ListObjectsV2Output").Shape, map[string]any{"KeyCount": "many"}); err == nil {
		t.Fatal("a word for an integer encoded without error")
	}
}

func TestEscapingKeepsXMLWellFormed(t *testing.T) {
	got := string(AppendText(nil, "a\x00b<&>\r\xff\u2028"))
	if want := "a\uFFFDb&lt;&amp;&gt;&#xD;\uFFFD\u2028"; got != want {
		t.Fatalf("got %q want %q", got, want)
	}
}

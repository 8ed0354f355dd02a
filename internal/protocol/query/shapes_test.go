package query

import (
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/nimbus-dev/nimbus/internal/awsmodel"
)

// syntheticService is a model with the bindings IAM, STS and EC2 inputs
// barely use: maps (default and renamed entry names), flattened lists, list
// members with their own locationName, blobs, doubles and timestamps.
func syntheticService(protocol string) *awsmodel.Service {
	str := &awsmodel.Shape{Name: "S", Type: "string"}
	blob := &awsmodel.Shape{Name: "B", Type: "blob"}
	dbl := &awsmodel.Shape{Name: "D", Type: "double"}
	ts := &awsmodel.Shape{Name: "T", Type: "timestamp"}
	attrs := &awsmodel.Shape{Name: "Attrs", Type: "map", Key: &awsmodel.Ref{ShapeName: "S", Shape: str}, Value: &awsmodel.Ref{ShapeName: "S", Shape: str}}
	renamed := &awsmodel.Shape{Name: "Renamed", Type: "map",
		Key:   &awsmodel.Ref{ShapeName: "S", Shape: str, LocationName: "Name"},
		Value: &awsmodel.Ref{ShapeName: "S", Shape: str, LocationName: "Val"}}
	flat := &awsmodel.Shape{Name: "Flat", Type: "list", Flattened: true, Member: &awsmodel.Ref{ShapeName: "S", Shape: str}}
	named := &awsmodel.Shape{Name: "Named", Type: "list", Member: &awsmodel.Ref{ShapeName: "S", Shape: str, LocationName: "Item"}}
	in := &awsmodel.Shape{Name: "In", Type: "structure", MemberOrder: []string{"Attrs", "Renamed", "Flat", "Named", "Data", "Ratio", "When"},
		Members: map[string]*awsmodel.Ref{
			"Attrs":   {ShapeName: "Attrs", Shape: attrs, LocationName: "Attribute"},
			"Renamed": {ShapeName: "Renamed", Shape: renamed},
			"Flat":    {ShapeName: "Flat", Shape: flat},
			"Named":   {ShapeName: "Named", Shape: named},
			"Data":    {ShapeName: "B", Shape: blob},
			"Ratio":   {ShapeName: "D", Shape: dbl},
			"When":    {ShapeName: "T", Shape: ts},
		}}
	return &awsmodel.Service{
		Key:        "synthetic",
		Metadata:   awsmodel.Metadata{Protocol: protocol, APIVersion: "2020-01-01", EndpointPrefix: "synthetic"},
		Operations: map[string]*awsmodel.Operation{"Put": {Name: "Put", Input: &awsmodel.Ref{ShapeName: "In", Shape: in}}},
		Shapes:     map[string]*awsmodel.Shape{"S": str, "B": blob, "D": dbl, "T": ts, "Attrs": attrs, "Renamed": renamed, "Flat": flat, "Named": named, "In": in},
	}
}

func TestDecodeMapsAndListBindings(t *testing.T) {
	cases := []struct {
		name, protocol, form string
		want                 map[string]any
	}{
		{
			name: "query", protocol: "query",
			form: "Action=Put&Attribute.entry.1.key=a&Attribute.entry.1.value=1&Attribute.entry.2.key=b&Attribute.entry.2.value=2" +
				"&Renamed.entry.1.Name=n&Renamed.entry.1.Val=v&Flat.1=x&Flat.2=y&Named.Item.1=i&Data=aGk%3D&Ratio=0.25&When=2024-01-02T03%3A04%3A05.5Z",
			want: map[string]any{
				"Attrs": map[string]any{"a": "1", "b": "2"}, "Renamed": map[string]any{"n": "v"},
				"Flat": []any{"x", "y"}, "Named": []any{"i"}, "Data": []byte("hi"), "Ratio": 0.25,
				"When": mustTime(t, "2024-01-02T03:04:05.5Z"),
			},
		},
		{
			name: "ec2 spells every list and map flat", protocol: "ec2",
			form: "Action=Put&Attribute.1.key=a&Attribute.1.value=1&Renamed.1.Name=n&Renamed.1.Val=v&Flat.1=x&Named.1=i&When=1700000000",
			want: map[string]any{
				"Attrs": map[string]any{"a": "1"}, "Renamed": map[string]any{"n": "v"}, "Flat": []any{"x"}, "Named": []any{"i"},
				"When": mustTime(t, "2023-11-14T22:13:20Z"),
			},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			svc := syntheticService(tc.protocol)
			c := New(svc)
			got, err := c.Decode(formRequest(tc.form), []byte(tc.form), svc.Operations["Put"])
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

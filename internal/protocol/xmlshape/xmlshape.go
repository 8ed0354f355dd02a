// Package xmlshape encodes documents (see package wire) to XML and decodes
// XML into documents by walking model shapes. It serves three protocols that
// share AWS's XML binding rules but differ in how lists are written:
//
//   - query responses (IAM, STS): non-flattened list members are <member>
//   - ec2 responses: list members are <item> (EC2 models name them so)
//   - rest-xml bodies (S3): <member> unless the model names them
//
// Binding rules honoured, as the aws-sdk-go-v2 XML (de)serializers apply them:
// a member's element is its ref's locationName, else the member name; a
// non-flattened list wraps its items in the member element, each item named
// by the list member ref's locationName (else Conventions.ListMember); a
// flattened list repeats the member element once per item; maps are <entry>
// elements holding key and value elements (locationName overrides both), or
// repeated member elements when flattened; xmlAttribute members become
// attributes of their structure's element; xmlNamespace becomes xmlns (or
// xmlns:prefix). Timestamps default to ISO 8601 unless the ref or shape names
// a timestampFormat; blobs are base64.
//
// Use AppendMembers for a body without its own root (a query <OpResult>, an
// EC2 <OpResponse>), AppendElement for a body with one (an S3 payload, named
// by RootName), and Decode for an XML request body. Decode checks required
// members, enums and min/max as it goes and fails with *awserr.Error.
//
// The lenient reading of handler documents, timestamp formats and model
// constraint checks it uses live in package wire, shared with the other
// codecs; ParseScalar, the typed reading of form and XML text, is here.
package xmlshape

// Conventions are one protocol's XML naming rules.
type Conventions struct {
	// ListMember names the items of a non-flattened list when the list's
	// member ref has no locationName.
	ListMember string
}

var (
	// Query is the convention of awsQuery responses.
	Query = Conventions{ListMember: "member"}
	// EC2 is the convention of ec2Query responses.
	EC2 = Conventions{ListMember: "item"}
	// RestXML is the convention of S3 request and response bodies.
	RestXML = Conventions{ListMember: "member"}
)

func (c Conventions) listMember() string {
	if c.ListMember == "" {
		return "member"
	}
	return c.ListMember
}

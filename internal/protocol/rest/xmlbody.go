package rest

import (
	"strings"

	"github.com/nimbus-dev/nimbus/internal/awsmodel"
	"github.com/nimbus-dev/nimbus/internal/protocol/wire"
	"github.com/nimbus-dev/nimbus/internal/protocol/xmlshape"
)

const xmlHeader = `<?xml version="1.0" encoding="UTF-8"?>` + "\n"

// s3RootElements names the root element S3 writes for output shapes the
// api-2.json model leaves unnamed (Smithy's @xmlName on the output
// structure). Clients ignore the name; people and older tools read it.
var s3RootElements = map[string]string{
	"ListObjectsOutput":                                "ListBucketResult",
	"ListObjectsV2Output":                              "ListBucketResult",
	"ListBucketsOutput":                                "ListAllMyBucketsResult",
	"ListObjectVersionsOutput":                         "ListVersionsResult",
	"ListMultipartUploadsOutput":                       "ListMultipartUploadsResult",
	"ListPartsOutput":                                  "ListPartsResult",
	"CreateMultipartUploadOutput":                      "InitiateMultipartUploadResult",
	"CompleteMultipartUploadOutput":                    "CompleteMultipartUploadResult",
	"DeleteObjectsOutput":                              "DeleteResult",
	"GetBucketTaggingOutput":                           "Tagging",
	"GetObjectTaggingOutput":                           "Tagging",
	"GetBucketVersioningOutput":                        "VersioningConfiguration",
	"GetBucketAclOutput":                               "AccessControlPolicy",
	"GetObjectAclOutput":                               "AccessControlPolicy",
	"GetBucketCorsOutput":                              "CORSConfiguration",
	"GetBucketLifecycleConfigurationOutput":            "LifecycleConfiguration",
	"GetBucketNotificationConfigurationOutput":         "NotificationConfiguration",
	"GetBucketLoggingOutput":                           "BucketLoggingStatus",
	"GetBucketWebsiteOutput":                           "WebsiteConfiguration",
	"GetBucketRequestPaymentOutput":                    "RequestPaymentConfiguration",
	"GetBucketAccelerateConfigurationOutput":           "AccelerateConfiguration",
	"GetObjectAttributesOutput":                        "GetObjectAttributesResponse",
	"ListBucketAnalyticsConfigurationsOutput":          "ListBucketAnalyticsConfigurationResult",
	"ListBucketInventoryConfigurationsOutput":          "ListInventoryConfigurationsResult",
	"ListBucketMetricsConfigurationsOutput":            "ListMetricsConfigurationsResult",
	"ListBucketIntelligentTieringConfigurationsOutput": "ListBucketIntelligentTieringConfigurationsOutput",
	"CreateSessionOutput":                              "CreateSessionResult",
	"GetBucketLocationOutput":                          "LocationConstraint",
}

// decodeXMLValue decodes an XML payload member (CompleteMultipartUpload,
// Delete, Tagging, CreateBucketConfiguration).
func (c *codec) decodeXMLValue(body []byte, ref *awsmodel.Ref) (any, error) {
	return xmlshape.RestXML.Decode(body, ref)
}

// decodeXMLMembers decodes an XML body holding the body members of in
// (SelectObjectContent is the one S3 input without a payload member). The
// members are decoded through a shape holding only them, so that required
// URI and header members are left to validate.
func (c *codec) decodeXMLMembers(body []byte, in *awsmodel.Shape, doc map[string]any) error {
	if len(strings.TrimSpace(string(body))) == 0 {
		return nil
	}
	bodyOnly := &awsmodel.Shape{Name: in.Name, Type: "structure", Members: map[string]*awsmodel.Ref{}}
	for _, m := range in.MemberOrder {
		if ref := in.Members[m]; ref.Location == "" {
			bodyOnly.Members[m] = ref
			bodyOnly.MemberOrder = append(bodyOnly.MemberOrder, m)
		}
	}
	v, err := xmlshape.RestXML.Decode(body, &awsmodel.Ref{ShapeName: in.Name, Shape: bodyOnly})
	if err != nil {
		return err
	}
	if fields, ok := v.(map[string]any); ok {
		for k, fv := range fields {
			doc[k] = fv
		}
	}
	return nil
}

// appendXMLPayload writes a structure payload member as the body's root
// element, named by the member (CopyObjectResult, LegalHold) and carrying
// the service namespace.
func (c *codec) appendXMLPayload(dst []byte, member string, ref *awsmodel.Ref, v any) ([]byte, error) {
	root := *ref
	if root.LocationName == "" && ref.Shape.LocationName == "" {
		root.LocationName = member
	}
	if root.XMLNamespace == nil && ref.Shape.XMLNamespace == nil {
		root.XMLNamespace = c.namespace()
	}
	dst = append(dst, xmlHeader...)
	return xmlshape.RestXML.AppendElement(dst, xmlshape.RootName(&root), &root, v)
}

// appendXMLOutput writes the body members of an output document under the
// output's root element.
func (c *codec) appendXMLOutput(dst []byte, out *awsmodel.Ref, doc map[string]any) ([]byte, error) {
	sh := out.Shape
	name := out.LocationName
	if name == "" {
		name = sh.LocationName
	}
	if name == "" {
		name = s3RootElements[sh.Name]
	}
	if name == "" {
		name = strings.TrimSuffix(sh.Name, "Output") + "Result"
	}
	root := &awsmodel.Ref{ShapeName: sh.Name, Shape: sh, LocationName: name, XMLNamespace: out.XMLNamespace}
	if root.XMLNamespace == nil {
		root.XMLNamespace = c.namespace()
	}
	dst = append(dst, xmlHeader...)
	if sh.Name == "GetBucketLocationOutput" {
		// S3 writes the location as the root's text, not as a child:
		// <LocationConstraint xmlns="...">eu-west-1</LocationConstraint>.
		if m, ref, ok := sh.MemberFold("LocationConstraint"); ok {
			doc = wire.CanonicalMembers(sh, doc)
			text := ""
			if v, ok := doc[m]; ok && !isNil(v) {
				s, err := formatText(ref, v, wire.ISO8601)
				if err != nil {
					return dst, err
				}
				text = s
			}
			dst = append(dst, "<LocationConstraint"...)
			dst = appendXMLNS(dst, root.XMLNamespace)
			dst = xmlshape.AppendText(dst, text)
			return append(dst, "</LocationConstraint>"...), nil
		}
	}
	return xmlshape.RestXML.AppendElement(dst, name, root, doc)
}

func appendXMLNS(dst []byte, ns *awsmodel.XMLNamespace) []byte {
	if ns != nil && ns.URI != "" {
		dst = append(dst, ` xmlns="`...)
		dst = xmlshape.AppendText(dst, ns.URI)
		dst = append(dst, '"')
	}
	return append(dst, '>')
}

// namespace is the service's XML namespace. S3's api-2.json metadata has
// none (its members carry it), so it falls back to S3's own convention,
// http://s3.amazonaws.com/doc/<apiVersion>/.
func (c *codec) namespace() *awsmodel.XMLNamespace {
	if ns := c.svc.Metadata.XMLNamespace; ns != "" {
		return &awsmodel.XMLNamespace{URI: ns}
	}
	return &awsmodel.XMLNamespace{URI: "http://s3.amazonaws.com/doc/" + c.svc.Metadata.APIVersion + "/"}
}

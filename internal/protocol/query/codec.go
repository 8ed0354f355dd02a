// Package query is the codec of AWS's two form-encoded protocols: awsQuery
// (IAM, STS) and ec2Query (EC2). Both send the operation as the Action form
// field with nested members spelled as dotted keys, and answer in XML; they
// differ in how lists and member names are spelled and in the response and
// error envelopes, which is what the ec2 flag of a codec selects.
package query

import (
	"bytes"
	"net/http"
	"strings"

	"github.com/nimbus-dev/nimbus/internal/awserr"
	"github.com/nimbus-dev/nimbus/internal/awsmodel"
	"github.com/nimbus-dev/nimbus/internal/protocol/wire"
	"github.com/nimbus-dev/nimbus/internal/protocol/xmlshape"
)

type codec struct {
	svc    *awsmodel.Service
	ec2    bool
	family awserr.Family
	xml    xmlshape.Conventions
	// xmlnsAttr is ` xmlns="..."` for response root elements, built once.
	xmlnsAttr string
}

// New returns the codec for a service whose model protocol is "query" or
// "ec2".
func New(svc *awsmodel.Service) wire.Codec {
	c := &codec{svc: svc, ec2: svc.Metadata.Protocol == "ec2", family: wire.FamilyOf(svc.Metadata.Protocol), xml: xmlshape.Query}
	ns := svc.Metadata.XMLNamespace
	if ns == "" {
		ns = "https://" + svc.Metadata.EndpointPrefix + ".amazonaws.com/doc/" + svc.Metadata.APIVersion + "/"
	}
	if c.ec2 {
		c.xml = xmlshape.EC2
		// EC2's model omits the trailing slash its responses carry.
		if !strings.HasSuffix(ns, "/") {
			ns += "/"
		}
	}
	c.xmlnsAttr = ` xmlns="` + string(xmlshape.AppendText(nil, ns)) + `"`
	return c
}

func (c *codec) Family() awserr.Family { return c.family }

// Resolve finds the operation named by the Action field of the form body or
// the query string.
func (c *codec) Resolve(r *http.Request, body []byte) (*awsmodel.Operation, error) {
	action, op, ok := c.action(body)
	if !ok && r != nil && r.URL != nil {
		action, op, ok = c.action([]byte(r.URL.RawQuery))
	}
	if op != nil {
		return op, nil
	}
	if !ok || action == "" {
		return nil, &awserr.Error{Kind: awserr.UnknownOperation, Code: "MissingAction", Message: "The request must contain the parameter Action"}
	}
	if c.ec2 {
		return nil, &awserr.Error{Kind: awserr.UnknownOperation, Message: "The action " + action + " is not valid for this web service."}
	}
	return nil, &awserr.Error{Kind: awserr.UnknownOperation, Message: "Could not find operation " + action + " for version " + c.svc.Metadata.APIVersion}
}

// action reads the Action field of a form and the operation it names, if
// any; ok is false where the field is missing or does not unescape.
func (c *codec) action(form []byte) (string, *awsmodel.Operation, bool) {
	raw, found := rawFormValue(form, "Action")
	if !found {
		return "", nil, false
	}
	if bytes.IndexByte(raw, '%') < 0 && bytes.IndexByte(raw, '+') < 0 {
		// The common, unescaped name: look it up without copying it.
		if op, ok := c.svc.Operations[string(raw)]; ok {
			return op.Name, op, true
		}
	}
	action, err := unescape(raw)
	if err != nil {
		return "", nil, false
	}
	return action, c.svc.Operations[action], true
}

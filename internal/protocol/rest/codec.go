// Package rest is the codec for AWS's two REST protocols: rest-json
// (Lambda, Batch) and rest-xml (S3). Both bind input and output members to
// the URI path, query string, headers, status code and body as the model's
// "location" traits say; they differ in the body (JSON or XML), in the error
// envelope, and in S3's extra habits (virtual-hosted buckets, HEAD without
// bodies, x-amz-request-id and x-amz-id-2).
//
// Each codec compiles its service's operations into a router once, at New.
package rest

import (
	"net/http"
	"strings"

	"github.com/nimbus-dev/nimbus/internal/awserr"
	"github.com/nimbus-dev/nimbus/internal/awsmodel"
	"github.com/nimbus-dev/nimbus/internal/protocol/wire"
)

// codec implements wire.Codec for one rest-json or rest-xml service.
type codec struct {
	svc    *awsmodel.Service
	xml    bool // rest-xml (S3) rather than rest-json
	family awserr.Family
	routes *router
	// malformedCode answers a body that does not parse or fit its shape,
	// and clientCode, when set, answers every other client error Decode
	// finds, in the service's own words (see errorCodes).
	malformedCode, clientCode string
}

// New returns the codec of a rest-json or rest-xml service, chosen by
// svc.Metadata.Protocol.
func New(svc *awsmodel.Service) wire.Codec {
	c := &codec{
		svc:    svc,
		xml:    svc.Metadata.Protocol == "rest-xml",
		family: wire.FamilyOf(svc.Metadata.Protocol),
		routes: newRouter(svc),
	}
	c.malformedCode, c.clientCode = errorCodes(svc, c.xml)
	return c
}

// errorCodes picks the codes a service uses for requests it cannot read:
// S3 says MalformedXML; Lambda says InvalidRequestContentException for a
// body that is not JSON and ValidationException (the family default) for
// constraint failures; Batch models no validation error and answers
// ClientException for both.
func errorCodes(svc *awsmodel.Service, xml bool) (malformed, client string) {
	if xml {
		return "MalformedXML", ""
	}
	has := func(name string) bool {
		sh, ok := svc.Shapes[name]
		return ok && sh.Exception
	}
	if has("ClientException") && !has("ValidationException") {
		client = "ClientException"
	}
	switch {
	case has("InvalidRequestContentException"):
		malformed = "InvalidRequestContentException"
	case client != "":
		malformed = client
	default:
		malformed = "SerializationException"
	}
	return malformed, client
}

// withCode gives a Decode error its service's code: malformed bodies get
// malformedCode, other client errors clientCode when the service has one.
func (c *codec) withCode(err error, body bool) error {
	e, ok := err.(*awserr.Error)
	if !ok || (e.Kind != awserr.Validation && e.Kind != awserr.MissingParameter) {
		return err
	}
	switch {
	case e.Code == codeSerialization || (body && c.xml && e.Code == ""):
		e.Code = c.malformedCode
	case e.Code == "" && c.clientCode != "":
		e.Code = c.clientCode
	}
	return e
}

func (c *codec) Family() awserr.Family { return c.family }

// Resolve finds the operation by method, path and query; body is ignored.
func (c *codec) Resolve(r *http.Request, _ []byte) (*awsmodel.Operation, error) {
	rt, _, err := c.route(r)
	if err != nil {
		return nil, err
	}
	return rt.op, nil
}

// route matches r, with S3's virtual-hosted bucket moved into the path.
func (c *codec) route(r *http.Request) (*route, map[string]string, error) {
	path, hasBucket := c.effectivePath(r)
	method := strings.ToUpper(r.Method)
	rt, labels := c.routes.resolve(method, path, r.URL.Query(), r.Header)
	if rt == nil {
		return nil, nil, c.noRoute(method, path, hasBucket)
	}
	return rt, labels, nil
}

// effectivePath is the request's escaped path, prefixed with the bucket
// when an S3 request names it in the Host header, so that one set of
// routes serves both addressing styles.
func (c *codec) effectivePath(r *http.Request) (string, bool) {
	path := r.URL.EscapedPath()
	if path == "" {
		path = "/"
	}
	if !c.xml {
		return path, false
	}
	host := r.Host
	if host == "" {
		host = r.URL.Host
	}
	if bucket, ok := BucketFromHost(host); ok {
		return "/" + escapeSegment(bucket) + path, true
	}
	return path, len(splitPath(path)) > 0
}

// routeOf matches r against op's own route, for Decode.
func (c *codec) routeOf(r *http.Request, op *awsmodel.Operation) (map[string]string, error) {
	rt, ok := c.routes.byOp[op.Name]
	if !ok {
		return nil, &awserr.Error{Kind: awserr.UnknownOperation, Message: "Unknown operation " + op.Name}
	}
	path, _ := c.effectivePath(r)
	labels, ok := rt.match(path)
	if !ok {
		// Name the first label the path leaves empty or lacks, such as
		// the Key of "GET /bucket" decoded as GetObject.
		parts := strings.Split(strings.TrimPrefix(path, "/"), "/")
		for i, seg := range rt.segments {
			if seg.label != "" && (i >= len(parts) || parts[i] == "") {
				return nil, awserr.Missing(seg.label)
			}
		}
		return nil, &awserr.Error{Kind: awserr.Validation, Message: "The request path does not match operation " + op.Name}
	}
	return labels, nil
}

package rest

import (
	"net/http"
	"sort"
	"strconv"
	"strings"

	"github.com/nimbus-dev/nimbus/internal/awserr"
	"github.com/nimbus-dev/nimbus/internal/awsmodel"
	"github.com/nimbus-dev/nimbus/internal/protocol/wire"
	"github.com/nimbus-dev/nimbus/internal/protocol/xmlshape"
)

// EncodeError writes e in the protocol's envelope.
//
// rest-json (Lambda, Batch): the code in X-Amzn-ErrorType, which
// aws-sdk-go-v2 and botocore read before any body member, and a JSON body
// of the error shape's members: "message" (or "Message", as the shape
// spells it), Lambda's "Type" (User for client faults, Service for server
// faults) where the shape has one, and e.Fields; a field the shape binds to
// a header (Lambda's Retry-After) goes there instead.
//
// rest-xml (S3): <Error><Code/><Message/>fields<RequestId/><HostId/></Error>
// with no body for HEAD, whose clients derive the code from the status.
func (c *codec) EncodeError(w http.ResponseWriter, op *awsmodel.Operation, e awserr.Error, requestID string) {
	status := e.Status
	if status == 0 {
		status = awserr.StatusFor(e.Kind)
	}
	code := e.Code
	if code == "" {
		code = awserr.CodeFor(c.family, e.Kind)
	}
	h := w.Header()
	c.setRequestID(h, requestID)
	if c.xml {
		c.writeXMLError(w, op, status, code, e, requestID)
		return
	}
	c.writeJSONError(w, status, code, e)
}

func (c *codec) writeJSONError(w http.ResponseWriter, status int, code string, e awserr.Error) {
	h := w.Header()
	h.Set("X-Amzn-ErrorType", code)
	sh := c.errorShape(code)
	messageKey := "message"
	if sh != nil {
		if m, _, ok := sh.MemberFold("message"); ok {
			messageKey = m
		}
	}
	body := map[string]string{messageKey: e.Message}
	if sh != nil {
		if _, ok := sh.Members["Type"]; ok {
			body["Type"] = "User"
			if status >= 500 {
				body["Type"] = "Service"
			}
		}
	}
	for k, v := range e.Fields {
		name, ref, ok := "", (*awsmodel.Ref)(nil), false
		if sh != nil {
			name, ref, ok = sh.MemberFold(k)
		}
		switch {
		case ok && ref.Location == "header":
			h.Set(wireName(name, ref), v)
		case ok:
			body[jsonName(name, ref)] = v
		default:
			body[k] = v
		}
	}
	keys := make([]string, 0, len(body))
	for k := range body {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	out := []byte{'{'}
	for i, k := range keys {
		if i > 0 {
			out = append(out, ',')
		}
		out = wire.AppendJSONString(out, k)
		out = append(out, ':')
		out = wire.AppendJSONString(out, body[k])
	}
	out = append(out, '}')
	h.Set("Content-Type", "application/json")
	h.Set("Content-Length", strconv.Itoa(len(out)))
	w.WriteHeader(status)
	_, _ = w.Write(out) // the client went away; nothing left to tell it
}

// errorShape finds the model's exception shape for a wire code.
func (c *codec) errorShape(code string) *awsmodel.Shape {
	if sh, ok := c.svc.Shapes[code]; ok && sh.Exception {
		return sh
	}
	for _, sh := range c.svc.Shapes {
		if sh.Exception && sh.Error != nil && sh.Error.Code == code {
			return sh
		}
	}
	return nil
}

func (c *codec) writeXMLError(w http.ResponseWriter, op *awsmodel.Operation, status int, code string, e awserr.Error, requestID string) {
	h := w.Header()
	// HEAD answers carry no body, and neither do 304 Not Modified answers
	// to conditional GETs; clients read the status alone.
	if (op != nil && strings.EqualFold(op.HTTP.Method, http.MethodHead)) || status == http.StatusNotModified {
		w.WriteHeader(status)
		return
	}
	out := []byte(xmlHeader)
	out = append(out, "<Error>"...)
	out = appendXMLText(out, "Code", code)
	out = appendXMLText(out, "Message", e.Message)
	keys := make([]string, 0, len(e.Fields))
	for k := range e.Fields {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		if validElementName(k) {
			out = appendXMLText(out, k, e.Fields[k])
		}
	}
	if requestID != "" {
		out = appendXMLText(out, "RequestId", requestID)
		out = appendXMLText(out, "HostId", hostID(requestID))
	}
	out = append(out, "</Error>"...)
	h.Set("Content-Type", "application/xml")
	h.Set("Content-Length", strconv.Itoa(len(out)))
	w.WriteHeader(status)
	_, _ = w.Write(out) // the client went away; nothing left to tell it
}

func appendXMLText(dst []byte, name, text string) []byte {
	dst = append(dst, '<')
	dst = append(dst, name...)
	dst = append(dst, '>')
	dst = xmlshape.AppendText(dst, text)
	dst = append(dst, "</"...)
	dst = append(dst, name...)
	return append(dst, '>')
}

// validElementName keeps a handler's field names from breaking the XML.
func validElementName(s string) bool {
	if s == "" {
		return false
	}
	for i, r := range s {
		letter := r == '_' || (r >= 'a' && r <= 'z') || (r >= 'A' && r <= 'Z')
		if !letter && (i == 0 || !(r == '-' || r == '.' || (r >= '0' && r <= '9'))) {
			return false
		}
	}
	return true
}

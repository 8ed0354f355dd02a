package query

import (
	"fmt"
	"net/http"

	"github.com/nimbus-dev/nimbus/internal/awserr"
	"github.com/nimbus-dev/nimbus/internal/awsmodel"
	"github.com/nimbus-dev/nimbus/internal/protocol/wire"
	"github.com/nimbus-dev/nimbus/internal/protocol/xmlshape"
)

// buffers recycles response bodies between requests.
var buffers = wire.NewBodyPool(4096)

const contentType = "text/xml;charset=UTF-8"

// Encode writes a successful response in the protocol's envelope.
func (c *codec) Encode(w http.ResponseWriter, op *awsmodel.Operation, out map[string]any, requestID string) error {
	bp := buffers.Get()
	body, err := c.appendResponse((*bp)[:0], op, out, requestID)
	defer buffers.Put(bp, body)
	if err != nil {
		return fmt.Errorf("encode %s response: %w", op.Name, err)
	}
	if err := wire.WriteBody(w, http.StatusOK, contentType, requestID, body); err != nil {
		return fmt.Errorf("write %s response: %w", op.Name, err)
	}
	return nil
}

// appendResponse builds the body. awsQuery wraps the output in
// <OpResult> beside <ResponseMetadata>; ec2Query puts <requestId> and the
// output members directly in <OpResponse>, and answers operations without
// output with <return>true</return>.
func (c *codec) appendResponse(dst []byte, op *awsmodel.Operation, out map[string]any, requestID string) ([]byte, error) {
	root := op.Name + "Response"
	dst = append(dst, '<')
	dst = append(dst, root...)
	dst = append(dst, c.xmlnsAttr...)
	dst = append(dst, '>')
	var err error
	if c.ec2 {
		dst = append(dst, "<requestId>"...)
		dst = xmlshape.AppendText(dst, requestID)
		dst = append(dst, "</requestId>"...)
		if op.Output == nil || op.Output.Shape == nil {
			dst = append(dst, "<return>true</return>"...)
		} else if dst, err = c.xml.AppendMembers(dst, op.Output.Shape, out); err != nil {
			return dst, err
		}
	} else {
		if op.Output != nil && op.Output.Shape != nil {
			result := op.Output.ResultWrapper
			if result == "" {
				result = op.Name + "Result"
			}
			dst = append(dst, '<')
			dst = append(dst, result...)
			dst = append(dst, '>')
			if dst, err = c.xml.AppendMembers(dst, op.Output.Shape, out); err != nil {
				return dst, err
			}
			dst = append(dst, "</"...)
			dst = append(dst, result...)
			dst = append(dst, '>')
		}
		dst = append(dst, "<ResponseMetadata><RequestId>"...)
		dst = xmlshape.AppendText(dst, requestID)
		dst = append(dst, "</RequestId></ResponseMetadata>"...)
	}
	dst = append(dst, "</"...)
	dst = append(dst, root...)
	return append(dst, '>'), nil
}

// EncodeError writes e in <ErrorResponse> (awsQuery) or <Response><Errors>
// (ec2Query).
func (c *codec) EncodeError(w http.ResponseWriter, op *awsmodel.Operation, e awserr.Error, requestID string) {
	if e.Code == "" || e.Status == 0 {
		e = awserr.Resolve(c.family, &e) // a caller that skipped Resolve still gets a complete envelope
	}
	status := e.Status
	bp := buffers.Get()
	body := c.appendError((*bp)[:0], e, status, requestID)
	defer buffers.Put(bp, body)
	_ = wire.WriteBody(w, status, contentType, requestID, body) // the client went away; nothing left to tell it
}

func (c *codec) appendError(dst []byte, e awserr.Error, status int, requestID string) []byte {
	if c.ec2 {
		dst = append(dst, `<?xml version="1.0" encoding="UTF-8"?>`+"\n<Response><Errors><Error><Code>"...)
		dst = xmlshape.AppendText(dst, e.Code)
		dst = append(dst, "</Code><Message>"...)
		dst = xmlshape.AppendText(dst, e.Message)
		dst = append(dst, "</Message></Error></Errors><RequestID>"...)
		dst = xmlshape.AppendText(dst, requestID)
		return append(dst, "</RequestID></Response>"...)
	}
	fault := "Sender"
	if status >= 500 {
		fault = "Receiver"
	}
	dst = append(dst, "<ErrorResponse"...)
	dst = append(dst, c.xmlnsAttr...)
	dst = append(dst, "><Error><Type>"...)
	dst = append(dst, fault...)
	dst = append(dst, "</Type><Code>"...)
	dst = xmlshape.AppendText(dst, e.Code)
	dst = append(dst, "</Code><Message>"...)
	dst = xmlshape.AppendText(dst, e.Message)
	dst = append(dst, "</Message></Error><RequestId>"...)
	dst = xmlshape.AppendText(dst, requestID)
	return append(dst, "</RequestId></ErrorResponse>"...)
}

// Package jsonrpc is the codec of AWS's awsJson 1.0 and 1.1 protocols
// (CloudWatch Logs, Cost Explorer): every request is a POST whose
// X-Amz-Target header names the operation and whose body is the input as a
// JSON object; responses are the output object, errors an object with
// __type. The two versions differ only in the Content-Type.
package jsonrpc

import (
	"net/http"
	"strings"

	"github.com/nimbus-dev/nimbus/internal/awserr"
	"github.com/nimbus-dev/nimbus/internal/awsmodel"
	"github.com/nimbus-dev/nimbus/internal/protocol/wire"
)

type codec struct {
	svc         *awsmodel.Service
	contentType string
	// targetPrefix is "<targetPrefix>." from the model.
	targetPrefix string
	// validationCode answers constraint failures: empty for the family's
	// ValidationException, else validationCodes' entry.
	validationCode string
}

// validationCodes are the services whose constraint failures are not
// ValidationException: CloudWatch Logs answers "1 validation error
// detected: ..." as InvalidParameterException, although its model also
// names a ValidationException (used by newer operations only).
var validationCodes = map[string]string{"logs": "InvalidParameterException"}

// New returns the codec for a service whose model protocol is "json".
func New(svc *awsmodel.Service) wire.Codec {
	version := svc.Metadata.JSONVersion
	if version == "" {
		version = "1.0"
	}
	c := &codec{svc: svc, contentType: "application/x-amz-json-" + version, targetPrefix: svc.Metadata.TargetPrefix + "."}
	c.validationCode = validationCodes[svc.Key]
	return c
}

func (c *codec) Family() awserr.Family { return awserr.FamilyJSON }

// Resolve finds the operation the X-Amz-Target header names.
func (c *codec) Resolve(r *http.Request, _ []byte) (*awsmodel.Operation, error) {
	var target string
	if r != nil {
		target = r.Header.Get("X-Amz-Target")
	}
	if target == "" {
		return nil, &awserr.Error{Kind: awserr.UnknownOperation, Message: "Missing required header X-Amz-Target"}
	}
	name, ok := strings.CutPrefix(target, c.targetPrefix)
	if ok {
		if op, found := c.svc.Operations[name]; found {
			return op, nil
		}
	}
	return nil, &awserr.Error{Kind: awserr.UnknownOperation, Message: "Unknown operation " + target}
}

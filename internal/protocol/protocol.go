// Package protocol picks the codec for a service's AWS protocol. Each of the
// five protocols is written once (query and ec2 in package query, json in
// jsonrpc, rest-json and rest-xml in rest) and serves every service that
// speaks it.
package protocol

import (
	"fmt"

	"github.com/nimbus-dev/nimbus/internal/awsmodel"
	"github.com/nimbus-dev/nimbus/internal/protocol/jsonrpc"
	"github.com/nimbus-dev/nimbus/internal/protocol/query"
	"github.com/nimbus-dev/nimbus/internal/protocol/rest"
	"github.com/nimbus-dev/nimbus/internal/protocol/wire"
)

// New returns the codec for svc's protocol.
func New(svc *awsmodel.Service) (wire.Codec, error) {
	switch svc.Metadata.Protocol {
	case "query", "ec2":
		return query.New(svc), nil
	case "json":
		return jsonrpc.New(svc), nil
	case "rest-json", "rest-xml":
		return rest.New(svc), nil
	}
	return nil, fmt.Errorf("service %s: unsupported protocol %q", svc.Key, svc.Metadata.Protocol)
}

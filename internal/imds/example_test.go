package imds_test

import (
	"context"
	"log"
	"net/netip"

	"github.com/nimbus-dev/nimbus/internal/imds"
	"github.com/nimbus-dev/nimbus/internal/network"
)

// How nimbus wires the service: the instances controller answers the
// lookup, and the network layer serves the handler at 169.254.169.254 in
// every sandbox on its bridges.
func ExampleNew() {
	ctx := context.Background()
	var netManager *network.Manager // from network.NewManager at start

	lookup := imds.LookupFunc(func(ctx context.Context, sandboxID string) (*imds.Instance, error) {
		// The real lookup maps the sandbox to its instance record.
		ip := netip.MustParseAddr("10.213.0.5")
		return &imds.Instance{
			InstanceID:       "i-0123456789abcdef0",
			InstanceType:     "t3.micro",
			Region:           "us-east-1",
			AvailabilityZone: "us-east-1a",
			PrivateIP:        ip,
			Hostname:         imds.Hostname(ip, "us-east-1"),
			Options:          imds.MetadataOptions{HTTPTokens: imds.HTTPTokensRequired},
		}, nil
	})
	srv := network.NewMetadataServer(netManager, imds.New(lookup))
	if err := srv.ListenAll(ctx); err != nil {
		log.Fatal(err)
	}
	defer srv.Close(ctx)
}

// Package network gives each sandbox its own network namespace on a named
// bridge network: the netns is a bind-mounted nsfs file under a nimbus-owned
// directory, joined to the bridge through the CNI bridge, host-local and
// loopback plugins (libcni). nimbus's own nftables tables, inet and bridge
// <TableName> ("nimbus"), hold the rest and are rebuilt atomically on every
// change: egress NAT, the per-sandbox firewall (EC2 security groups), the
// DNAT that sends 169.254.169.254:80 to the MetadataServer on each bridge
// gateway, and anti-spoofing (a sandbox sends only from its own address, so
// the MetadataServer can trust source addresses).
//
// Every attachment is recorded in the state directory before any host change
// is made, so a restarted nimbus knows every namespace, veth, lease and rule it
// left behind and can detach them (see Manager.List and CleanupStale).
//
// Each network that has been attached to keeps a small pool of prepared
// attachments (pool.go), so that most Attaches only rewrite a record.
package network

import (
	"errors"
	"fmt"
	"net/netip"
	"regexp"
)

// Sentinel errors; the layers above map them to AWS codes at the edge.
var (
	ErrNotFound      = errors.New("network object not found")
	ErrAlreadyExists = errors.New("network object already exists")
	ErrInvalid       = errors.New("invalid network request")
	ErrInUse         = errors.New("network in use")
)

// DefaultNetworkName is the network every sandbox joins unless told otherwise.
const DefaultNetworkName = "nimbus0"

// DefaultSubnet is the default network's range. 10.213/16 is chosen because
// none of the usual host software claims it (Docker 172.17/16, Podman
// 10.88/16, Kubernetes 10.244/16 and 10.96/12, AWS default VPCs 172.31/16).
var DefaultSubnet = netip.MustParsePrefix("10.213.0.0/16")

// MetadataAddr is the link-local endpoint every sandbox reaches on port 80.
var MetadataAddr = netip.MustParseAddr("169.254.169.254")

// Network is a named layer-2 segment: one Linux bridge, one IPv4 subnet whose
// first address is the bridge's (the sandboxes' gateway). EC2 VPC subnets
// later become networks of their own.
type Network struct {
	Name    string       // CNI network name, [a-z0-9-], at most 32 characters
	Bridge  string       // Linux bridge device, at most 15 characters; defaults to Name
	Subnet  netip.Prefix // IPv4 only
	Gateway netip.Addr   // defaults to the subnet's first host address
	// Isolated keeps the network's sandboxes from every other network's
	// through the host (an EC2 VPC; see vpc.go).
	Isolated bool `json:",omitempty"`
	// NoEgress forwards nothing off the bridge and skips egress NAT (a VPC
	// without an internet gateway route).
	NoEgress bool `json:",omitempty"`
}

// DefaultNetwork is nimbus0 on DefaultSubnet.
func DefaultNetwork() Network {
	return Network{Name: DefaultNetworkName, Bridge: DefaultNetworkName, Subnet: DefaultSubnet}
}

var networkNameRE = regexp.MustCompile(`^[a-z0-9][a-z0-9-]{0,31}$`)

// withDefaults validates n and fills in Bridge and Gateway.
func (n Network) withDefaults() (Network, error) {
	if !networkNameRE.MatchString(n.Name) {
		return n, fmt.Errorf("%w: network name %q must match %s", ErrInvalid, n.Name, networkNameRE)
	}
	if n.Bridge == "" {
		n.Bridge = n.Name
	}
	if len(n.Bridge) > 15 {
		return n, fmt.Errorf("%w: bridge name %q is longer than 15 characters", ErrInvalid, n.Bridge)
	}
	if !n.Subnet.IsValid() || !n.Subnet.Addr().Is4() || n.Subnet.Bits() > 30 {
		return n, fmt.Errorf("%w: network %s needs an IPv4 subnet of /30 or larger, got %s", ErrInvalid, n.Name, n.Subnet)
	}
	n.Subnet = n.Subnet.Masked()
	if !n.Gateway.IsValid() {
		n.Gateway = n.Subnet.Addr().Next()
	}
	if !n.Subnet.Contains(n.Gateway) {
		return n, fmt.Errorf("%w: gateway %s is outside subnet %s", ErrInvalid, n.Gateway, n.Subnet)
	}
	return n, nil
}

var sandboxIDRE = regexp.MustCompile(`^[a-z0-9][a-z0-9-]{0,63}$`)

func validateSandboxID(id string) error {
	if !sandboxIDRE.MatchString(id) {
		return fmt.Errorf("%w: sandbox id %q must match %s", ErrInvalid, id, sandboxIDRE)
	}
	return nil
}

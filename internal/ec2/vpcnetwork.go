package ec2

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"sync"

	"github.com/nimbus-dev/nimbus/internal/awserr"
	"github.com/nimbus-dev/nimbus/internal/network"
	"github.com/nimbus-dev/nimbus/internal/store"
)

// Instances of the default VPC run on the host's default network (nimbus0),
// shared with Lambda and Batch sandboxes, and take their address from it.
// Every other VPC is a network of its own: one bridge over the VPC's CIDR,
// isolated from every other network (network.Network.Isolated), with its
// gateway at the VPC's base address plus one (the VPC router's address in
// a subnet at the VPC's start), and egress only while the VPC has an
// internet gateway route (routetables.go). An instance of such a VPC gets
// its private IP from its subnet at launch, past AWS's reserved addresses.
//
// All bridges share the host's routing table, so two VPCs whose CIDRs
// overlap cannot both have running instances: the second one's instances
// fail to launch with a state reason saying so. (A router namespace per VPC
// would lift this; see network.checkClashLocked.)

// MetadataListener starts the instance metadata service on a network's
// gateway; *network.MetadataServer is one. A VPC's network is defined when
// its first instance launches, after nimbus started its metadata server.
type MetadataListener interface {
	Listen(ctx context.Context, networkName string) error
}

// SetMetadataListener has the controller start the metadata service on a
// VPC's host network when it defines one; call it before Run. (The
// metadata server is built over the controller, hence not an option.)
// Without it, instances of VPCs other than the default one have no IMDS.
func (c *InstanceController) SetMetadataListener(l MetadataListener) {
	c.metadata = l
}

// checkVPCNetworkFits refuses a launch into a VPC whose host network is not
// defined yet and could not be: its CIDR overlaps a network that is (another
// VPC with running instances, nimbus's default network). AWS has no such
// limit; nimbus's VPC networks share the host's routing table.
func (e *EC2) checkVPCNetworkFits(vpcID, cidr string) error {
	if e.host == nil || e.host.Network() == nil {
		return nil
	}
	p, err := netip.ParsePrefix(cidr)
	if err != nil {
		return nil
	}
	for _, n := range e.host.Network().Networks() {
		if n.Name == vpcNetworkName(vpcID) {
			return nil
		}
		if n.Subnet.Overlaps(p) {
			return awserr.New(awserr.NotImplemented, "Unsupported",
				"nimbus cannot run instances of %s (%s) while its CIDR overlaps host network %s (%s), where instances of another VPC or nimbus's own sandboxes run.",
				vpcID, cidr, n.Name, n.Subnet)
		}
	}
	return nil
}

// vpcNetworkName is the host network of a non-default VPC: "vpc-" and the
// ID's 17 hex digits fit a CNI network name.
func vpcNetworkName(vpcID string) string { return vpcID }

// vpcBridgeName is its bridge: "nv" and 13 of the ID's hex digits, within
// the kernel's 15 characters.
func vpcBridgeName(vpcID string) string {
	hexPart := vpcID[len("vpc-"):]
	if len(hexPart) > 13 {
		hexPart = hexPart[:13]
	}
	return "nv" + hexPart
}

// vpcNetwork is the host network definition of a non-default VPC.
func vpcNetwork(v vpc, egress bool) (network.Network, error) {
	p, err := netip.ParsePrefix(v.CidrBlock)
	if err != nil {
		return network.Network{}, fmt.Errorf("CIDR of %s: %w", v.VpcId, err)
	}
	return network.Network{Name: vpcNetworkName(v.VpcId), Bridge: vpcBridgeName(v.VpcId), Subnet: p,
		Gateway: p.Addr().Next(), Isolated: true, NoEgress: !egress}, nil
}

// allocatePrivateIP picks, in tx, the lowest address of the subnet that no
// live instance holds, past the four addresses AWS reserves at a subnet's
// start and before its broadcast address.
func allocatePrivateIP(tx store.Tx, account, reg string, s subnet) (string, error) {
	p, err := netip.ParsePrefix(s.CidrBlock)
	if err != nil {
		return "", fmt.Errorf("CIDR of %s: %w", s.SubnetId, err)
	}
	taken := map[netip.Addr]bool{}
	err = tx.List(store.Query{Kind: kindInstance, Account: account, Region: reg}, func(o store.Object) error {
		var inst instance
		if err := o.Decode(&inst); err != nil {
			return err
		}
		if inst.SubnetId == s.SubnetId && inst.State != stateTerminated {
			if a, err := netip.ParseAddr(inst.PrivateIpAddress); err == nil {
				taken[a] = true
			}
		}
		return nil
	})
	if err != nil {
		return "", err
	}
	size := 1 << (32 - p.Bits())
	a := p.Masked().Addr()
	for range 4 {
		a = a.Next()
	}
	for i := 4; i < size-1; i, a = i+1, a.Next() {
		if !taken[a] {
			return a.String(), nil
		}
	}
	return "", awserr.New(awserr.Conflict, "InsufficientFreeAddressesInSubnet",
		"There are not enough free addresses in subnet '%s' to satisfy the requested number of instances.", s.SubnetId)
}

// vpcLock guards a VPC's host network: launches hold it shared from
// defining the network until their sandbox is attached, releaseVPCNetwork
// exclusively, so a network is never deleted between a launch's definition
// and its attachment.
func (c *InstanceController) vpcLock(vpcID string) *sync.RWMutex {
	l, _ := c.vpcLocks.LoadOrStore(vpcID, &sync.RWMutex{})
	return l.(*sync.RWMutex)
}

// instanceNetwork is the host network an instance runs on, defining a
// VPC's network (and starting metadata on it) at its first use. The caller
// calls release once the sandbox is attached (or failed to be).
func (c *InstanceController) instanceNetwork(ctx context.Context, inst *instance) (name string, release func(), err error) {
	if c.network == "" || inst.VpcId == "" || inst.VpcId == defaultVPCID(inst.OwnerId, inst.Region) {
		return c.network, func() {}, nil
	}
	l := c.vpcLock(inst.VpcId)
	l.RLock()
	name, err = c.defineVPCNetwork(ctx, inst)
	if err != nil {
		l.RUnlock()
		return "", nil, err
	}
	return name, l.RUnlock, nil
}

func (c *InstanceController) defineVPCNetwork(ctx context.Context, inst *instance) (string, error) {
	var v vpc
	egress := false
	err := c.e.store.View(ctx, func(tx store.Tx) error {
		var err error
		if v, _, err = getVPC(tx, inst.OwnerId, inst.Region, inst.VpcId); err != nil {
			return err
		}
		egress, err = vpcHasInternetRoute(tx, inst.OwnerId, inst.Region, inst.VpcId)
		return err
	})
	if err != nil {
		return "", fmt.Errorf("VPC of %s: %w", inst.InstanceId, err)
	}
	n, err := vpcNetwork(v, egress)
	if err != nil {
		return "", err
	}
	mgr := c.e.host.Network()
	if _, err := mgr.Network(n.Name); errors.Is(err, network.ErrNotFound) {
		if err := mgr.DefineNetwork(ctx, n); err != nil {
			return "", fmt.Errorf("network of %s: %w", v.VpcId, err)
		}
	} else if err := mgr.SetNetworkEgress(ctx, n.Name, egress); err != nil {
		return "", err
	}
	if c.metadata != nil {
		if err := c.metadata.Listen(ctx, n.Name); err != nil {
			return "", fmt.Errorf("metadata service on %s: %w", n.Name, err)
		}
	}
	return n.Name, nil
}

// syncVPCEgress gives a VPC's host network egress exactly while it has an
// internet gateway route; a VPC whose network is not defined yet (no
// instance ran in it) gets it at its first launch.
func (e *EC2) syncVPCEgress(ctx context.Context, account, reg, vpcID string) error {
	if e.host == nil || e.host.Network() == nil || vpcID == defaultVPCID(account, reg) {
		return nil
	}
	var egress bool
	err := e.store.View(ctx, func(tx store.Tx) error {
		var err error
		egress, err = vpcHasInternetRoute(tx, account, reg, vpcID)
		return err
	})
	if err != nil {
		return err
	}
	err = e.host.Network().SetNetworkEgress(ctx, vpcNetworkName(vpcID), egress)
	if errors.Is(err, network.ErrNotFound) {
		return nil
	}
	return err
}

// readoptVPCNetwork defines the VPC network of an instance whose sandbox
// outlived a nimbus restart, and starts metadata on it: the network
// manager knows the attachment but not the network's definition.
func (c *InstanceController) readoptVPCNetwork(ctx context.Context, inst *instance) {
	if c.network == "" {
		return
	}
	_, release, err := c.instanceNetwork(ctx, inst)
	if err != nil {
		c.log.Error("instance controller: network of a re-adopted instance", "instance", inst.InstanceId, "vpc", inst.VpcId, "err", err)
		return
	}
	release()
}

// releaseVPCNetwork removes the host network of a non-default VPC once its
// last sandbox is gone, so that a VPC with an overlapping CIDR can run
// instances meanwhile; the next launch in the VPC defines it again.
func (c *InstanceController) releaseVPCNetwork(ctx context.Context, inst *instance) {
	if c.network == "" || inst.VpcId == "" || inst.VpcId == defaultVPCID(inst.OwnerId, inst.Region) {
		return
	}
	l := c.vpcLock(inst.VpcId)
	l.Lock()
	defer l.Unlock()
	err := c.e.host.Network().DeleteNetwork(ctx, vpcNetworkName(inst.VpcId))
	if err != nil && !errors.Is(err, network.ErrNotFound) && !errors.Is(err, network.ErrInUse) {
		c.log.Warn("instance controller: release VPC network", "vpc", inst.VpcId, "err", err)
	}
}

// deleteVPCNetwork removes a deleted VPC's host network, if it had one.
func (e *EC2) deleteVPCNetwork(ctx context.Context, vpcID string) error {
	if e.host == nil || e.host.Network() == nil {
		return nil
	}
	err := e.host.Network().DeleteNetwork(ctx, vpcNetworkName(vpcID))
	if errors.Is(err, network.ErrNotFound) {
		return nil
	}
	return err
}

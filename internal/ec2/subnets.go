package ec2

import (
	"context"
	"errors"
	"net/netip"
	"strconv"
	"strings"

	"github.com/nimbus-dev/nimbus/internal/awserr"
	"github.com/nimbus-dev/nimbus/internal/region"
	"github.com/nimbus-dev/nimbus/internal/service"
	"github.com/nimbus-dev/nimbus/internal/store"
)

// Subnets are stored one object per subnet, indexed by VPC so that a
// subnet's CIDR is checked against its siblings' and a VPC's deletion sees
// its subnets inside one transaction. The default subnets are written with
// the default VPC (vpcs.go).

const kindSubnet = "ec2:subnet"

// reservedPerSubnet is how many addresses AWS keeps in every subnet: the
// network address, the router, DNS, one for future use, and broadcast.
const reservedPerSubnet = 5

// subnet is a stored subnet.
type subnet struct {
	SubnetId            string
	VpcId               string
	CidrBlock           string
	AvailabilityZone    string
	AvailabilityZoneId  string
	DefaultForAz        bool
	MapPublicIpOnLaunch bool
	OwnerId             string
	Tags                []Tag
}

// StoreIndexes finds a VPC's subnets.
func (s *subnet) StoreIndexes() []store.IndexValue {
	return []store.IndexValue{{Name: "vpc-id", Value: s.VpcId}}
}

func subnetKey(account, region, id string) store.Key {
	return store.Key{Account: account, Region: region, Kind: kindSubnet, ID: id}
}

func (e *EC2) registerSubnets(svc *service.Service) {
	svc.Handle("CreateSubnet", service.Op(e.createSubnet))
	svc.Handle("DescribeSubnets", service.Op(e.describeSubnets))
	svc.Handle("DeleteSubnet", service.Op(e.deleteSubnet))
	svc.Handle("ModifySubnetAttribute", service.Op(e.modifySubnetAttribute))
	e.registerTagger("subnet-", tagger{ResourceType: "subnet", Apply: e.tagSubnet, List: e.listSubnetTags})
}

func subnetNotFound(id string) error {
	return awserr.New(awserr.NotFound, "InvalidSubnetID.NotFound", "The subnet ID '%s' does not exist", id)
}

func checkSubnetID(id string) error {
	return checkResourceID(id, "subnet", "InvalidSubnetID.Malformed")
}

// getSubnet reads one subnet in tx; its not-found error is AWS's.
func getSubnet(tx store.Tx, account, reg, id string) (subnet, store.Meta, error) {
	var s subnet
	meta, err := tx.Get(subnetKey(account, reg, id), &s)
	if errors.Is(err, store.ErrNotFound) {
		return s, meta, subnetNotFound(id)
	}
	return s, meta, err
}

// listSubnets returns every subnet of the partition, the default ones
// included, sorted by ID.
func (e *EC2) listSubnets(ctx context.Context, account, reg string) ([]subnet, error) {
	if err := e.ensureDefaultNetwork(ctx, account, reg); err != nil {
		return nil, err
	}
	return listKind(ctx, e.store, account, reg, kindSubnet, "subnets", func(s subnet) string { return s.SubnetId })
}

// availableAddresses is a subnet's size less AWS's reserved addresses and
// the used ones.
func (s subnet) availableAddresses(used int) int {
	p, err := netip.ParsePrefix(s.CidrBlock)
	if err != nil {
		return 0
	}
	return max(0, 1<<(32-p.Bits())-reservedPerSubnet-used)
}

// addressesInUse counts, per subnet, the instances holding an address:
// every one not terminated.
func (e *EC2) addressesInUse(ctx context.Context, account, reg string) (map[string]int, error) {
	used := map[string]int{}
	err := e.store.View(ctx, func(tx store.Tx) error {
		return tx.List(store.Query{Kind: kindInstance, Account: account, Region: reg}, func(o store.Object) error {
			var inst instance
			if err := o.Decode(&inst); err != nil {
				return err
			}
			if inst.State != stateTerminated {
				used[inst.SubnetId]++
			}
			return nil
		})
	})
	if err != nil {
		return nil, awserr.Internalf(err, "count addresses in use")
	}
	return used, nil
}

type subnetDescription struct {
	AvailabilityZone              string
	AvailabilityZoneId            string
	AvailableIpAddressCount       int
	CidrBlock                     string
	DefaultForAz                  bool
	MapPublicIpOnLaunch           bool
	MapCustomerOwnedIpOnLaunch    bool
	State                         string
	SubnetId                      string
	VpcId                         string
	OwnerId                       string
	AssignIpv6AddressOnCreation   bool
	Ipv6CidrBlockAssociationSet   []struct{}
	Tags                          []Tag
	SubnetArn                     string
	EnableDns64                   bool
	Ipv6Native                    bool
	PrivateDnsNameOptionsOnLaunch struct {
		HostnameType                    string
		EnableResourceNameDnsARecord    bool
		EnableResourceNameDnsAAAARecord bool
	}
}

func (s subnet) describe(reg string, used int) subnetDescription {
	tags := s.Tags
	if tags == nil {
		tags = []Tag{}
	}
	d := subnetDescription{AvailabilityZone: s.AvailabilityZone, AvailabilityZoneId: s.AvailabilityZoneId,
		AvailableIpAddressCount: s.availableAddresses(used), CidrBlock: s.CidrBlock, DefaultForAz: s.DefaultForAz,
		MapPublicIpOnLaunch: s.MapPublicIpOnLaunch, State: "available", SubnetId: s.SubnetId, VpcId: s.VpcId,
		OwnerId: s.OwnerId, Ipv6CidrBlockAssociationSet: []struct{}{}, Tags: tags,
		SubnetArn: "arn:aws:ec2:" + reg + ":" + s.OwnerId + ":subnet/" + s.SubnetId}
	d.PrivateDnsNameOptionsOnLaunch.HostnameType = "ip-name"
	return d
}

// CreateSubnet

type createSubnetInput struct {
	VpcId              string
	CidrBlock          string
	AvailabilityZone   string
	AvailabilityZoneId string
	TagSpecifications  []TagSpecification
	DryRun             bool
}

type createSubnetOutput struct {
	Subnet subnetDescription
}

// subnetZone picks the zone of a new subnet from its name or ID; neither
// means the region's first zone (AWS picks one too).
func subnetZone(reg, name, id string) (region.Zone, error) {
	zones := region.Zones(reg)
	if len(zones) == 0 {
		return region.Zone{}, awserr.Internalf(errors.New("no availability zones"), "region %s", reg)
	}
	if name == "" && id == "" {
		return zones[0], nil
	}
	for _, z := range zones {
		if (name == "" || z.Name == name) && (id == "" || z.ID == id) {
			return z, nil
		}
	}
	names := make([]string, len(zones))
	for i, z := range zones {
		names[i] = z.Name
	}
	given := name
	if given == "" {
		given = id
	}
	return region.Zone{}, invalidParameter("Value (%s) for parameter availabilityZone is invalid. Subnets can currently only be created in the following availability zones: %s.",
		given, strings.Join(names, ", "))
}

func (e *EC2) createSubnet(ctx context.Context, in *createSubnetInput) (*createSubnetOutput, error) {
	switch {
	case in.VpcId == "":
		return nil, awserr.Missing("VpcId")
	case in.CidrBlock == "":
		return nil, awserr.Missing("CidrBlock")
	}
	if err := checkVPCID(in.VpcId); err != nil {
		return nil, err
	}
	p, err := parseIPv4CIDR(in.CidrBlock, "cidrBlock")
	if err != nil {
		return nil, err
	}
	account, reg := partition(ctx)
	zone, err := subnetZone(reg, in.AvailabilityZone, in.AvailabilityZoneId)
	if err != nil {
		return nil, err
	}
	tags, err := tagsFor(in.TagSpecifications, "subnet")
	if err != nil {
		return nil, err
	}
	if err := validateTags(tags); err != nil {
		return nil, err
	}
	if err := e.ensureDefaultNetwork(ctx, account, reg); err != nil {
		return nil, err
	}
	if tags == nil {
		tags = []Tag{}
	}
	s := subnet{SubnetId: newID("subnet"), VpcId: in.VpcId, CidrBlock: p.String(), AvailabilityZone: zone.Name,
		AvailabilityZoneId: zone.ID, OwnerId: account, Tags: tags}
	err = e.store.Update(ctx, func(tx store.Tx) error {
		v, _, err := getVPC(tx, account, reg, in.VpcId)
		if err != nil {
			return err
		}
		vpcNet, err := netip.ParsePrefix(v.CidrBlock)
		if err != nil {
			return err
		}
		if p.Bits() < minCIDRPrefix || p.Bits() > maxCIDRPrefix || p.Bits() < vpcNet.Bits() || !vpcNet.Contains(p.Addr()) {
			return awserr.New(awserr.Validation, "InvalidSubnet.Range", "The CIDR '%s' is invalid.", in.CidrBlock)
		}
		err = tx.List(store.Query{Kind: kindSubnet, Account: account, Region: reg, Index: "vpc-id", IndexValue: in.VpcId},
			func(o store.Object) error {
				var other subnet
				if err := o.Decode(&other); err != nil {
					return err
				}
				if op, err := netip.ParsePrefix(other.CidrBlock); err == nil && op.Overlaps(p) {
					return awserr.New(awserr.Conflict, "InvalidSubnet.Conflict",
						"The CIDR '%s' conflicts with another subnet", in.CidrBlock)
				}
				return nil
			})
		if err != nil {
			return err
		}
		if in.DryRun {
			return dryRun()
		}
		_, err = tx.Create(subnetKey(account, reg, s.SubnetId), &s)
		return err
	})
	if err != nil {
		return nil, asAPIError(err, "create subnet")
	}
	return &createSubnetOutput{Subnet: s.describe(reg, 0)}, nil
}

// DescribeSubnets

type describeSubnetsInput struct {
	SubnetIds  []string
	Filters    []Filter
	MaxResults int
	NextToken  string
	DryRun     bool
}

type describeSubnetsOutput struct {
	Subnets   []subnetDescription
	NextToken string `json:",omitempty"`
}

// fields answers DescribeSubnets filter names for one subnet, used of
// whose addresses instances hold.
func (s subnet) fields(name string, used int) ([]string, bool) {
	switch name {
	case "subnet-id":
		return []string{s.SubnetId}, true
	case "vpc-id":
		return []string{s.VpcId}, true
	case "availability-zone", "availabilityZone":
		return []string{s.AvailabilityZone}, true
	case "availability-zone-id", "availabilityZoneId":
		return []string{s.AvailabilityZoneId}, true
	case "default-for-az", "defaultForAz":
		return []string{strconv.FormatBool(s.DefaultForAz)}, true
	case "map-public-ip-on-launch":
		return []string{strconv.FormatBool(s.MapPublicIpOnLaunch)}, true
	case "cidr-block", "cidr", "cidrBlock":
		return []string{s.CidrBlock}, true
	case "available-ip-address-count":
		return []string{strconv.Itoa(s.availableAddresses(used))}, true
	case "state":
		return []string{"available"}, true
	case "owner-id":
		return []string{s.OwnerId}, true
	}
	return nil, false
}

func (e *EC2) describeSubnets(ctx context.Context, in *describeSubnetsInput) (*describeSubnetsOutput, error) {
	if err := checkDescribe(in.MaxResults, in.SubnetIds, checkSubnetID, in.DryRun); err != nil {
		return nil, err
	}
	account, reg := partition(ctx)
	all, err := e.listSubnets(ctx, account, reg)
	if err != nil {
		return nil, err
	}
	used, err := e.addressesInUse(ctx, account, reg)
	if err != nil {
		return nil, err
	}
	page, next, err := selectDescribed(all, describeSelection[subnet]{
		IDs: in.SubnetIds, Filters: in.Filters, MaxResults: in.MaxResults, NextToken: in.NextToken,
		ID: func(s subnet) string { return s.SubnetId },
		Fields: func(s subnet) fields {
			return func(name string) ([]string, bool) { return s.fields(name, used[s.SubnetId]) }
		},
		Tags: func(s subnet) []Tag { return s.Tags }, NotFound: subnetNotFound,
	})
	if err != nil {
		return nil, err
	}
	out := &describeSubnetsOutput{Subnets: make([]subnetDescription, 0, len(page)), NextToken: next}
	for _, s := range page {
		out.Subnets = append(out.Subnets, s.describe(reg, used[s.SubnetId]))
	}
	return out, nil
}

// DeleteSubnet

type deleteSubnetInput struct {
	SubnetId string
	DryRun   bool
}

// deleteSubnet refuses a default subnet, which AWS would delete: nimbus's
// RunInstances places instances without a subnet in the default subnet of
// their zone, so it must always exist.
func (e *EC2) deleteSubnet(ctx context.Context, in *deleteSubnetInput) (*returnOutput, error) {
	if in.SubnetId == "" {
		return nil, awserr.Missing("SubnetId")
	}
	if err := checkSubnetID(in.SubnetId); err != nil {
		return nil, err
	}
	account, reg := partition(ctx)
	if err := e.ensureDefaultNetwork(ctx, account, reg); err != nil {
		return nil, err
	}
	err := e.store.Update(ctx, func(tx store.Tx) error {
		s, _, err := getSubnet(tx, account, reg, in.SubnetId)
		if err != nil {
			return err
		}
		if s.DefaultForAz {
			return awserr.New(awserr.Conflict, "OperationNotPermitted",
				"The default subnet '%s' cannot be deleted in nimbus: instances launched without a subnet use it.", s.SubnetId)
		}
		if in.DryRun {
			return dryRun()
		}
		// An instance holds its subnet until it is terminated.
		inUse := false
		err = tx.List(store.Query{Kind: kindInstance, Account: account, Region: reg}, func(o store.Object) error {
			var inst instance
			if err := o.Decode(&inst); err != nil {
				return err
			}
			if inst.SubnetId == s.SubnetId && inst.State != stateTerminated {
				inUse = true
				return store.ErrStop
			}
			return nil
		})
		if err != nil {
			return err
		}
		if inUse {
			return awserr.New(awserr.Conflict, "DependencyViolation",
				"The subnet '%s' has dependencies and cannot be deleted.", s.SubnetId)
		}
		return tx.Delete(subnetKey(account, reg, s.SubnetId), 0)
	})
	if err != nil {
		return nil, asAPIError(err, "delete subnet")
	}
	return &returnOutput{}, nil
}

// ModifySubnetAttribute

type modifySubnetAttributeInput struct {
	SubnetId            string
	MapPublicIpOnLaunch *attributeBool
}

func (e *EC2) modifySubnetAttribute(ctx context.Context, in *modifySubnetAttributeInput) (*returnOutput, error) {
	if in.SubnetId == "" {
		return nil, awserr.Missing("SubnetId")
	}
	if err := checkSubnetID(in.SubnetId); err != nil {
		return nil, err
	}
	if in.MapPublicIpOnLaunch == nil || in.MapPublicIpOnLaunch.Value == nil {
		return nil, awserr.Missing("Attribute")
	}
	account, reg := partition(ctx)
	if err := e.ensureDefaultNetwork(ctx, account, reg); err != nil {
		return nil, err
	}
	err := e.store.Update(ctx, func(tx store.Tx) error {
		s, meta, err := getSubnet(tx, account, reg, in.SubnetId)
		if err != nil {
			return err
		}
		s.MapPublicIpOnLaunch = *in.MapPublicIpOnLaunch.Value
		_, err = tx.Put(subnetKey(account, reg, s.SubnetId), &s, meta.Version)
		return err
	})
	if err != nil {
		return nil, asAPIError(err, "modify subnet attribute")
	}
	return &returnOutput{}, nil
}

// Tags

func (e *EC2) tagSubnet(ctx context.Context, account, reg, id string, set, remove []Tag) error {
	if err := e.ensureDefaultNetwork(ctx, account, reg); err != nil {
		return err
	}
	err := e.store.Update(ctx, func(tx store.Tx) error {
		return retagStored(tx, subnetKey(account, reg, id), func() error { return subnetNotFound(id) },
			func(s *subnet) *[]Tag { return &s.Tags }, set, remove)
	})
	return asAPIErrorOrNil(err, "tag subnet")
}

func (e *EC2) listSubnetTags(ctx context.Context, account, reg string) ([]TaggedResource, error) {
	all, err := e.listSubnets(ctx, account, reg)
	if err != nil {
		return nil, err
	}
	return taggedResources(all, "subnet", func(s subnet) string { return s.SubnetId }, func(s subnet) []Tag { return s.Tags }), nil
}

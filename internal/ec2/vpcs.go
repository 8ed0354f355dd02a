package ec2

import (
	"context"
	"errors"
	"log/slog"
	"net/netip"
	"strconv"

	"github.com/nimbus-dev/nimbus/internal/awserr"
	"github.com/nimbus-dev/nimbus/internal/region"
	"github.com/nimbus-dev/nimbus/internal/service"
	"github.com/nimbus-dev/nimbus/internal/store"
)

// VPCs are stored one object per VPC. The default VPC of a region and its
// default subnets (vpc.go names them) are written on first use, under their
// derived IDs, so they are the same on every start and concurrent first uses
// create them once. A VPC other than the default one runs its instances on
// a host network of its own (vpcnetwork.go).

const kindVPC = "ec2:vpc"

// AWS's limits on a VPC's (and a subnet's) IPv4 CIDR block.
const (
	minCIDRPrefix = 16
	maxCIDRPrefix = 28
)

// vpc is a stored VPC.
type vpc struct {
	VpcId              string
	CidrBlock          string
	AssociationId      string
	OwnerId            string
	IsDefault          bool
	InstanceTenancy    string
	DhcpOptionsId      string
	EnableDnsSupport   bool
	EnableDnsHostnames bool
	Tags               []Tag
}

func vpcKey(account, region, id string) store.Key {
	return store.Key{Account: account, Region: region, Kind: kindVPC, ID: id}
}

// registerVPCs wires VPCs, subnets, account attributes and network
// interfaces: the network API tools query before anything else.
func (e *EC2) registerVPCs(svc *service.Service) {
	e.kinds = append(e.kinds, kindVPC, kindSubnet)
	svc.Handle("CreateVpc", service.Op(e.createVpc))
	svc.Handle("DescribeVpcs", service.Op(e.describeVpcs))
	svc.Handle("DeleteVpc", service.Op(e.deleteVpc))
	svc.Handle("ModifyVpcAttribute", service.Op(e.modifyVpcAttribute))
	svc.Handle("DescribeVpcAttribute", service.Op(e.describeVpcAttribute))
	e.registerTagger("vpc-", tagger{ResourceType: "vpc", Apply: e.tagVPC, List: e.listVPCTags})
	e.registerSubnets(svc)
	e.registerInternetGateways(svc)
	e.registerRouteTables(svc)
	svc.Handle("DescribeAccountAttributes", service.Op(e.describeAccountAttributes))
	svc.Handle("DescribeNetworkInterfaces", service.Op(e.describeNetworkInterfaces))
}

// Errors, worded as AWS words them.

func vpcNotFound(id string) error {
	return awserr.New(awserr.NotFound, "InvalidVpcID.NotFound", "The vpc ID '%s' does not exist", id)
}

func checkVPCID(id string) error {
	return checkResourceID(id, "vpc", "InvalidVpcID.Malformed")
}

// parseIPv4CIDR parses a CIDR block as EC2 takes one: IPv4, written as its
// network address.
func parseIPv4CIDR(cidr, param string) (netip.Prefix, error) {
	p, err := netip.ParsePrefix(cidr)
	if err != nil || !p.Addr().Is4() || p.Masked() != p {
		return netip.Prefix{}, invalidParameter("Value (%s) for parameter %s is invalid. This is not a valid CIDR block.", cidr, param)
	}
	return p, nil
}

// defaultNetwork is the default VPC of a partition and its default subnets,
// as first written.
func defaultNetwork(account, reg string) (vpc, []subnet) {
	v := vpc{VpcId: defaultVPCID(account, reg), CidrBlock: defaultVPCCIDR, OwnerId: account, IsDefault: true,
		AssociationId: derivedID("vpc-cidr-assoc", "default-vpc", account, reg), InstanceTenancy: "default",
		DhcpOptionsId:    derivedID("dopt", "default-dhcp-options", account, reg),
		EnableDnsSupport: true, EnableDnsHostnames: true, Tags: []Tag{}}
	var subnets []subnet
	for _, z := range region.Zones(reg) {
		id, cidr := defaultSubnet(account, z.Name)
		subnets = append(subnets, subnet{SubnetId: id, VpcId: v.VpcId, CidrBlock: cidr, AvailabilityZone: z.Name,
			AvailabilityZoneId: z.ID, DefaultForAz: true, MapPublicIpOnLaunch: true, OwnerId: account, Tags: []Tag{}})
	}
	return v, subnets
}

// ensureDefaultNetwork writes the partition's default VPC, subnets,
// internet gateway and main route table if they are not stored yet (a store
// from before internet gateways has the VPC without them). Once written
// they are never rewritten, so tags and attributes set on them stay.
func (e *EC2) ensureDefaultNetwork(ctx context.Context, account, reg string) error {
	v, subnets := defaultNetwork(account, reg)
	igw := internetGateway{InternetGatewayId: defaultIGWID(account, reg), OwnerId: account, VpcId: v.VpcId, Tags: []Tag{}}
	rt := mainRouteTable(account, v)
	rt.Routes = append(rt.Routes, route{DestinationCidrBlock: anywhere, GatewayId: igw.InternetGatewayId, Origin: "CreateRouteTable"})
	err := e.store.View(ctx, func(tx store.Tx) error {
		if _, err := tx.Get(vpcKey(account, reg, v.VpcId), nil); err != nil {
			return err
		}
		_, err := tx.Get(routeTableKey(account, reg, rt.RouteTableId), nil)
		return err
	})
	if err == nil {
		return nil
	}
	if !errors.Is(err, store.ErrNotFound) {
		return awserr.Internalf(err, "read default VPC")
	}
	type object struct {
		key   store.Key
		value any
	}
	objects := []object{{vpcKey(account, reg, v.VpcId), &v}, {igwKey(account, reg, igw.InternetGatewayId), &igw},
		{routeTableKey(account, reg, rt.RouteTableId), &rt}}
	for i := range subnets {
		objects = append(objects, object{subnetKey(account, reg, subnets[i].SubnetId), &subnets[i]})
	}
	err = e.store.Update(ctx, func(tx store.Tx) error {
		for _, o := range objects {
			_, err := tx.Get(o.key, nil)
			if err == nil {
				continue
			}
			if !errors.Is(err, store.ErrNotFound) {
				return err
			}
			if _, err := tx.Create(o.key, o.value); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil && !errors.Is(err, store.ErrAlreadyExists) {
		return awserr.Internalf(err, "create default VPC")
	}
	return nil
}

// listVPCs returns every VPC of the partition, the default one included,
// sorted by ID.
func (e *EC2) listVPCs(ctx context.Context, account, reg string) ([]vpc, error) {
	if err := e.ensureDefaultNetwork(ctx, account, reg); err != nil {
		return nil, err
	}
	return listKind(ctx, e.store, account, reg, kindVPC, "VPCs", func(v vpc) string { return v.VpcId })
}

// getVPC reads one VPC in tx; its not-found error is AWS's.
func getVPC(tx store.Tx, account, reg, id string) (vpc, store.Meta, error) {
	var v vpc
	meta, err := tx.Get(vpcKey(account, reg, id), &v)
	if errors.Is(err, store.ErrNotFound) {
		return v, meta, vpcNotFound(id)
	}
	return v, meta, err
}

// CreateVpc

type createVpcInput struct {
	CidrBlock         string
	InstanceTenancy   string
	TagSpecifications []TagSpecification
	DryRun            bool
}

type vpcCidrBlockState struct {
	State string
}

type vpcCidrBlockAssociation struct {
	AssociationId  string
	CidrBlock      string
	CidrBlockState vpcCidrBlockState
}

type vpcDescription struct {
	CidrBlock                   string
	DhcpOptionsId               string
	State                       string
	VpcId                       string
	OwnerId                     string
	InstanceTenancy             string
	Ipv6CidrBlockAssociationSet []struct{}
	CidrBlockAssociationSet     []vpcCidrBlockAssociation
	IsDefault                   bool
	Tags                        []Tag
}

type createVpcOutput struct {
	Vpc vpcDescription
}

func (v vpc) describe() vpcDescription {
	tags := v.Tags
	if tags == nil {
		tags = []Tag{}
	}
	return vpcDescription{CidrBlock: v.CidrBlock, DhcpOptionsId: v.DhcpOptionsId, State: "available", VpcId: v.VpcId,
		OwnerId: v.OwnerId, InstanceTenancy: v.InstanceTenancy, Ipv6CidrBlockAssociationSet: []struct{}{},
		CidrBlockAssociationSet: []vpcCidrBlockAssociation{{AssociationId: v.AssociationId, CidrBlock: v.CidrBlock,
			CidrBlockState: vpcCidrBlockState{State: "associated"}}},
		IsDefault: v.IsDefault, Tags: tags}
}

func (e *EC2) createVpc(ctx context.Context, in *createVpcInput) (*createVpcOutput, error) {
	if in.CidrBlock == "" {
		return nil, awserr.Missing("CidrBlock")
	}
	p, err := parseIPv4CIDR(in.CidrBlock, "cidrBlock")
	if err != nil {
		return nil, err
	}
	if p.Bits() < minCIDRPrefix || p.Bits() > maxCIDRPrefix {
		return nil, awserr.New(awserr.Validation, "InvalidVpc.Range", "The CIDR '%s' is invalid.", in.CidrBlock)
	}
	tenancy := in.InstanceTenancy
	switch tenancy {
	case "":
		tenancy = "default"
	case "default", "dedicated":
	default:
		return nil, invalidParameter("Value (%s) for parameter instanceTenancy is invalid.", in.InstanceTenancy)
	}
	tags, err := tagsFor(in.TagSpecifications, "vpc")
	if err != nil {
		return nil, err
	}
	if err := validateTags(tags); err != nil {
		return nil, err
	}
	if in.DryRun {
		return nil, dryRun()
	}
	account, reg := partition(ctx)
	if err := e.ensureDefaultNetwork(ctx, account, reg); err != nil {
		return nil, err
	}
	if tags == nil {
		tags = []Tag{}
	}
	// A new VPC shares the region's DHCP options set with the default VPC,
	// as AWS gives every VPC the account's default set.
	v := vpc{VpcId: newID("vpc"), CidrBlock: p.String(), AssociationId: newID("vpc-cidr-assoc"), OwnerId: account,
		InstanceTenancy: tenancy, DhcpOptionsId: derivedID("dopt", "default-dhcp-options", account, reg),
		EnableDnsSupport: true, Tags: tags}
	// Like AWS, a new VPC comes with its main route table and its default
	// security group.
	rt := mainRouteTable(account, v)
	g := newDefaultGroup(account, reg, v.VpcId)
	err = e.store.Update(ctx, func(tx store.Tx) error {
		if _, err := tx.Create(vpcKey(account, reg, v.VpcId), &v); err != nil {
			return err
		}
		if _, err := tx.Create(routeTableKey(account, reg, rt.RouteTableId), &rt); err != nil {
			return err
		}
		_, err := tx.Create(groupKey(account, reg, g.GroupId), g)
		return err
	})
	if err != nil {
		return nil, awserr.Internalf(err, "store VPC")
	}
	return &createVpcOutput{Vpc: v.describe()}, nil
}

// DescribeVpcs

type describeVpcsInput struct {
	VpcIds     []string
	Filters    []Filter
	MaxResults int
	NextToken  string
	DryRun     bool
}

type describeVpcsOutput struct {
	Vpcs      []vpcDescription
	NextToken string `json:",omitempty"`
}

// fields answers DescribeVpcs filter names for one VPC.
func (v vpc) fields(name string) ([]string, bool) {
	switch name {
	case "vpc-id":
		return []string{v.VpcId}, true
	case "is-default", "isDefault":
		return []string{strconv.FormatBool(v.IsDefault)}, true
	case "cidr", "cidr-block-association.cidr-block":
		return []string{v.CidrBlock}, true
	case "cidr-block-association.association-id":
		return []string{v.AssociationId}, true
	case "cidr-block-association.state":
		return []string{"associated"}, true
	case "state":
		return []string{"available"}, true
	case "owner-id":
		return []string{v.OwnerId}, true
	case "dhcp-options-id":
		return []string{v.DhcpOptionsId}, true
	}
	return nil, false
}

func (e *EC2) describeVpcs(ctx context.Context, in *describeVpcsInput) (*describeVpcsOutput, error) {
	if err := checkDescribe(in.MaxResults, in.VpcIds, checkVPCID, in.DryRun); err != nil {
		return nil, err
	}
	account, reg := partition(ctx)
	all, err := e.listVPCs(ctx, account, reg)
	if err != nil {
		return nil, err
	}
	page, next, err := selectDescribed(all, describeSelection[vpc]{
		IDs: in.VpcIds, Filters: in.Filters, MaxResults: in.MaxResults, NextToken: in.NextToken,
		ID: func(v vpc) string { return v.VpcId }, Fields: func(v vpc) fields { return v.fields },
		Tags: func(v vpc) []Tag { return v.Tags }, NotFound: vpcNotFound,
	})
	if err != nil {
		return nil, err
	}
	out := &describeVpcsOutput{Vpcs: make([]vpcDescription, 0, len(page)), NextToken: next}
	for _, v := range page {
		out.Vpcs = append(out.Vpcs, v.describe())
	}
	return out, nil
}

// DeleteVpc

type deleteVpcInput struct {
	VpcId  string
	DryRun bool
}

type returnOutput struct{}

// deleteVpc refuses the default VPC, which AWS would delete: nimbus places
// every instance and security group without a VPC of its own there, so it
// must always exist.
func (e *EC2) deleteVpc(ctx context.Context, in *deleteVpcInput) (*returnOutput, error) {
	if in.VpcId == "" {
		return nil, awserr.Missing("VpcId")
	}
	if err := checkVPCID(in.VpcId); err != nil {
		return nil, err
	}
	account, reg := partition(ctx)
	if in.VpcId == defaultVPCID(account, reg) {
		return nil, awserr.New(awserr.Conflict, "OperationNotPermitted",
			"The default VPC '%s' cannot be deleted in nimbus: instances and security groups launched without a VPC use it.", in.VpcId)
	}
	err := e.store.Update(ctx, func(tx store.Tx) error {
		if _, _, err := getVPC(tx, account, reg, in.VpcId); err != nil {
			return err
		}
		if in.DryRun {
			return dryRun()
		}
		owned, err := vpcDependencies(tx, account, reg, in.VpcId)
		if err != nil {
			return err
		}
		for _, k := range owned {
			if err := tx.Delete(k, 0); err != nil {
				return err
			}
		}
		return tx.Delete(vpcKey(account, reg, in.VpcId), 0)
	})
	if err != nil {
		return nil, asAPIError(err, "delete VPC")
	}
	if err := e.deleteVPCNetwork(ctx, in.VpcId); err != nil {
		// The VPC is gone; its bridge stays until its last sandbox is.
		slog.WarnContext(ctx, "ec2: delete VPC network", "vpc", in.VpcId, "err", err)
	}
	return &returnOutput{}, nil
}

// ModifyVpcAttribute and DescribeVpcAttribute

type modifyVpcAttributeInput struct {
	VpcId                            string
	EnableDnsSupport                 *attributeBool
	EnableDnsHostnames               *attributeBool
	EnableNetworkAddressUsageMetrics *attributeBool
}

func (e *EC2) modifyVpcAttribute(ctx context.Context, in *modifyVpcAttributeInput) (*returnOutput, error) {
	if in.VpcId == "" {
		return nil, awserr.Missing("VpcId")
	}
	if err := checkVPCID(in.VpcId); err != nil {
		return nil, err
	}
	given := 0
	for _, a := range []*attributeBool{in.EnableDnsSupport, in.EnableDnsHostnames, in.EnableNetworkAddressUsageMetrics} {
		if a != nil && a.Value != nil {
			given++
		}
	}
	// AWS changes one attribute per call.
	switch {
	case given == 0:
		return nil, awserr.Missing("Attribute")
	case given > 1:
		return nil, awserr.New(awserr.Validation, "InvalidParameterCombination",
			"Fields for multiple attribute types specified: enableDnsHostnames, enableDnsSupport")
	case in.EnableNetworkAddressUsageMetrics != nil:
		return nil, awserr.New(awserr.Validation, "UnsupportedOperation",
			"nimbus does not support enableNetworkAddressUsageMetrics.")
	}
	account, reg := partition(ctx)
	if err := e.ensureDefaultNetwork(ctx, account, reg); err != nil {
		return nil, err
	}
	err := e.store.Update(ctx, func(tx store.Tx) error {
		v, meta, err := getVPC(tx, account, reg, in.VpcId)
		if err != nil {
			return err
		}
		if in.EnableDnsSupport != nil {
			v.EnableDnsSupport = *in.EnableDnsSupport.Value
		}
		if in.EnableDnsHostnames != nil {
			v.EnableDnsHostnames = *in.EnableDnsHostnames.Value
		}
		_, err = tx.Put(vpcKey(account, reg, v.VpcId), &v, meta.Version)
		return err
	})
	if err != nil {
		return nil, asAPIError(err, "modify VPC attribute")
	}
	return &returnOutput{}, nil
}

type describeVpcAttributeInput struct {
	VpcId     string
	Attribute string
	DryRun    bool
}

type describeVpcAttributeOutput struct {
	VpcId              string
	EnableDnsSupport   *attributeBool `json:",omitempty"`
	EnableDnsHostnames *attributeBool `json:",omitempty"`
}

func (e *EC2) describeVpcAttribute(ctx context.Context, in *describeVpcAttributeInput) (*describeVpcAttributeOutput, error) {
	switch {
	case in.VpcId == "":
		return nil, awserr.Missing("VpcId")
	case in.Attribute == "":
		return nil, awserr.Missing("Attribute")
	case in.Attribute != "enableDnsSupport" && in.Attribute != "enableDnsHostnames":
		return nil, invalidParameter("Value (%s) for parameter attribute is invalid. Unknown attribute.", in.Attribute)
	}
	if err := checkVPCID(in.VpcId); err != nil {
		return nil, err
	}
	if in.DryRun {
		return nil, dryRun()
	}
	account, reg := partition(ctx)
	if err := e.ensureDefaultNetwork(ctx, account, reg); err != nil {
		return nil, err
	}
	var v vpc
	err := e.store.View(ctx, func(tx store.Tx) error {
		var err error
		v, _, err = getVPC(tx, account, reg, in.VpcId)
		return err
	})
	if err != nil {
		return nil, asAPIError(err, "read VPC")
	}
	out := &describeVpcAttributeOutput{VpcId: v.VpcId}
	if in.Attribute == "enableDnsSupport" {
		out.EnableDnsSupport = &attributeBool{Value: &v.EnableDnsSupport}
	} else {
		out.EnableDnsHostnames = &attributeBool{Value: &v.EnableDnsHostnames}
	}
	return out, nil
}

// Tags

func (e *EC2) tagVPC(ctx context.Context, account, reg, id string, set, remove []Tag) error {
	if err := e.ensureDefaultNetwork(ctx, account, reg); err != nil {
		return err
	}
	err := e.store.Update(ctx, func(tx store.Tx) error {
		return retagStored(tx, vpcKey(account, reg, id), func() error { return vpcNotFound(id) },
			func(v *vpc) *[]Tag { return &v.Tags }, set, remove)
	})
	return asAPIErrorOrNil(err, "tag VPC")
}

func (e *EC2) listVPCTags(ctx context.Context, account, reg string) ([]TaggedResource, error) {
	all, err := e.listVPCs(ctx, account, reg)
	if err != nil {
		return nil, err
	}
	return taggedResources(all, "vpc", func(v vpc) string { return v.VpcId }, func(v vpc) []Tag { return v.Tags }), nil
}

// vpcDependencies returns, in tx, the keys of what goes with a deleted VPC
// (its main route table and default security group), or AWS's
// DependencyViolation while anything else still refers to it: subnets,
// other security groups, other route tables, an attached internet gateway.
func vpcDependencies(tx store.Tx, account, reg, vpcID string) ([]store.Key, error) {
	violation := awserr.New(awserr.Conflict, "DependencyViolation",
		"The vpc '%s' has dependencies and cannot be deleted.", vpcID)
	inUse := false
	err := tx.List(store.Query{Kind: kindSubnet, Account: account, Region: reg, Index: "vpc-id", IndexValue: vpcID},
		func(store.Object) error {
			inUse = true
			return store.ErrStop
		})
	if err != nil {
		return nil, err
	}
	if inUse {
		return nil, violation
	}
	igw, err := attachedIGW(tx, account, reg, vpcID)
	if err != nil {
		return nil, err
	}
	if igw != "" {
		return nil, violation
	}
	var owned []store.Key
	tables, err := vpcRouteTables(tx, account, reg, vpcID)
	if err != nil {
		return nil, err
	}
	for _, t := range tables {
		if len(t.Associations) != 1 || !t.Associations[0].Main {
			return nil, violation
		}
		owned = append(owned, routeTableKey(account, reg, t.RouteTableId))
	}
	err = tx.List(store.Query{Kind: kindSecurityGroup, Account: account, Region: reg}, func(o store.Object) error {
		var g securityGroup
		if err := o.Decode(&g); err != nil {
			return err
		}
		if g.VpcId != vpcID {
			return nil
		}
		if g.GroupName != defaultGroupName {
			inUse = true
			return store.ErrStop
		}
		owned = append(owned, groupKey(account, reg, g.GroupId))
		return nil
	})
	if err != nil {
		return nil, err
	}
	if inUse {
		return nil, violation
	}
	return owned, nil
}

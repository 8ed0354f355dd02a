package ec2

import (
	"context"
	"errors"
	"strconv"
	"strings"

	"github.com/nimbus-dev/nimbus/internal/awserr"
	"github.com/nimbus-dev/nimbus/internal/service"
	"github.com/nimbus-dev/nimbus/internal/store"
)

// Route tables are stored one object per table, with their routes and
// associations, indexed by VPC. Every VPC has a main table (derived ID,
// written with the VPC) holding the local route; the default VPC's also
// routes 0.0.0.0/0 to its internet gateway. Routes are state for tools:
// the only one nimbus acts on is 0.0.0.0/0 to the VPC's attached internet
// gateway, in the main table or a table associated with a subnet, which
// gives the VPC's host network egress NAT (vpcNetwork). Targets other than
// internet gateways are refused.

const kindRouteTable = "ec2:route-table"

// anywhere is the destination of a default route.
const anywhere = "0.0.0.0/0"

type route struct {
	DestinationCidrBlock string
	GatewayId            string // "local" or an igw-
	Origin               string // CreateRouteTable or CreateRoute
}

type routeTableAssociation struct {
	RouteTableAssociationId string
	Main                    bool
	SubnetId                string `json:",omitempty"`
}

type routeTable struct {
	RouteTableId string
	VpcId        string
	OwnerId      string
	Routes       []route
	Associations []routeTableAssociation
	Tags         []Tag
}

// StoreIndexes finds a VPC's route tables.
func (t *routeTable) StoreIndexes() []store.IndexValue {
	return []store.IndexValue{{Name: "vpc-id", Value: t.VpcId}}
}

func routeTableKey(account, reg, id string) store.Key {
	return store.Key{Account: account, Region: reg, Kind: kindRouteTable, ID: id}
}

// mainRouteTable is the main table a VPC is created with.
func mainRouteTable(account string, v vpc) routeTable {
	return routeTable{RouteTableId: derivedID("rtb", "main-route-table", account, v.VpcId), VpcId: v.VpcId, OwnerId: account,
		Routes: []route{{DestinationCidrBlock: v.CidrBlock, GatewayId: "local", Origin: "CreateRouteTable"}},
		Associations: []routeTableAssociation{{RouteTableAssociationId: derivedID("rtbassoc", "main-route-table", account, v.VpcId),
			Main: true}}, Tags: []Tag{}}
}

func (e *EC2) registerRouteTables(svc *service.Service) {
	e.kinds = append(e.kinds, kindRouteTable)
	svc.Handle("CreateRouteTable", service.Op(e.createRouteTable))
	svc.Handle("DescribeRouteTables", service.Op(e.describeRouteTables))
	svc.Handle("DeleteRouteTable", service.Op(e.deleteRouteTable))
	svc.Handle("CreateRoute", service.Op(e.createRoute))
	svc.Handle("DeleteRoute", service.Op(e.deleteRoute))
	svc.Handle("AssociateRouteTable", service.Op(e.associateRouteTable))
	svc.Handle("DisassociateRouteTable", service.Op(e.disassociateRouteTable))
	e.registerTagger("rtb-", tagger{ResourceType: "route-table", Apply: e.tagRouteTable, List: e.listRouteTableTags})
}

func routeTableNotFound(id string) error {
	return awserr.New(awserr.NotFound, "InvalidRouteTableID.NotFound", "The routeTable ID '%s' does not exist", id)
}

func checkRouteTableID(id string) error {
	return checkResourceID(id, "rtb", "InvalidRouteTableID.Malformed")
}

func getRouteTable(tx store.Tx, account, reg, id string) (routeTable, store.Meta, error) {
	var t routeTable
	meta, err := tx.Get(routeTableKey(account, reg, id), &t)
	if errors.Is(err, store.ErrNotFound) {
		return t, meta, routeTableNotFound(id)
	}
	return t, meta, err
}

// vpcRouteTables lists a VPC's route tables in tx.
func vpcRouteTables(tx store.Tx, account, reg, vpcID string) ([]routeTable, error) {
	var out []routeTable
	err := tx.List(store.Query{Kind: kindRouteTable, Account: account, Region: reg, Index: "vpc-id", IndexValue: vpcID},
		func(o store.Object) error {
			var t routeTable
			if err := o.Decode(&t); err != nil {
				return err
			}
			out = append(out, t)
			return nil
		})
	return out, err
}

// vpcHasInternetRoute reports whether the VPC's main table, or a table
// associated with one of its subnets, routes 0.0.0.0/0 to the internet
// gateway attached to it.
func vpcHasInternetRoute(tx store.Tx, account, reg, vpcID string) (bool, error) {
	igw, err := attachedIGW(tx, account, reg, vpcID)
	if err != nil || igw == "" {
		return false, err
	}
	tables, err := vpcRouteTables(tx, account, reg, vpcID)
	if err != nil {
		return false, err
	}
	for _, t := range tables {
		if len(t.Associations) == 0 {
			continue
		}
		for _, r := range t.Routes {
			if r.DestinationCidrBlock == anywhere && r.GatewayId == igw {
				return true, nil
			}
		}
	}
	return false, nil
}

// Descriptions

type routeDescription struct {
	DestinationCidrBlock string
	GatewayId            string
	Origin               string
	State                string
}

type associationState struct {
	State string
}

type routeTableAssociationDescription struct {
	Main                    bool
	RouteTableAssociationId string
	RouteTableId            string
	SubnetId                string `json:",omitempty"`
	AssociationState        associationState
}

type routeTableDescription struct {
	Associations    []routeTableAssociationDescription
	PropagatingVgws []struct{}
	RouteTableId    string
	Routes          []routeDescription
	Tags            []Tag
	VpcId           string
	OwnerId         string
}

// describe shows a route to a gateway no longer attached to the VPC as a
// blackhole, as EC2 does.
func (t routeTable) describe(attached string) routeTableDescription {
	d := routeTableDescription{Associations: []routeTableAssociationDescription{}, PropagatingVgws: []struct{}{},
		RouteTableId: t.RouteTableId, Routes: []routeDescription{}, Tags: t.Tags, VpcId: t.VpcId, OwnerId: t.OwnerId}
	if d.Tags == nil {
		d.Tags = []Tag{}
	}
	for _, r := range t.Routes {
		state := "active"
		if r.GatewayId != "local" && r.GatewayId != attached {
			state = "blackhole"
		}
		d.Routes = append(d.Routes, routeDescription{DestinationCidrBlock: r.DestinationCidrBlock, GatewayId: r.GatewayId,
			Origin: r.Origin, State: state})
	}
	for _, a := range t.Associations {
		d.Associations = append(d.Associations, routeTableAssociationDescription{Main: a.Main, RouteTableAssociationId: a.RouteTableAssociationId,
			RouteTableId: t.RouteTableId, SubnetId: a.SubnetId, AssociationState: associationState{State: "associated"}})
	}
	return d
}

func (t routeTable) fields(name string) ([]string, bool) {
	var out []string
	switch name {
	case "route-table-id":
		return []string{t.RouteTableId}, true
	case "vpc-id":
		return []string{t.VpcId}, true
	case "owner-id":
		return []string{t.OwnerId}, true
	case "association.main":
		for _, a := range t.Associations {
			out = append(out, strconv.FormatBool(a.Main))
		}
		if len(out) == 0 {
			out = []string{"false"}
		}
	case "association.route-table-association-id":
		for _, a := range t.Associations {
			out = append(out, a.RouteTableAssociationId)
		}
	case "association.route-table-id":
		if len(t.Associations) > 0 {
			out = []string{t.RouteTableId}
		}
	case "association.subnet-id":
		for _, a := range t.Associations {
			if a.SubnetId != "" {
				out = append(out, a.SubnetId)
			}
		}
	case "route.destination-cidr-block":
		for _, r := range t.Routes {
			out = append(out, r.DestinationCidrBlock)
		}
	case "route.gateway-id":
		for _, r := range t.Routes {
			out = append(out, r.GatewayId)
		}
	case "route.origin":
		for _, r := range t.Routes {
			out = append(out, r.Origin)
		}
	default:
		return nil, false
	}
	return out, true
}

// CreateRouteTable

type createRouteTableInput struct {
	VpcId             string
	TagSpecifications []TagSpecification
	DryRun            bool
}

type createRouteTableOutput struct {
	RouteTable routeTableDescription
}

func (e *EC2) createRouteTable(ctx context.Context, in *createRouteTableInput) (*createRouteTableOutput, error) {
	if in.VpcId == "" {
		return nil, awserr.Missing("VpcId")
	}
	if err := checkVPCID(in.VpcId); err != nil {
		return nil, err
	}
	tags, err := tagsFor(in.TagSpecifications, "route-table")
	if err != nil {
		return nil, err
	}
	if err := validateTags(tags); err != nil {
		return nil, err
	}
	account, reg := partition(ctx)
	if err := e.ensureDefaultNetwork(ctx, account, reg); err != nil {
		return nil, err
	}
	if tags == nil {
		tags = []Tag{}
	}
	var t routeTable
	err = e.store.Update(ctx, func(tx store.Tx) error {
		v, _, err := getVPC(tx, account, reg, in.VpcId)
		if err != nil {
			return err
		}
		if in.DryRun {
			return dryRun()
		}
		t = routeTable{RouteTableId: newID("rtb"), VpcId: v.VpcId, OwnerId: account,
			Routes:       []route{{DestinationCidrBlock: v.CidrBlock, GatewayId: "local", Origin: "CreateRouteTable"}},
			Associations: []routeTableAssociation{}, Tags: tags}
		_, err = tx.Create(routeTableKey(account, reg, t.RouteTableId), &t)
		return err
	})
	if err != nil {
		return nil, asAPIError(err, "create route table")
	}
	return &createRouteTableOutput{RouteTable: t.describe("")}, nil
}

// DescribeRouteTables

type describeRouteTablesInput struct {
	RouteTableIds []string
	Filters       []Filter
	MaxResults    int
	NextToken     string
	DryRun        bool
}

type describeRouteTablesOutput struct {
	RouteTables []routeTableDescription
	NextToken   string `json:",omitempty"`
}

func (e *EC2) listRouteTables(ctx context.Context, account, reg string) ([]routeTable, error) {
	if err := e.ensureDefaultNetwork(ctx, account, reg); err != nil {
		return nil, err
	}
	return listKind(ctx, e.store, account, reg, kindRouteTable, "route tables", func(t routeTable) string { return t.RouteTableId })
}

func (e *EC2) describeRouteTables(ctx context.Context, in *describeRouteTablesInput) (*describeRouteTablesOutput, error) {
	if err := checkDescribe(in.MaxResults, in.RouteTableIds, checkRouteTableID, in.DryRun); err != nil {
		return nil, err
	}
	account, reg := partition(ctx)
	all, err := e.listRouteTables(ctx, account, reg)
	if err != nil {
		return nil, err
	}
	gateways, err := e.listInternetGateways(ctx, account, reg)
	if err != nil {
		return nil, err
	}
	attached := map[string]string{} // VPC → its gateway
	for _, g := range gateways {
		if g.VpcId != "" {
			attached[g.VpcId] = g.InternetGatewayId
		}
	}
	page, next, err := selectDescribed(all, describeSelection[routeTable]{
		IDs: in.RouteTableIds, Filters: in.Filters, MaxResults: in.MaxResults, NextToken: in.NextToken,
		ID: func(t routeTable) string { return t.RouteTableId }, Fields: func(t routeTable) fields { return t.fields },
		Tags: func(t routeTable) []Tag { return t.Tags }, NotFound: routeTableNotFound,
	})
	if err != nil {
		return nil, err
	}
	out := &describeRouteTablesOutput{RouteTables: make([]routeTableDescription, 0, len(page)), NextToken: next}
	for _, t := range page {
		out.RouteTables = append(out.RouteTables, t.describe(attached[t.VpcId]))
	}
	return out, nil
}

// DeleteRouteTable

type deleteRouteTableInput struct {
	RouteTableId string
	DryRun       bool
}

func (e *EC2) deleteRouteTable(ctx context.Context, in *deleteRouteTableInput) (*returnOutput, error) {
	if in.RouteTableId == "" {
		return nil, awserr.Missing("RouteTableId")
	}
	if err := checkRouteTableID(in.RouteTableId); err != nil {
		return nil, err
	}
	account, reg := partition(ctx)
	if err := e.ensureDefaultNetwork(ctx, account, reg); err != nil {
		return nil, err
	}
	err := e.store.Update(ctx, func(tx store.Tx) error {
		t, _, err := getRouteTable(tx, account, reg, in.RouteTableId)
		if err != nil {
			return err
		}
		if len(t.Associations) > 0 {
			return awserr.New(awserr.Conflict, "DependencyViolation",
				"The routeTable '%s' has dependencies and cannot be deleted.", t.RouteTableId)
		}
		if in.DryRun {
			return dryRun()
		}
		return tx.Delete(routeTableKey(account, reg, t.RouteTableId), 0)
	})
	if err != nil {
		return nil, asAPIError(err, "delete route table")
	}
	return &returnOutput{}, nil
}

// CreateRoute and DeleteRoute

type createRouteInput struct {
	RouteTableId                string
	DestinationCidrBlock        string
	DestinationIpv6CidrBlock    string
	DestinationPrefixListId     string
	GatewayId                   string
	NatGatewayId                string
	InstanceId                  string
	NetworkInterfaceId          string
	TransitGatewayId            string
	VpcPeeringConnectionId      string
	VpcEndpointId               string
	EgressOnlyInternetGatewayId string
	LocalGatewayId              string
	CarrierGatewayId            string
	CoreNetworkArn              string
	DryRun                      bool
}

type createRouteOutput struct {
	Return bool
}

func (e *EC2) createRoute(ctx context.Context, in *createRouteInput) (*createRouteOutput, error) {
	if in.RouteTableId == "" {
		return nil, awserr.Missing("RouteTableId")
	}
	if err := checkRouteTableID(in.RouteTableId); err != nil {
		return nil, err
	}
	if in.DestinationCidrBlock == "" {
		if in.DestinationIpv6CidrBlock != "" || in.DestinationPrefixListId != "" {
			return nil, awserr.New(awserr.NotImplemented, "Unsupported", "nimbus routes IPv4 destination CIDR blocks only.")
		}
		return nil, awserr.Missing("DestinationCidrBlock")
	}
	dest, err := parseIPv4CIDR(in.DestinationCidrBlock, "destinationCidrBlock")
	if err != nil {
		return nil, err
	}
	others := []string{in.NatGatewayId, in.InstanceId, in.NetworkInterfaceId, in.TransitGatewayId, in.VpcPeeringConnectionId,
		in.VpcEndpointId, in.EgressOnlyInternetGatewayId, in.LocalGatewayId, in.CarrierGatewayId, in.CoreNetworkArn}
	for _, o := range others {
		if o != "" {
			return nil, awserr.New(awserr.NotImplemented, "Unsupported", "nimbus routes to internet gateways only, not to %s.", o)
		}
	}
	if in.GatewayId == "" {
		return nil, awserr.New(awserr.MissingParameter, "MissingParameter",
			"The request must contain exactly one of gatewayId, natGatewayId, networkInterfaceId, vpcPeeringConnectionId or instanceId")
	}
	if !strings.HasPrefix(in.GatewayId, "igw-") {
		return nil, awserr.New(awserr.NotFound, "InvalidGatewayID.NotFound", "The gateway ID '%s' does not exist", in.GatewayId)
	}
	account, reg := partition(ctx)
	if err := e.ensureDefaultNetwork(ctx, account, reg); err != nil {
		return nil, err
	}
	var vpcID string
	err = e.store.Update(ctx, func(tx store.Tx) error {
		t, meta, err := getRouteTable(tx, account, reg, in.RouteTableId)
		if err != nil {
			return err
		}
		vpcID = t.VpcId
		g, _, err := getIGW(tx, account, reg, in.GatewayId)
		if ae := awserr.As(err); ae != nil && ae.Kind == awserr.NotFound {
			return awserr.New(awserr.NotFound, "InvalidGatewayID.NotFound", "The gateway ID '%s' does not exist", in.GatewayId)
		}
		if err != nil {
			return err
		}
		if g.VpcId != t.VpcId {
			return invalidParameter("route table %s and network gateway %s belong to different networks", t.RouteTableId, g.InternetGatewayId)
		}
		for _, r := range t.Routes {
			if r.DestinationCidrBlock == dest.String() {
				return awserr.New(awserr.AlreadyExists, "RouteAlreadyExists",
					"The route identified by %s already exists.", dest)
			}
		}
		if in.DryRun {
			return dryRun()
		}
		t.Routes = append(t.Routes, route{DestinationCidrBlock: dest.String(), GatewayId: g.InternetGatewayId, Origin: "CreateRoute"})
		_, err = tx.Put(routeTableKey(account, reg, t.RouteTableId), &t, meta.Version)
		return err
	})
	if err != nil {
		return nil, asAPIError(err, "create route")
	}
	if err := e.syncVPCEgress(ctx, account, reg, vpcID); err != nil {
		return nil, awserr.Internalf(err, "update egress of %s", vpcID)
	}
	return &createRouteOutput{Return: true}, nil
}

type deleteRouteInput struct {
	RouteTableId             string
	DestinationCidrBlock     string
	DestinationIpv6CidrBlock string
	DestinationPrefixListId  string
	DryRun                   bool
}

func (e *EC2) deleteRoute(ctx context.Context, in *deleteRouteInput) (*returnOutput, error) {
	if in.RouteTableId == "" {
		return nil, awserr.Missing("RouteTableId")
	}
	if err := checkRouteTableID(in.RouteTableId); err != nil {
		return nil, err
	}
	if in.DestinationCidrBlock == "" {
		return nil, awserr.Missing("DestinationCidrBlock")
	}
	dest, err := parseIPv4CIDR(in.DestinationCidrBlock, "destinationCidrBlock")
	if err != nil {
		return nil, err
	}
	account, reg := partition(ctx)
	if err := e.ensureDefaultNetwork(ctx, account, reg); err != nil {
		return nil, err
	}
	var vpcID string
	err = e.store.Update(ctx, func(tx store.Tx) error {
		t, meta, err := getRouteTable(tx, account, reg, in.RouteTableId)
		if err != nil {
			return err
		}
		vpcID = t.VpcId
		for i, r := range t.Routes {
			if r.DestinationCidrBlock != dest.String() {
				continue
			}
			if r.GatewayId == "local" {
				return invalidParameter("cannot remove local route %s in route table %s", dest, t.RouteTableId)
			}
			if in.DryRun {
				return dryRun()
			}
			t.Routes = append(t.Routes[:i], t.Routes[i+1:]...)
			_, err = tx.Put(routeTableKey(account, reg, t.RouteTableId), &t, meta.Version)
			return err
		}
		return awserr.New(awserr.NotFound, "InvalidRoute.NotFound",
			"no route with destination-cidr-block %s in route table %s", dest, t.RouteTableId)
	})
	if err != nil {
		return nil, asAPIError(err, "delete route")
	}
	if err := e.syncVPCEgress(ctx, account, reg, vpcID); err != nil {
		return nil, awserr.Internalf(err, "update egress of %s", vpcID)
	}
	return &returnOutput{}, nil
}

// AssociateRouteTable and DisassociateRouteTable

type associateRouteTableInput struct {
	RouteTableId string
	SubnetId     string
	GatewayId    string
	DryRun       bool
}

type associateRouteTableOutput struct {
	AssociationId    string
	AssociationState associationState
}

func (e *EC2) associateRouteTable(ctx context.Context, in *associateRouteTableInput) (*associateRouteTableOutput, error) {
	if in.RouteTableId == "" {
		return nil, awserr.Missing("RouteTableId")
	}
	if err := checkRouteTableID(in.RouteTableId); err != nil {
		return nil, err
	}
	if in.GatewayId != "" {
		return nil, awserr.New(awserr.NotImplemented, "Unsupported", "nimbus associates route tables with subnets only.")
	}
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
	assoc := routeTableAssociation{RouteTableAssociationId: newID("rtbassoc"), SubnetId: in.SubnetId}
	var vpcID string
	err := e.store.Update(ctx, func(tx store.Tx) error {
		t, meta, err := getRouteTable(tx, account, reg, in.RouteTableId)
		if err != nil {
			return err
		}
		vpcID = t.VpcId
		s, _, err := getSubnet(tx, account, reg, in.SubnetId)
		if err != nil {
			return err
		}
		if s.VpcId != t.VpcId {
			return invalidParameter("Route table %s and subnet %s belong to different networks", t.RouteTableId, s.SubnetId)
		}
		tables, err := vpcRouteTables(tx, account, reg, t.VpcId)
		if err != nil {
			return err
		}
		for _, other := range tables {
			for _, a := range other.Associations {
				if a.SubnetId == s.SubnetId {
					return awserr.New(awserr.Conflict, "Resource.AlreadyAssociated",
						"the specified association for route table %s conflicts with an existing association", t.RouteTableId)
				}
			}
		}
		if in.DryRun {
			return dryRun()
		}
		t.Associations = append(t.Associations, assoc)
		_, err = tx.Put(routeTableKey(account, reg, t.RouteTableId), &t, meta.Version)
		return err
	})
	if err != nil {
		return nil, asAPIError(err, "associate route table")
	}
	if err := e.syncVPCEgress(ctx, account, reg, vpcID); err != nil {
		return nil, awserr.Internalf(err, "update egress of %s", vpcID)
	}
	return &associateRouteTableOutput{AssociationId: assoc.RouteTableAssociationId, AssociationState: associationState{State: "associated"}}, nil
}

type disassociateRouteTableInput struct {
	AssociationId string
	DryRun        bool
}

func (e *EC2) disassociateRouteTable(ctx context.Context, in *disassociateRouteTableInput) (*returnOutput, error) {
	if in.AssociationId == "" {
		return nil, awserr.Missing("AssociationId")
	}
	notFound := awserr.New(awserr.NotFound, "InvalidAssociationID.NotFound", "The association ID '%s' does not exist", in.AssociationId)
	if !validResourceID(in.AssociationId, "rtbassoc") {
		return nil, notFound
	}
	account, reg := partition(ctx)
	all, err := e.listRouteTables(ctx, account, reg)
	if err != nil {
		return nil, err
	}
	tableID := ""
	for _, t := range all {
		for _, a := range t.Associations {
			if a.RouteTableAssociationId == in.AssociationId {
				tableID = t.RouteTableId
			}
		}
	}
	if tableID == "" {
		return nil, notFound
	}
	var vpcID string
	err = e.store.Update(ctx, func(tx store.Tx) error {
		t, meta, err := getRouteTable(tx, account, reg, tableID)
		if err != nil {
			return err
		}
		vpcID = t.VpcId
		for i, a := range t.Associations {
			if a.RouteTableAssociationId != in.AssociationId {
				continue
			}
			if a.Main {
				return invalidParameter("cannot disassociate the main route table association %s", a.RouteTableAssociationId)
			}
			if in.DryRun {
				return dryRun()
			}
			t.Associations = append(t.Associations[:i], t.Associations[i+1:]...)
			_, err = tx.Put(routeTableKey(account, reg, t.RouteTableId), &t, meta.Version)
			return err
		}
		return notFound
	})
	if err != nil {
		return nil, asAPIError(err, "disassociate route table")
	}
	if err := e.syncVPCEgress(ctx, account, reg, vpcID); err != nil {
		return nil, awserr.Internalf(err, "update egress of %s", vpcID)
	}
	return &returnOutput{}, nil
}

func (e *EC2) tagRouteTable(ctx context.Context, account, reg, id string, set, remove []Tag) error {
	if err := e.ensureDefaultNetwork(ctx, account, reg); err != nil {
		return err
	}
	err := e.store.Update(ctx, func(tx store.Tx) error {
		return retagStored(tx, routeTableKey(account, reg, id), func() error { return routeTableNotFound(id) },
			func(t *routeTable) *[]Tag { return &t.Tags }, set, remove)
	})
	return asAPIErrorOrNil(err, "tag route table")
}

func (e *EC2) listRouteTableTags(ctx context.Context, account, reg string) ([]TaggedResource, error) {
	all, err := e.listRouteTables(ctx, account, reg)
	if err != nil {
		return nil, err
	}
	return taggedResources(all, "route-table", func(t routeTable) string { return t.RouteTableId },
		func(t routeTable) []Tag { return t.Tags }), nil
}

package ec2

import (
	"context"
	"slices"
	"testing"

	"github.com/nimbus-dev/nimbus/internal/store"
)

// newVPC creates a VPC with the given CIDR in ctx's partition.
func newVPC(t *testing.T, e *EC2, ctx context.Context, cidr string) string {
	t.Helper()
	out, err := e.createVpc(ctx, &createVpcInput{CidrBlock: cidr})
	if err != nil {
		t.Fatalf("CreateVpc %s: %v", cidr, err)
	}
	return out.Vpc.VpcId
}

func newSubnet(t *testing.T, e *EC2, ctx context.Context, vpcID, cidr string) string {
	t.Helper()
	out, err := e.createSubnet(ctx, &createSubnetInput{VpcId: vpcID, CidrBlock: cidr})
	if err != nil {
		t.Fatalf("CreateSubnet %s: %v", cidr, err)
	}
	return out.Subnet.SubnetId
}

func routeTablesOf(t *testing.T, e *EC2, ctx context.Context, vpcID string) []routeTableDescription {
	t.Helper()
	out, err := e.describeRouteTables(ctx, &describeRouteTablesInput{Filters: []Filter{{"vpc-id", []string{vpcID}}}})
	if err != nil {
		t.Fatal(err)
	}
	return out.RouteTables
}

func TestDefaultVPCRouting(t *testing.T) {
	e := vpcEC2(t)
	ctx := callIn("us-east-1")
	vpcID := defaultVPCID(catalogTestAccount, "us-east-1")
	igws, err := e.describeInternetGateways(ctx, &describeInternetGatewaysInput{
		Filters: []Filter{{"attachment.vpc-id", []string{vpcID}}}})
	if err != nil || len(igws.InternetGateways) != 1 {
		t.Fatalf("default VPC's internet gateway = %+v, %v", igws, err)
	}
	igw := igws.InternetGateways[0]
	if len(igw.Attachments) != 1 || igw.Attachments[0].State != "available" || igw.Attachments[0].VpcId != vpcID {
		t.Errorf("default gateway attachments = %+v", igw.Attachments)
	}
	tables := routeTablesOf(t, e, ctx, vpcID)
	if len(tables) != 1 || len(tables[0].Associations) != 1 || !tables[0].Associations[0].Main {
		t.Fatalf("default VPC route tables = %+v", tables)
	}
	want := []routeDescription{
		{DestinationCidrBlock: "172.31.0.0/16", GatewayId: "local", Origin: "CreateRouteTable", State: "active"},
		{DestinationCidrBlock: "0.0.0.0/0", GatewayId: igw.InternetGatewayId, Origin: "CreateRouteTable", State: "active"},
	}
	if !slices.Equal(tables[0].Routes, want) {
		t.Errorf("default routes = %+v, want %+v", tables[0].Routes, want)
	}
	main, err := e.describeRouteTables(ctx, &describeRouteTablesInput{Filters: []Filter{{"association.main", []string{"true"}}}})
	if err != nil || len(main.RouteTables) != 1 {
		t.Errorf("association.main filter = %+v, %v", main, err)
	}
	var internet bool
	err = e.store.View(ctx, func(tx store.Tx) error {
		internet, err = vpcHasInternetRoute(tx, catalogTestAccount, "us-east-1", vpcID)
		return err
	})
	if err != nil || !internet {
		t.Errorf("default VPC internet route = %v, %v", internet, err)
	}
}

func TestInternetGatewayLifecycle(t *testing.T) {
	e := vpcEC2(t)
	ctx := callIn("us-east-1")
	vpcA, vpcB := newVPC(t, e, ctx, "10.1.0.0/16"), newVPC(t, e, ctx, "10.2.0.0/16")
	created, err := e.createInternetGateway(ctx, &createInternetGatewayInput{
		TagSpecifications: []TagSpecification{{ResourceType: "internet-gateway", Tags: []Tag{{Key: "Name", Value: "gw"}}}}})
	if err != nil {
		t.Fatal(err)
	}
	igw := created.InternetGateway
	if len(igw.Attachments) != 0 || len(igw.Tags) != 1 || igw.OwnerId != catalogTestAccount {
		t.Errorf("new gateway = %+v", igw)
	}
	second, err := e.createInternetGateway(ctx, &createInternetGatewayInput{})
	if err != nil {
		t.Fatal(err)
	}
	attach := func(gw, vpc string) error {
		_, err := e.attachInternetGateway(ctx, &attachInternetGatewayInput{InternetGatewayId: gw, VpcId: vpc})
		return err
	}
	detach := func(gw, vpc string) error {
		_, err := e.detachInternetGateway(ctx, &attachInternetGatewayInput{InternetGatewayId: gw, VpcId: vpc})
		return err
	}
	if err := attach(igw.InternetGatewayId, vpcA); err != nil {
		t.Fatal(err)
	}
	wantCode(t, "attach twice", attach(igw.InternetGatewayId, vpcB), "Resource.AlreadyAssociated")
	wantCode(t, "second gateway on one VPC", attach(second.InternetGateway.InternetGatewayId, vpcA), "Resource.AlreadyAssociated")
	wantCode(t, "attach unknown", attach("igw-0123456789abcdef0", vpcA), "InvalidInternetGatewayID.NotFound")
	wantCode(t, "attach malformed", attach("gw-1", vpcA), "InvalidInternetGatewayID.Malformed")
	wantCode(t, "attach to unknown VPC", attach(second.InternetGateway.InternetGatewayId, "vpc-0123456789abcdef0"), "InvalidVpcID.NotFound")
	_, err = e.deleteInternetGateway(ctx, &deleteInternetGatewayInput{InternetGatewayId: igw.InternetGatewayId})
	wantCode(t, "delete attached", err, "DependencyViolation")
	_, err = e.deleteVpc(ctx, &deleteVpcInput{VpcId: vpcA})
	wantCode(t, "delete VPC with a gateway", err, "DependencyViolation")
	described, err := e.describeInternetGateways(ctx, &describeInternetGatewaysInput{
		Filters: []Filter{{"attachment.vpc-id", []string{vpcA}}}})
	if err != nil || len(described.InternetGateways) != 1 || described.InternetGateways[0].InternetGatewayId != igw.InternetGatewayId {
		t.Errorf("gateways of %s = %+v, %v", vpcA, described, err)
	}
	wantCode(t, "detach from the wrong VPC", detach(igw.InternetGatewayId, vpcB), "Gateway.NotAttached")
	if err := detach(igw.InternetGatewayId, vpcA); err != nil {
		t.Fatal(err)
	}
	if _, err := e.deleteInternetGateway(ctx, &deleteInternetGatewayInput{InternetGatewayId: igw.InternetGatewayId}); err != nil {
		t.Fatal(err)
	}
	_, err = e.describeInternetGateways(ctx, &describeInternetGatewaysInput{InternetGatewayIds: []string{igw.InternetGatewayId}})
	wantCode(t, "describe deleted", err, "InvalidInternetGatewayID.NotFound")
	_, err = e.createInternetGateway(ctx, &createInternetGatewayInput{DryRun: true})
	wantCode(t, "dry run", err, "DryRunOperation")
	if _, err := e.deleteVpc(ctx, &deleteVpcInput{VpcId: vpcA}); err != nil {
		t.Errorf("delete VPC after its gateway: %v", err)
	}
}

func TestRouteTablesAndRoutes(t *testing.T) {
	e := vpcEC2(t)
	ctx := callIn("us-east-1")
	vpcID := newVPC(t, e, ctx, "10.3.0.0/16")
	otherVPC := newVPC(t, e, ctx, "10.4.0.0/16")
	subnetID := newSubnet(t, e, ctx, vpcID, "10.3.1.0/24")
	otherSubnet := newSubnet(t, e, ctx, otherVPC, "10.4.1.0/24")
	tables := routeTablesOf(t, e, ctx, vpcID)
	if len(tables) != 1 || !tables[0].Associations[0].Main || len(tables[0].Routes) != 1 ||
		tables[0].Routes[0] != (routeDescription{DestinationCidrBlock: "10.3.0.0/16", GatewayId: "local", Origin: "CreateRouteTable", State: "active"}) {
		t.Fatalf("new VPC's route tables = %+v", tables)
	}
	mainID := tables[0].RouteTableId
	internet := func() bool {
		t.Helper()
		var ok bool
		err := e.store.View(ctx, func(tx store.Tx) error {
			var err error
			ok, err = vpcHasInternetRoute(tx, catalogTestAccount, "us-east-1", vpcID)
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		return ok
	}
	gw, err := e.createInternetGateway(ctx, &createInternetGatewayInput{})
	if err != nil {
		t.Fatal(err)
	}
	igwID := gw.InternetGateway.InternetGatewayId
	createRoute := func(table, dest, target string) error {
		_, err := e.createRoute(ctx, &createRouteInput{RouteTableId: table, DestinationCidrBlock: dest, GatewayId: target})
		return err
	}
	wantCode(t, "route to a detached gateway", createRoute(mainID, "0.0.0.0/0", igwID), "InvalidParameterValue")
	if _, err := e.attachInternetGateway(ctx, &attachInternetGatewayInput{InternetGatewayId: igwID, VpcId: vpcID}); err != nil {
		t.Fatal(err)
	}
	if internet() {
		t.Error("a gateway without a route gives egress")
	}
	wantCode(t, "route to an unknown gateway", createRoute(mainID, "0.0.0.0/0", "igw-0123456789abcdef0"), "InvalidGatewayID.NotFound")
	wantCode(t, "route without a target", createRoute(mainID, "0.0.0.0/0", ""), "MissingParameter")
	wantCode(t, "route with a bad CIDR", createRoute(mainID, "0.0.0.0/33", igwID), "InvalidParameterValue")
	wantCode(t, "route in an unknown table", createRoute("rtb-0123456789abcdef0", "0.0.0.0/0", igwID), "InvalidRouteTableID.NotFound")
	if err := createRoute(mainID, "0.0.0.0/0", igwID); err != nil {
		t.Fatal(err)
	}
	wantCode(t, "same route twice", createRoute(mainID, "0.0.0.0/0", igwID), "RouteAlreadyExists")
	if !internet() {
		t.Error("main table's default route to the attached gateway gives no egress")
	}

	// A table of its own for the subnet.
	created, err := e.createRouteTable(ctx, &createRouteTableInput{VpcId: vpcID})
	if err != nil {
		t.Fatal(err)
	}
	rtID := created.RouteTable.RouteTableId
	if len(created.RouteTable.Associations) != 0 || len(created.RouteTable.Routes) != 1 {
		t.Errorf("new route table = %+v", created.RouteTable)
	}
	associate := func(table, subnet string) (string, error) {
		out, err := e.associateRouteTable(ctx, &associateRouteTableInput{RouteTableId: table, SubnetId: subnet})
		if err != nil {
			return "", err
		}
		return out.AssociationId, nil
	}
	_, err = associate(rtID, otherSubnet)
	wantCode(t, "associate another VPC's subnet", err, "InvalidParameterValue")
	assocID, err := associate(rtID, subnetID)
	if err != nil {
		t.Fatal(err)
	}
	_, err = associate(mainID, subnetID)
	wantCode(t, "associate a subnet twice", err, "Resource.AlreadyAssociated")
	bySubnet, err := e.describeRouteTables(ctx, &describeRouteTablesInput{Filters: []Filter{{"association.subnet-id", []string{subnetID}}}})
	if err != nil || len(bySubnet.RouteTables) != 1 || bySubnet.RouteTables[0].RouteTableId != rtID {
		t.Errorf("association.subnet-id filter = %+v, %v", bySubnet, err)
	}
	_, err = e.deleteRouteTable(ctx, &deleteRouteTableInput{RouteTableId: rtID})
	wantCode(t, "delete an associated table", err, "DependencyViolation")
	_, err = e.deleteRouteTable(ctx, &deleteRouteTableInput{RouteTableId: mainID})
	wantCode(t, "delete the main table", err, "DependencyViolation")

	// Routes come and go; the local one stays.
	_, err = e.deleteRoute(ctx, &deleteRouteInput{RouteTableId: mainID, DestinationCidrBlock: "10.3.0.0/16"})
	wantCode(t, "delete the local route", err, "InvalidParameterValue")
	_, err = e.deleteRoute(ctx, &deleteRouteInput{RouteTableId: mainID, DestinationCidrBlock: "192.0.2.0/24"})
	wantCode(t, "delete a missing route", err, "InvalidRoute.NotFound")
	if _, err := e.deleteRoute(ctx, &deleteRouteInput{RouteTableId: mainID, DestinationCidrBlock: "0.0.0.0/0"}); err != nil {
		t.Fatal(err)
	}
	if internet() {
		t.Error("egress after the default route was deleted")
	}
	if err := createRoute(rtID, "0.0.0.0/0", igwID); err != nil {
		t.Fatal(err)
	}
	if !internet() {
		t.Error("a subnet's table with the default route gives no egress")
	}
	// A detached gateway leaves a blackhole route and no egress.
	if _, err := e.detachInternetGateway(ctx, &attachInternetGatewayInput{InternetGatewayId: igwID, VpcId: vpcID}); err != nil {
		t.Fatal(err)
	}
	if internet() {
		t.Error("egress through a detached gateway")
	}
	for _, rt := range routeTablesOf(t, e, ctx, vpcID) {
		for _, r := range rt.Routes {
			if r.GatewayId == igwID && r.State != "blackhole" {
				t.Errorf("route to a detached gateway is %s, want blackhole", r.State)
			}
		}
	}

	_, err = e.deleteVpc(ctx, &deleteVpcInput{VpcId: vpcID})
	wantCode(t, "delete a VPC with subnets", err, "DependencyViolation")
	_, err = e.disassociateRouteTable(ctx, &disassociateRouteTableInput{AssociationId: tables[0].Associations[0].RouteTableAssociationId})
	wantCode(t, "disassociate the main table", err, "InvalidParameterValue")
	_, err = e.disassociateRouteTable(ctx, &disassociateRouteTableInput{AssociationId: "rtbassoc-0123456789abcdef0"})
	wantCode(t, "disassociate unknown", err, "InvalidAssociationID.NotFound")
	if _, err := e.disassociateRouteTable(ctx, &disassociateRouteTableInput{AssociationId: assocID}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.deleteSubnet(ctx, &deleteSubnetInput{SubnetId: subnetID}); err != nil {
		t.Fatal(err)
	}
	_, err = e.deleteVpc(ctx, &deleteVpcInput{VpcId: vpcID})
	wantCode(t, "delete a VPC with a route table of its own", err, "DependencyViolation")
	if _, err := e.deleteRouteTable(ctx, &deleteRouteTableInput{RouteTableId: rtID}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.deleteVpc(ctx, &deleteVpcInput{VpcId: vpcID}); err != nil {
		t.Fatalf("delete the emptied VPC: %v", err)
	}
	_, err = e.describeRouteTables(ctx, &describeRouteTablesInput{RouteTableIds: []string{mainID}})
	wantCode(t, "main table after its VPC", err, "InvalidRouteTableID.NotFound")
}

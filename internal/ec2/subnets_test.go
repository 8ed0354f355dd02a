package ec2

import (
	"context"
	"testing"

	"github.com/nimbus-dev/nimbus/internal/store"
)

func TestDefaultSubnetsDescribed(t *testing.T) {
	e := vpcEC2(t)
	out, err := e.describeSubnets(callIn("eu-west-1"), &describeSubnetsInput{Filters: []Filter{{"default-for-az", []string{"true"}}}})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"eu-west-1a": "172.31.0.0/20", "eu-west-1b": "172.31.16.0/20", "eu-west-1c": "172.31.32.0/20"}
	if len(out.Subnets) != len(want) {
		t.Fatalf("got %d default subnets, want %d", len(out.Subnets), len(want))
	}
	for _, s := range out.Subnets {
		id, cidr := defaultSubnet(catalogTestAccount, s.AvailabilityZone)
		if s.SubnetId != id || s.CidrBlock != cidr || want[s.AvailabilityZone] != cidr || !s.DefaultForAz ||
			!s.MapPublicIpOnLaunch || s.AvailableIpAddressCount != 4091 || s.State != "available" ||
			s.VpcId != defaultVPCID(catalogTestAccount, "eu-west-1") || s.AvailabilityZoneId == "" || s.SubnetArn == "" {
			t.Errorf("default subnet = %+v", s)
		}
	}
}

func TestSubnetLifecycle(t *testing.T) {
	e := vpcEC2(t)
	ctx := callIn("us-east-1")
	v, err := e.createVpc(ctx, &createVpcInput{CidrBlock: "10.0.0.0/16"})
	if err != nil {
		t.Fatal(err)
	}
	vpcID := v.Vpc.VpcId
	a, err := e.createSubnet(ctx, &createSubnetInput{VpcId: vpcID, CidrBlock: "10.0.0.0/24", AvailabilityZone: "us-east-1b",
		TagSpecifications: []TagSpecification{{ResourceType: "subnet", Tags: []Tag{{"tier", "web"}}}}})
	if err != nil {
		t.Fatal(err)
	}
	if s := a.Subnet; !validResourceID(s.SubnetId, "subnet") || s.AvailabilityZone != "us-east-1b" || s.DefaultForAz ||
		s.MapPublicIpOnLaunch || s.AvailableIpAddressCount != 251 || s.VpcId != vpcID || len(s.Tags) != 1 {
		t.Errorf("created subnet = %+v", s)
	}
	b, err := e.createSubnet(ctx, &createSubnetInput{VpcId: vpcID, CidrBlock: "10.0.1.0/28", AvailabilityZoneId: "use1-az3"})
	if err != nil {
		t.Fatal(err)
	}
	if b.Subnet.AvailabilityZone != "us-east-1c" || b.Subnet.AvailableIpAddressCount != 11 {
		t.Errorf("subnet by zone ID = %+v", b.Subnet)
	}
	errs := []struct {
		name string
		in   createSubnetInput
		code string
	}{
		{"no vpc", createSubnetInput{CidrBlock: "10.0.2.0/24"}, "MissingParameter"},
		{"no cidr", createSubnetInput{VpcId: vpcID}, "MissingParameter"},
		{"unknown vpc", createSubnetInput{VpcId: "vpc-0123456789abcdef0", CidrBlock: "10.0.2.0/24"}, "InvalidVpcID.NotFound"},
		{"overlap", createSubnetInput{VpcId: vpcID, CidrBlock: "10.0.0.128/25"}, "InvalidSubnet.Conflict"},
		{"contains another", createSubnetInput{VpcId: vpcID, CidrBlock: "10.0.0.0/20"}, "InvalidSubnet.Conflict"},
		{"outside vpc", createSubnetInput{VpcId: vpcID, CidrBlock: "10.1.0.0/24"}, "InvalidSubnet.Range"},
		{"too small", createSubnetInput{VpcId: vpcID, CidrBlock: "10.0.3.0/29"}, "InvalidSubnet.Range"},
		{"bigger than vpc", createSubnetInput{VpcId: vpcID, CidrBlock: "10.0.0.0/15"}, "InvalidSubnet.Range"},
		{"bad zone", createSubnetInput{VpcId: vpcID, CidrBlock: "10.0.2.0/24", AvailabilityZone: "eu-west-1a"}, "InvalidParameterValue"},
		{"dry run", createSubnetInput{VpcId: vpcID, CidrBlock: "10.0.2.0/24", DryRun: true}, "DryRunOperation"},
	}
	for _, tc := range errs {
		_, err := e.createSubnet(ctx, &tc.in)
		wantCode(t, tc.name, err, tc.code)
	}
	// The same CIDR in another VPC is fine, as on AWS.
	other, err := e.createVpc(ctx, &createVpcInput{CidrBlock: "10.0.0.0/16"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.createSubnet(ctx, &createSubnetInput{VpcId: other.Vpc.VpcId, CidrBlock: "10.0.0.0/24"}); err != nil {
		t.Errorf("same CIDR in another VPC: %v", err)
	}

	filterCases := []struct {
		name    string
		filters []Filter
		want    int
	}{
		{"vpc", []Filter{{"vpc-id", []string{vpcID}}}, 2},
		{"zone", []Filter{{"availability-zone", []string{"us-east-1b"}}}, 2}, // a's and the default
		{"zone id", []Filter{{"availability-zone-id", []string{"use1-az3"}}}, 2},
		{"not default", []Filter{{"defaultForAz", []string{"false"}}}, 3},
		{"cidr", []Filter{{"cidr-block", []string{"10.0.1.0/28"}}}, 1},
		{"tag", []Filter{{"tag:tier", []string{"web"}}}, 1},
		{"subnet id", []Filter{{"subnet-id", []string{a.Subnet.SubnetId}}}, 1},
		{"state", []Filter{{"state", []string{"pending"}}}, 0},
	}
	for _, tc := range filterCases {
		out, err := e.describeSubnets(ctx, &describeSubnetsInput{Filters: tc.filters})
		if err != nil || len(out.Subnets) != tc.want {
			t.Errorf("%s: got %d subnets, %v; want %d", tc.name, len(out.Subnets), err, tc.want)
		}
	}
	page, err := e.describeSubnets(ctx, &describeSubnetsInput{MaxResults: 5})
	if err != nil || len(page.Subnets) != 5 || page.NextToken == "" {
		t.Fatalf("first page = %d subnets, token %q, %v", len(page.Subnets), page.NextToken, err)
	}
	rest, err := e.describeSubnets(ctx, &describeSubnetsInput{MaxResults: 5, NextToken: page.NextToken})
	if err != nil || len(rest.Subnets) != 1 || rest.NextToken != "" {
		t.Errorf("second page = %+v, %v", rest, err)
	}
	_, err = e.describeSubnets(ctx, &describeSubnetsInput{SubnetIds: []string{"subnet-0123456789abcdef0"}})
	wantCode(t, "unknown subnet", err, "InvalidSubnetID.NotFound")

	on := true
	if _, err := e.modifySubnetAttribute(ctx, &modifySubnetAttributeInput{SubnetId: a.Subnet.SubnetId,
		MapPublicIpOnLaunch: &attributeBool{Value: &on}}); err != nil {
		t.Fatal(err)
	}
	public, err := e.describeSubnets(ctx, &describeSubnetsInput{SubnetIds: []string{a.Subnet.SubnetId}})
	if err != nil || len(public.Subnets) != 1 || !public.Subnets[0].MapPublicIpOnLaunch {
		t.Errorf("after ModifySubnetAttribute: %+v, %v", public, err)
	}
	_, err = e.modifySubnetAttribute(ctx, &modifySubnetAttributeInput{SubnetId: a.Subnet.SubnetId})
	wantCode(t, "modify nothing", err, "MissingParameter")

	// An instance in a subnet holds it until the instance is terminated.
	inst := &instance{InstanceId: "i-0123456789abcdef0", OwnerId: catalogTestAccount, Region: "us-east-1",
		SubnetId: a.Subnet.SubnetId, VpcId: vpcID, State: stateRunning}
	putInstance(t, e, inst)
	_, err = e.deleteSubnet(ctx, &deleteSubnetInput{SubnetId: a.Subnet.SubnetId})
	wantCode(t, "delete subnet in use", err, "DependencyViolation")
	inst.State = stateTerminated
	putInstance(t, e, inst)
	if _, err := e.deleteSubnet(ctx, &deleteSubnetInput{SubnetId: a.Subnet.SubnetId}); err != nil {
		t.Fatal(err)
	}
	_, err = e.deleteSubnet(ctx, &deleteSubnetInput{SubnetId: a.Subnet.SubnetId})
	wantCode(t, "delete twice", err, "InvalidSubnetID.NotFound")
	def, _ := defaultSubnet(catalogTestAccount, "us-east-1a")
	_, err = e.deleteSubnet(ctx, &deleteSubnetInput{SubnetId: def})
	wantCode(t, "delete default subnet", err, "OperationNotPermitted")
}

// putInstance writes an instance record as RunInstances and the controller
// would, for tests of what reads instances.
func putInstance(t *testing.T, e *EC2, inst *instance) {
	t.Helper()
	err := e.store.Update(context.Background(), func(tx store.Tx) error {
		_, err := tx.Put(inst.key(), inst, 0)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
}

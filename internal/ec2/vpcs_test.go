package ec2

import (
	"testing"

	"github.com/nimbus-dev/nimbus/internal/service"
)

// vpcEC2 is catalogEC2 with the VPC family registered too.
func vpcEC2(t *testing.T) *EC2 {
	t.Helper()
	e := catalogEC2(t)
	svc, err := service.New("ec2")
	if err != nil {
		t.Fatal(err)
	}
	e.registerVPCs(svc)
	if err := svc.Check(); err != nil {
		t.Fatal(err)
	}
	return e
}

func TestDefaultVPCDescribed(t *testing.T) {
	e := vpcEC2(t)
	for _, reg := range []string{"us-east-1", "eu-west-1"} {
		out, err := e.describeVpcs(callIn(reg), &describeVpcsInput{})
		if err != nil {
			t.Fatal(err)
		}
		if len(out.Vpcs) != 1 {
			t.Fatalf("%s: got %d VPCs, want the default one", reg, len(out.Vpcs))
		}
		v := out.Vpcs[0]
		if v.VpcId != defaultVPCID(catalogTestAccount, reg) || !v.IsDefault || v.CidrBlock != "172.31.0.0/16" ||
			v.State != "available" || v.InstanceTenancy != "default" || v.DhcpOptionsId == "" || v.OwnerId != catalogTestAccount ||
			len(v.CidrBlockAssociationSet) != 1 || v.CidrBlockAssociationSet[0].CidrBlock != "172.31.0.0/16" {
			t.Errorf("%s default VPC = %+v", reg, v)
		}
	}
	// Stable: a second EC2 over the same store sees the same stored VPC.
	again, err := e.describeVpcs(callIn("us-east-1"), &describeVpcsInput{Filters: []Filter{{"isDefault", []string{"true"}}}})
	if err != nil || len(again.Vpcs) != 1 || again.Vpcs[0].VpcId != defaultVPCID(catalogTestAccount, "us-east-1") {
		t.Errorf("isDefault filter = %+v, %v", again, err)
	}
	for _, attr := range []string{"enableDnsSupport", "enableDnsHostnames"} {
		a, err := e.describeVpcAttribute(callIn("us-east-1"), &describeVpcAttributeInput{
			VpcId: defaultVPCID(catalogTestAccount, "us-east-1"), Attribute: attr})
		if err != nil {
			t.Fatal(err)
		}
		got := a.EnableDnsSupport
		if attr == "enableDnsHostnames" {
			got = a.EnableDnsHostnames
		}
		if got == nil || got.Value == nil || !*got.Value {
			t.Errorf("default VPC %s = %+v, want true", attr, a)
		}
	}
	_, err = e.deleteVpc(callIn("us-east-1"), &deleteVpcInput{VpcId: defaultVPCID(catalogTestAccount, "us-east-1")})
	wantCode(t, "delete default VPC", err, "OperationNotPermitted")
}

func TestVPCLifecycle(t *testing.T) {
	e := vpcEC2(t)
	ctx := callIn("us-east-1")
	created, err := e.createVpc(ctx, &createVpcInput{CidrBlock: "10.0.0.0/16",
		TagSpecifications: []TagSpecification{{ResourceType: "vpc", Tags: []Tag{{"Name", "main"}}}}})
	if err != nil {
		t.Fatal(err)
	}
	v := created.Vpc
	if !validResourceID(v.VpcId, "vpc") || v.IsDefault || v.CidrBlock != "10.0.0.0/16" || len(v.Tags) != 1 {
		t.Errorf("created VPC = %+v", v)
	}
	createErrs := []struct {
		name string
		in   createVpcInput
		code string
	}{
		{"no cidr", createVpcInput{}, "MissingParameter"},
		{"too big", createVpcInput{CidrBlock: "10.0.0.0/8"}, "InvalidVpc.Range"},
		{"too small", createVpcInput{CidrBlock: "10.0.0.0/29"}, "InvalidVpc.Range"},
		{"not a cidr", createVpcInput{CidrBlock: "10.0.0.0"}, "InvalidParameterValue"},
		{"host bits", createVpcInput{CidrBlock: "10.0.0.1/16"}, "InvalidParameterValue"},
		{"ipv6", createVpcInput{CidrBlock: "fd00::/56"}, "InvalidParameterValue"},
		{"bad tenancy", createVpcInput{CidrBlock: "10.1.0.0/16", InstanceTenancy: "host"}, "InvalidParameterValue"},
		{"wrong tag type", createVpcInput{CidrBlock: "10.1.0.0/16",
			TagSpecifications: []TagSpecification{{ResourceType: "subnet", Tags: []Tag{{"a", "b"}}}}}, "InvalidParameterValue"},
		{"dry run", createVpcInput{CidrBlock: "10.1.0.0/16", DryRun: true}, "DryRunOperation"},
	}
	for _, tc := range createErrs {
		_, err := e.createVpc(ctx, &tc.in)
		wantCode(t, tc.name, err, tc.code)
	}
	if _, err := e.createVpc(ctx, &createVpcInput{CidrBlock: "192.168.0.0/24"}); err != nil {
		t.Fatal(err)
	}

	filterCases := []struct {
		name    string
		filters []Filter
		want    int
	}{
		{"all", nil, 3},
		{"is-default false", []Filter{{"is-default", []string{"false"}}}, 2},
		{"cidr", []Filter{{"cidr", []string{"10.0.0.0/16"}}}, 1},
		{"association cidr wildcard", []Filter{{"cidr-block-association.cidr-block", []string{"172.31.0.0/1?"}}}, 1},
		{"tag", []Filter{{"tag:Name", []string{"main"}}}, 1},
		{"tag-key", []Filter{{"tag-key", []string{"Name"}}}, 1},
		{"state", []Filter{{"state", []string{"available"}}}, 3},
		{"vpc-id", []Filter{{"vpc-id", []string{v.VpcId}}}, 1},
	}
	for _, tc := range filterCases {
		out, err := e.describeVpcs(ctx, &describeVpcsInput{Filters: tc.filters})
		if err != nil || len(out.Vpcs) != tc.want {
			t.Errorf("%s: got %+v, %v; want %d VPCs", tc.name, out, err, tc.want)
		}
	}
	_, err = e.describeVpcs(ctx, &describeVpcsInput{Filters: []Filter{{"no-such", []string{"x"}}}})
	wantCode(t, "unknown filter", err, "InvalidParameterValue")
	_, err = e.describeVpcs(ctx, &describeVpcsInput{VpcIds: []string{"vpc-0123456789abcdef0"}})
	wantCode(t, "unknown ID", err, "InvalidVpcID.NotFound")
	_, err = e.describeVpcs(ctx, &describeVpcsInput{VpcIds: []string{"nope"}})
	wantCode(t, "malformed ID", err, "InvalidVpcID.Malformed")

	// Pagination walks all three VPCs, five at a time being AWS's minimum.
	seen := map[string]bool{}
	token := ""
	for {
		out, err := e.describeVpcs(ctx, &describeVpcsInput{MaxResults: 5, NextToken: token})
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range out.Vpcs {
			seen[d.VpcId] = true
		}
		if token = out.NextToken; token == "" {
			break
		}
	}
	if len(seen) != 3 {
		t.Errorf("paginated describe saw %d VPCs", len(seen))
	}

	// Attributes: a new VPC has DNS support but no hostnames until asked.
	on := true
	if _, err := e.modifyVpcAttribute(ctx, &modifyVpcAttributeInput{VpcId: v.VpcId, EnableDnsHostnames: &attributeBool{Value: &on}}); err != nil {
		t.Fatal(err)
	}
	a, err := e.describeVpcAttribute(ctx, &describeVpcAttributeInput{VpcId: v.VpcId, Attribute: "enableDnsHostnames"})
	if err != nil || a.EnableDnsHostnames == nil || !*a.EnableDnsHostnames.Value || a.EnableDnsSupport != nil {
		t.Errorf("after modify: %+v, %v", a, err)
	}
	_, err = e.modifyVpcAttribute(ctx, &modifyVpcAttributeInput{VpcId: v.VpcId,
		EnableDnsHostnames: &attributeBool{Value: &on}, EnableDnsSupport: &attributeBool{Value: &on}})
	wantCode(t, "two attributes", err, "InvalidParameterCombination")
	_, err = e.modifyVpcAttribute(ctx, &modifyVpcAttributeInput{VpcId: "vpc-0123456789abcdef0", EnableDnsSupport: &attributeBool{Value: &on}})
	wantCode(t, "modify unknown", err, "InvalidVpcID.NotFound")
	_, err = e.describeVpcAttribute(ctx, &describeVpcAttributeInput{VpcId: v.VpcId, Attribute: "color"})
	wantCode(t, "unknown attribute", err, "InvalidParameterValue")

	// Tags through the generic tag API.
	if _, err := e.createTags(ctx, &createTagsInput{Resources: []string{v.VpcId, defaultVPCID(catalogTestAccount, "us-east-1")},
		Tags: []Tag{{"env", "test"}}}); err != nil {
		t.Fatal(err)
	}
	tagged, err := e.describeVpcs(ctx, &describeVpcsInput{Filters: []Filter{{"tag:env", []string{"test"}}}})
	if err != nil || len(tagged.Vpcs) != 2 {
		t.Errorf("tagged VPCs = %+v, %v", tagged, err)
	}

	// A VPC with a subnet cannot go; without it, it can, once.
	sub, err := e.createSubnet(ctx, &createSubnetInput{VpcId: v.VpcId, CidrBlock: "10.0.1.0/24"})
	if err != nil {
		t.Fatal(err)
	}
	_, err = e.deleteVpc(ctx, &deleteVpcInput{VpcId: v.VpcId})
	wantCode(t, "delete VPC with subnet", err, "DependencyViolation")
	if _, err := e.deleteSubnet(ctx, &deleteSubnetInput{SubnetId: sub.Subnet.SubnetId}); err != nil {
		t.Fatal(err)
	}
	_, err = e.deleteVpc(ctx, &deleteVpcInput{VpcId: v.VpcId, DryRun: true})
	wantCode(t, "dry run delete", err, "DryRunOperation")
	if _, err := e.deleteVpc(ctx, &deleteVpcInput{VpcId: v.VpcId}); err != nil {
		t.Fatal(err)
	}
	_, err = e.deleteVpc(ctx, &deleteVpcInput{VpcId: v.VpcId})
	wantCode(t, "delete twice", err, "InvalidVpcID.NotFound")
}

// Concurrent first uses of a region all see the one default VPC.
func TestDefaultVPCConcurrentFirstUse(t *testing.T) {
	e := vpcEC2(t)
	const callers = 8
	errs := make(chan error, callers)
	counts := make(chan int, callers)
	for range callers {
		go func() {
			out, err := e.describeVpcs(callIn("ap-southeast-2"), &describeVpcsInput{})
			errs <- err
			if err == nil {
				counts <- len(out.Vpcs)
			}
		}()
	}
	for range callers {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
		if n := <-counts; n != 1 {
			t.Errorf("a first caller saw %d VPCs", n)
		}
	}
}

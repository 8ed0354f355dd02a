package e2e

import (
	"context"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
)

func filter(name string, values ...string) ec2types.Filter {
	return ec2types.Filter{Name: aws.String(name), Values: values}
}

// defaultVPCOf returns the default VPC ID DescribeAccountAttributes names.
func defaultVPCOf(t *testing.T, client *ec2.Client) string {
	t.Helper()
	out, err := client.DescribeAccountAttributes(context.Background(), &ec2.DescribeAccountAttributesInput{
		AttributeNames: []ec2types.AccountAttributeName{ec2types.AccountAttributeNameDefaultVpc}})
	if err != nil {
		t.Fatal(err)
	}
	if len(out.AccountAttributes) != 1 || len(out.AccountAttributes[0].AttributeValues) != 1 {
		t.Fatalf("DescribeAccountAttributes(default-vpc) = %+v", out.AccountAttributes)
	}
	return aws.ToString(out.AccountAttributes[0].AttributeValues[0].AttributeValue)
}

func TestEC2DefaultVPCAndSubnetsSDK(t *testing.T) {
	dir := t.TempDir()
	n := startNimbus(t, dir)
	ctx := context.Background()
	ids := map[string]string{}
	for _, reg := range []string{"us-east-1", "eu-west-1"} {
		client := ec2.NewFromConfig(n.awsConfig(reg, "test", "test"))
		vpcs, err := client.DescribeVpcs(ctx, &ec2.DescribeVpcsInput{Filters: []ec2types.Filter{filter("isDefault", "true")}})
		if err != nil {
			t.Fatal(err)
		}
		if len(vpcs.Vpcs) != 1 {
			t.Fatalf("%s: %d default VPCs", reg, len(vpcs.Vpcs))
		}
		v := vpcs.Vpcs[0]
		if !aws.ToBool(v.IsDefault) || aws.ToString(v.CidrBlock) != "172.31.0.0/16" || v.State != ec2types.VpcStateAvailable ||
			aws.ToString(v.VpcId) != defaultVPCOf(t, client) || len(v.CidrBlockAssociationSet) != 1 {
			t.Errorf("%s default VPC = %+v", reg, v)
		}
		ids[reg] = aws.ToString(v.VpcId)
		subnets, err := client.DescribeSubnets(ctx, &ec2.DescribeSubnetsInput{Filters: []ec2types.Filter{
			filter("vpc-id", ids[reg]), filter("default-for-az", "true")}})
		if err != nil {
			t.Fatal(err)
		}
		cidrs := map[string]string{}
		for _, s := range subnets.Subnets {
			cidrs[aws.ToString(s.AvailabilityZone)] = aws.ToString(s.CidrBlock)
			if aws.ToInt32(s.AvailableIpAddressCount) != 4091 || !aws.ToBool(s.MapPublicIpOnLaunch) {
				t.Errorf("default subnet %+v", s)
			}
		}
		if len(cidrs) != 3 || cidrs[reg+"a"] != "172.31.0.0/20" || cidrs[reg+"b"] != "172.31.16.0/20" || cidrs[reg+"c"] != "172.31.32.0/20" {
			t.Errorf("%s default subnets = %v", reg, cidrs)
		}
	}
	if ids["us-east-1"] == ids["eu-west-1"] {
		t.Error("two regions share a default VPC ID")
	}
	var cli struct {
		AccountAttributes []struct {
			AttributeName   string
			AttributeValues []struct{ AttributeValue string }
		}
	}
	if _, err := n.cli(t, &cli, "ec2", "describe-account-attributes", "--attribute-names", "supported-platforms"); err != nil {
		t.Fatal(err)
	}
	if len(cli.AccountAttributes) != 1 || cli.AccountAttributes[0].AttributeValues[0].AttributeValue != "VPC" {
		t.Errorf("CLI supported-platforms = %+v", cli)
	}

	// A restart over the same data keeps the same default VPC.
	n.Stop()
	n = startNimbus(t, dir)
	if got := defaultVPCOf(t, ec2.NewFromConfig(n.cfg())); got != ids["us-east-1"] {
		t.Errorf("default VPC after restart = %s, want %s", got, ids["us-east-1"])
	}
}

func TestEC2CustomVPCSDK(t *testing.T) {
	n := startNimbus(t, "")
	ctx := context.Background()
	client := ec2.NewFromConfig(n.cfg())
	created, err := client.CreateVpc(ctx, &ec2.CreateVpcInput{CidrBlock: aws.String("10.20.0.0/16"),
		TagSpecifications: []ec2types.TagSpecification{{ResourceType: ec2types.ResourceTypeVpc,
			Tags: []ec2types.Tag{{Key: aws.String("Name"), Value: aws.String("e2e")}}}}})
	if err != nil {
		t.Fatal(err)
	}
	vpcID := aws.ToString(created.Vpc.VpcId)
	_, err = client.CreateVpc(ctx, &ec2.CreateVpcInput{CidrBlock: aws.String("10.0.0.0/8")})
	if code, _ := apiCode(t, err); code != "InvalidVpc.Range" {
		t.Errorf("a /8 VPC: %s", code)
	}
	var subnetIDs []string
	for _, s := range []struct{ cidr, zone string }{{"10.20.1.0/24", "us-east-1a"}, {"10.20.2.0/24", "us-east-1b"}} {
		out, err := client.CreateSubnet(ctx, &ec2.CreateSubnetInput{VpcId: aws.String(vpcID), CidrBlock: aws.String(s.cidr),
			AvailabilityZone: aws.String(s.zone)})
		if err != nil {
			t.Fatal(err)
		}
		subnetIDs = append(subnetIDs, aws.ToString(out.Subnet.SubnetId))
	}
	for _, bad := range []struct{ cidr, code string }{
		{"10.20.1.128/25", "InvalidSubnet.Conflict"},
		{"10.21.0.0/24", "InvalidSubnet.Range"},
	} {
		_, err := client.CreateSubnet(ctx, &ec2.CreateSubnetInput{VpcId: aws.String(vpcID), CidrBlock: aws.String(bad.cidr)})
		if code, _ := apiCode(t, err); code != bad.code {
			t.Errorf("subnet %s: %s, want %s", bad.cidr, code, bad.code)
		}
	}
	subnets, err := client.DescribeSubnets(ctx, &ec2.DescribeSubnetsInput{Filters: []ec2types.Filter{filter("vpc-id", vpcID)}})
	if err != nil || len(subnets.Subnets) != 2 {
		t.Fatalf("subnets of the new VPC = %+v, %v", subnets, err)
	}
	tagged, err := client.DescribeVpcs(ctx, &ec2.DescribeVpcsInput{Filters: []ec2types.Filter{filter("tag:Name", "e2e")}})
	if err != nil || len(tagged.Vpcs) != 1 || aws.ToString(tagged.Vpcs[0].VpcId) != vpcID || aws.ToBool(tagged.Vpcs[0].IsDefault) {
		t.Errorf("tagged VPC = %+v, %v", tagged, err)
	}
	if _, err := client.ModifyVpcAttribute(ctx, &ec2.ModifyVpcAttributeInput{VpcId: aws.String(vpcID),
		EnableDnsHostnames: &ec2types.AttributeBooleanValue{Value: aws.Bool(true)}}); err != nil {
		t.Fatal(err)
	}
	attr, err := client.DescribeVpcAttribute(ctx, &ec2.DescribeVpcAttributeInput{VpcId: aws.String(vpcID),
		Attribute: ec2types.VpcAttributeNameEnableDnsHostnames})
	if err != nil || attr.EnableDnsHostnames == nil || !aws.ToBool(attr.EnableDnsHostnames.Value) {
		t.Errorf("DescribeVpcAttribute = %+v, %v", attr, err)
	}
	if _, err := client.CreateTags(ctx, &ec2.CreateTagsInput{Resources: subnetIDs[:1],
		Tags: []ec2types.Tag{{Key: aws.String("tier"), Value: aws.String("web")}}}); err != nil {
		t.Fatal(err)
	}
	web, err := client.DescribeSubnets(ctx, &ec2.DescribeSubnetsInput{Filters: []ec2types.Filter{filter("tag:tier", "web")}})
	if err != nil || len(web.Subnets) != 1 || aws.ToString(web.Subnets[0].SubnetId) != subnetIDs[0] {
		t.Errorf("tagged subnet = %+v, %v", web, err)
	}

	_, err = client.DeleteVpc(ctx, &ec2.DeleteVpcInput{VpcId: aws.String(vpcID)})
	if code, _ := apiCode(t, err); code != "DependencyViolation" {
		t.Errorf("delete a VPC with subnets: %s", code)
	}
	for _, id := range subnetIDs {
		if _, err := client.DeleteSubnet(ctx, &ec2.DeleteSubnetInput{SubnetId: aws.String(id)}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := client.DeleteVpc(ctx, &ec2.DeleteVpcInput{VpcId: aws.String(vpcID)}); err != nil {
		t.Fatal(err)
	}
	_, err = client.DescribeVpcs(ctx, &ec2.DescribeVpcsInput{VpcIds: []string{vpcID}})
	if code, _ := apiCode(t, err); code != "InvalidVpcID.NotFound" {
		t.Errorf("describe a deleted VPC: %s", code)
	}
}

func TestEC2NetworkInterfacesFromInstancesSDK(t *testing.T) {
	n := startNimbus(t, "")
	ctx := context.Background()
	client := instancesClient(n)
	ami := busyboxAMI(t, client)
	run, err := client.RunInstances(ctx, &ec2.RunInstancesInput{ImageId: aws.String(ami), MinCount: aws.Int32(1), MaxCount: aws.Int32(1)})
	if err != nil {
		t.Fatal(err)
	}
	id := aws.ToString(run.Instances[0].InstanceId)
	waitRunning(t, client, id)
	inst := describeOne(t, client, id)
	out, err := client.DescribeNetworkInterfaces(ctx, &ec2.DescribeNetworkInterfacesInput{Filters: []ec2types.Filter{
		filter("attachment.instance-id", id)}})
	if err != nil {
		t.Fatal(err)
	}
	if len(out.NetworkInterfaces) != 1 {
		t.Fatalf("interfaces of %s = %+v", id, out.NetworkInterfaces)
	}
	eni := out.NetworkInterfaces[0]
	if len(inst.NetworkInterfaces) != 1 || aws.ToString(eni.NetworkInterfaceId) != aws.ToString(inst.NetworkInterfaces[0].NetworkInterfaceId) ||
		aws.ToString(eni.SubnetId) != aws.ToString(inst.SubnetId) || aws.ToString(eni.VpcId) != aws.ToString(inst.VpcId) ||
		aws.ToString(eni.PrivateIpAddress) != aws.ToString(inst.PrivateIpAddress) || eni.Status != ec2types.NetworkInterfaceStatusInUse ||
		eni.Attachment == nil || aws.ToInt32(eni.Attachment.DeviceIndex) != 0 || len(eni.Groups) != 1 {
		t.Errorf("interface %+v does not match instance %+v", eni, inst)
	}
	// nimbus keeps default subnets (RunInstances takes only those for now);
	// DependencyViolation for a subnet in use is covered by the unit tests.
	_, err = client.DeleteSubnet(ctx, &ec2.DeleteSubnetInput{SubnetId: inst.SubnetId})
	if code, _ := apiCode(t, err); code != "OperationNotPermitted" {
		t.Errorf("delete the instance's default subnet: %s", code)
	}
	if _, err := client.TerminateInstances(ctx, &ec2.TerminateInstancesInput{InstanceIds: []string{id}}); err != nil {
		t.Fatal(err)
	}
	waitTerminated(t, client, id)
	after, err := client.DescribeNetworkInterfaces(ctx, &ec2.DescribeNetworkInterfacesInput{Filters: []ec2types.Filter{
		filter("attachment.instance-id", id)}})
	if err != nil || len(after.NetworkInterfaces) != 0 {
		t.Errorf("interfaces after termination = %+v, %v", after, err)
	}
}

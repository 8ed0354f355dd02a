package e2e

import (
	"context"
	"slices"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
)

// TestEC2InstanceTypesSDK reads the instance-type catalog with aws-sdk-go-v2:
// real sizes, GPUs, filters, the SDK's paginator and offerings per zone.
func TestEC2InstanceTypesSDK(t *testing.T) {
	n := startNimbus(t, "")
	ctx := context.Background()
	client := ec2.NewFromConfig(n.cfg())

	out, err := client.DescribeInstanceTypes(ctx, &ec2.DescribeInstanceTypesInput{
		InstanceTypes: []ec2types.InstanceType{"g5.12xlarge", "t3.micro"}})
	if err != nil {
		t.Fatal(err)
	}
	byName := map[ec2types.InstanceType]ec2types.InstanceTypeInfo{}
	for _, it := range out.InstanceTypes {
		byName[it.InstanceType] = it
	}
	g5, t3 := byName["g5.12xlarge"], byName["t3.micro"]
	if aws.ToInt32(g5.VCpuInfo.DefaultVCpus) != 48 || aws.ToInt64(g5.MemoryInfo.SizeInMiB) != 196608 || g5.GpuInfo == nil ||
		aws.ToString(g5.GpuInfo.Gpus[0].Name) != "A10G" || aws.ToInt32(g5.GpuInfo.Gpus[0].Count) != 4 {
		t.Errorf("g5.12xlarge = %+v", g5)
	}
	if aws.ToInt32(t3.VCpuInfo.DefaultVCpus) != 2 || aws.ToInt64(t3.MemoryInfo.SizeInMiB) != 1024 || !aws.ToBool(t3.FreeTierEligible) ||
		!slices.Contains(t3.ProcessorInfo.SupportedArchitectures, ec2types.ArchitectureTypeX8664) || t3.GpuInfo != nil {
		t.Errorf("t3.micro = %+v", t3)
	}

	// The SDK's paginator walks pages of a filtered listing.
	pages := ec2.NewDescribeInstanceTypesPaginator(client, &ec2.DescribeInstanceTypesInput{MaxResults: aws.Int32(5),
		Filters: []ec2types.Filter{{Name: aws.String("instance-type"), Values: []string{"m5.*", "c5.*"}}}})
	var names []string
	pageCount := 0
	for pages.HasMorePages() {
		p, err := pages.NextPage(ctx)
		if err != nil {
			t.Fatal(err)
		}
		pageCount++
		for _, it := range p.InstanceTypes {
			names = append(names, string(it.InstanceType))
		}
	}
	if len(names) != 16 || pageCount != 4 {
		t.Errorf("m5 and c5 over %d pages: %v", pageCount, names)
	}

	// A real type outside nimbus's catalog. (A name outside the model's enum
	// never reaches EC2: the codec refuses it with InvalidParameterValue.)
	_, err = client.DescribeInstanceTypes(ctx, &ec2.DescribeInstanceTypesInput{InstanceTypes: []ec2types.InstanceType{"p4d.24xlarge"}})
	if code, _ := apiCode(t, err); code != "InvalidInstanceType" {
		t.Errorf("unknown type: code %s", code)
	}

	offers, err := client.DescribeInstanceTypeOfferings(ctx, &ec2.DescribeInstanceTypeOfferingsInput{
		LocationType: ec2types.LocationTypeAvailabilityZone,
		Filters:      []ec2types.Filter{{Name: aws.String("instance-type"), Values: []string{"g5.xlarge"}}}})
	if err != nil {
		t.Fatal(err)
	}
	var zones []string
	for _, o := range offers.InstanceTypeOfferings {
		zones = append(zones, aws.ToString(o.Location))
	}
	if len(zones) < 3 || !slices.Contains(zones, "us-east-1a") {
		t.Errorf("g5.xlarge offered in %v", zones)
	}
}

// TestEC2ImagesSDK finds the built-in busybox AMI, registers, copies and
// deregisters AMIs with aws-sdk-go-v2.
func TestEC2ImagesSDK(t *testing.T) {
	n := startNimbus(t, "")
	ctx := context.Background()
	client := ec2.NewFromConfig(n.cfg())

	builtins, err := client.DescribeImages(ctx, &ec2.DescribeImagesInput{Owners: []string{"amazon"},
		Filters: []ec2types.Filter{{Name: aws.String("name"), Values: []string{"nimbus-busybox-*"}}}})
	if err != nil {
		t.Fatal(err)
	}
	if len(builtins.Images) != 1 {
		t.Fatalf("built-in busybox AMIs: %+v", builtins.Images)
	}
	bb := builtins.Images[0]
	if !strings.HasPrefix(aws.ToString(bb.ImageId), "ami-") || aws.ToString(bb.RootDeviceName) != "/dev/xvda" ||
		bb.RootDeviceType != ec2types.DeviceTypeEbs || bb.State != ec2types.ImageStateAvailable || !aws.ToBool(bb.Public) {
		t.Errorf("busybox AMI = %+v", bb)
	}

	reg, err := client.RegisterImage(ctx, &ec2.RegisterImageInput{Name: aws.String("app-v1"), ImageLocation: aws.String("nimbus:busybox:latest"),
		TagSpecifications: []ec2types.TagSpecification{{ResourceType: ec2types.ResourceTypeImage, Tags: []ec2types.Tag{{Key: aws.String("app"), Value: aws.String("web")}}}}})
	if err != nil {
		t.Fatal(err)
	}
	mine, err := client.DescribeImages(ctx, &ec2.DescribeImagesInput{Owners: []string{"self"}})
	if err != nil || len(mine.Images) != 1 || aws.ToString(mine.Images[0].ImageId) != aws.ToString(reg.ImageId) ||
		len(mine.Images[0].Tags) != 1 || aws.ToString(mine.Images[0].OwnerId) != "000000000000" {
		t.Errorf("own images: %+v %v", mine, err)
	}
	_, err = client.RegisterImage(ctx, &ec2.RegisterImageInput{Name: aws.String("app-v1"), ImageLocation: aws.String("nimbus:busybox:latest")})
	if code, _ := apiCode(t, err); code != "InvalidAMIName.Duplicate" {
		t.Errorf("duplicate name: code %s", code)
	}

	eu := ec2.NewFromConfig(n.awsConfig("eu-west-1", "test", "test"))
	cp, err := eu.CopyImage(ctx, &ec2.CopyImageInput{SourceRegion: aws.String("us-east-1"), SourceImageId: reg.ImageId, Name: aws.String("app-v1-eu")})
	if err != nil {
		t.Fatal(err)
	}
	euImages, err := eu.DescribeImages(ctx, &ec2.DescribeImagesInput{ImageIds: []string{aws.ToString(cp.ImageId)}})
	if err != nil || len(euImages.Images) != 1 || aws.ToString(euImages.Images[0].Name) != "app-v1-eu" {
		t.Errorf("copied image in eu-west-1: %+v %v", euImages, err)
	}
	_, err = client.DescribeImages(ctx, &ec2.DescribeImagesInput{ImageIds: []string{aws.ToString(cp.ImageId)}})
	if code, _ := apiCode(t, err); code != "InvalidAMIID.NotFound" {
		t.Errorf("eu-west-1 copy seen from us-east-1: code %s", code)
	}

	if _, err := client.DeregisterImage(ctx, &ec2.DeregisterImageInput{ImageId: reg.ImageId}); err != nil {
		t.Fatal(err)
	}
	_, err = client.DeregisterImage(ctx, &ec2.DeregisterImageInput{ImageId: reg.ImageId})
	if code, _ := apiCode(t, err); code != "InvalidAMIID.NotFound" {
		t.Errorf("deregister twice: code %s", code)
	}
	_, err = client.DescribeImages(ctx, &ec2.DescribeImagesInput{ImageIds: []string{"ami-bogus"}})
	if code, _ := apiCode(t, err); code != "InvalidAMIID.Malformed" {
		t.Errorf("malformed id: code %s", code)
	}
}

// TestEC2SecurityGroupsAndTagsSDK drives security groups, their rules and
// tags with aws-sdk-go-v2.
func TestEC2SecurityGroupsAndTagsSDK(t *testing.T) {
	n := startNimbus(t, "")
	ctx := context.Background()
	client := ec2.NewFromConfig(n.cfg())

	def, err := client.DescribeSecurityGroups(ctx, &ec2.DescribeSecurityGroupsInput{GroupNames: []string{"default"}})
	if err != nil || len(def.SecurityGroups) != 1 || len(def.SecurityGroups[0].IpPermissions) != 1 ||
		len(def.SecurityGroups[0].IpPermissions[0].UserIdGroupPairs) != 1 {
		t.Fatalf("default group: %+v %v", def, err)
	}

	sg, err := client.CreateSecurityGroup(ctx, &ec2.CreateSecurityGroupInput{GroupName: aws.String("web"), Description: aws.String("web servers"),
		TagSpecifications: []ec2types.TagSpecification{{ResourceType: ec2types.ResourceTypeSecurityGroup,
			Tags: []ec2types.Tag{{Key: aws.String("env"), Value: aws.String("test")}}}}})
	if err != nil {
		t.Fatal(err)
	}
	_, err = client.CreateSecurityGroup(ctx, &ec2.CreateSecurityGroupInput{GroupName: aws.String("web"), Description: aws.String("again")})
	if code, _ := apiCode(t, err); code != "InvalidGroup.Duplicate" {
		t.Errorf("duplicate group: code %s", code)
	}
	ssh := ec2types.IpPermission{IpProtocol: aws.String("tcp"), FromPort: aws.Int32(22), ToPort: aws.Int32(22),
		IpRanges: []ec2types.IpRange{{CidrIp: aws.String("10.0.0.0/8"), Description: aws.String("ssh from the office")}}}
	auth, err := client.AuthorizeSecurityGroupIngress(ctx, &ec2.AuthorizeSecurityGroupIngressInput{GroupId: sg.GroupId,
		IpPermissions: []ec2types.IpPermission{ssh, {IpProtocol: aws.String("-1"),
			UserIdGroupPairs: []ec2types.UserIdGroupPair{{GroupId: def.SecurityGroups[0].GroupId}}}}})
	if err != nil {
		t.Fatal(err)
	}
	if len(auth.SecurityGroupRules) != 2 || !strings.HasPrefix(aws.ToString(auth.SecurityGroupRules[0].SecurityGroupRuleId), "sgr-") {
		t.Errorf("authorize = %+v", auth.SecurityGroupRules)
	}
	_, err = client.AuthorizeSecurityGroupIngress(ctx, &ec2.AuthorizeSecurityGroupIngressInput{GroupId: sg.GroupId, IpPermissions: []ec2types.IpPermission{ssh}})
	if code, _ := apiCode(t, err); code != "InvalidPermission.Duplicate" {
		t.Errorf("duplicate rule: code %s", code)
	}

	desc, err := client.DescribeSecurityGroups(ctx, &ec2.DescribeSecurityGroupsInput{
		Filters: []ec2types.Filter{{Name: aws.String("ip-permission.from-port"), Values: []string{"22"}}}})
	if err != nil || len(desc.SecurityGroups) != 1 {
		t.Fatalf("groups with port 22: %+v %v", desc, err)
	}
	perms := desc.SecurityGroups[0].IpPermissions
	if len(perms) != 2 || aws.ToString(perms[0].IpRanges[0].Description) != "ssh from the office" || perms[1].FromPort != nil {
		t.Errorf("web ingress = %+v", perms)
	}
	rules, err := client.DescribeSecurityGroupRules(ctx, &ec2.DescribeSecurityGroupRulesInput{
		Filters: []ec2types.Filter{{Name: aws.String("group-id"), Values: []string{aws.ToString(sg.GroupId)}}}})
	if err != nil || len(rules.SecurityGroupRules) != 3 {
		t.Errorf("rules of web: %+v %v", rules, err)
	}

	// Tags through the generic operations.
	if _, err := client.CreateTags(ctx, &ec2.CreateTagsInput{Resources: []string{aws.ToString(sg.GroupId)},
		Tags: []ec2types.Tag{{Key: aws.String("Name"), Value: aws.String("web")}}}); err != nil {
		t.Fatal(err)
	}
	tags, err := client.DescribeTags(ctx, &ec2.DescribeTagsInput{Filters: []ec2types.Filter{{Name: aws.String("resource-id"), Values: []string{aws.ToString(sg.GroupId)}}}})
	if err != nil || len(tags.Tags) != 2 || tags.Tags[0].ResourceType != ec2types.ResourceTypeSecurityGroup {
		t.Errorf("tags of web: %+v %v", tags, err)
	}
	if _, err := client.DeleteTags(ctx, &ec2.DeleteTagsInput{Resources: []string{aws.ToString(sg.GroupId)},
		Tags: []ec2types.Tag{{Key: aws.String("env")}}}); err != nil {
		t.Fatal(err)
	}
	_, err = client.CreateTags(ctx, &ec2.CreateTagsInput{Resources: []string{aws.ToString(sg.GroupId)},
		Tags: []ec2types.Tag{{Key: aws.String("aws:reserved"), Value: aws.String("x")}}})
	if code, _ := apiCode(t, err); code != "InvalidParameterValue" {
		t.Errorf("aws: tag: code %s", code)
	}

	if _, err := client.RevokeSecurityGroupIngress(ctx, &ec2.RevokeSecurityGroupIngressInput{GroupId: sg.GroupId, IpPermissions: []ec2types.IpPermission{ssh}}); err != nil {
		t.Fatal(err)
	}
	_, err = client.RevokeSecurityGroupIngress(ctx, &ec2.RevokeSecurityGroupIngressInput{GroupId: sg.GroupId, IpPermissions: []ec2types.IpPermission{ssh}})
	if code, _ := apiCode(t, err); code != "InvalidPermission.NotFound" {
		t.Errorf("revoke twice: code %s", code)
	}
	_, err = client.DeleteSecurityGroup(ctx, &ec2.DeleteSecurityGroupInput{GroupId: def.SecurityGroups[0].GroupId})
	if code, _ := apiCode(t, err); code != "CannotDelete" {
		t.Errorf("delete default: code %s", code)
	}
	if _, err := client.DeleteSecurityGroup(ctx, &ec2.DeleteSecurityGroupInput{GroupId: sg.GroupId}); err != nil {
		t.Fatal(err)
	}
	_, err = client.DescribeSecurityGroups(ctx, &ec2.DescribeSecurityGroupsInput{GroupIds: []string{aws.ToString(sg.GroupId)}})
	if code, _ := apiCode(t, err); code != "InvalidGroup.NotFound" {
		t.Errorf("deleted group: code %s", code)
	}
}

// TestEC2SecurityGroupCLI is the AWS CLI's security-group round trip, with
// the CLI's own --protocol/--port/--cidr shorthand.
func TestEC2SecurityGroupCLI(t *testing.T) {
	n := startNimbus(t, "")
	var created struct{ GroupId string }
	if _, err := n.cli(t, &created, "ec2", "create-security-group", "--group-name", "cli-web", "--description", "from the CLI"); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(created.GroupId, "sg-") {
		t.Fatalf("create-security-group = %+v", created)
	}
	if _, err := n.cli(t, nil, "ec2", "authorize-security-group-ingress", "--group-id", created.GroupId,
		"--protocol", "tcp", "--port", "22", "--cidr", "203.0.113.0/24"); err != nil {
		t.Fatal(err)
	}
	var desc struct {
		SecurityGroups []struct {
			GroupName     string
			IpPermissions []struct {
				IpProtocol       string
				FromPort, ToPort int
				IpRanges         []struct{ CidrIp string }
			}
		}
	}
	if _, err := n.cli(t, &desc, "ec2", "describe-security-groups", "--group-ids", created.GroupId); err != nil {
		t.Fatal(err)
	}
	if len(desc.SecurityGroups) != 1 || len(desc.SecurityGroups[0].IpPermissions) != 1 {
		t.Fatalf("describe-security-groups = %+v", desc)
	}
	p := desc.SecurityGroups[0].IpPermissions[0]
	if p.IpProtocol != "tcp" || p.FromPort != 22 || p.ToPort != 22 || len(p.IpRanges) != 1 || p.IpRanges[0].CidrIp != "203.0.113.0/24" {
		t.Errorf("rule = %+v", p)
	}
	if _, err := n.cli(t, nil, "ec2", "revoke-security-group-ingress", "--group-id", created.GroupId,
		"--protocol", "tcp", "--port", "22", "--cidr", "203.0.113.0/24"); err != nil {
		t.Fatal(err)
	}
	if _, err := n.cli(t, nil, "ec2", "delete-security-group", "--group-id", created.GroupId); err != nil {
		t.Fatal(err)
	}
	stderr, err := n.cli(t, nil, "ec2", "delete-security-group", "--group-id", created.GroupId)
	if err == nil || !strings.Contains(stderr, "InvalidGroup.NotFound") {
		t.Errorf("deleting again: %v %s", err, stderr)
	}
}

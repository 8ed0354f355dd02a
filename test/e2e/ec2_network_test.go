package e2e

import (
	"context"
	"encoding/base64"
	"fmt"
	"io"
	"net/http"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
)

// TestEC2VPCNetworkReal drives a custom VPC through the real binary with
// runc: two subnets in two zones behind an internet gateway, instances
// addressed from their subnets past AWS's reserved addresses, reaching each
// other as their group allows, unreachable from the default VPC, and the
// VPC refused deletion while in use.
func TestEC2VPCNetworkReal(t *testing.T) {
	requireRealSandboxes(t)
	n := startRealNimbus(t, "")
	ctx := context.Background()
	client := instancesClient(n)
	ami := busyboxAMI(t, client)

	second := 160 + time.Now().UnixNano()%40
	cidr := fmt.Sprintf("10.%d.0.0/16", second)
	vpc, err := client.CreateVpc(ctx, &ec2.CreateVpcInput{CidrBlock: aws.String(cidr)})
	if err != nil {
		t.Fatal(err)
	}
	vpcID := aws.ToString(vpc.Vpc.VpcId)
	var subnets []string
	for i, zone := range []string{"us-east-1a", "us-east-1b"} {
		out, err := client.CreateSubnet(ctx, &ec2.CreateSubnetInput{VpcId: aws.String(vpcID), AvailabilityZone: aws.String(zone),
			CidrBlock: aws.String(fmt.Sprintf("10.%d.%d.0/24", second, i+1))})
		if err != nil {
			t.Fatal(err)
		}
		subnets = append(subnets, aws.ToString(out.Subnet.SubnetId))
	}
	igw, err := client.CreateInternetGateway(ctx, &ec2.CreateInternetGatewayInput{})
	if err != nil {
		t.Fatal(err)
	}
	igwID := aws.ToString(igw.InternetGateway.InternetGatewayId)
	if _, err := client.AttachInternetGateway(ctx, &ec2.AttachInternetGatewayInput{InternetGatewayId: aws.String(igwID), VpcId: aws.String(vpcID)}); err != nil {
		t.Fatal(err)
	}
	tables, err := client.DescribeRouteTables(ctx, &ec2.DescribeRouteTablesInput{Filters: []ec2types.Filter{
		filter("vpc-id", vpcID), filter("association.main", "true")}})
	if err != nil || len(tables.RouteTables) != 1 {
		t.Fatalf("main route table = %+v, %v", tables, err)
	}
	mainTable := aws.ToString(tables.RouteTables[0].RouteTableId)
	if _, err := client.CreateRoute(ctx, &ec2.CreateRouteInput{RouteTableId: aws.String(mainTable),
		DestinationCidrBlock: aws.String("0.0.0.0/0"), GatewayId: aws.String(igwID)}); err != nil {
		t.Fatal(err)
	}
	groups, err := client.DescribeSecurityGroups(ctx, &ec2.DescribeSecurityGroupsInput{Filters: []ec2types.Filter{
		filter("vpc-id", vpcID), filter("group-name", "default")}})
	if err != nil || len(groups.SecurityGroups) != 1 {
		t.Fatalf("the VPC's default group = %+v, %v", groups, err)
	}
	// The host may reach port 8080 of the VPC's instances (to check they
	// serve); between themselves the default group's self rule applies.
	if _, err := client.AuthorizeSecurityGroupIngress(ctx, &ec2.AuthorizeSecurityGroupIngressInput{GroupId: groups.SecurityGroups[0].GroupId,
		IpPermissions: []ec2types.IpPermission{{IpProtocol: aws.String("tcp"), FromPort: aws.Int32(8080), ToPort: aws.Int32(8080),
			IpRanges: []ec2types.IpRange{{CidrIp: aws.String("0.0.0.0/0")}}}}}); err != nil {
		t.Fatal(err)
	}

	ipOf := func(i int) string { return fmt.Sprintf("10.%d.%d.4", second, i+1) }
	// Each serves its ID, then fetches the other one's page (each try
	// bounded: a dropped connection would wait for TCP's timeout); the
	// default-VPC instance tries to reach the first.
	script := func(peer string) string {
		return fmt.Sprintf(`#!/bin/sh
mkdir -p /www && cat /run/nimbus/instance-id > /www/index.html && busybox httpd -p 8080 -h /www
echo "imds-ip: $(busybox timeout 2 busybox wget -q -O - http://169.254.169.254/latest/meta-data/local-ipv4 2>/dev/null)"
( while :; do echo "imds-tick: $(busybox timeout 2 busybox wget -q -O - http://169.254.169.254/latest/meta-data/local-ipv4 2>/dev/null)"; sleep 1; done ) &
i=0; while [ $i -lt 8 ]; do
	if p=$(busybox timeout 2 busybox wget -q -O - http://%s:8080/ 2>/dev/null); then echo "peer-answered: $p"; break; fi
	i=$((i+1)); sleep 1
done
[ $i -lt 8 ] || echo "peer-unreachable"
`, peer)
	}
	var ids []string
	for i, subnet := range subnets {
		out, err := client.RunInstances(ctx, &ec2.RunInstancesInput{ImageId: aws.String(ami), MinCount: aws.Int32(1), MaxCount: aws.Int32(1),
			SubnetId: aws.String(subnet), UserData: aws.String(base64.StdEncoding.EncodeToString([]byte(script(ipOf(1 - i)))))})
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, aws.ToString(out.Instances[0].InstanceId))
	}
	outsider, err := client.RunInstances(ctx, &ec2.RunInstancesInput{ImageId: aws.String(ami), MinCount: aws.Int32(1), MaxCount: aws.Int32(1),
		UserData: aws.String(base64.StdEncoding.EncodeToString([]byte(script(ipOf(0)))))})
	if err != nil {
		t.Fatal(err)
	}
	outsiderID := aws.ToString(outsider.Instances[0].InstanceId)
	waitRunning(t, client, append(ids, outsiderID)...)
	for i, id := range ids {
		inst := describeOne(t, client, id)
		if aws.ToString(inst.PrivateIpAddress) != ipOf(i) || aws.ToString(inst.SubnetId) != subnets[i] || aws.ToString(inst.VpcId) != vpcID ||
			len(inst.NetworkInterfaces) != 1 || aws.ToString(inst.NetworkInterfaces[0].PrivateIpAddress) != ipOf(i) {
			t.Errorf("instance %d: ip %s subnet %s vpc %s interfaces %+v; want %s in %s of %s", i, aws.ToString(inst.PrivateIpAddress),
				aws.ToString(inst.SubnetId), aws.ToString(inst.VpcId), inst.NetworkInterfaces, ipOf(i), subnets[i], vpcID)
		}
	}
	httpClient := &http.Client{Timeout: 2 * time.Second}
	for i, id := range ids {
		var body []byte
		deadline := time.Now().Add(15 * time.Second)
		for {
			resp, err := httpClient.Get("http://" + ipOf(i) + ":8080/")
			if err == nil {
				body, _ = io.ReadAll(resp.Body)
				resp.Body.Close()
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("host to instance %d at %s: %v", i, ipOf(i), err)
			}
			time.Sleep(200 * time.Millisecond)
		}
		if strings.TrimSpace(string(body)) != id {
			t.Errorf("instance %d answered %q", i, body)
		}
	}
	console := func(id string) string {
		t.Helper()
		var text string
		deadline := time.Now().Add(30 * time.Second)
		for time.Now().Before(deadline) {
			text = consoleText(t, client, id)
			if strings.Contains(text, "peer-answered") || strings.Contains(text, "peer-unreachable") {
				break
			}
			time.Sleep(250 * time.Millisecond)
		}
		return text
	}
	imdsServed := true
	for i, id := range ids {
		text := console(id)
		if !strings.Contains(text, "peer-answered: "+ids[1-i]) {
			t.Errorf("instance %d did not reach its peer in the VPC:\n%s", i, text)
		}
		switch {
		case strings.Contains(text, "imds-ip: "+ipOf(i)+"\n"):
		case strings.Contains(text, "imds-ip: \n"):
			imdsServed = false
		default:
			t.Errorf("instance %d: IMDS local-ipv4 is not its address:\n%s", i, text)
		}
	}
	if text := console(outsiderID); !strings.Contains(text, "peer-unreachable") {
		// Every nimbus on a host rebuilds the one nftables table "nimbus"
		// from its own state: another nimbus started meanwhile (another
		// test on a shared machine) leaves none of this one's rules.
		out, _ := exec.Command("nft", "list", "table", "inet", "nimbus").CombinedOutput()
		if !strings.Contains(string(out), outsiderID) && !strings.Contains(string(out), "network "+vpcID) {
			t.Skipf("another nimbus on this host rewrote the shared nftables table; isolation cannot be judged:\n%s", out)
		}
		t.Errorf("a default-VPC instance reached the custom VPC:\n%s\nnft:\n%s", text, out)
	}

	// Through a nimbus restart the instances keep running, apart, and (where
	// the binary serves it) with IMDS on their VPC's network again.
	before := len(consoleText(t, client, ids[0]))
	n.Stop()
	n = startRealNimbus(t, n.DataDir)
	client = instancesClient(n)
	if s := describeOne(t, client, ids[0]).State.Name; s != ec2types.InstanceStateNameRunning {
		t.Errorf("after a restart the VPC's instance is %s", s)
	}
	if imdsServed {
		// The ticks (one a second) may or may not fall into the short
		// restart; those printed a tick after the new nimbus answered its
		// health check can only come from its metadata server.
		want := "imds-tick: " + ipOf(0) + "\n"
		time.Sleep(1500 * time.Millisecond)
		before = max(before, len(consoleText(t, client, ids[0])))
		deadline := time.Now().Add(20 * time.Second)
		for {
			tail := consoleText(t, client, ids[0])[before:]
			if strings.Contains(tail, want) {
				break
			}
			if time.Now().After(deadline) {
				t.Errorf("IMDS on the VPC network after a restart; console since:\n%s", tail[max(0, len(tail)-600):])
				break
			}
			time.Sleep(500 * time.Millisecond)
		}
	}

	// An overlapping VPC cannot run instances while this one does.
	overlap, err := client.CreateVpc(ctx, &ec2.CreateVpcInput{CidrBlock: aws.String(fmt.Sprintf("10.%d.1.0/24", second))})
	if err != nil {
		t.Fatal(err)
	}
	overlapSubnet, err := client.CreateSubnet(ctx, &ec2.CreateSubnetInput{VpcId: overlap.Vpc.VpcId, CidrBlock: aws.String(fmt.Sprintf("10.%d.1.0/24", second))})
	if err != nil {
		t.Fatal(err)
	}
	_, err = client.RunInstances(ctx, &ec2.RunInstancesInput{ImageId: aws.String(ami), MinCount: aws.Int32(1), MaxCount: aws.Int32(1),
		SubnetId: overlapSubnet.Subnet.SubnetId})
	if code, _ := apiCode(t, err); code != "Unsupported" {
		t.Errorf("launch into an overlapping VPC: %v, want Unsupported while the first runs", err)
	}

	_, err = client.DeleteVpc(ctx, &ec2.DeleteVpcInput{VpcId: aws.String(vpcID)})
	if code, _ := apiCode(t, err); code != "DependencyViolation" {
		t.Errorf("delete a VPC in use: %v", err)
	}
	_, err = client.DeleteSubnet(ctx, &ec2.DeleteSubnetInput{SubnetId: aws.String(subnets[0])})
	if code, _ := apiCode(t, err); code != "DependencyViolation" {
		t.Errorf("delete a subnet in use: %v", err)
	}
	if _, err := client.TerminateInstances(ctx, &ec2.TerminateInstancesInput{InstanceIds: append(ids, outsiderID)}); err != nil {
		t.Fatal(err)
	}
	waitTerminated(t, client, append(ids, outsiderID)...)
	if !imdsServed {
		t.Skip("IMDS does not answer on a custom VPC's network: the binary does not call InstanceController.SetMetadataListener yet")
	}
}

// TestEC2RoutingCLI drives internet gateways and route tables with the AWS
// CLI, as a user sets up a public subnet.
func TestEC2RoutingCLI(t *testing.T) {
	n := startNimbus(t, "")
	var vpc struct{ Vpc struct{ VpcId string } }
	if _, err := n.cli(t, &vpc, "ec2", "create-vpc", "--cidr-block", "10.50.0.0/16"); err != nil {
		t.Fatal(err)
	}
	var subnet struct{ Subnet struct{ SubnetId string } }
	if _, err := n.cli(t, &subnet, "ec2", "create-subnet", "--vpc-id", vpc.Vpc.VpcId, "--cidr-block", "10.50.1.0/24"); err != nil {
		t.Fatal(err)
	}
	var igw struct {
		InternetGateway struct{ InternetGatewayId string }
	}
	if _, err := n.cli(t, &igw, "ec2", "create-internet-gateway"); err != nil {
		t.Fatal(err)
	}
	igwID := igw.InternetGateway.InternetGatewayId
	if _, err := n.cli(t, nil, "ec2", "attach-internet-gateway", "--internet-gateway-id", igwID, "--vpc-id", vpc.Vpc.VpcId); err != nil {
		t.Fatal(err)
	}
	var rt struct{ RouteTable struct{ RouteTableId string } }
	if _, err := n.cli(t, &rt, "ec2", "create-route-table", "--vpc-id", vpc.Vpc.VpcId); err != nil {
		t.Fatal(err)
	}
	var route struct{ Return bool }
	if _, err := n.cli(t, &route, "ec2", "create-route", "--route-table-id", rt.RouteTable.RouteTableId,
		"--destination-cidr-block", "0.0.0.0/0", "--gateway-id", igwID); err != nil || !route.Return {
		t.Fatalf("create-route = %+v, %v", route, err)
	}
	var assoc struct {
		AssociationId    string
		AssociationState struct{ State string }
	}
	if _, err := n.cli(t, &assoc, "ec2", "associate-route-table", "--route-table-id", rt.RouteTable.RouteTableId,
		"--subnet-id", subnet.Subnet.SubnetId); err != nil || assoc.AssociationState.State != "associated" {
		t.Fatalf("associate-route-table = %+v, %v", assoc, err)
	}
	var tables struct {
		RouteTables []struct {
			RouteTableId string
			Associations []struct {
				Main     bool
				SubnetId string
			}
			Routes []struct{ DestinationCidrBlock, GatewayId, State string }
		}
	}
	if _, err := n.cli(t, &tables, "ec2", "describe-route-tables", "--filters", "Name=vpc-id,Values="+vpc.Vpc.VpcId); err != nil {
		t.Fatal(err)
	}
	if len(tables.RouteTables) != 2 {
		t.Fatalf("route tables of the VPC = %+v", tables)
	}
	for _, table := range tables.RouteTables {
		if table.RouteTableId != rt.RouteTable.RouteTableId {
			if len(table.Associations) != 1 || !table.Associations[0].Main {
				t.Errorf("main table = %+v", table)
			}
			continue
		}
		if len(table.Associations) != 1 || table.Associations[0].SubnetId != subnet.Subnet.SubnetId || len(table.Routes) != 2 ||
			table.Routes[1].GatewayId != igwID || table.Routes[1].State != "active" {
			t.Errorf("the subnet's table = %+v", table)
		}
	}
	stderr, err := n.cli(t, nil, "ec2", "delete-internet-gateway", "--internet-gateway-id", igwID)
	if err == nil || !strings.Contains(stderr, "DependencyViolation") {
		t.Errorf("delete an attached gateway: %v %s", err, stderr)
	}
	var gws struct {
		InternetGateways []struct {
			Attachments []struct{ State, VpcId string }
		}
	}
	if _, err := n.cli(t, &gws, "ec2", "describe-internet-gateways", "--internet-gateway-ids", igwID); err != nil ||
		len(gws.InternetGateways) != 1 || len(gws.InternetGateways[0].Attachments) != 1 ||
		gws.InternetGateways[0].Attachments[0].VpcId != vpc.Vpc.VpcId {
		t.Errorf("describe-internet-gateways = %+v, %v", gws, err)
	}
	var assocs struct{ IamInstanceProfileAssociations []any }
	if _, err := n.cli(t, &assocs, "ec2", "describe-iam-instance-profile-associations"); err != nil || assocs.IamInstanceProfileAssociations == nil {
		t.Errorf("describe-iam-instance-profile-associations = %+v, %v", assocs, err)
	}
}

package ec2

import (
	"fmt"
	"testing"
)

// TestLaunchIntoCustomSubnet launches into a subnet of a VPC of the
// account's own: addresses come from the subnet past AWS's four reserved
// ones, groups must be of that VPC, a full subnet refuses, and the subnet
// and VPC are held while instances use them.
func TestLaunchIntoCustomSubnet(t *testing.T) {
	h := newInstanceHarness(t)
	vpcID := newVPC(t, h.e, h.ctx, "10.20.0.0/16")
	subnetA := newSubnet(t, h.e, h.ctx, vpcID, "10.20.1.0/28")
	subnetB := newSubnet(t, h.e, h.ctx, vpcID, "10.20.2.0/24")

	r := h.run(&runInstancesInput{SubnetId: subnetA, MinCount: 2, MaxCount: 2})
	for i, inst := range r.Instances {
		want := fmt.Sprintf("10.20.1.%d", 4+i)
		if inst.PrivateIpAddress != want || inst.SubnetId != subnetA || inst.VpcId != vpcID {
			t.Errorf("instance %d: ip %s subnet %s vpc %s, want %s in %s of %s", i, inst.PrivateIpAddress, inst.SubnetId, inst.VpcId, want, subnetA, vpcID)
		}
		if len(inst.SecurityGroups) != 1 || inst.SecurityGroups[0].GroupId != vpcDefaultGroupID(testAccount, "us-east-1", vpcID) {
			t.Errorf("instance %d groups = %+v, want the VPC's default group", i, inst.SecurityGroups)
		}
	}
	other := h.run(&runInstancesInput{SubnetId: subnetB})
	if ip := other.Instances[0].PrivateIpAddress; ip != "10.20.2.4" {
		t.Errorf("first address of %s = %s, want 10.20.2.4", subnetB, ip)
	}

	counts, err := h.e.describeSubnets(h.ctx, &describeSubnetsInput{SubnetIds: []string{subnetA}})
	if err != nil || counts.Subnets[0].AvailableIpAddressCount != 16-5-2 {
		t.Errorf("AvailableIpAddressCount of a /28 with two instances = %+v, %v; want 9", counts, err)
	}
	byCount, err := h.e.describeSubnets(h.ctx, &describeSubnetsInput{Filters: []Filter{{"available-ip-address-count", []string{"9"}}}})
	if err != nil || len(byCount.Subnets) != 1 || byCount.Subnets[0].SubnetId != subnetA {
		t.Errorf("available-ip-address-count filter = %+v, %v", byCount, err)
	}
	// A /28 has 16 - 5 = 11 addresses; two are taken.
	_, err = h.e.runInstances(h.ctx, &runInstancesInput{ImageId: h.amiID, SubnetId: subnetA, MinCount: 10, MaxCount: 10})
	wantErr(t, err, "InsufficientFreeAddressesInSubnet")
	full := h.run(&runInstancesInput{SubnetId: subnetA, MinCount: 9, MaxCount: 9})
	if last := full.Instances[8].PrivateIpAddress; last != "10.20.1.14" {
		t.Errorf("last address of the /28 = %s, want 10.20.1.14 (.15 is the broadcast)", last)
	}
	// A terminated instance's address is free again.
	if _, err := h.e.terminateInstances(h.ctx, &instanceIDsInput{InstanceIds: []string{full.Instances[0].InstanceId}}); err != nil {
		t.Fatal(err)
	}
	h.waitState(full.Instances[0].InstanceId, stateTerminated)
	again := h.run(&runInstancesInput{SubnetId: subnetA})
	if ip := again.Instances[0].PrivateIpAddress; ip != full.Instances[0].PrivateIpAddress {
		t.Errorf("address after a termination = %s, want the freed %s", ip, full.Instances[0].PrivateIpAddress)
	}

	// Groups of another VPC are refused; the VPC's own are taken.
	_, err = h.e.runInstances(h.ctx, &runInstancesInput{ImageId: h.amiID, SubnetId: subnetB, MinCount: 1, MaxCount: 1,
		SecurityGroupIds: []string{defaultGroupID(testAccount, "us-east-1")}})
	wantErr(t, err, "InvalidParameter")
	sg, err := h.e.createSecurityGroup(h.ctx, &createSecurityGroupInput{GroupName: "web", Description: "web", VpcId: vpcID})
	if err != nil {
		t.Fatal(err)
	}
	withGroup := h.run(&runInstancesInput{SubnetId: subnetB, SecurityGroupIds: []string{sg.GroupId}})
	if g := withGroup.Instances[0].SecurityGroups; len(g) != 1 || g[0].GroupId != sg.GroupId {
		t.Errorf("groups = %+v, want %s", g, sg.GroupId)
	}
	_, err = h.e.runInstances(h.ctx, &runInstancesInput{ImageId: h.amiID, SecurityGroupIds: []string{sg.GroupId}, MinCount: 1, MaxCount: 1})
	wantErr(t, err, "InvalidParameter")
	_, err = h.e.runInstances(h.ctx, &runInstancesInput{ImageId: h.amiID, SubnetId: subnetB, MinCount: 1, MaxCount: 1,
		SecurityGroups: []string{"web"}})
	wantErr(t, err, "InvalidParameterCombination")
	_, err = h.e.createSecurityGroup(h.ctx, &createSecurityGroupInput{GroupName: "x", Description: "x", VpcId: "vpc-0123456789abcdef0"})
	wantErr(t, err, "InvalidVpcID.NotFound")

	_, err = h.e.runInstances(h.ctx, &runInstancesInput{ImageId: h.amiID, SubnetId: "subnet-0123456789abcdef0", MinCount: 1, MaxCount: 1})
	wantErr(t, err, "InvalidSubnetID.NotFound")
	_, err = h.e.runInstances(h.ctx, &runInstancesInput{ImageId: h.amiID, SubnetId: subnetB, MinCount: 1, MaxCount: 1,
		Placement: &placementRequest{AvailabilityZone: "us-east-1b"}})
	wantErr(t, err, "InvalidParameterValue")

	_, err = h.e.deleteSubnet(h.ctx, &deleteSubnetInput{SubnetId: subnetB})
	wantErr(t, err, "DependencyViolation")
	_, err = h.e.deleteVpc(h.ctx, &deleteVpcInput{VpcId: vpcID})
	wantErr(t, err, "DependencyViolation")
	d := h.describe(other.Instances[0].InstanceId)
	if d.VpcId != vpcID || d.SubnetId != subnetB || d.PrivateIpAddress != "10.20.2.4" {
		t.Errorf("described = vpc %s subnet %s ip %s", d.VpcId, d.SubnetId, d.PrivateIpAddress)
	}
}

func TestVPCNetworkNames(t *testing.T) {
	v := vpc{VpcId: "vpc-0123456789abcdef0", CidrBlock: "10.9.0.0/16"}
	n, err := vpcNetwork(v, false)
	if err != nil {
		t.Fatal(err)
	}
	if n.Name != "vpc-0123456789abcdef0" || n.Bridge != "nv0123456789abc" || len(n.Bridge) > 15 ||
		n.Gateway.String() != "10.9.0.1" || !n.Isolated || !n.NoEgress {
		t.Errorf("network of %s = %+v", v.VpcId, n)
	}
	if n, _ := vpcNetwork(v, true); n.NoEgress {
		t.Error("a VPC with egress got NoEgress")
	}
}

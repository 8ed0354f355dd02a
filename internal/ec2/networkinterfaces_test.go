package ec2

import "testing"

func TestDescribeNetworkInterfaces(t *testing.T) {
	e := vpcEC2(t)
	ctx := callIn("us-east-1")
	sub, _ := defaultSubnet(catalogTestAccount, "us-east-1a")
	vpcID := defaultVPCID(catalogTestAccount, "us-east-1")
	group := groupIdentifier{GroupId: "sg-0123456789abcdef0", GroupName: "web"}
	web := &instance{InstanceId: "i-00000000000000001", OwnerId: catalogTestAccount, Region: "us-east-1",
		AvailabilityZone: "us-east-1a", SubnetId: sub, VpcId: vpcID, PrivateIpAddress: "172.31.0.4",
		MacAddress: "02:00:00:00:00:01", NetworkInterfaceId: "eni-00000000000000001", AttachmentId: "eni-attach-00000000000000001",
		SecurityGroups: []groupIdentifier{group}, State: stateRunning}
	// A record without stored interface IDs gets derived ones.
	old := &instance{InstanceId: "i-00000000000000002", OwnerId: catalogTestAccount, Region: "us-east-1",
		AvailabilityZone: "us-east-1a", SubnetId: sub, VpcId: vpcID, PrivateIpAddress: "172.31.0.5", State: stateStopped}
	gone := &instance{InstanceId: "i-00000000000000003", OwnerId: catalogTestAccount, Region: "us-east-1",
		NetworkInterfaceId: "eni-00000000000000003", State: stateTerminated}
	for _, inst := range []*instance{web, old, gone} {
		putInstance(t, e, inst)
	}

	all, err := e.describeNetworkInterfaces(ctx, &describeNetworkInterfacesInput{})
	if err != nil {
		t.Fatal(err)
	}
	if len(all.NetworkInterfaces) != 2 {
		t.Fatalf("got %d interfaces, want 2 (none for the terminated instance)", len(all.NetworkInterfaces))
	}
	var eni networkInterfaceDescription
	var derived string
	for _, d := range all.NetworkInterfaces {
		switch d.Attachment.InstanceId {
		case web.InstanceId:
			eni = d
		case old.InstanceId:
			derived = d.NetworkInterfaceId
		}
	}
	if eni.NetworkInterfaceId != web.NetworkInterfaceId || eni.SubnetId != sub || eni.VpcId != vpcID ||
		eni.PrivateIpAddress != "172.31.0.4" || eni.MacAddress != web.MacAddress || eni.Status != "in-use" ||
		eni.InterfaceType != "interface" || eni.Attachment.DeviceIndex != 0 || eni.Attachment.AttachmentId != web.AttachmentId ||
		len(eni.Groups) != 1 || eni.Groups[0] != group || len(eni.PrivateIpAddresses) != 1 || eni.AvailabilityZone != "us-east-1a" {
		t.Errorf("interface = %+v", eni)
	}
	if !validResourceID(derived, "eni") {
		t.Errorf("derived interface ID %q", derived)
	}
	again, err := e.describeNetworkInterfaces(ctx, &describeNetworkInterfacesInput{NetworkInterfaceIds: []string{derived}})
	if err != nil || len(again.NetworkInterfaces) != 1 || again.NetworkInterfaces[0].Attachment.InstanceId != old.InstanceId {
		t.Errorf("derived ID is not stable: %+v, %v", again, err)
	}

	filterCases := []struct {
		name    string
		filters []Filter
		want    int
	}{
		{"instance", []Filter{{"attachment.instance-id", []string{web.InstanceId}}}, 1},
		{"subnet", []Filter{{"subnet-id", []string{sub}}}, 2},
		{"vpc", []Filter{{"vpc-id", []string{"vpc-0123456789abcdef0"}}}, 0},
		{"ip", []Filter{{"private-ip-address", []string{"172.31.0.5"}}}, 1},
		{"group", []Filter{{"group-id", []string{group.GroupId}}}, 1},
		{"id", []Filter{{"network-interface-id", []string{web.NetworkInterfaceId}}}, 1},
	}
	for _, tc := range filterCases {
		out, err := e.describeNetworkInterfaces(ctx, &describeNetworkInterfacesInput{Filters: tc.filters})
		if err != nil || len(out.NetworkInterfaces) != tc.want {
			t.Errorf("%s: got %+v, %v; want %d", tc.name, out, err, tc.want)
		}
	}
	_, err = e.describeNetworkInterfaces(ctx, &describeNetworkInterfacesInput{NetworkInterfaceIds: []string{gone.NetworkInterfaceId}})
	wantCode(t, "terminated instance's interface", err, "InvalidNetworkInterfaceID.NotFound")
	_, err = e.describeNetworkInterfaces(ctx, &describeNetworkInterfacesInput{NetworkInterfaceIds: []string{"eni-x"}})
	wantCode(t, "malformed", err, "InvalidNetworkInterfaceId.Malformed")
	_, err = e.describeNetworkInterfaces(ctx, &describeNetworkInterfacesInput{MaxResults: 2})
	wantCode(t, "max results", err, "InvalidParameterValue")
	// Another region sees none.
	other, err := e.describeNetworkInterfaces(callIn("eu-west-1"), &describeNetworkInterfacesInput{})
	if err != nil || len(other.NetworkInterfaces) != 0 {
		t.Errorf("eu-west-1 interfaces = %+v, %v", other, err)
	}
}

package ec2

import (
	"net/netip"
	"strconv"
	"strings"
	"time"
)

// filterFields answers DescribeInstances' filter names for one instance.
func (in *instance) filterFields(name string) ([]string, bool) {
	one := func(v string) ([]string, bool) {
		if v == "" {
			return nil, true
		}
		return []string{v}, true
	}
	switch name {
	case "instance-state-name":
		return one(in.State)
	case "instance-state-code":
		return one(strconv.Itoa(stateCodes[in.State]))
	case "instance-id":
		return one(in.InstanceId)
	case "instance-type":
		return one(in.InstanceType)
	case "image-id":
		return one(in.ImageId)
	case "availability-zone":
		return one(in.AvailabilityZone)
	case "private-ip-address", "network-interface.addresses.private-ip-address":
		return one(in.visibleIP())
	case "private-dns-name":
		return one(in.privateDNSName())
	case "key-name":
		return one(in.KeyName)
	case "instance-lifecycle":
		if in.Spot != nil {
			return one("spot")
		}
		return nil, true // on-demand instances have none
	case "spot-instance-request-id":
		if in.Spot != nil {
			return one(in.Spot.RequestId)
		}
		return nil, true
	case "block-device-mapping.volume-id":
		ids := []string{in.RootVolumeId}
		for _, v := range in.Volumes {
			ids = append(ids, v.VolumeId)
		}
		return ids, true
	case "block-device-mapping.device-name":
		names := []string{in.RootDevice}
		for _, v := range in.Volumes {
			names = append(names, v.Device)
		}
		return names, true
	case "vpc-id":
		return one(in.visibleNetwork(in.VpcId))
	case "subnet-id":
		return one(in.visibleNetwork(in.SubnetId))
	case "reservation-id":
		return one(in.ReservationId)
	case "owner-id":
		return one(in.OwnerId)
	case "architecture":
		return one(in.Architecture)
	case "root-device-type":
		return one("ebs")
	case "root-device-name":
		return one(in.RootDevice)
	case "launch-index":
		return one(strconv.Itoa(in.AmiLaunchIndex))
	case "client-token":
		return one(in.ClientToken)
	case "launch-time":
		return one(in.LaunchTime.Format(time.RFC3339))
	case "platform-details":
		return one("Linux/UNIX")
	case "hypervisor":
		return one("xen")
	case "virtualization-type":
		return one("hvm")
	case "tenancy", "placement.tenancy":
		return one("default")
	case "monitoring-state":
		return one(in.monitoringState())
	case "state-reason-code":
		if in.StateReason == nil {
			return nil, true
		}
		return one(in.StateReason.Code)
	case "metadata-options.http-tokens":
		return one(in.HttpTokens)
	case "network-interface.mac-address":
		return one(in.MacAddress)
	case "instance.group-id", "group-id", "network-interface.group-id":
		var ids []string
		for _, g := range in.SecurityGroups {
			ids = append(ids, g.GroupId)
		}
		return ids, true
	case "instance.group-name", "group-name", "network-interface.group-name":
		var names []string
		for _, g := range in.SecurityGroups {
			names = append(names, g.GroupName)
		}
		return names, true
	}
	return nil, false
}

// visibleIP is the private IP AWS shows: none once terminated.
func (in *instance) visibleIP() string {
	if in.State == stateTerminated {
		return ""
	}
	return in.PrivateIpAddress
}

func (in *instance) visibleNetwork(v string) string {
	if in.State == stateTerminated {
		return ""
	}
	return v
}

func (in *instance) privateDNSName() string {
	ip, err := netip.ParseAddr(in.visibleIP())
	if err != nil {
		return ""
	}
	// Built in one allocation: DescribeInstances names every instance it
	// shows, thousands at a time. ParseAddr refuses IPv4 in any but the
	// canonical form, so the text needs no re-formatting.
	addr := in.visibleIP()
	if !ip.Is4() {
		addr = ip.String()
	}
	var b strings.Builder
	b.Grow(len("ip-") + len(addr) + len(".") + len(in.Region) + len(".compute.internal"))
	b.WriteString("ip-")
	for _, r := range addr {
		if r == '.' {
			r = '-'
		}
		b.WriteRune(r)
	}
	if in.Region == "us-east-1" {
		b.WriteString(".ec2.internal")
	} else {
		b.WriteString(".")
		b.WriteString(in.Region)
		b.WriteString(".compute.internal")
	}
	return b.String()
}

func (in *instance) monitoringState() string {
	if in.Monitoring {
		return "enabled"
	}
	return "disabled"
}

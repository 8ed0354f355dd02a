package ec2

import (
	"context"
	"slices"
	"strconv"
	"time"

	"github.com/nimbus-dev/nimbus/internal/awserr"
)

// Network interfaces are not stored: every instance has exactly one, its
// primary interface at device index 0, and DescribeNetworkInterfaces derives
// it from the instance record, so the two can never disagree. An interface
// lives as long as its instance is not terminated (AWS deletes a primary
// interface with its instance).

type describeNetworkInterfacesInput struct {
	NetworkInterfaceIds []string
	Filters             []Filter
	MaxResults          int
	NextToken           string
	DryRun              bool
}

type networkInterfaceAttachment struct {
	AttachTime          time.Time
	AttachmentId        string
	DeleteOnTermination bool
	DeviceIndex         int
	NetworkCardIndex    int
	InstanceId          string
	InstanceOwnerId     string
	Status              string
}

type networkInterfaceDescription struct {
	Attachment         networkInterfaceAttachment
	AvailabilityZone   string
	Description        string
	Groups             []groupIdentifier
	InterfaceType      string
	Ipv6Addresses      []struct{}
	MacAddress         string
	NetworkInterfaceId string
	OwnerId            string
	PrivateDnsName     string
	PrivateIpAddress   string
	PrivateIpAddresses []privateIPView
	RequesterManaged   bool
	SourceDestCheck    bool
	Status             string
	SubnetId           string
	TagSet             []Tag
	VpcId              string
}

type describeNetworkInterfacesOutput struct {
	NetworkInterfaces []networkInterfaceDescription
	NextToken         string `json:",omitempty"`
}

func checkNetworkInterfaceID(id string) error {
	return checkResourceID(id, "eni", "InvalidNetworkInterfaceId.Malformed")
}

func networkInterfacesNotFound(id string) error {
	return awserr.New(awserr.NotFound, "InvalidNetworkInterfaceID.NotFound", "The networkInterface ID '%s' does not exist", id)
}

// networkInterfaceOf is the primary interface of an instance that is not
// terminated. Records from before instances kept their interface's IDs get
// IDs derived from the instance's, so they stay the same between calls.
func networkInterfaceOf(inst *instance) networkInterfaceDescription {
	eni, attachment := inst.NetworkInterfaceId, inst.AttachmentId
	if eni == "" {
		eni = derivedID("eni", "primary-interface", inst.InstanceId)
	}
	if attachment == "" {
		attachment = derivedID("eni-attach", "primary-interface", inst.InstanceId)
	}
	d := networkInterfaceDescription{
		Attachment: networkInterfaceAttachment{AttachTime: inst.CreatedAt, AttachmentId: attachment, DeleteOnTermination: true,
			InstanceId: inst.InstanceId, InstanceOwnerId: inst.OwnerId, Status: "attached"},
		AvailabilityZone: inst.AvailabilityZone, Groups: append([]groupIdentifier{}, inst.SecurityGroups...),
		InterfaceType: "interface", Ipv6Addresses: []struct{}{}, MacAddress: inst.MacAddress, NetworkInterfaceId: eni,
		OwnerId: inst.OwnerId, PrivateDnsName: inst.privateDNSName(), PrivateIpAddress: inst.PrivateIpAddress,
		PrivateIpAddresses: []privateIPView{}, SourceDestCheck: true, Status: "in-use", SubnetId: inst.SubnetId,
		TagSet: []Tag{}, VpcId: inst.VpcId,
	}
	if d.PrivateIpAddress != "" {
		d.PrivateIpAddresses = append(d.PrivateIpAddresses, privateIPView{Primary: true, PrivateDnsName: d.PrivateDnsName,
			PrivateIpAddress: d.PrivateIpAddress})
	}
	return d
}

// fields answers DescribeNetworkInterfaces filter names for one interface.
func (d networkInterfaceDescription) fields(name string) ([]string, bool) {
	switch name {
	case "network-interface-id":
		return []string{d.NetworkInterfaceId}, true
	case "attachment.instance-id":
		return []string{d.Attachment.InstanceId}, true
	case "attachment.instance-owner-id":
		return []string{d.Attachment.InstanceOwnerId}, true
	case "attachment.attachment-id":
		return []string{d.Attachment.AttachmentId}, true
	case "attachment.device-index":
		return []string{strconv.Itoa(d.Attachment.DeviceIndex)}, true
	case "attachment.status":
		return []string{d.Attachment.Status}, true
	case "subnet-id":
		return []string{d.SubnetId}, true
	case "vpc-id":
		return []string{d.VpcId}, true
	case "availability-zone":
		return []string{d.AvailabilityZone}, true
	case "private-ip-address", "addresses.private-ip-address":
		return []string{d.PrivateIpAddress}, true
	case "private-dns-name":
		return []string{d.PrivateDnsName}, true
	case "mac-address":
		return []string{d.MacAddress}, true
	case "status":
		return []string{d.Status}, true
	case "interface-type":
		return []string{d.InterfaceType}, true
	case "owner-id":
		return []string{d.OwnerId}, true
	case "description":
		return []string{d.Description}, true
	case "source-dest-check":
		return []string{strconv.FormatBool(d.SourceDestCheck)}, true
	case "group-id":
		var ids []string
		for _, g := range d.Groups {
			ids = append(ids, g.GroupId)
		}
		return ids, true
	case "group-name":
		var names []string
		for _, g := range d.Groups {
			names = append(names, g.GroupName)
		}
		return names, true
	}
	return nil, false
}

func (e *EC2) describeNetworkInterfaces(ctx context.Context, in *describeNetworkInterfacesInput) (*describeNetworkInterfacesOutput, error) {
	if err := checkMaxResults(in.MaxResults, 5, 1000); err != nil {
		return nil, err
	}
	for _, id := range in.NetworkInterfaceIds {
		if err := checkNetworkInterfaceID(id); err != nil {
			return nil, err
		}
	}
	if in.DryRun {
		return nil, dryRun()
	}
	account, reg := partition(ctx)
	insts, err := e.loadInstances(ctx, account, reg)
	if err != nil {
		return nil, err
	}
	all := make([]networkInterfaceDescription, 0, len(insts))
	for _, inst := range insts {
		if inst.State != stateTerminated {
			all = append(all, networkInterfaceOf(inst))
		}
	}
	sortByKey(all, func(d networkInterfaceDescription) string { return d.NetworkInterfaceId })
	for _, id := range in.NetworkInterfaceIds {
		if !slices.ContainsFunc(all, func(d networkInterfaceDescription) bool { return d.NetworkInterfaceId == id }) {
			return nil, networkInterfacesNotFound(id)
		}
	}
	named := slices.DeleteFunc(all, func(d networkInterfaceDescription) bool {
		return len(in.NetworkInterfaceIds) > 0 && !slices.Contains(in.NetworkInterfaceIds, d.NetworkInterfaceId)
	})
	matched, err := matching(named, in.Filters,
		func(d networkInterfaceDescription) fields { return d.fields },
		func(d networkInterfaceDescription) []Tag { return d.TagSet })
	if err != nil {
		return nil, err
	}
	page, next, err := paginate(matched, in.MaxResults, in.NextToken,
		func(d networkInterfaceDescription) string { return d.NetworkInterfaceId })
	if err != nil {
		return nil, err
	}
	return &describeNetworkInterfacesOutput{NetworkInterfaces: page, NextToken: next}, nil
}

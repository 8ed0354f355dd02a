package ec2

import "time"

type instanceStateView struct {
	Code int
	Name string
}

func stateView(s string) instanceStateView { return instanceStateView{Code: stateCodes[s], Name: s} }

type placementView struct {
	AvailabilityZone string
	GroupName        string
	Tenancy          string
}

type ebsView struct {
	AttachTime          time.Time
	DeleteOnTermination bool
	Status              string
	VolumeId            string
}

type blockDeviceView struct {
	DeviceName string
	Ebs        ebsView
}

type attachmentView struct {
	AttachTime          time.Time
	AttachmentId        string
	DeleteOnTermination bool
	DeviceIndex         int
	Status              string
	NetworkCardIndex    int
}

type privateIPView struct {
	Primary          bool
	PrivateDnsName   string
	PrivateIpAddress string
}

type networkInterfaceView struct {
	Attachment         attachmentView
	Description        string
	Groups             []groupIdentifier
	Ipv6Addresses      []struct{}
	MacAddress         string
	NetworkInterfaceId string
	OwnerId            string
	PrivateDnsName     string
	PrivateIpAddress   string
	PrivateIpAddresses []privateIPView
	SourceDestCheck    bool
	Status             string
	SubnetId           string
	VpcId              string
	InterfaceType      string
}

type cpuOptionsView struct {
	CoreCount      int
	ThreadsPerCore int
}

type metadataOptionsView struct {
	State                   string
	HttpTokens              string
	HttpPutResponseHopLimit int
	HttpEndpoint            string
	HttpProtocolIpv6        string
	InstanceMetadataTags    string
}

type instanceView struct {
	AmiLaunchIndex                   int
	ImageId                          string
	InstanceId                       string
	InstanceType                     string
	KeyName                          string `json:",omitempty"`
	LaunchTime                       time.Time
	Monitoring                       struct{ State string }
	Placement                        placementView
	PrivateDnsName                   string
	PrivateIpAddress                 string `json:",omitempty"`
	ProductCodes                     []struct{}
	PublicDnsName                    string
	State                            instanceStateView
	StateTransitionReason            string
	SubnetId                         string `json:",omitempty"`
	VpcId                            string `json:",omitempty"`
	Architecture                     string
	BlockDeviceMappings              []blockDeviceView
	ClientToken                      string
	EbsOptimized                     bool
	EnaSupport                       bool
	Hypervisor                       string
	NetworkInterfaces                []networkInterfaceView
	RootDeviceName                   string
	RootDeviceType                   string
	SecurityGroups                   []groupIdentifier
	SourceDestCheck                  bool
	StateReason                      *stateReason `json:",omitempty"`
	Tags                             []Tag        `json:",omitempty"`
	VirtualizationType               string
	CpuOptions                       cpuOptionsView
	CapacityReservationSpecification struct {
		CapacityReservationPreference string
	}
	HibernationOptions       struct{ Configured bool }
	MetadataOptions          metadataOptionsView
	EnclaveOptions           struct{ Enabled bool }
	BootMode                 string
	PlatformDetails          string
	UsageOperation           string
	UsageOperationUpdateTime time.Time
	PrivateDnsNameOptions    struct {
		HostnameType                    string
		EnableResourceNameDnsARecord    bool
		EnableResourceNameDnsAAAARecord bool
	}
	MaintenanceOptions      struct{ AutoRecovery string }
	CurrentInstanceBootMode string
	InstanceLifecycle       string                  `json:",omitempty"`
	IamInstanceProfile      *iamInstanceProfileView `json:",omitempty"`
	SpotInstanceRequestId   string                  `json:",omitempty"`
}

type reservationView struct {
	Groups        []groupIdentifier
	Instances     []instanceView
	OwnerId       string
	ReservationId string
}

// reservationsOf groups instances by reservation, in the order their first
// instance appears. It counts each reservation's instances first so that
// every view lands in one array: a page of thousands of one-instance
// reservations otherwise spends its time growing thousands of slices.
func reservationsOf(insts []*instance) []reservationView {
	out := make([]reservationView, 0, len(insts))
	index := make(map[string]int, len(insts))
	slot := make([]int, len(insts)) // insts[i] goes to out[slot[i]]
	var counts []int
	for n, inst := range insts {
		i, ok := index[inst.ReservationId]
		if !ok {
			i = len(out)
			index[inst.ReservationId] = i
			out = append(out, reservationView{Groups: []groupIdentifier{}, OwnerId: inst.OwnerId, ReservationId: inst.ReservationId})
			counts = append(counts, 0)
		}
		slot[n] = i
		counts[i]++
	}
	views := make([]instanceView, len(insts))
	start := 0
	for i := range out {
		out[i].Instances = views[start : start : start+counts[i]]
		start += counts[i]
	}
	for n, inst := range insts {
		out[slot[n]].Instances = append(out[slot[n]].Instances, inst.view())
	}
	return out
}

func (in *instance) view() instanceView {
	v := instanceView{
		AmiLaunchIndex: in.AmiLaunchIndex, ImageId: in.ImageId, InstanceId: in.InstanceId, InstanceType: in.InstanceType,
		KeyName: in.KeyName, LaunchTime: in.LaunchTime,
		Placement:      placementView{AvailabilityZone: in.AvailabilityZone, Tenancy: "default"},
		PrivateDnsName: in.privateDNSName(), PrivateIpAddress: in.visibleIP(), ProductCodes: []struct{}{},
		State: stateView(in.State), StateTransitionReason: in.StateTransitionReason,
		SubnetId: in.visibleNetwork(in.SubnetId), VpcId: in.visibleNetwork(in.VpcId), Architecture: in.Architecture,
		BlockDeviceMappings: []blockDeviceView{}, ClientToken: in.ClientToken, EnaSupport: true, Hypervisor: "xen",
		NetworkInterfaces: []networkInterfaceView{}, RootDeviceName: in.RootDevice, RootDeviceType: "ebs",
		SecurityGroups: []groupIdentifier{}, SourceDestCheck: true, StateReason: in.StateReason, Tags: in.Tags,
		VirtualizationType: "hvm", CpuOptions: cpuOptionsView{CoreCount: in.CoreCount, ThreadsPerCore: in.ThreadsPerCore},
		MetadataOptions: metadataOptionsView{State: "applied", HttpTokens: in.HttpTokens, HttpPutResponseHopLimit: in.HttpPutHopLimit,
			HttpEndpoint: in.HttpEndpoint, HttpProtocolIpv6: "disabled", InstanceMetadataTags: "disabled"},
		BootMode: "uefi-preferred", PlatformDetails: "Linux/UNIX", UsageOperation: "RunInstances",
		UsageOperationUpdateTime: in.CreatedAt, CurrentInstanceBootMode: "legacy-bios",
	}
	v.Monitoring.State = in.monitoringState()
	if in.Profile != nil {
		v.IamInstanceProfile = &iamInstanceProfileView{Arn: in.Profile.Arn, Id: in.Profile.Id}
	}
	v.CapacityReservationSpecification.CapacityReservationPreference = "open"
	v.PrivateDnsNameOptions.HostnameType = "ip-name"
	v.MaintenanceOptions.AutoRecovery = "default"
	if in.MetadataTags {
		v.MetadataOptions.InstanceMetadataTags = "enabled"
	}
	if in.Spot != nil {
		v.InstanceLifecycle, v.SpotInstanceRequestId = "spot", in.Spot.RequestId
	}
	if in.State == stateTerminated {
		return v
	}
	// The interface's groups are the instance's: one copy serves both.
	v.SecurityGroups = append(v.SecurityGroups, in.SecurityGroups...)
	v.BlockDeviceMappings = make([]blockDeviceView, 0, 1+len(in.Volumes))
	v.BlockDeviceMappings = append(v.BlockDeviceMappings, blockDeviceView{DeviceName: in.RootDevice,
		Ebs: ebsView{AttachTime: in.CreatedAt, DeleteOnTermination: in.DeleteOnTermination, Status: "attached", VolumeId: in.RootVolumeId}})
	for _, vol := range in.Volumes {
		v.BlockDeviceMappings = append(v.BlockDeviceMappings, blockDeviceView{DeviceName: vol.Device,
			Ebs: ebsView{AttachTime: vol.AttachTime, DeleteOnTermination: vol.DeleteOnTermination, Status: "attached", VolumeId: vol.VolumeId}})
	}
	ni := networkInterfaceView{
		Attachment: attachmentView{AttachTime: in.CreatedAt, AttachmentId: in.AttachmentId, DeleteOnTermination: true,
			Status: "attached"},
		Groups: v.SecurityGroups, Ipv6Addresses: []struct{}{}, MacAddress: in.MacAddress,
		NetworkInterfaceId: in.NetworkInterfaceId, OwnerId: in.OwnerId, PrivateDnsName: v.PrivateDnsName,
		PrivateIpAddress: v.PrivateIpAddress, PrivateIpAddresses: []privateIPView{}, SourceDestCheck: true,
		Status: "in-use", SubnetId: in.SubnetId, VpcId: in.VpcId, InterfaceType: "interface",
	}
	if v.PrivateIpAddress != "" {
		ni.PrivateIpAddresses = append(ni.PrivateIpAddresses, privateIPView{Primary: true, PrivateDnsName: v.PrivateDnsName,
			PrivateIpAddress: v.PrivateIpAddress})
	}
	v.NetworkInterfaces = append(v.NetworkInterfaces, ni)
	return v
}

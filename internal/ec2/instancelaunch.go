package ec2

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"net/netip"
	"sort"
	"time"

	"github.com/nimbus-dev/nimbus/internal/awserr"
	"github.com/nimbus-dev/nimbus/internal/region"
	"github.com/nimbus-dev/nimbus/internal/store"
)

type placementRequest struct {
	AvailabilityZone string
	Tenancy          string
}

type ebsRequest struct {
	DeleteOnTermination *bool
	VolumeSize          int
	VolumeType          string
	SnapshotId          string
	Iops                int
	Throughput          int
	Encrypted           bool
	KmsKeyId            string
}

type blockDeviceMappingRequest struct {
	DeviceName  string
	Ebs         *ebsRequest
	NoDevice    string
	VirtualName string
}

type metadataOptionsRequest struct {
	HttpTokens              string
	HttpPutResponseHopLimit int
	HttpEndpoint            string
	InstanceMetadataTags    string
}

type runInstancesInput struct {
	ImageId                           string
	InstanceType                      string
	MinCount                          int
	MaxCount                          int
	KeyName                           string
	SecurityGroupIds                  []string
	SecurityGroups                    []string
	UserData                          string
	TagSpecifications                 []TagSpecification
	Placement                         *placementRequest
	SubnetId                          string
	ClientToken                       string
	InstanceInitiatedShutdownBehavior string
	DisableApiTermination             bool
	BlockDeviceMappings               []blockDeviceMappingRequest
	MetadataOptions                   *metadataOptionsRequest
	Monitoring                        *struct{ Enabled bool }
	InstanceMarketOptions             *instanceMarketOptionsRequest
	IamInstanceProfile                *iamInstanceProfileSpecification
	DryRun                            bool
}

// maxUserData is EC2's limit on user data before base64.
const maxUserData = 16 * 1024

// launchRequest is a validated RunInstances.
type launchRequest struct {
	in        *runInstancesInput
	ami       *amiRecord
	itype     instanceTypeInfo
	groups    []groupIdentifier
	publicKey string
	zone      string
	subnetID  string
	subnetNet string
	vpcID     string
	vpcCIDR   string
	// profile is the IAM instance profile; each instance gets its own
	// association of it.
	profile *instanceProfile
	// subnet is the launch's subnet when it is not a default one: its
	// instances get their addresses from it at launch.
	subnet              *subnet
	tags                []Tag
	volumeTags          []Tag
	deleteOnTermination bool
	rootSize            int
	rootType            string
	// volumes are the EBS volumes each instance gets besides its root.
	volumes []launchVolume
	// spot is the market of a spot launch; nil for on-demand.
	spot *spotState
}

// launchVolume is one BlockDeviceMappings entry that makes a volume.
type launchVolume struct {
	Device string
	// Shape is as the mapping asks, before the type's defaults.
	Shape               volumeShape
	SnapshotId          string
	Encrypted           bool
	DeleteOnTermination bool
}

func (e *EC2) runInstances(ctx context.Context, in *runInstancesInput) (*reservationView, error) {
	account, reg := partition(ctx)
	req, err := e.validateLaunch(ctx, account, reg, in)
	if err != nil {
		return nil, err
	}
	if req.spot != nil {
		if err := checkSpotPrice(req.spot.MaxPrice, req.itype, req.zone, time.Now()); err != nil {
			return nil, err
		}
	}
	if in.DryRun {
		return nil, dryRun()
	}
	hash := launchHash(in)
	var launched []*instance
	err = e.store.Update(ctx, func(tx store.Tx) error {
		launched = nil
		if in.ClientToken != "" {
			err := tx.List(store.Query{Kind: kindInstance, Account: account, Region: reg, Index: "client-token", IndexValue: in.ClientToken},
				func(o store.Object) error {
					var inst instance
					if err := o.Decode(&inst); err != nil {
						return err
					}
					launched = append(launched, &inst)
					return nil
				})
			if err != nil {
				return err
			}
			if len(launched) > 0 {
				if launched[0].ParamsHash != hash {
					return awserr.New(awserr.Validation, "IdempotentParameterMismatch",
						"Arguments on this idempotent request are inconsistent with arguments used in previous request(s).")
				}
				return nil
			}
		}
		adm, err := e.admit(tx, reg, req.itype, in.MinCount, in.MaxCount, req.spot != nil)
		if err != nil {
			return err
		}
		if adm.Count == 0 {
			return insufficientCapacity(req.itype.Name, req.zone)
		}
		now := time.Now().UTC().Truncate(time.Second)
		launched = e.newInstances(account, reg, req, hash, adm.Count)
		if err := e.storeLaunch(tx, req, launched, now); err != nil {
			return err
		}
		return e.scheduleInterruptions(tx, adm.Interrupt, now)
	})
	if err != nil {
		if ae := awserr.As(err); ae != nil {
			return nil, ae
		}
		return nil, awserr.Internalf(err, "store instances")
	}
	sort.Slice(launched, func(i, j int) bool { return launched[i].AmiLaunchIndex < launched[j].AmiLaunchIndex })
	views := reservationsOf(launched)
	return &views[0], nil
}

// storeLaunch creates, in tx, the launched instances with the volumes their
// block device mappings ask for and, for spot instances, their requests.
func (e *EC2) storeLaunch(tx store.Tx, req *launchRequest, launched []*instance, now time.Time) error {
	for _, inst := range launched {
		if req.subnet != nil {
			// A VPC of its own: the address is the instance's from now on,
			// on its VPC's network (vpcnetwork.go).
			ip, err := allocatePrivateIP(tx, inst.OwnerId, inst.Region, *req.subnet)
			if err != nil {
				return err
			}
			inst.PrivateIpAddress = ip
		} else if e.host == nil || e.host.Network() == nil {
			// Without sandbox networking the address is only a name, drawn
			// from the subnet as EC2 does at launch.
			n, err := tx.NextSequence("ec2:private-ip:" + inst.SubnetId)
			if err != nil {
				return err
			}
			inst.PrivateIpAddress = subnetAddress(inst.SubnetCIDR, n)
		}
		for _, lv := range req.volumes {
			v, err := newVolume(tx, inst.OwnerId, inst.Region, inst.AvailabilityZone, lv.Shape.Type, lv.Shape.Size,
				lv.Shape.Iops, lv.Shape.Throughput, lv.SnapshotId, lv.Encrypted)
			if err != nil {
				return err
			}
			v.CreateTime, v.Tags = now, append([]Tag{}, req.volumeTags...)
			v.Attachment = &volumeAttachment{InstanceId: inst.InstanceId, Device: lv.Device, State: attachAttaching,
				AttachTime: now, DeleteOnTermination: lv.DeleteOnTermination}
			if _, err := tx.Create(v.key(), v); err != nil {
				return err
			}
			inst.Volumes = append(inst.Volumes, instanceVolume{VolumeId: v.VolumeId, Device: lv.Device, AttachTime: now,
				DeleteOnTermination: lv.DeleteOnTermination})
		}
		if inst.Spot != nil && inst.Spot.RequestId == "" {
			inst.Spot.RequestId = newID("sir")
			r := newSpotRequest(inst, inst.Spot, launchSpecOf(inst), nil, now)
			if _, err := tx.Create(r.key(), r); err != nil {
				return err
			}
		}
		if _, err := tx.Create(inst.key(), inst); err != nil {
			return err
		}
	}
	return nil
}

func (e *EC2) validateLaunch(ctx context.Context, account, reg string, in *runInstancesInput) (*launchRequest, error) {
	if in.ImageId == "" {
		return nil, awserr.Missing("ImageId")
	}
	if in.MinCount < 1 {
		return nil, invalidParameter("Value (%d) for parameter minCount is invalid. Expected a positive integer.", in.MinCount)
	}
	if in.MaxCount < 1 {
		return nil, invalidParameter("Value (%d) for parameter maxCount is invalid. Expected a positive integer.", in.MaxCount)
	}
	if in.MaxCount < in.MinCount {
		return nil, invalidParameter("Value (%d) for parameter maxCount is invalid. maxCount must be greater than or equal to minCount.", in.MaxCount)
	}
	if len(in.ClientToken) > 64 {
		return nil, invalidParameter("Value (%s) for parameter clientToken is invalid. Length exceeds maximum of 64.", in.ClientToken)
	}
	req := &launchRequest{in: in, deleteOnTermination: true}
	typeName := in.InstanceType
	if typeName == "" {
		// AWS launches m1.small when no type is given; nimbus's default is
		// the smallest current-generation burstable type instead.
		typeName = defaultInstanceType
	}
	var ok bool
	if req.itype, ok = lookupInstanceType(typeName); !ok {
		return nil, invalidParameter("Invalid value '%s' for InstanceType.", typeName)
	}
	switch in.InstanceInitiatedShutdownBehavior {
	case "", "stop", "terminate":
	default:
		return nil, invalidParameter("Value (%s) for parameter instanceInitiatedShutdownBehavior is invalid. Valid values are stop and terminate.", in.InstanceInitiatedShutdownBehavior)
	}
	if in.UserData != "" {
		raw, err := base64.StdEncoding.DecodeString(in.UserData)
		if err != nil {
			return nil, invalidParameter("Invalid BASE64 encoding of user data.")
		}
		if len(raw) > maxUserData {
			return nil, invalidParameter("User data is limited to %d bytes", maxUserData)
		}
	}
	if o := in.MetadataOptions; o != nil {
		if o.HttpTokens != "" && o.HttpTokens != "optional" && o.HttpTokens != "required" {
			return nil, invalidParameter("Value (%s) for parameter HttpTokens is invalid. Valid values are optional and required.", o.HttpTokens)
		}
		if o.HttpEndpoint != "" && o.HttpEndpoint != "enabled" && o.HttpEndpoint != "disabled" {
			return nil, invalidParameter("Value (%s) for parameter HttpEndpoint is invalid. Valid values are enabled and disabled.", o.HttpEndpoint)
		}
		if o.HttpPutResponseHopLimit != 0 && (o.HttpPutResponseHopLimit < 1 || o.HttpPutResponseHopLimit > 64) {
			return nil, invalidParameter("Value (%d) for parameter HttpPutResponseHopLimit is invalid. Valid values are 1 to 64.", o.HttpPutResponseHopLimit)
		}
	}
	for _, spec := range in.TagSpecifications {
		switch spec.ResourceType {
		case "instance":
			req.tags = append(req.tags, spec.Tags...)
		case "volume":
			req.volumeTags = append(req.volumeTags, spec.Tags...)
		case "network-interface", "spot-instances-request":
			// Accepted; network interfaces and the requests behind spot
			// instances are not tagged separately yet.
		default:
			return nil, invalidParameter("'%s' is not a valid taggable resource type for this operation.", spec.ResourceType)
		}
	}
	if err := validateTags(req.tags); err != nil {
		return nil, err
	}
	var err error
	if err = e.placeLaunch(ctx, account, reg, in, req); err != nil {
		return nil, err
	}
	if req.spot, err = validSpotOptions(in.InstanceMarketOptions); err != nil {
		return nil, err
	}
	ami, err := e.lookupImage(ctx, account, reg, in.ImageId)
	if err != nil {
		return nil, err
	}
	if err := imageUnavailable(ami); err != nil {
		return nil, err
	}
	req.ami = ami
	if err := req.blockDevices(in.BlockDeviceMappings); err != nil {
		return nil, err
	}
	if in.KeyName != "" {
		if req.publicKey, err = PublicKeyOf(ctx, e.store, account, reg, in.KeyName); err != nil {
			return nil, err
		}
	}
	if in.IamInstanceProfile != nil && (in.IamInstanceProfile.Arn != "" || in.IamInstanceProfile.Name != "") {
		if req.profile, err = e.resolveProfile(ctx, account, in.IamInstanceProfile); err != nil {
			return nil, err
		}
	}
	if req.groups, err = e.resolveGroups(ctx, account, reg, req.vpcID, req.subnetID, in.SecurityGroupIds, in.SecurityGroups); err != nil {
		return nil, err
	}
	return req, nil
}

// blockDevices reads BlockDeviceMappings: the root device's entry sizes
// the root volume and says whether it outlives the instance; every other
// EBS entry makes a volume per instance (deleted with it unless
// DeleteOnTermination is false). Instance-store and NoDevice entries
// change nothing.
func (req *launchRequest) blockDevices(bdms []blockDeviceMappingRequest) error {
	root := req.ami.RootDeviceName
	if root == "" {
		root = "/dev/xvda"
	}
	seen := map[string]bool{}
	for _, bdm := range bdms {
		if bdm.DeviceName == "" {
			return awserr.Missing("BlockDeviceMapping.DeviceName")
		}
		if seen[bdm.DeviceName] {
			return invalidParameter("The device '%s' is used in more than one block-device mapping", bdm.DeviceName)
		}
		seen[bdm.DeviceName] = true
		if bdm.Ebs == nil || bdm.NoDevice != "" || bdm.VirtualName != "" {
			continue
		}
		ebs := bdm.Ebs
		if bdm.DeviceName == root || bdm.DeviceName == "/dev/xvda" || bdm.DeviceName == "/dev/sda1" {
			if ebs.DeleteOnTermination != nil {
				req.deleteOnTermination = *ebs.DeleteOnTermination
			}
			if ebs.VolumeSize != 0 || ebs.VolumeType != "" {
				size := ebs.VolumeSize
				if size == 0 {
					size = defaultRootVolumeSize
				}
				if size < defaultRootVolumeSize {
					return invalidParameter("Volume of size %dGB is smaller than snapshot, expect size >= %dGB", size, defaultRootVolumeSize)
				}
				shape, err := resolveVolumeShape(ebs.VolumeType, size, ebs.Iops, ebs.Throughput)
				if err != nil {
					return err
				}
				req.rootSize, req.rootType = shape.Size, shape.Type
			}
			continue
		}
		if err := validDevice(bdm.DeviceName); err != nil {
			return err
		}
		lv := launchVolume{Device: bdm.DeviceName, Encrypted: ebs.Encrypted, DeleteOnTermination: true, SnapshotId: ebs.SnapshotId}
		switch {
		case ebs.SnapshotId != "":
			// The snapshot's size and existence are checked in the launch's
			// transaction (storeLaunch, through newVolume).
			if err := checkSnapshotID(ebs.SnapshotId); err != nil {
				return err
			}
			lv.Shape = volumeShape{Type: ebs.VolumeType, Size: ebs.VolumeSize, Iops: ebs.Iops, Throughput: ebs.Throughput}
		case ebs.VolumeSize == 0:
			return awserr.New(awserr.MissingParameter, "MissingParameter",
				"The request must contain the parameter size or snapshotId for device %s", bdm.DeviceName)
		default:
			if _, err := resolveVolumeShape(ebs.VolumeType, ebs.VolumeSize, ebs.Iops, ebs.Throughput); err != nil {
				return err
			}
			// As asked: newVolume applies the type's defaults.
			lv.Shape = volumeShape{Type: ebs.VolumeType, Size: ebs.VolumeSize, Iops: ebs.Iops, Throughput: ebs.Throughput}
		}
		if ebs.DeleteOnTermination != nil {
			lv.DeleteOnTermination = *ebs.DeleteOnTermination
		}
		req.volumes = append(req.volumes, lv)
	}
	return nil
}

// placeLaunch picks the zone and subnet from Placement or SubnetId: a
// default subnet (derived, no lookup) or one of the account's own.
func (e *EC2) placeLaunch(ctx context.Context, account, reg string, in *runInstancesInput, req *launchRequest) error {
	zones := region.Zones(reg)
	if len(zones) == 0 {
		return invalidParameter("Invalid region: %s", reg)
	}
	req.zone = zones[0].Name
	req.vpcID, req.vpcCIDR = defaultVPCID(account, reg), defaultVPCCIDR
	if in.Placement != nil && in.Placement.AvailabilityZone != "" {
		found := false
		for _, z := range zones {
			if z.Name == in.Placement.AvailabilityZone {
				found = true
			}
		}
		if !found {
			return invalidParameter("Invalid availability zone: [%s]", in.Placement.AvailabilityZone)
		}
		req.zone = in.Placement.AvailabilityZone
	}
	if in.SubnetId == "" {
		req.subnetID, req.subnetNet = defaultSubnet(account, req.zone)
		return nil
	}
	if err := checkSubnetID(in.SubnetId); err != nil {
		return err
	}
	if err := e.ensureDefaultNetwork(ctx, account, reg); err != nil {
		return err
	}
	var s subnet
	err := e.store.View(ctx, func(tx store.Tx) error {
		var err error
		if s, _, err = getSubnet(tx, account, reg, in.SubnetId); err != nil {
			return err
		}
		v, _, err := getVPC(tx, account, reg, s.VpcId)
		req.vpcCIDR = v.CidrBlock
		return err
	})
	if err != nil {
		return asAPIError(err, "read subnet")
	}
	if in.Placement != nil && in.Placement.AvailabilityZone != "" && in.Placement.AvailabilityZone != s.AvailabilityZone {
		return invalidParameter("The specified availability zone %s does not match the subnet's zone %s.", in.Placement.AvailabilityZone, s.AvailabilityZone)
	}
	req.zone, req.subnetID, req.subnetNet, req.vpcID = s.AvailabilityZone, s.SubnetId, s.CidrBlock, s.VpcId
	if !s.DefaultForAz {
		req.subnet = &s
		if err := e.checkVPCNetworkFits(req.vpcID, req.vpcCIDR); err != nil {
			return err
		}
	}
	return nil
}

// launchHash is what a ClientToken promises: a retry with the same token
// must ask for the same launch.
func launchHash(in *runInstancesInput) string {
	h := sha256.New()
	fmt.Fprintf(h, "%s|%s|%d|%d|%s|%v|%v|%s|%s|%v|%s|%v|%v|%v|%v", in.ImageId, in.InstanceType, in.MinCount, in.MaxCount,
		in.KeyName, in.SecurityGroupIds, in.SecurityGroups, in.UserData, in.SubnetId, in.Placement, in.InstanceInitiatedShutdownBehavior,
		in.TagSpecifications, in.BlockDeviceMappings, in.InstanceMarketOptions, in.IamInstanceProfile)
	return hex.EncodeToString(h.Sum(nil))
}

func (e *EC2) newInstances(account, reg string, req *launchRequest, hash string, count int) []*instance {
	now := time.Now().UTC().Truncate(time.Second)
	reservation := newID("r")
	in := req.in
	behavior := in.InstanceInitiatedShutdownBehavior
	if behavior == "" {
		behavior = "stop"
	}
	out := make([]*instance, 0, count)
	for i := 0; i < count; i++ {
		inst := &instance{
			Schema: instanceSchema, InstanceId: newID("i"), ReservationId: reservation, OwnerId: account, Region: reg,
			AmiLaunchIndex: i, ImageId: req.ami.ImageId, Image: req.ami.ImageStoreName, Architecture: req.ami.Architecture,
			RootDevice: req.ami.RootDeviceName, InstanceType: req.itype.Name, VCPUs: req.itype.VCPUs,
			CoreCount: req.itype.Cores, ThreadsPerCore: req.itype.ThreadsPerCore, MemoryMiB: req.itype.MemoryMiB, GPUs: req.itype.GPUs,
			KeyName: in.KeyName, PublicKey: req.publicKey, SecurityGroups: req.groups,
			AvailabilityZone: req.zone, SubnetId: req.subnetID, SubnetCIDR: req.subnetNet, VpcId: req.vpcID,
			NetworkInterfaceId: newID("eni"), AttachmentId: newID("eni-attach"), RootVolumeId: newID("vol"),
			UserData: in.UserData, Tags: append([]Tag(nil), req.tags...), ClientToken: in.ClientToken, ParamsHash: hash,
			ShutdownBehavior: behavior, DisableApiTermination: in.DisableApiTermination, DeleteOnTermination: req.deleteOnTermination,
			HttpTokens: "optional", HttpEndpoint: "enabled", HttpPutHopLimit: 1,
			State: statePending, StateReason: &reasonPending, LaunchTime: now, CreatedAt: now,
		}
		inst.MacAddress = macFor(inst.InstanceId)
		if inst.Architecture == "" {
			inst.Architecture = "x86_64"
		}
		if inst.RootDevice == "" {
			inst.RootDevice = "/dev/xvda"
		}
		if o := in.MetadataOptions; o != nil {
			if o.HttpTokens != "" {
				inst.HttpTokens = o.HttpTokens
			}
			if o.HttpEndpoint != "" {
				inst.HttpEndpoint = o.HttpEndpoint
			}
			if o.HttpPutResponseHopLimit != 0 {
				inst.HttpPutHopLimit = o.HttpPutResponseHopLimit
			}
			inst.MetadataTags = o.InstanceMetadataTags == "enabled"
		}
		inst.Monitoring = in.Monitoring != nil && in.Monitoring.Enabled
		inst.VpcCIDR = req.vpcCIDR
		if req.profile != nil {
			p := *req.profile
			p.AssociationId = newID("iip-assoc")
			inst.Profile = &p
		}
		inst.RootVolumeSize, inst.RootVolumeType = req.rootSize, req.rootType
		if req.spot != nil {
			s := *req.spot
			inst.Market, inst.Spot = "spot", &s
		}
		out = append(out, inst)
	}
	return out
}

// subnetAddress is the nth address of a subnet past the four EC2 reserves at
// its start, wrapping before the broadcast address.
func subnetAddress(cidr string, n int64) string {
	p, err := netip.ParsePrefix(cidr)
	if err != nil || !p.Addr().Is4() {
		return ""
	}
	size := int64(1) << (32 - p.Bits())
	if size <= 8 {
		return ""
	}
	b := p.Masked().Addr().As4()
	v := uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3])
	v += uint32(4 + (n-1)%(size-5))
	return netip.AddrFrom4([4]byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)}).String()
}

// macFor derives a stable, locally administered MAC from an instance ID, as
// EC2's are (0e:..).
func macFor(id string) string {
	sum := sha256.Sum256([]byte(id))
	return fmt.Sprintf("0e:%02x:%02x:%02x:%02x:%02x", sum[0], sum[1], sum[2], sum[3], sum[4])
}

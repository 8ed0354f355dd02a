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
}

type blockDeviceMappingRequest struct {
	DeviceName string
	Ebs        *ebsRequest
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
	DryRun                            bool
}

// maxUserData is EC2's limit on user data before base64.
const maxUserData = 16 * 1024

// launchRequest is a validated RunInstances.
type launchRequest struct {
	in                  *runInstancesInput
	ami                 *amiRecord
	itype               instanceTypeInfo
	groups              []groupIdentifier
	publicKey           string
	zone                string
	subnetID            string
	subnetNet           string
	tags                []Tag
	deleteOnTermination bool
}

func (e *EC2) runInstances(ctx context.Context, in *runInstancesInput) (*reservationView, error) {
	account, reg := partition(ctx)
	req, err := e.validateLaunch(ctx, account, reg, in)
	if err != nil {
		return nil, err
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
		launched = e.newInstances(account, reg, req, hash)
		for _, inst := range launched {
			if e.host == nil || e.host.Network() == nil {
				// Without sandbox networking the address is only a name, drawn
				// from the subnet as EC2 does at launch.
				n, err := tx.NextSequence("ec2:private-ip:" + inst.SubnetId)
				if err != nil {
					return err
				}
				inst.PrivateIpAddress = subnetAddress(inst.SubnetCIDR, n)
			}
			if _, err := tx.Create(inst.key(), inst); err != nil {
				return err
			}
		}
		return nil
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
		case "volume", "network-interface":
			// Accepted; these resources are not modelled separately yet.
		default:
			return nil, invalidParameter("'%s' is not a valid taggable resource type for this operation.", spec.ResourceType)
		}
	}
	if err := validateTags(req.tags); err != nil {
		return nil, err
	}
	if err := e.placeLaunch(account, reg, in, req); err != nil {
		return nil, err
	}
	for _, bdm := range in.BlockDeviceMappings {
		if bdm.Ebs != nil && bdm.Ebs.DeleteOnTermination != nil && (bdm.DeviceName == "" || bdm.DeviceName == "/dev/xvda" || bdm.DeviceName == "/dev/sda1") {
			req.deleteOnTermination = *bdm.Ebs.DeleteOnTermination
		}
	}
	ami, err := e.lookupImage(ctx, account, reg, in.ImageId)
	if err != nil {
		return nil, err
	}
	req.ami = ami
	if in.KeyName != "" {
		if req.publicKey, err = PublicKeyOf(ctx, e.store, account, reg, in.KeyName); err != nil {
			return nil, err
		}
	}
	if req.groups, err = e.resolveGroups(ctx, account, reg, in.SecurityGroupIds, in.SecurityGroups); err != nil {
		return nil, err
	}
	return req, nil
}

// placeLaunch picks the zone and default subnet from Placement or SubnetId.
func (e *EC2) placeLaunch(account, reg string, in *runInstancesInput, req *launchRequest) error {
	zones := region.Zones(reg)
	if len(zones) == 0 {
		return invalidParameter("Invalid region: %s", reg)
	}
	req.zone = zones[0].Name
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
	if in.SubnetId != "" {
		for _, z := range zones {
			if id, _ := defaultSubnet(account, z.Name); id == in.SubnetId {
				if in.Placement != nil && in.Placement.AvailabilityZone != "" && in.Placement.AvailabilityZone != z.Name {
					return invalidParameter("The specified availability zone %s does not match the subnet's zone %s.", in.Placement.AvailabilityZone, z.Name)
				}
				req.zone = z.Name
				req.subnetID, req.subnetNet = defaultSubnet(account, z.Name)
				return nil
			}
		}
		return awserr.New(awserr.NotFound, "InvalidSubnetID.NotFound", "The subnet ID '%s' does not exist", in.SubnetId)
	}
	req.subnetID, req.subnetNet = defaultSubnet(account, req.zone)
	return nil
}

// launchHash is what a ClientToken promises: a retry with the same token
// must ask for the same launch.
func launchHash(in *runInstancesInput) string {
	h := sha256.New()
	fmt.Fprintf(h, "%s|%s|%d|%d|%s|%v|%v|%s|%s|%v|%s|%v", in.ImageId, in.InstanceType, in.MinCount, in.MaxCount,
		in.KeyName, in.SecurityGroupIds, in.SecurityGroups, in.UserData, in.SubnetId, in.Placement, in.InstanceInitiatedShutdownBehavior, in.TagSpecifications)
	return hex.EncodeToString(h.Sum(nil))
}

func (e *EC2) newInstances(account, reg string, req *launchRequest, hash string) []*instance {
	now := time.Now().UTC().Truncate(time.Second)
	reservation := newID("r")
	in := req.in
	behavior := in.InstanceInitiatedShutdownBehavior
	if behavior == "" {
		behavior = "stop"
	}
	out := make([]*instance, 0, in.MaxCount)
	for i := 0; i < in.MaxCount; i++ {
		inst := &instance{
			Schema: instanceSchema, InstanceId: newID("i"), ReservationId: reservation, OwnerId: account, Region: reg,
			AmiLaunchIndex: i, ImageId: req.ami.ImageId, Image: req.ami.ImageStoreName, Architecture: req.ami.Architecture,
			RootDevice: req.ami.RootDeviceName, InstanceType: req.itype.Name, VCPUs: req.itype.VCPUs,
			CoreCount: req.itype.Cores, ThreadsPerCore: req.itype.ThreadsPerCore, MemoryMiB: req.itype.MemoryMiB,
			KeyName: in.KeyName, PublicKey: req.publicKey, SecurityGroups: req.groups,
			AvailabilityZone: req.zone, SubnetId: req.subnetID, SubnetCIDR: req.subnetNet, VpcId: defaultVPCID(account, reg),
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

package ec2

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"net/netip"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/nimbus-dev/nimbus/internal/awserr"
	"github.com/nimbus-dev/nimbus/internal/region"
	"github.com/nimbus-dev/nimbus/internal/service"
	"github.com/nimbus-dev/nimbus/internal/store"
)

// Store kinds of instances: one record per instance (desired and observed
// state together; the handlers write the former, the controller the latter),
// and the saved console text of the boots before the current one.
const (
	kindInstance = "ec2:instance"
	kindConsole  = "ec2:console"
)

// EC2 instance states and their codes.
const (
	statePending      = "pending"
	stateRunning      = "running"
	stateShuttingDown = "shutting-down"
	stateTerminated   = "terminated"
	stateStopping     = "stopping"
	stateStopped      = "stopped"
)

var stateCodes = map[string]int{
	statePending: 0, stateRunning: 16, stateShuttingDown: 32, stateTerminated: 48, stateStopping: 64, stateStopped: 80,
}

// transitions names every legal state change; any other is refused. The
// handlers cause the *-requested ones, the controller the rest.
var transitions = map[[2]string]string{
	{statePending, stateRunning}:         "launched",
	{statePending, stateShuttingDown}:    "terminate-requested",
	{statePending, stateTerminated}:      "launch-failed",
	{stateRunning, stateStopping}:        "stop-requested",
	{stateRunning, stateShuttingDown}:    "terminate-requested",
	{stateRunning, stateStopped}:         "sandbox-lost",
	{stateStopping, stateStopped}:        "stopped",
	{stateStopping, stateShuttingDown}:   "terminate-requested",
	{stateStopped, statePending}:         "start-requested",
	{stateStopped, stateShuttingDown}:    "terminate-requested",
	{stateShuttingDown, stateTerminated}: "terminated",
}

// errIllegalTransition is returned by instance.moveTo for a change the
// table does not name.
var errIllegalTransition = errors.New("illegal instance state transition")

// AWS's state reasons.
var (
	reasonPending       = stateReason{Code: "pending", Message: "pending"}
	reasonUserShutdown  = stateReason{Code: "Client.UserInitiatedShutdown", Message: "Client.UserInitiatedShutdown: User initiated shutdown"}
	reasonGuestShutdown = stateReason{Code: "Client.InstanceInitiatedShutdown", Message: "Client.InstanceInitiatedShutdown: Instance initiated shutdown"}
	reasonLaunchFailed  = stateReason{Code: "Server.InternalError", Message: "Server.InternalError: Internal error on launch"}
	reasonHostLost      = stateReason{Code: "Server.InternalError", Message: "Server.InternalError: The instance's sandbox was lost when its host restarted"}
)

// userInitiated is AWS's StateTransitionReason for a user's stop or
// terminate, e.g. "User initiated (2026-11-27 23:10:00 GMT)".
func userInitiated(t time.Time) string {
	return "User initiated (" + t.UTC().Format("2006-01-02 15:04:05") + " GMT)"
}

type stateReason struct {
	Code    string
	Message string
}

// instanceSchema versions the instance record.
const instanceSchema = 1

// instance is the stored record of one instance.
type instance struct {
	Schema         int
	InstanceId     string
	ReservationId  string
	OwnerId        string
	Region         string
	AmiLaunchIndex int

	ImageId      string
	Image        string // image-store name the sandbox runs
	Architecture string
	RootDevice   string

	InstanceType   string
	VCPUs          int
	CoreCount      int
	ThreadsPerCore int
	MemoryMiB      int64

	KeyName   string
	PublicKey string // captured at launch: deleting the key pair later changes nothing, as on AWS

	SecurityGroups     []groupIdentifier
	AvailabilityZone   string
	SubnetId           string
	SubnetCIDR         string
	VpcId              string
	PrivateIpAddress   string
	MacAddress         string
	NetworkInterfaceId string
	AttachmentId       string
	RootVolumeId       string

	UserData    string // base64, as given
	Tags        []Tag
	ClientToken string
	ParamsHash  string // what the ClientToken promised

	ShutdownBehavior      string // stop or terminate
	DisableApiTermination bool
	DeleteOnTermination   bool
	HttpTokens            string
	HttpEndpoint          string
	HttpPutHopLimit       int
	MetadataTags          bool
	Monitoring            bool

	State                 string
	StateTransitionReason string
	StateReason           *stateReason
	LaunchTime            time.Time // the latest start
	CreatedAt             time.Time
	TerminatedAt          time.Time
	// Force asks the controller to kill rather than shut down on stop.
	Force bool
	// RebootsRequested counts RebootInstances calls; RebootsDone those the
	// controller carried out.
	RebootsRequested int
	RebootsDone      int
	// Boots counts the sandboxes run for this instance; the current one is
	// labelled with it, so a restarted controller knows whether a sandbox it
	// finds is this boot's.
	Boots int
}

// StoreIndexes finds instances by client token, for idempotent launches.
func (in *instance) StoreIndexes() []store.IndexValue {
	if in.ClientToken == "" {
		return nil
	}
	return []store.IndexValue{{Name: "client-token", Value: in.ClientToken}}
}

func (in *instance) key() store.Key {
	return store.Key{Account: in.OwnerId, Region: in.Region, Kind: kindInstance, ID: in.InstanceId}
}

// moveTo changes the state if the table allows it.
func (in *instance) moveTo(to string, now time.Time) error {
	if _, ok := transitions[[2]string{in.State, to}]; !ok {
		return fmt.Errorf("%s: %s to %s: %w", in.InstanceId, in.State, to, errIllegalTransition)
	}
	in.State = to
	switch to {
	case stateTerminated:
		in.TerminatedAt = now
	case statePending:
		in.StateReason = &reasonPending
		in.StateTransitionReason = ""
	case stateRunning:
		in.StateReason = nil
		in.StateTransitionReason = ""
		in.LaunchTime = now
	}
	return nil
}

func (e *EC2) registerInstances(svc *service.Service) {
	e.kinds = append(e.kinds, kindInstance, kindConsole)
	e.groupMembers = e.instanceIPsInGroup
	e.onGroupChanged = e.reapplyFirewalls
	e.registerTagger("i-", tagger{ResourceType: "instance", Apply: e.tagInstance, List: e.listInstanceTags})
	svc.Handle("RunInstances", service.Op(e.runInstances))
	svc.Handle("DescribeInstances", service.Op(e.describeInstances))
	svc.Handle("DescribeInstanceStatus", service.Op(e.describeInstanceStatus))
	svc.Handle("StartInstances", service.Op(e.startInstances))
	svc.Handle("StopInstances", service.Op(e.stopInstances))
	svc.Handle("RebootInstances", service.Op(e.rebootInstances))
	svc.Handle("TerminateInstances", service.Op(e.terminateInstances))
	svc.Handle("GetConsoleOutput", service.Op(e.getConsoleOutput))
	svc.Handle("ModifyInstanceAttribute", service.Op(e.modifyInstanceAttribute))
	svc.Handle("DescribeInstanceAttribute", service.Op(e.describeInstanceAttribute))
}

var instanceIDPattern = regexp.MustCompile(`^i-([0-9a-f]{8}|[0-9a-f]{17})$`)

func validInstanceIDs(ids []string) error {
	for _, id := range ids {
		if !instanceIDPattern.MatchString(id) {
			return awserr.New(awserr.Validation, "InvalidInstanceID.Malformed", "Invalid id: \"%s\"", id)
		}
	}
	return nil
}

func instancesNotFound(ids []string) error {
	if len(ids) == 1 {
		return awserr.New(awserr.NotFound, "InvalidInstanceID.NotFound", "The instance ID '%s' does not exist", ids[0])
	}
	return awserr.New(awserr.NotFound, "InvalidInstanceID.NotFound", "The instance IDs '%s' do not exist", strings.Join(ids, ", "))
}

// ---- RunInstances ----

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

// ---- reading instances ----

// loadInstances returns the partition's instances, sorted by ID.
func (e *EC2) loadInstances(ctx context.Context, account, reg string) ([]*instance, error) {
	var out []*instance
	err := e.store.View(ctx, func(tx store.Tx) error {
		return tx.List(store.Query{Kind: kindInstance, Account: account, Region: reg}, func(o store.Object) error {
			var inst instance
			if err := o.Decode(&inst); err != nil {
				return fmt.Errorf("decode instance %s: %w", o.Key.ID, err)
			}
			out = append(out, &inst)
			return nil
		})
	})
	if err != nil {
		return nil, awserr.Internalf(err, "list instances")
	}
	return out, nil
}

// chooseInstances returns the named instances (every one must exist), read
// one by one so that a waiter polling a few instances costs the same however
// many the account has, or every instance of the partition when none is named.
func (e *EC2) chooseInstances(ctx context.Context, account, reg string, ids []string) ([]*instance, error) {
	if len(ids) == 0 {
		return e.loadInstances(ctx, account, reg)
	}
	if err := validInstanceIDs(ids); err != nil {
		return nil, err
	}
	var out []*instance
	var missing []string
	err := e.store.View(ctx, func(tx store.Tx) error {
		seen := map[string]bool{}
		for _, id := range ids {
			if seen[id] {
				continue
			}
			seen[id] = true
			var inst instance
			_, err := tx.Get(store.Key{Account: account, Region: reg, Kind: kindInstance, ID: id}, &inst)
			switch {
			case errors.Is(err, store.ErrNotFound):
				missing = append(missing, id)
			case err != nil:
				return err
			default:
				out = append(out, &inst)
			}
		}
		return nil
	})
	if err != nil {
		return nil, awserr.Internalf(err, "read instances")
	}
	if len(missing) > 0 {
		return nil, instancesNotFound(missing)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].InstanceId < out[j].InstanceId })
	return out, nil
}

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
		return nil, true // on-demand instances have none; spot comes later
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
	host := "ip-" + strings.ReplaceAll(ip.String(), ".", "-")
	if in.Region == "us-east-1" {
		return host + ".ec2.internal"
	}
	return host + "." + in.Region + ".compute.internal"
}

func (in *instance) monitoringState() string {
	if in.Monitoring {
		return "enabled"
	}
	return "disabled"
}

type describeInstancesInput struct {
	InstanceIds []string
	Filters     []Filter
	MaxResults  int
	NextToken   string
	DryRun      bool
}

type describeInstancesOutput struct {
	Reservations []reservationView
	NextToken    string `json:",omitempty"`
}

func (e *EC2) describeInstances(ctx context.Context, in *describeInstancesInput) (*describeInstancesOutput, error) {
	if in.DryRun {
		return nil, dryRun()
	}
	if in.MaxResults != 0 && len(in.InstanceIds) > 0 {
		return nil, awserr.New(awserr.Validation, "InvalidParameterCombination",
			"The parameter instancesSet cannot be used with the parameter maxResults")
	}
	if err := checkMaxResults(in.MaxResults, 5, 1000); err != nil {
		return nil, err
	}
	account, reg := partition(ctx)
	chosen, err := e.chooseInstances(ctx, account, reg, in.InstanceIds)
	if err != nil {
		return nil, err
	}
	var matched []*instance
	for _, inst := range chosen {
		ok, err := matchFilters(in.Filters, inst.filterFields, inst.Tags)
		if err != nil {
			return nil, err
		}
		if ok {
			matched = append(matched, inst)
		}
	}
	page, next, err := paginate(matched, in.MaxResults, in.NextToken, func(i *instance) string { return i.InstanceId })
	if err != nil {
		return nil, err
	}
	return &describeInstancesOutput{Reservations: reservationsOf(page), NextToken: next}, nil
}

// ---- DescribeInstanceStatus ----

type describeInstanceStatusInput struct {
	InstanceIds         []string
	Filters             []Filter
	MaxResults          int
	NextToken           string
	IncludeAllInstances bool
	DryRun              bool
}

type statusDetail struct {
	Name   string
	Status string
}

type statusSummary struct {
	Details []statusDetail
	Status  string
}

type instanceStatusView struct {
	AvailabilityZone string
	InstanceId       string
	InstanceState    instanceStateView
	InstanceStatus   statusSummary
	SystemStatus     statusSummary
	Events           []struct{}
}

type describeInstanceStatusOutput struct {
	InstanceStatuses []instanceStatusView
	NextToken        string `json:",omitempty"`
}

func (e *EC2) describeInstanceStatus(ctx context.Context, in *describeInstanceStatusInput) (*describeInstanceStatusOutput, error) {
	if in.DryRun {
		return nil, dryRun()
	}
	if in.MaxResults != 0 && len(in.InstanceIds) > 0 {
		return nil, awserr.New(awserr.Validation, "InvalidParameterCombination",
			"The parameter instancesSet cannot be used with the parameter maxResults")
	}
	if err := checkMaxResults(in.MaxResults, 5, 1000); err != nil {
		return nil, err
	}
	account, reg := partition(ctx)
	chosen, err := e.chooseInstances(ctx, account, reg, in.InstanceIds)
	if err != nil {
		return nil, err
	}
	var matched []*instance
	for _, inst := range chosen {
		if !in.IncludeAllInstances && inst.State != stateRunning {
			continue
		}
		ok, err := matchFilters(in.Filters, func(name string) ([]string, bool) {
			switch name {
			case "instance-status.status", "system-status.status":
				return []string{inst.healthStatus()}, true
			case "instance-status.reachability", "system-status.reachability":
				return []string{inst.reachability()}, true
			}
			return inst.filterFields(name)
		}, inst.Tags)
		if err != nil {
			return nil, err
		}
		if ok {
			matched = append(matched, inst)
		}
	}
	page, next, err := paginate(matched, in.MaxResults, in.NextToken, func(i *instance) string { return i.InstanceId })
	if err != nil {
		return nil, err
	}
	out := &describeInstanceStatusOutput{InstanceStatuses: []instanceStatusView{}, NextToken: next}
	for _, inst := range page {
		summary := statusSummary{Status: inst.healthStatus(), Details: []statusDetail{{Name: "reachability", Status: inst.reachability()}}}
		if summary.Status == "not-applicable" {
			summary.Details = nil
		}
		out.InstanceStatuses = append(out.InstanceStatuses, instanceStatusView{
			AvailabilityZone: inst.AvailabilityZone, InstanceId: inst.InstanceId, InstanceState: stateView(inst.State),
			InstanceStatus: summary, SystemStatus: summary,
		})
	}
	return out, nil
}

// healthStatus is the status check summary: a running sandbox passes.
func (in *instance) healthStatus() string {
	if in.State == stateRunning {
		return "ok"
	}
	return "not-applicable"
}

func (in *instance) reachability() string {
	if in.State == stateRunning {
		return "passed"
	}
	return "not-applicable"
}

// ---- state changes ----

type instanceIDsInput struct {
	InstanceIds []string
	Force       bool
	Hibernate   bool
	DryRun      bool
}

type instanceStateChange struct {
	CurrentState  instanceStateView
	InstanceId    string
	PreviousState instanceStateView
}

// changeStates applies decide to each named instance in one transaction;
// decide returns the state to move to ("" to leave it) or an error that
// fails the whole call, as EC2 does.
func (e *EC2) changeStates(ctx context.Context, ids []string, dry bool, decide func(inst *instance, now time.Time) (string, error)) ([]instanceStateChange, error) {
	if len(ids) == 0 {
		return nil, awserr.Missing("InstanceId")
	}
	if err := validInstanceIDs(ids); err != nil {
		return nil, err
	}
	account, reg := partition(ctx)
	var changes []instanceStateChange
	now := time.Now().UTC().Truncate(time.Second)
	err := e.store.Update(ctx, func(tx store.Tx) error {
		changes = nil
		var found []*instance
		var metas []store.Meta
		var missing []string
		seen := map[string]bool{}
		for _, id := range ids {
			if seen[id] {
				continue
			}
			seen[id] = true
			var inst instance
			meta, err := tx.Get(store.Key{Account: account, Region: reg, Kind: kindInstance, ID: id}, &inst)
			if errors.Is(err, store.ErrNotFound) {
				missing = append(missing, id)
				continue
			}
			if err != nil {
				return err
			}
			found = append(found, &inst)
			metas = append(metas, meta)
		}
		if len(missing) > 0 {
			return instancesNotFound(missing)
		}
		for i, inst := range found {
			prev := inst.State
			to, err := decide(inst, now)
			if err != nil {
				return err
			}
			if to != "" && to != prev {
				if err := inst.moveTo(to, now); err != nil {
					return err
				}
			}
			if dry {
				continue
			}
			if _, err := tx.Put(inst.key(), inst, metas[i].Version); err != nil {
				return err
			}
			changes = append(changes, instanceStateChange{InstanceId: inst.InstanceId,
				PreviousState: stateView(prev), CurrentState: stateView(inst.State)})
		}
		return nil
	})
	if err != nil {
		if ae := awserr.As(err); ae != nil {
			return nil, ae
		}
		return nil, awserr.Internalf(err, "change instance states")
	}
	if dry {
		return nil, dryRun()
	}
	return changes, nil
}

func incorrectState(id, state, verb string) error {
	return awserr.New(awserr.Conflict, "IncorrectInstanceState",
		"The instance '%s' is not in a state from which it can be %s.", id, verb)
}

type stopInstancesOutput struct{ StoppingInstances []instanceStateChange }

func (e *EC2) stopInstances(ctx context.Context, in *instanceIDsInput) (*stopInstancesOutput, error) {
	if in.Hibernate {
		return nil, awserr.New(awserr.Validation, "UnsupportedHibernationConfiguration",
			"The instance is not configured for hibernation.")
	}
	changes, err := e.changeStates(ctx, in.InstanceIds, in.DryRun, func(inst *instance, now time.Time) (string, error) {
		switch inst.State {
		case stateRunning:
			inst.Force = in.Force
			inst.StateTransitionReason = userInitiated(now)
			inst.StateReason = &reasonUserShutdown
			return stateStopping, nil
		case stateStopping, stateStopped:
			if in.Force {
				inst.Force = true
			}
			return "", nil
		}
		return "", awserr.New(awserr.Conflict, "IncorrectInstanceState",
			"This instance '%s' is not in a state from which it can be stopped.", inst.InstanceId)
	})
	if err != nil {
		return nil, err
	}
	return &stopInstancesOutput{StoppingInstances: changes}, nil
}

type startInstancesOutput struct{ StartingInstances []instanceStateChange }

func (e *EC2) startInstances(ctx context.Context, in *instanceIDsInput) (*startInstancesOutput, error) {
	changes, err := e.changeStates(ctx, in.InstanceIds, in.DryRun, func(inst *instance, now time.Time) (string, error) {
		switch inst.State {
		case stateStopped:
			inst.Force = false
			return statePending, nil
		case statePending, stateRunning:
			return "", nil
		}
		return "", incorrectState(inst.InstanceId, inst.State, "started")
	})
	if err != nil {
		return nil, err
	}
	return &startInstancesOutput{StartingInstances: changes}, nil
}

type terminateInstancesOutput struct{ TerminatingInstances []instanceStateChange }

func (e *EC2) terminateInstances(ctx context.Context, in *instanceIDsInput) (*terminateInstancesOutput, error) {
	changes, err := e.changeStates(ctx, in.InstanceIds, in.DryRun, func(inst *instance, now time.Time) (string, error) {
		switch inst.State {
		case stateShuttingDown, stateTerminated:
			return "", nil
		}
		if inst.DisableApiTermination {
			return "", awserr.New(awserr.Conflict, "OperationNotPermitted",
				"The instance '%s' may not be terminated. Modify its 'disableApiTermination' instance attribute and try again.", inst.InstanceId)
		}
		inst.StateTransitionReason = userInitiated(now)
		inst.StateReason = &reasonUserShutdown
		return stateShuttingDown, nil
	})
	if err != nil {
		return nil, err
	}
	return &terminateInstancesOutput{TerminatingInstances: changes}, nil
}

type rebootInstancesOutput struct{}

func (e *EC2) rebootInstances(ctx context.Context, in *instanceIDsInput) (*rebootInstancesOutput, error) {
	_, err := e.changeStates(ctx, in.InstanceIds, in.DryRun, func(inst *instance, now time.Time) (string, error) {
		switch inst.State {
		case stateRunning:
			inst.RebootsRequested++
			return "", nil
		case statePending, stateTerminated:
			// EC2 ignores reboots of instances not yet up or gone.
			return "", nil
		}
		return "", incorrectState(inst.InstanceId, inst.State, "rebooted")
	})
	if err != nil {
		return nil, err
	}
	return &rebootInstancesOutput{}, nil
}

// ---- views ----

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
}

type reservationView struct {
	Groups        []groupIdentifier
	Instances     []instanceView
	OwnerId       string
	ReservationId string
}

// reservationsOf groups instances by reservation, in the order their first
// instance appears.
func reservationsOf(insts []*instance) []reservationView {
	out := []reservationView{}
	index := map[string]int{}
	for _, inst := range insts {
		i, ok := index[inst.ReservationId]
		if !ok {
			i = len(out)
			index[inst.ReservationId] = i
			out = append(out, reservationView{Groups: []groupIdentifier{}, OwnerId: inst.OwnerId, ReservationId: inst.ReservationId})
		}
		out[i].Instances = append(out[i].Instances, inst.view())
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
	v.CapacityReservationSpecification.CapacityReservationPreference = "open"
	v.PrivateDnsNameOptions.HostnameType = "ip-name"
	v.MaintenanceOptions.AutoRecovery = "default"
	if in.MetadataTags {
		v.MetadataOptions.InstanceMetadataTags = "enabled"
	}
	if in.State == stateTerminated {
		return v
	}
	v.SecurityGroups = append(v.SecurityGroups, in.SecurityGroups...)
	v.BlockDeviceMappings = append(v.BlockDeviceMappings, blockDeviceView{DeviceName: in.RootDevice,
		Ebs: ebsView{AttachTime: in.CreatedAt, DeleteOnTermination: in.DeleteOnTermination, Status: "attached", VolumeId: in.RootVolumeId}})
	ni := networkInterfaceView{
		Attachment: attachmentView{AttachTime: in.CreatedAt, AttachmentId: in.AttachmentId, DeleteOnTermination: true,
			Status: "attached"},
		Groups: append([]groupIdentifier{}, in.SecurityGroups...), Ipv6Addresses: []struct{}{}, MacAddress: in.MacAddress,
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

// ---- hooks for security groups and tags ----

// instanceIPsInGroup is e.groupMembers: the addresses of the running
// instances in a group.
func (e *EC2) instanceIPsInGroup(ctx context.Context, account, reg, groupID string) ([]netip.Addr, error) {
	all, err := e.loadInstances(ctx, account, reg)
	if err != nil {
		return nil, err
	}
	var out []netip.Addr
	for _, inst := range all {
		if inst.State != stateRunning && inst.State != statePending && inst.State != stateStopping {
			continue
		}
		if !slices.ContainsFunc(inst.SecurityGroups, func(g groupIdentifier) bool { return g.GroupId == groupID }) {
			continue
		}
		if ip, err := netip.ParseAddr(inst.PrivateIpAddress); err == nil {
			out = append(out, ip)
		}
	}
	return out, nil
}

func (e *EC2) tagInstance(ctx context.Context, account, reg, id string, set, remove []Tag) error {
	err := e.store.Update(ctx, func(tx store.Tx) error {
		var inst instance
		key := store.Key{Account: account, Region: reg, Kind: kindInstance, ID: id}
		meta, err := tx.Get(key, &inst)
		if errors.Is(err, store.ErrNotFound) {
			return instancesNotFound([]string{id})
		}
		if err != nil {
			return err
		}
		tags, err := mergeTags(inst.Tags, set, remove)
		if err != nil {
			return err
		}
		inst.Tags = tags
		_, err = tx.Put(key, &inst, meta.Version)
		return err
	})
	if ae := awserr.As(err); ae != nil {
		return ae
	}
	return err
}

func (e *EC2) listInstanceTags(ctx context.Context, account, reg string) ([]TaggedResource, error) {
	all, err := e.loadInstances(ctx, account, reg)
	if err != nil {
		return nil, err
	}
	var out []TaggedResource
	for _, inst := range all {
		if len(inst.Tags) > 0 {
			out = append(out, TaggedResource{ResourceId: inst.InstanceId, ResourceType: "instance", Tags: inst.Tags})
		}
	}
	return out, nil
}

// ---- instance attributes ----

type attributeBool struct{ Value *bool }

type attributeString struct{ Value string }

type modifyInstanceAttributeInput struct {
	InstanceId                        string
	Attribute                         string
	Value                             string
	DisableApiTermination             *attributeBool
	InstanceType                      *attributeString
	InstanceInitiatedShutdownBehavior *attributeString
	UserData                          *struct{ Value []byte }
	Groups                            []string
	DryRun                            bool
}

type modifyInstanceAttributeOutput struct{}

// ModifyInstanceAttribute changes one attribute: the type and user data
// only while the instance is stopped, as on EC2; the rest at any time, the
// security groups taking effect on the running sandbox's firewall at once.
func (e *EC2) modifyInstanceAttribute(ctx context.Context, in *modifyInstanceAttributeInput) (*modifyInstanceAttributeOutput, error) {
	if in.InstanceId == "" {
		return nil, awserr.Missing("InstanceId")
	}
	if err := validInstanceIDs([]string{in.InstanceId}); err != nil {
		return nil, err
	}
	// The Attribute/Value form names the attribute instead of filling its
	// member.
	switch in.Attribute {
	case "":
	case "instanceType":
		in.InstanceType = &attributeString{Value: in.Value}
	case "instanceInitiatedShutdownBehavior":
		in.InstanceInitiatedShutdownBehavior = &attributeString{Value: in.Value}
	case "disableApiTermination":
		v := strings.EqualFold(in.Value, "true")
		in.DisableApiTermination = &attributeBool{Value: &v}
	case "userData":
		in.UserData = &struct{ Value []byte }{Value: []byte(in.Value)}
	default:
		return nil, invalidParameter("Modifying the attribute '%s' is not supported by nimbus.", in.Attribute)
	}
	account, reg := partition(ctx)
	var itype instanceTypeInfo
	if in.InstanceType != nil {
		var ok bool
		if itype, ok = lookupInstanceType(in.InstanceType.Value); !ok {
			return nil, invalidParameter("Invalid value '%s' for InstanceType.", in.InstanceType.Value)
		}
	}
	if b := in.InstanceInitiatedShutdownBehavior; b != nil && b.Value != "stop" && b.Value != "terminate" {
		return nil, invalidParameter("Value (%s) for parameter instanceInitiatedShutdownBehavior is invalid. Valid values are stop and terminate.", b.Value)
	}
	if in.UserData != nil && len(in.UserData.Value) > maxUserData {
		return nil, invalidParameter("User data is limited to %d bytes", maxUserData)
	}
	var groups []groupIdentifier
	if len(in.Groups) > 0 {
		var err error
		if groups, err = e.resolveGroups(ctx, account, reg, in.Groups, nil); err != nil {
			return nil, err
		}
	}
	if in.InstanceType == nil && in.InstanceInitiatedShutdownBehavior == nil && in.DisableApiTermination == nil &&
		in.UserData == nil && len(in.Groups) == 0 {
		return nil, awserr.Missing("Attribute")
	}
	changes, err := e.changeStates(ctx, []string{in.InstanceId}, in.DryRun, func(inst *instance, now time.Time) (string, error) {
		if inst.State == stateTerminated || inst.State == stateShuttingDown {
			return "", incorrectState(inst.InstanceId, inst.State, "modified")
		}
		if (in.InstanceType != nil || in.UserData != nil) && inst.State != stateStopped {
			return "", awserr.New(awserr.Conflict, "IncorrectInstanceState",
				"The instance '%s' is not in the 'stopped' state.", inst.InstanceId)
		}
		if in.InstanceType != nil {
			inst.InstanceType, inst.VCPUs, inst.MemoryMiB = itype.Name, itype.VCPUs, itype.MemoryMiB
			inst.CoreCount, inst.ThreadsPerCore = itype.Cores, itype.ThreadsPerCore
		}
		if in.UserData != nil {
			inst.UserData = base64.StdEncoding.EncodeToString(in.UserData.Value)
		}
		if b := in.InstanceInitiatedShutdownBehavior; b != nil {
			inst.ShutdownBehavior = b.Value
		}
		if d := in.DisableApiTermination; d != nil && d.Value != nil {
			inst.DisableApiTermination = *d.Value
		}
		if groups != nil {
			inst.SecurityGroups = groups
		}
		return "", nil
	})
	if err != nil {
		return nil, err
	}
	if groups != nil && len(changes) == 1 {
		// Membership changed: this instance's firewall, and those of
		// instances whose rules name its old or new groups.
		e.reapplyFirewalls(ctx, account, reg, "")
	}
	return &modifyInstanceAttributeOutput{}, nil
}

type describeInstanceAttributeInput struct {
	InstanceId string
	Attribute  string
	DryRun     bool
}

type boolValue struct{ Value bool }

type stringValue struct{ Value string }

type describeInstanceAttributeOutput struct {
	InstanceId                        string
	InstanceType                      *stringValue      `json:",omitempty"`
	UserData                          *stringValue      `json:",omitempty"`
	DisableApiTermination             *boolValue        `json:",omitempty"`
	DisableApiStop                    *boolValue        `json:",omitempty"`
	InstanceInitiatedShutdownBehavior *stringValue      `json:",omitempty"`
	RootDeviceName                    *stringValue      `json:",omitempty"`
	Groups                            []groupIdentifier `json:",omitempty"`
	BlockDeviceMappings               []blockDeviceView `json:",omitempty"`
	SourceDestCheck                   *boolValue        `json:",omitempty"`
	EbsOptimized                      *boolValue        `json:",omitempty"`
	EnaSupport                        *boolValue        `json:",omitempty"`
}

func (e *EC2) describeInstanceAttribute(ctx context.Context, in *describeInstanceAttributeInput) (*describeInstanceAttributeOutput, error) {
	if in.InstanceId == "" {
		return nil, awserr.Missing("InstanceId")
	}
	if in.Attribute == "" {
		return nil, awserr.Missing("Attribute")
	}
	if in.DryRun {
		return nil, dryRun()
	}
	account, reg := partition(ctx)
	found, err := e.chooseInstances(ctx, account, reg, []string{in.InstanceId})
	if err != nil {
		return nil, err
	}
	inst := found[0]
	out := &describeInstanceAttributeOutput{InstanceId: inst.InstanceId}
	switch in.Attribute {
	case "instanceType":
		out.InstanceType = &stringValue{inst.InstanceType}
	case "userData":
		out.UserData = &stringValue{inst.UserData}
	case "disableApiTermination":
		out.DisableApiTermination = &boolValue{inst.DisableApiTermination}
	case "disableApiStop":
		out.DisableApiStop = &boolValue{false}
	case "instanceInitiatedShutdownBehavior":
		out.InstanceInitiatedShutdownBehavior = &stringValue{inst.ShutdownBehavior}
	case "rootDeviceName":
		out.RootDeviceName = &stringValue{inst.RootDevice}
	case "groupSet":
		out.Groups = append([]groupIdentifier{}, inst.SecurityGroups...)
	case "blockDeviceMapping":
		out.BlockDeviceMappings = inst.view().BlockDeviceMappings
	case "sourceDestCheck":
		out.SourceDestCheck = &boolValue{true}
	case "ebsOptimized":
		out.EbsOptimized = &boolValue{false}
	case "enaSupport":
		out.EnaSupport = &boolValue{true}
	default:
		return nil, invalidParameter("Value (%s) for parameter attribute is invalid. Unknown attribute.", in.Attribute)
	}
	return out, nil
}

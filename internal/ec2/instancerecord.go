package ec2

import (
	"time"

	"github.com/nimbus-dev/nimbus/internal/store"
)

// Store kinds of instances: one record per instance (desired and observed
// state together; the handlers write the former, the controller the latter),
// and the saved console text of the boots before the current one.
const (
	kindInstance = "ec2:instance"
	kindConsole  = "ec2:console"
)

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
	GPUs           int

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
	RootVolumeSize     int    // GiB; 0 means defaultRootVolumeSize
	RootVolumeType     string // "" means gp3
	// Volumes are the attached EBS volumes besides the root.
	Volumes []instanceVolume

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

	// Profile is the IAM instance profile; nil without one.
	Profile *instanceProfile `json:",omitempty"`
	// VpcCIDR is the instance's VPC's CIDR, for its metadata.
	VpcCIDR string `json:",omitempty"`

	// Market is "spot" for spot instances, "" for on-demand ones.
	Market string
	Spot   *spotState `json:",omitempty"`

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

// StoreIndexes finds instances by client token, for idempotent launches,
// and those holding capacity, so a launch's capacity check reads only them.
func (in *instance) StoreIndexes() []store.IndexValue {
	var out []store.IndexValue
	if in.ClientToken != "" {
		out = append(out, store.IndexValue{Name: "client-token", Value: in.ClientToken})
	}
	if in.holdsCapacity() {
		out = append(out, store.IndexValue{Name: indexCapacity, Value: "held"})
	}
	return out
}

// indexCapacity indexes the instances that hold their region's capacity.
const indexCapacity = "capacity"

func (in *instance) key() store.Key {
	return store.Key{Account: in.OwnerId, Region: in.Region, Kind: kindInstance, ID: in.InstanceId}
}

package imds

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"time"
)

// ErrNotFound is what a Lookup returns when the calling sandbox is no EC2
// instance (a Lambda or Batch sandbox, or one just terminated); the caller
// gets 404.
var ErrNotFound = errors.New("imds: no instance for sandbox")

// ErrNoCredentials is what an IAMProfile's Credentials hook returns while
// its role has no credentials to give (IAM not running yet).
var ErrNoCredentials = errors.New("imds: no credentials for role")

// Lookup finds the instance a sandbox runs. The instances controller
// implements it; the handler calls it once per request, so it should read
// from memory or a cheap store query. The handler reads the returned
// Instance without locks while answering, so return a snapshot that nothing
// changes afterwards (a fresh value per call, or one replaced, never
// mutated, on change).
type Lookup interface {
	InstanceForSandbox(ctx context.Context, sandboxID string) (*Instance, error)
}

// LookupFunc adapts a function to Lookup.
type LookupFunc func(ctx context.Context, sandboxID string) (*Instance, error)

// InstanceForSandbox calls f.
func (f LookupFunc) InstanceForSandbox(ctx context.Context, sandboxID string) (*Instance, error) {
	return f(ctx, sandboxID)
}

// Instance is everything the metadata tree shows about one instance. Empty
// optional fields leave their entries out of the tree, as EC2 does for
// instances without them.
type Instance struct {
	AccountID          string
	Region             string
	AvailabilityZone   string
	AvailabilityZoneID string // e.g. use1-az1

	InstanceID    string
	InstanceType  string
	ImageID       string
	LaunchIndex   int
	ReservationID string
	Architecture  string    // x86_64 or arm64; x86_64 when empty
	PendingTime   time.Time // launch time, shown in the identity document

	PrivateIP netip.Addr
	// Hostname is the private DNS name; "" derives it from PrivateIP and
	// Region with Hostname.
	Hostname    string
	MAC         string // lower-case, colon-separated; "" derives one with MACFor
	InterfaceID string // eni-...
	SubnetID    string
	SubnetCIDR  string
	VPCID       string
	VPCCIDR     string

	SecurityGroups []SecurityGroup
	PublicKeys     []PublicKey // in launch order; index 0 is the launch key pair

	// Spot is true for spot instances (instance-life-cycle "spot").
	Spot bool
	// SpotAction is the pending interruption notice; nil serves 404 at
	// spot/instance-action, as EC2 does until an interruption is scheduled.
	SpotAction *SpotAction

	// RootDeviceName is the root device (/dev/xvda when empty); it is also
	// block-device-mapping/ami.
	RootDeviceName string
	// EBSDevices maps block-device-mapping entries such as "ebs1" to device
	// names such as "sdf" for attached volumes.
	EBSDevices map[string]string

	// UserData is returned byte for byte; nil serves 404.
	UserData []byte
	// Tags appear under tags/instance when Options.InstanceMetadataTags is set.
	Tags map[string]string

	// IAM is the instance profile; nil means no role and iam/ is absent.
	IAM *IAMProfile

	Options MetadataOptions
}

// SecurityGroup names one of the instance's groups.
type SecurityGroup struct {
	ID   string
	Name string
}

// PublicKey is a key pair's public half as the instance sees it.
type PublicKey struct {
	Name    string
	OpenSSH string // "ssh-ed25519 AAAA... name"
}

// SpotAction is a scheduled spot interruption.
type SpotAction struct {
	Action string // stop, terminate or hibernate
	Time   time.Time
}

// IAMProfile is the instance profile and the hook that mints its role's
// credentials.
type IAMProfile struct {
	InstanceProfileArn string
	InstanceProfileID  string
	RoleName           string
	// Credentials returns the role's current temporary credentials; the
	// provider caches and refreshes them before expiry.
	Credentials func(ctx context.Context) (*RoleCredentials, error)
}

// RoleCredentials are temporary credentials for the instance's role.
type RoleCredentials struct {
	AccessKeyID     string
	SecretAccessKey string
	Token           string
	Expiration      time.Time
	LastUpdated     time.Time
}

// HTTP token modes, as ModifyInstanceMetadataOptions takes them.
const (
	HTTPTokensOptional = "optional"
	HTTPTokensRequired = "required"
)

// Endpoint states.
const (
	EndpointEnabled  = "enabled"
	EndpointDisabled = "disabled"
)

// MetadataOptions are the instance's metadata options. The zero value is
// EC2's default: endpoint enabled, tokens optional, hop limit 1.
type MetadataOptions struct {
	HTTPTokens              string // optional (default) or required
	HTTPPutResponseHopLimit int    // 1-64; 0 means 1
	HTTPEndpoint            string // enabled (default) or disabled
	InstanceMetadataTags    bool
}

func (o MetadataOptions) tokensRequired() bool { return o.HTTPTokens == HTTPTokensRequired }
func (o MetadataOptions) disabled() bool       { return o.HTTPEndpoint == EndpointDisabled }

func (o MetadataOptions) hopLimit() int {
	if o.HTTPPutResponseHopLimit < 1 {
		return 1
	}
	return min(o.HTTPPutResponseHopLimit, 64)
}

// Hostname is EC2's private DNS name for ip in region:
// ip-10-213-0-5.ec2.internal in us-east-1, and
// ip-10-213-0-5.<region>.compute.internal elsewhere.
func Hostname(ip netip.Addr, region string) string {
	if !ip.IsValid() {
		return ""
	}
	host := "ip-" + strings.ReplaceAll(ip.Unmap().String(), ".", "-")
	if region == "us-east-1" || region == "" {
		return host + ".ec2.internal"
	}
	return host + "." + region + ".compute.internal"
}

// MACFor derives a stable, locally administered unicast MAC from an
// instance ID, for instances whose network layer does not report one
// (EC2's MACs are likewise locally administered, 02:.. or 0e:..).
func MACFor(instanceID string) string {
	// FNV-1a over the ID: stable across restarts, no randomness to store.
	var h uint64 = 14695981039346656037
	for i := 0; i < len(instanceID); i++ {
		h ^= uint64(instanceID[i])
		h *= 1099511628211
	}
	return fmt.Sprintf("0e:%02x:%02x:%02x:%02x:%02x", byte(h>>32), byte(h>>24), byte(h>>16), byte(h>>8), byte(h))
}

func (in *Instance) hostname() string {
	if in.Hostname != "" {
		return in.Hostname
	}
	return Hostname(in.PrivateIP, in.Region)
}

func (in *Instance) mac() string {
	if in.MAC != "" {
		return strings.ToLower(in.MAC)
	}
	return MACFor(in.InstanceID)
}

func (in *Instance) rootDevice() string {
	if in.RootDeviceName != "" {
		return in.RootDeviceName
	}
	return "/dev/xvda"
}

func (in *Instance) architecture() string {
	if in.Architecture != "" {
		return in.Architecture
	}
	return "x86_64"
}

func (in *Instance) lifecycle() string {
	if in.Spot {
		return "spot"
	}
	return "on-demand"
}

// Package ec2 serves Amazon EC2 over the ec2 query protocol: regions, key
// pairs, images, instance types, instances (run by InstanceController over
// the compute substrate), security groups, VPCs, EBS volumes and snapshots,
// spot instances and requests, each resource family in files of its own.
// Launches are bounded by a per-region capacity (capacity.go), and every
// run interval of an instance leaves a usage record for billing (usage.go).
package ec2

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/http"
	"net/netip"
	"time"

	"github.com/nimbus-dev/nimbus/internal/awserr"
	"github.com/nimbus-dev/nimbus/internal/identity"
	"github.com/nimbus-dev/nimbus/internal/region"
	"github.com/nimbus-dev/nimbus/internal/service"
	"github.com/nimbus-dev/nimbus/internal/store"
	"github.com/nimbus-dev/nimbus/internal/substrate"
)

// Options are EC2's dependencies.
type Options struct {
	Store   store.Store
	Regions *region.Catalog
	// Host runs instances as sandboxes and holds the image store AMIs come
	// from; nil in tests of the API alone.
	Host *substrate.Host
	// Capacity is each region's capacity for instances; zero fields take
	// DefaultCapacity's.
	Capacity Capacity
	// SpotInterruptionWarning is how long before a spot interruption its
	// notice appears in the instance's metadata; default two minutes, as
	// on EC2.
	SpotInterruptionWarning time.Duration
	// InstanceProfiles is IAM, for instances' IAM instance profiles; nil
	// refuses them as Unsupported.
	InstanceProfiles InstanceProfiles
}

// EC2 is the service's state and dependencies.
type EC2 struct {
	store   store.Store
	regions *region.Catalog
	host    *substrate.Host
	kinds   []string // store kinds EC2 owns, for reset

	// taggers make resources taggable by ID prefix (tags.go).
	taggers map[string]tagger
	// groupMembers reports the addresses of the instances in a security
	// group, for group-to-group rules; nil means no instances (set by
	// instances.go).
	groupMembers func(ctx context.Context, account, region, groupID string) ([]netip.Addr, error)
	// onGroupChanged re-applies the firewalls of a group's instances after
	// its rules change; nil means nothing to do (set by instances.go).
	onGroupChanged func(ctx context.Context, account, region, groupID string)
	// amis is the built-in AMIs' state (images.go).
	amis amiCatalog
	// capacity is each region's capacity (capacity.go).
	capacity Capacity
	// spotWarning is the notice a spot interruption gives (spot.go).
	spotWarning time.Duration
	// profiles is IAM, for instance profiles; nil without IAM.
	profiles InstanceProfiles
	// instanceCache holds decoded instance records for DescribeInstances
	// (instancecache.go).
	instanceCache instanceCache
}

// New returns the EC2 service. Each resource family registers its
// operations and store kinds from its own file.
func New(opts Options) (*service.Service, error) {
	svc, err := service.New("ec2")
	if err != nil {
		return nil, err
	}
	e := &EC2{store: opts.Store, regions: opts.Regions, host: opts.Host, profiles: opts.InstanceProfiles}
	e.setCapacity(opts.Capacity, opts.SpotInterruptionWarning)
	e.registerRegions(svc)
	e.registerKeyPairs(svc)
	e.registerCatalog(svc)
	e.registerInstances(svc)
	e.registerInstanceProfiles(svc)
	e.registerVPCs(svc)
	e.registerVolumes(svc)
	e.registerSpot(svc)
	svc.OnReset(func(ctx context.Context) error { return service.DeleteKinds(ctx, e.store, e.kinds...) })
	return svc, nil
}

// setCapacity applies the capacity options, filling what is unset from
// the host.
func (e *EC2) setCapacity(c Capacity, spotWarning time.Duration) {
	host := DefaultCapacity()
	if c.VCPUs == 0 {
		c.VCPUs = host.VCPUs
	}
	if c.MemoryMiB == 0 {
		c.MemoryMiB = host.MemoryMiB
	}
	if c.GPUs == 0 {
		c.GPUs = host.GPUs
	}
	if spotWarning <= 0 {
		spotWarning = 2 * time.Minute
	}
	e.capacity, e.spotWarning = c, spotWarning
}

// newID returns an EC2 resource ID: prefix, dash, 17 hex digits.
func newID(prefix string) string {
	var b [9]byte
	rand.Read(b[:])
	return prefix + "-" + hex.EncodeToString(b[:])[:17]
}

// dryRun answers a DryRun request that would have succeeded.
func dryRun() error {
	return &awserr.Error{Kind: awserr.DryRun, Code: "DryRunOperation",
		Message: "Request would have succeeded, but DryRun flag is set.", Status: http.StatusPreconditionFailed}
}

// partition is the account and region a request acts in.
func partition(ctx context.Context) (account, region string) {
	c := identity.From(ctx)
	if c.Principal != nil {
		account = c.Principal.Account
	}
	return account, c.Region
}

func invalidParameter(format string, args ...any) error {
	return awserr.New(awserr.Validation, "InvalidParameterValue", format, args...)
}

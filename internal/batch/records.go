package batch

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"regexp"
	"strings"
	"time"

	"github.com/nimbus-dev/nimbus/internal/batch/scheduler"
)

// Store kinds. Each resource is one object, stored in the shape Batch
// describes it (JSON member names as the API's), so Describe answers with
// the record itself; fields only nimbus needs are named so the API's codec,
// which writes only modelled members, leaves them out.
const (
	kindComputeEnv = "batch:compute-environment" // ID: name
	kindQueue      = "batch:job-queue"           // ID: name
	kindJobDef     = "batch:job-definition"      // ID: name:revision (revision zero-padded)
	kindJob        = "batch:job"                 // ID: job ID (array children: parent:index)
	kindPolicy     = "batch:scheduling-policy"   // ID: name

	// indexActive holds every unfinished job, which the controller loads.
	indexActive = "active"
	// indexQueueStatus is "queueARN|STATUS", for ListJobs.
	indexQueueStatus = "queue-status"
	// indexArray is an array child's parent job ID.
	indexArray = "array"
)

var nameRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_-]{0,127}$`)

func checkName(member, name string) error {
	if !nameRE.MatchString(name) {
		return errClient("%s must be 1 to 128 characters: letters, numbers, hyphens and underscores, starting with a letter or number", member)
	}
	return nil
}

func arn(region, account, resource string) string {
	return fmt.Sprintf("arn:aws:batch:%s:%s:%s", region, account, resource)
}

// nameOf takes a resource's name from a name or an ARN.
func nameOf(ref string) string {
	if strings.HasPrefix(ref, "arn:") {
		if i := strings.Index(ref, "/"); i >= 0 {
			return ref[i+1:]
		}
	}
	return ref
}

func millis(t time.Time) int64 { return t.UnixMilli() }

func newUUID() string {
	var b [16]byte
	rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	h := hex.EncodeToString(b[:])
	return fmt.Sprintf("%s-%s-%s-%s-%s", h[:8], h[8:12], h[12:16], h[16:20], h[20:])
}

// computeEnvRecord is a compute environment, as ComputeEnvironmentDetail.
type computeEnvRecord struct {
	ComputeEnvironmentName string            `json:"computeEnvironmentName"`
	ComputeEnvironmentArn  string            `json:"computeEnvironmentArn"`
	UUID                   string            `json:"uuid"`
	Type                   string            `json:"type"`
	State                  string            `json:"state"`
	Status                 string            `json:"status"`
	StatusReason           string            `json:"statusReason,omitempty"`
	UnmanagedvCpus         *int              `json:"unmanagedvCpus,omitempty"`
	ComputeResources       *computeResources `json:"computeResources,omitempty"`
	ServiceRole            string            `json:"serviceRole,omitempty"`
	EcsClusterArn          string            `json:"ecsClusterArn,omitempty"`
	ContainerOrchestration string            `json:"containerOrchestrationType,omitempty"`
	Tags                   map[string]string `json:"tags,omitempty"`
	// SettlesAt is when CREATING or UPDATING becomes VALID, and DELETING
	// DELETED.
	SettlesAt time.Time `json:"nimbusSettlesAt"`
}

type computeResources struct {
	Type               string            `json:"type"`
	AllocationStrategy string            `json:"allocationStrategy,omitempty"`
	MinvCpus           *int              `json:"minvCpus,omitempty"`
	MaxvCpus           *int              `json:"maxvCpus"`
	DesiredvCpus       *int              `json:"desiredvCpus,omitempty"`
	InstanceTypes      []string          `json:"instanceTypes,omitempty"`
	ImageID            string            `json:"imageId,omitempty"`
	Subnets            []string          `json:"subnets"`
	SecurityGroupIDs   []string          `json:"securityGroupIds,omitempty"`
	Ec2KeyPair         string            `json:"ec2KeyPair,omitempty"`
	InstanceRole       string            `json:"instanceRole,omitempty"`
	Tags               map[string]string `json:"tags,omitempty"`
	PlacementGroup     string            `json:"placementGroup,omitempty"`
	BidPercentage      *int              `json:"bidPercentage,omitempty"`
	SpotIamFleetRole   string            `json:"spotIamFleetRole,omitempty"`
}

func (c *computeEnvRecord) fargate() bool {
	return c.ComputeResources != nil && strings.HasPrefix(c.ComputeResources.Type, "FARGATE")
}

// maxMilliCPU is what the scheduler may place on the environment.
func (c *computeEnvRecord) maxMilliCPU() int64 {
	switch {
	case c.ComputeResources != nil && c.ComputeResources.MaxvCpus != nil:
		return int64(*c.ComputeResources.MaxvCpus) * 1000
	case c.UnmanagedvCpus != nil && *c.UnmanagedvCpus > 0:
		return int64(*c.UnmanagedvCpus) * 1000
	}
	// An unmanaged environment without unmanagedvCpus is bounded by the
	// host only.
	return scheduler.Unlimited
}

// queueRecord is a job queue, as JobQueueDetail.
type queueRecord struct {
	JobQueueName             string            `json:"jobQueueName"`
	JobQueueArn              string            `json:"jobQueueArn"`
	State                    string            `json:"state"`
	Status                   string            `json:"status"`
	StatusReason             string            `json:"statusReason,omitempty"`
	Priority                 int               `json:"priority"`
	SchedulingPolicyArn      string            `json:"schedulingPolicyArn,omitempty"`
	ComputeEnvironmentOrder  []ceOrder         `json:"computeEnvironmentOrder"`
	JobStateTimeLimitActions []timeLimitAction `json:"jobStateTimeLimitActions,omitempty"`
	Tags                     map[string]string `json:"tags,omitempty"`
	SettlesAt                time.Time         `json:"nimbusSettlesAt"`
}

type ceOrder struct {
	Order              int    `json:"order"`
	ComputeEnvironment string `json:"computeEnvironment"`
}

// policyRecord is a scheduling policy, as SchedulingPolicyDetail.
type policyRecord struct {
	Name            string            `json:"name"`
	Arn             string            `json:"arn"`
	FairsharePolicy *fairsharePolicy  `json:"fairsharePolicy,omitempty"`
	Tags            map[string]string `json:"tags,omitempty"`
}

type fairsharePolicy struct {
	ShareDecaySeconds  *int              `json:"shareDecaySeconds,omitempty"`
	ComputeReservation *int              `json:"computeReservation,omitempty"`
	ShareDistribution  []shareAttributes `json:"shareDistribution,omitempty"`
}

type shareAttributes struct {
	ShareIdentifier string   `json:"shareIdentifier"`
	WeightFactor    *float64 `json:"weightFactor,omitempty"`
}

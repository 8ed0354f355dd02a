package batch

import (
	"strconv"
	"strings"

	"github.com/nimbus-dev/nimbus/internal/batch/scheduler"
	"github.com/nimbus-dev/nimbus/internal/store"
)

// jobDefRecord is one revision of a job definition, as JobDefinition.
type jobDefRecord struct {
	JobDefinitionName    string               `json:"jobDefinitionName"`
	JobDefinitionArn     string               `json:"jobDefinitionArn"`
	Revision             int                  `json:"revision"`
	Status               string               `json:"status"` // ACTIVE or INACTIVE
	Type                 string               `json:"type"`
	SchedulingPriority   *int                 `json:"schedulingPriority,omitempty"`
	Parameters           map[string]string    `json:"parameters,omitempty"`
	RetryStrategy        *retryStrategy       `json:"retryStrategy,omitempty"`
	ContainerProperties  *containerProperties `json:"containerProperties,omitempty"`
	Timeout              *jobTimeout          `json:"timeout,omitempty"`
	Tags                 map[string]string    `json:"tags,omitempty"`
	PropagateTags        *bool                `json:"propagateTags,omitempty"`
	PlatformCapabilities []string             `json:"platformCapabilities,omitempty"`
	ContainerOrch        string               `json:"containerOrchestrationType,omitempty"`
}

func jobDefID(name string, revision int) string { return name + ":" + padRevision(revision) }

// padRevision keeps revisions in numeric order under the store's byte-wise
// ID order.
func padRevision(r int) string {
	s := strconv.Itoa(r)
	return strings.Repeat("0", 10-len(s)) + s
}

type containerProperties struct {
	Image                  string                `json:"image,omitempty"`
	Vcpus                  *int                  `json:"vcpus,omitempty"`
	Memory                 *int                  `json:"memory,omitempty"`
	Command                []string              `json:"command,omitempty"`
	JobRoleArn             string                `json:"jobRoleArn,omitempty"`
	ExecutionRoleArn       string                `json:"executionRoleArn,omitempty"`
	Volumes                []volume              `json:"volumes,omitempty"`
	Environment            []keyValue            `json:"environment,omitempty"`
	MountPoints            []mountPoint          `json:"mountPoints,omitempty"`
	ReadonlyRootFilesystem *bool                 `json:"readonlyRootFilesystem,omitempty"`
	Privileged             *bool                 `json:"privileged,omitempty"`
	Ulimits                []ulimit              `json:"ulimits,omitempty"`
	User                   string                `json:"user,omitempty"`
	InstanceType           string                `json:"instanceType,omitempty"`
	ResourceRequirements   []resourceRequirement `json:"resourceRequirements,omitempty"`
	LinuxParameters        map[string]any        `json:"linuxParameters,omitempty"`
	LogConfiguration       map[string]any        `json:"logConfiguration,omitempty"`
	NetworkConfiguration   map[string]any        `json:"networkConfiguration,omitempty"`
	FargatePlatformConfig  map[string]any        `json:"fargatePlatformConfiguration,omitempty"`
	EphemeralStorage       map[string]any        `json:"ephemeralStorage,omitempty"`
	RuntimePlatform        map[string]any        `json:"runtimePlatform,omitempty"`
}

type volume struct {
	Name string      `json:"name,omitempty"`
	Host *volumeHost `json:"host,omitempty"`
}

type volumeHost struct {
	SourcePath string `json:"sourcePath,omitempty"`
}

type mountPoint struct {
	ContainerPath string `json:"containerPath,omitempty"`
	ReadOnly      *bool  `json:"readOnly,omitempty"`
	SourceVolume  string `json:"sourceVolume,omitempty"`
}

type ulimit struct {
	Name      string `json:"name"`
	SoftLimit int64  `json:"softLimit"`
	HardLimit int64  `json:"hardLimit"`
}

type keyValue struct {
	Name  string `json:"name"`
	Value string `json:"value"`
}

type resourceRequirement struct {
	Type  string `json:"type"`
	Value string `json:"value"`
}

type retryStrategy struct {
	Attempts       *int             `json:"attempts,omitempty"`
	EvaluateOnExit []evaluateOnExit `json:"evaluateOnExit,omitempty"`
}

type evaluateOnExit struct {
	OnStatusReason string `json:"onStatusReason,omitempty"`
	OnReason       string `json:"onReason,omitempty"`
	OnExitCode     string `json:"onExitCode,omitempty"`
	Action         string `json:"action"`
}

type jobTimeout struct {
	AttemptDurationSeconds *int `json:"attemptDurationSeconds,omitempty"`
}

// jobRecord is one job, as JobDetail, plus what the controller needs.
type jobRecord struct {
	JobArn             string                 `json:"jobArn"`
	JobName            string                 `json:"jobName"`
	JobID              string                 `json:"jobId"`
	JobQueue           string                 `json:"jobQueue"` // ARN
	Status             scheduler.State        `json:"status"`
	ShareIdentifier    string                 `json:"shareIdentifier,omitempty"`
	SchedulingPriority *int                   `json:"schedulingPriority,omitempty"`
	Attempts           []attemptDetail        `json:"attempts"`
	StatusReason       string                 `json:"statusReason,omitempty"`
	CreatedAt          int64                  `json:"createdAt"`
	RetryStrategy      *retryStrategy         `json:"retryStrategy,omitempty"`
	StartedAt          int64                  `json:"startedAt,omitempty"`
	StoppedAt          int64                  `json:"stoppedAt,omitempty"`
	DependsOn          []scheduler.Dependency `json:"dependsOn"`
	JobDefinition      string                 `json:"jobDefinition"` // ARN
	Parameters         map[string]string      `json:"parameters,omitempty"`
	Container          *containerDetail       `json:"container,omitempty"`
	ArrayProperties    *arrayProperties       `json:"arrayProperties,omitempty"`
	Timeout            *jobTimeout            `json:"timeout,omitempty"`
	Tags               map[string]string      `json:"tags,omitempty"`
	PropagateTags      *bool                  `json:"propagateTags,omitempty"`
	PlatformCaps       []string               `json:"platformCapabilities,omitempty"`
	IsCancelled        *bool                  `json:"isCancelled,omitempty"`
	IsTerminated       *bool                  `json:"isTerminated,omitempty"`

	// Nimbus's own fields, never written to the wire.
	Partition     partitionKey `json:"nimbusPartition"`
	QueueName     string       `json:"nimbusQueueName"`
	Seq           int64        `json:"nimbusSeq"`
	RunnableAt    int64        `json:"nimbusRunnableAt,omitempty"`
	Waits         []string     `json:"nimbusWaits,omitempty"` // job IDs this one waits on
	ParentID      string       `json:"nimbusParentId,omitempty"`
	SandboxID     string       `json:"nimbusSandboxId,omitempty"` // the current attempt's
	ComputeEnv    string       `json:"nimbusComputeEnv,omitempty"`
	AttemptStart  int64        `json:"nimbusAttemptStart,omitempty"`
	StopReason    string       `json:"nimbusStopReason,omitempty"` // TerminateJob asked for it
	JobDefName    string       `json:"nimbusJobDefName"`
	ArrayDone     int          `json:"nimbusArrayDone,omitempty"`
	ArrayFailures int          `json:"nimbusArrayFailures,omitempty"`
}

type partitionKey struct {
	Account string `json:"account"`
	Region  string `json:"region"`
}

func (j *jobRecord) key() store.Key {
	return store.Key{Account: j.Partition.Account, Region: j.Partition.Region, Kind: kindJob, ID: j.JobID}
}

// StoreIndexes lets ListJobs find jobs by queue and status, an array's
// children, and the controller every unfinished job.
func (j *jobRecord) StoreIndexes() []store.IndexValue {
	out := []store.IndexValue{{Name: indexQueueStatus, Value: j.JobQueue + "|" + string(j.Status)}}
	if !j.Status.Done() {
		out = append(out, store.IndexValue{Name: indexActive, Value: "1"})
	}
	if j.ParentID != "" {
		out = append(out, store.IndexValue{Name: indexArray, Value: j.ParentID})
	}
	return out
}

func (j *jobRecord) isArrayParent() bool {
	return j.ArrayProperties != nil && j.ArrayProperties.Size > 0 && j.ParentID == ""
}

type containerDetail struct {
	containerProperties
	ExitCode      *int   `json:"exitCode,omitempty"`
	Reason        string `json:"reason,omitempty"`
	LogStreamName string `json:"logStreamName,omitempty"`
	TaskArn       string `json:"taskArn,omitempty"`
}

type attemptDetail struct {
	Container    attemptContainer `json:"container"`
	StartedAt    int64            `json:"startedAt,omitempty"`
	StoppedAt    int64            `json:"stoppedAt,omitempty"`
	StatusReason string           `json:"statusReason,omitempty"`
}

type attemptContainer struct {
	ExitCode      *int   `json:"exitCode,omitempty"`
	Reason        string `json:"reason,omitempty"`
	LogStreamName string `json:"logStreamName,omitempty"`
	TaskArn       string `json:"taskArn,omitempty"`
}

type arrayProperties struct {
	StatusSummary map[string]int `json:"statusSummary,omitempty"`
	Size          int            `json:"size,omitempty"`
	Index         *int           `json:"index,omitempty"`
}

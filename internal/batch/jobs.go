package batch

import (
	"context"
	"errors"
	"strconv"
	"strings"

	"github.com/nimbus-dev/nimbus/internal/batch/scheduler"
	"github.com/nimbus-dev/nimbus/internal/service"
	"github.com/nimbus-dev/nimbus/internal/store"
)

func (a *API) registerJobs(svc *service.Service) {
	svc.Handle("SubmitJob", service.Op(a.submitJob))
	svc.Handle("DescribeJobs", service.Op(a.describeJobs))
	svc.Handle("ListJobs", service.Op(a.listJobs))
	svc.Handle("CancelJob", service.Op(a.cancelJob))
	svc.Handle("TerminateJob", service.Op(a.terminateJob))
}

const (
	maxArraySize  = 10000
	maxDependsOn  = 20
	reasonDepFail = "Dependent Job failed"
)

type submitJobInput struct {
	JobName                    string                 `json:"jobName"`
	JobQueue                   string                 `json:"jobQueue"`
	ShareIdentifier            string                 `json:"shareIdentifier"`
	SchedulingPriorityOverride *int                   `json:"schedulingPriorityOverride"`
	ArrayProperties            *arrayProperties       `json:"arrayProperties"`
	DependsOn                  []scheduler.Dependency `json:"dependsOn"`
	JobDefinition              string                 `json:"jobDefinition"`
	Parameters                 map[string]string      `json:"parameters"`
	ContainerOverrides         *containerOverrides    `json:"containerOverrides"`
	RetryStrategy              *retryStrategy         `json:"retryStrategy"`
	PropagateTags              *bool                  `json:"propagateTags"`
	Timeout                    *jobTimeout            `json:"timeout"`
	Tags                       map[string]string      `json:"tags"`
	NodeOverrides              map[string]any         `json:"nodeOverrides"`
}

type containerOverrides struct {
	Vcpus                *int                  `json:"vcpus"`
	Memory               *int                  `json:"memory"`
	Command              []string              `json:"command"`
	InstanceType         string                `json:"instanceType"`
	Environment          []keyValue            `json:"environment"`
	ResourceRequirements []resourceRequirement `json:"resourceRequirements"`
}

type submitJobOutput struct {
	JobArn  string `json:"jobArn"`
	JobName string `json:"jobName"`
	JobID   string `json:"jobId"`
}

// substitute replaces each Ref::name in args with the parameter's value,
// as Batch does; unknown references are left as they are.
func substitute(args []string, params map[string]string) []string {
	if len(params) == 0 {
		return args
	}
	out := make([]string, len(args))
	for i, arg := range args {
		if strings.HasPrefix(arg, "Ref::") {
			if v, ok := params[strings.TrimPrefix(arg, "Ref::")]; ok {
				arg = v
			}
		}
		out[i] = arg
	}
	return out
}

// effectiveContainer applies a submission's overrides to a job
// definition's container properties.
func effectiveContainer(jd *jobDefRecord, ov *containerOverrides, params map[string]string) (*containerDetail, error) {
	c := &containerDetail{containerProperties: *jd.ContainerProperties}
	if ov != nil {
		if len(ov.Command) > 0 {
			c.Command = ov.Command
		}
		if ov.Vcpus != nil {
			c.Vcpus = ov.Vcpus
		}
		if ov.Memory != nil {
			c.Memory = ov.Memory
		}
		if ov.InstanceType != "" {
			c.InstanceType = ov.InstanceType
		}
		c.Environment = mergeKeyValues(c.Environment, ov.Environment)
		c.ResourceRequirements = mergeResources(c.ResourceRequirements, ov.ResourceRequirements)
	}
	c.Command = substitute(c.Command, params)
	need, err := needOf(&c.containerProperties)
	if err != nil {
		return nil, err
	}
	if need.MilliCPU <= 0 {
		return nil, errClient("Error executing request, Exception : The job must have a VCPU resource requirement (resourceRequirements or vcpus)")
	}
	if need.MemoryMiB < 4 {
		return nil, errClient("Error executing request, Exception : The job must have a MEMORY resource requirement of at least 4 MiB")
	}
	for _, kv := range c.Environment {
		if strings.HasPrefix(kv.Name, "AWS_BATCH") {
			return nil, errClient("Error executing request, Exception : Environment variable names starting with AWS_BATCH are reserved")
		}
	}
	return c, nil
}

func mergeKeyValues(base, over []keyValue) []keyValue {
	out := append([]keyValue(nil), base...)
	for _, o := range over {
		replaced := false
		for i := range out {
			if out[i].Name == o.Name {
				out[i].Value, replaced = o.Value, true
			}
		}
		if !replaced {
			out = append(out, o)
		}
	}
	return out
}

func mergeResources(base, over []resourceRequirement) []resourceRequirement {
	out := append([]resourceRequirement(nil), base...)
	for _, o := range over {
		replaced := false
		for i := range out {
			if out[i].Type == o.Type {
				out[i].Value, replaced = o.Value, true
			}
		}
		if !replaced {
			out = append(out, o)
		}
	}
	return out
}

// needOf is what a container asks for: resourceRequirements, else the
// legacy vcpus and memory members.
func needOf(c *containerProperties) (scheduler.Resources, error) {
	var r scheduler.Resources
	if c.Vcpus != nil {
		r.MilliCPU = int64(*c.Vcpus) * 1000
	}
	if c.Memory != nil {
		r.MemoryMiB = int64(*c.Memory)
	}
	for _, rr := range c.ResourceRequirements {
		n, err := parseResource(rr)
		if err != nil {
			return r, err
		}
		switch rr.Type {
		case "VCPU":
			r.MilliCPU = n
		case "MEMORY":
			r.MemoryMiB = n
		case "GPU":
			r.GPUs = n
		}
	}
	return r, nil
}

func (a *API) submitJob(ctx context.Context, in *submitJobInput) (*submitJobOutput, error) {
	account, region := partition(ctx)
	switch {
	case in.JobName == "":
		return nil, errClient("jobName is required")
	case in.JobQueue == "":
		return nil, errClient("jobQueue is required")
	case in.JobDefinition == "":
		return nil, errClient("jobDefinition is required")
	case in.NodeOverrides != nil:
		return nil, errClient("Error executing request, Exception : nodeOverrides apply only to multinode jobs")
	}
	if err := checkName("jobName", in.JobName); err != nil {
		return nil, err
	}
	arraySize := 0
	if in.ArrayProperties != nil {
		arraySize = in.ArrayProperties.Size
		if arraySize < 2 || arraySize > maxArraySize {
			return nil, errClient("Error executing request, Exception : Array job size must be between 2 and 10000")
		}
	}
	if len(in.DependsOn) > maxDependsOn {
		return nil, errClient("Error executing request, Exception : A job can depend on at most 20 jobs")
	}
	if in.SchedulingPriorityOverride != nil && (*in.SchedulingPriorityOverride < 0 || *in.SchedulingPriorityOverride > 9999) {
		return nil, errClient("schedulingPriorityOverride must be between 0 and 9999")
	}
	if err := checkRetryStrategy(in.RetryStrategy); err != nil {
		return nil, err
	}
	if err := checkTimeout(in.Timeout); err != nil {
		return nil, err
	}
	if err := checkTags(in.Tags); err != nil {
		return nil, err
	}
	now := a.now()
	job := &jobRecord{JobID: newUUID(), JobName: in.JobName, Status: scheduler.Submitted, CreatedAt: millis(now),
		Attempts: []attemptDetail{}, DependsOn: in.DependsOn, Tags: in.Tags, PropagateTags: in.PropagateTags,
		Partition: partitionKey{account, region}, ShareIdentifier: in.ShareIdentifier}
	if job.DependsOn == nil {
		job.DependsOn = []scheduler.Dependency{}
	}
	job.JobArn = arn(region, account, "job/"+job.JobID)
	var children []*jobRecord
	err := a.store.Update(ctx, func(tx store.Tx) error {
		var q queueRecord
		_, err := tx.Get(store.Key{Account: account, Region: region, Kind: kindQueue, ID: nameOf(in.JobQueue)}, &q)
		if errors.Is(err, store.ErrNotFound) {
			return errClient("Error executing request, Exception : JobQueue %s not found", in.JobQueue)
		}
		if err != nil {
			return err
		}
		a.settleQueue(&q)
		if q.Status == "DELETING" || q.Status == "DELETED" {
			return errClient("Error executing request, Exception : JobQueue %s is being deleted", in.JobQueue)
		}
		if q.SchedulingPolicyArn != "" && in.ShareIdentifier == "" {
			return errClient("Error executing request, Exception : shareIdentifier is required for jobs submitted to a fair-share job queue")
		}
		if q.SchedulingPolicyArn == "" && in.ShareIdentifier != "" {
			return errClient("Error executing request, Exception : shareIdentifier is only supported for fair-share job queues")
		}
		job.JobQueue, job.QueueName = q.JobQueueArn, q.JobQueueName
		jd, err := resolveJobDef(tx, account, region, in.JobDefinition)
		if err != nil {
			return err
		}
		if jd.Status != "ACTIVE" {
			return errClient("Error executing request, Exception : Job definition %s is INACTIVE", in.JobDefinition)
		}
		job.JobDefinition, job.JobDefName = jd.JobDefinitionArn, jd.JobDefinitionName
		job.PlatformCaps = jd.PlatformCapabilities
		job.Parameters = map[string]string{}
		for k, v := range jd.Parameters {
			job.Parameters[k] = v
		}
		for k, v := range in.Parameters {
			job.Parameters[k] = v
		}
		if job.Container, err = effectiveContainer(jd, in.ContainerOverrides, job.Parameters); err != nil {
			return err
		}
		job.RetryStrategy, job.Timeout = jd.RetryStrategy, jd.Timeout
		if in.RetryStrategy != nil {
			job.RetryStrategy = in.RetryStrategy
		}
		if in.Timeout != nil {
			job.Timeout = in.Timeout
		}
		if q.SchedulingPolicyArn != "" {
			prio := 0
			if jd.SchedulingPriority != nil {
				prio = *jd.SchedulingPriority
			}
			if in.SchedulingPriorityOverride != nil {
				prio = *in.SchedulingPriorityOverride
			}
			job.SchedulingPriority = &prio
		}
		if job.PropagateTags == nil {
			job.PropagateTags = jd.PropagateTags
		}
		if err := a.checkDependencies(tx, job, arraySize); err != nil {
			return err
		}
		if job.Seq, err = tx.NextSequence("batch:job"); err != nil {
			return err
		}
		if arraySize > 0 {
			job.ArrayProperties = &arrayProperties{Size: arraySize}
			children = makeChildren(job, arraySize)
		}
		if _, err := tx.Create(job.key(), job); err != nil {
			return err
		}
		for _, c := range children {
			if _, err := tx.Create(c.key(), c); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return nil, asAPIError(err, "submit job %s", in.JobName)
	}
	a.ctrl.markDirty(job.key())
	for _, c := range children {
		a.ctrl.markDirty(c.key())
	}
	a.notify()
	return &submitJobOutput{JobArn: job.JobArn, JobName: job.JobName, JobID: job.JobID}, nil
}

// checkDependencies validates dependsOn and fills Waits with the jobs the
// (non-array) job waits on.
func (a *API) checkDependencies(tx store.Tx, job *jobRecord, arraySize int) error {
	for _, d := range job.DependsOn {
		switch d.Type {
		case "", scheduler.DependNToN, scheduler.DependSequential:
		default:
			return errClient("dependsOn type must be N_TO_N or SEQUENTIAL")
		}
		if d.Type == scheduler.DependSequential {
			if arraySize == 0 {
				return errClient("Error executing request, Exception : SEQUENTIAL dependencies apply only to array jobs")
			}
			if d.JobID != "" {
				return errClient("Error executing request, Exception : A SEQUENTIAL dependency names no job")
			}
			continue
		}
		var dep jobRecord
		_, err := tx.Get(store.Key{Account: job.Partition.Account, Region: job.Partition.Region, Kind: kindJob, ID: nameOf(d.JobID)}, &dep)
		if errors.Is(err, store.ErrNotFound) {
			return errClient("Error executing request, Exception : Dependent job %s does not exist", d.JobID)
		}
		if err != nil {
			return err
		}
		if d.Type == scheduler.DependNToN {
			if arraySize == 0 || dep.ArrayProperties == nil || dep.ArrayProperties.Size != arraySize {
				return errClient("Error executing request, Exception : An N_TO_N dependency needs two array jobs of the same size")
			}
			continue
		}
		job.Waits = append(job.Waits, dep.JobID)
	}
	return nil
}

// makeChildren builds an array job's children, each waiting on what its
// index's dependencies name.
func makeChildren(parent *jobRecord, size int) []*jobRecord {
	out := make([]*jobRecord, size)
	deps := make([]scheduler.Dependency, 0, len(parent.DependsOn))
	for _, d := range parent.DependsOn {
		if d.Type == scheduler.DependSequential {
			d.JobID = parent.JobID
		}
		deps = append(deps, d)
	}
	for i := range size {
		c := *parent
		idx := i
		c.JobID = scheduler.ChildID(parent.JobID, i)
		c.JobArn = parent.JobArn + ":" + strconv.Itoa(i)
		c.ParentID = parent.JobID
		c.ArrayProperties = &arrayProperties{Index: &idx}
		c.Waits = scheduler.ChildDependencies(parent.JobID, i, deps)
		c.Seq = parent.Seq
		c.Attempts = []attemptDetail{}
		out[i] = &c
	}
	return out
}

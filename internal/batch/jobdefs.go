package batch

import (
	"context"
	"errors"
	"strconv"
	"strings"

	"github.com/nimbus-dev/nimbus/internal/service"
	"github.com/nimbus-dev/nimbus/internal/store"
)

func (a *API) registerJobDefs(svc *service.Service) {
	svc.Handle("RegisterJobDefinition", service.Op(a.registerJobDef))
	svc.Handle("DescribeJobDefinitions", service.Op(a.describeJobDefs))
	svc.Handle("DeregisterJobDefinition", service.Op(a.deregisterJobDef))
}

type registerJobDefInput struct {
	JobDefinitionName    string               `json:"jobDefinitionName"`
	Type                 string               `json:"type"`
	Parameters           map[string]string    `json:"parameters"`
	SchedulingPriority   *int                 `json:"schedulingPriority"`
	ContainerProperties  *containerProperties `json:"containerProperties"`
	NodeProperties       map[string]any       `json:"nodeProperties"`
	RetryStrategy        *retryStrategy       `json:"retryStrategy"`
	PropagateTags        *bool                `json:"propagateTags"`
	Timeout              *jobTimeout          `json:"timeout"`
	Tags                 map[string]string    `json:"tags"`
	PlatformCapabilities []string             `json:"platformCapabilities"`
	EksProperties        map[string]any       `json:"eksProperties"`
	EcsProperties        map[string]any       `json:"ecsProperties"`
}

type registerJobDefOutput struct {
	JobDefinitionName string `json:"jobDefinitionName"`
	JobDefinitionArn  string `json:"jobDefinitionArn"`
	Revision          int    `json:"revision"`
}

func checkRetryStrategy(rs *retryStrategy) error {
	if rs == nil {
		return nil
	}
	if rs.Attempts != nil && (*rs.Attempts < 1 || *rs.Attempts > 10) {
		return errClient("Error executing request, Exception : retryStrategy.attempts must be between 1 and 10")
	}
	if len(rs.EvaluateOnExit) > 5 {
		return errClient("Error executing request, Exception : retryStrategy.evaluateOnExit can hold at most 5 conditions")
	}
	for _, e := range rs.EvaluateOnExit {
		if a := strings.ToUpper(e.Action); a != "RETRY" && a != "EXIT" {
			return errClient("Error executing request, Exception : evaluateOnExit action must be RETRY or EXIT")
		}
		if len(e.OnExitCode) > 512 || len(e.OnReason) > 512 || len(e.OnStatusReason) > 512 {
			return errClient("Error executing request, Exception : evaluateOnExit patterns are at most 512 characters")
		}
	}
	return nil
}

func checkTimeout(t *jobTimeout) error {
	if t != nil && t.AttemptDurationSeconds != nil && *t.AttemptDurationSeconds < 60 {
		return errClient("Error executing request, Exception : timeout.attemptDurationSeconds must be at least 60")
	}
	return nil
}

// checkContainer validates container properties as RegisterJobDefinition
// sees them (SubmitJob checks the resources once overrides are applied).
func (a *API) checkContainer(cp *containerProperties, fargate bool) error {
	if cp.Image == "" {
		return errClient("Error executing request, Exception : containerProperties.image is required")
	}
	if cp.Privileged != nil && *cp.Privileged {
		if fargate {
			return errClient("Error executing request, Exception : privileged is not supported on Fargate")
		}
		if !a.allowPrivileged {
			return errClient("Error executing request, Exception : privileged containers are not allowed on this nimbus (start it with privileged Batch jobs allowed)")
		}
	}
	names := map[string]bool{}
	for _, v := range cp.Volumes {
		if v.Name == "" {
			return errClient("Error executing request, Exception : volumes need a name")
		}
		names[v.Name] = true
	}
	for _, m := range cp.MountPoints {
		if !names[m.SourceVolume] {
			return errClient("Error executing request, Exception : mountPoints sourceVolume %s is not a volume of the job definition", m.SourceVolume)
		}
		if !strings.HasPrefix(m.ContainerPath, "/") {
			return errClient("Error executing request, Exception : mountPoints containerPath must be absolute")
		}
	}
	for _, r := range cp.ResourceRequirements {
		if _, err := parseResource(r); err != nil {
			return err
		}
	}
	for _, u := range cp.Ulimits {
		if u.Name == "" || u.SoftLimit > u.HardLimit {
			return errClient("Error executing request, Exception : ulimits need a name and a softLimit no greater than hardLimit")
		}
	}
	return nil
}

// parseResource reads one resource requirement: VCPU (fractions allowed,
// as Fargate's 0.25), MEMORY in MiB, GPU.
func parseResource(r resourceRequirement) (int64, error) {
	switch r.Type {
	case "VCPU":
		f, err := strconv.ParseFloat(r.Value, 64)
		if err != nil || f <= 0 {
			return 0, errClient("Error executing request, Exception : resourceRequirements VCPU value %q is not valid", r.Value)
		}
		return int64(f * 1000), nil
	case "MEMORY", "GPU":
		n, err := strconv.ParseInt(r.Value, 10, 64)
		if err != nil || n < 0 || (r.Type == "MEMORY" && n == 0) {
			return 0, errClient("Error executing request, Exception : resourceRequirements %s value %q is not valid", r.Type, r.Value)
		}
		return n, nil
	}
	return 0, errClient("Error executing request, Exception : resourceRequirements type must be VCPU, MEMORY or GPU")
}

func (a *API) registerJobDef(ctx context.Context, in *registerJobDefInput) (*registerJobDefOutput, error) {
	account, region := partition(ctx)
	if in.JobDefinitionName == "" {
		return nil, errClient("jobDefinitionName is required")
	}
	if err := checkName("jobDefinitionName", in.JobDefinitionName); err != nil {
		return nil, err
	}
	switch in.Type {
	case "container":
	case "multinode":
		return nil, errClient("Error executing request, Exception : multinode job definitions are not supported by nimbus")
	default:
		return nil, errClient("type must be container or multinode")
	}
	if in.ContainerProperties == nil {
		if in.EcsProperties != nil || in.EksProperties != nil {
			return nil, errClient("Error executing request, Exception : ecsProperties and eksProperties are not supported by nimbus; use containerProperties")
		}
		return nil, errClient("Error executing request, Exception : containerProperties is required for a container job definition")
	}
	fargate := false
	for _, p := range in.PlatformCapabilities {
		switch p {
		case "FARGATE":
			fargate = true
		case "EC2":
		default:
			return nil, errClient("platformCapabilities must be EC2 or FARGATE")
		}
	}
	if err := a.checkContainer(in.ContainerProperties, fargate); err != nil {
		return nil, err
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
	if in.SchedulingPriority != nil && (*in.SchedulingPriority < 0 || *in.SchedulingPriority > 9999) {
		return nil, errClient("schedulingPriority must be between 0 and 9999")
	}
	rec := &jobDefRecord{JobDefinitionName: in.JobDefinitionName, Status: "ACTIVE", Type: in.Type,
		SchedulingPriority: in.SchedulingPriority, Parameters: in.Parameters, RetryStrategy: in.RetryStrategy,
		ContainerProperties: in.ContainerProperties, Timeout: in.Timeout, Tags: in.Tags, PropagateTags: in.PropagateTags,
		PlatformCapabilities: in.PlatformCapabilities, ContainerOrch: "ECS"}
	if len(rec.PlatformCapabilities) == 0 {
		rec.PlatformCapabilities = []string{"EC2"}
	}
	err := a.store.Update(ctx, func(tx store.Tx) error {
		last := 0
		err := tx.List(store.Query{Kind: kindJobDef, Account: account, Region: region, Prefix: in.JobDefinitionName + ":"}, func(o store.Object) error {
			_, rev, _ := strings.Cut(o.Key.ID, ":")
			n, _ := strconv.Atoi(rev)
			last = max(last, n)
			return nil
		})
		if err != nil {
			return err
		}
		rec.Revision = last + 1
		rec.JobDefinitionArn = arn(region, account, "job-definition/"+in.JobDefinitionName+":"+strconv.Itoa(rec.Revision))
		_, err = tx.Create(store.Key{Account: account, Region: region, Kind: kindJobDef, ID: jobDefID(in.JobDefinitionName, rec.Revision)}, rec)
		return err
	})
	if err != nil {
		return nil, errServer(err, "register job definition %s", in.JobDefinitionName)
	}
	return &registerJobDefOutput{JobDefinitionName: rec.JobDefinitionName, JobDefinitionArn: rec.JobDefinitionArn, Revision: rec.Revision}, nil
}

type describeJobDefsInput struct {
	JobDefinitions    []string `json:"jobDefinitions"`
	MaxResults        *int     `json:"maxResults"`
	JobDefinitionName string   `json:"jobDefinitionName"`
	Status            string   `json:"status"`
	NextToken         string   `json:"nextToken"`
}

type describeJobDefsOutput struct {
	JobDefinitions []*jobDefRecord `json:"jobDefinitions"`
	NextToken      string          `json:"nextToken,omitempty"`
}

func (a *API) describeJobDefs(ctx context.Context, in *describeJobDefsInput) (*describeJobDefsOutput, error) {
	if len(in.JobDefinitions) > 100 {
		return nil, errClient("jobDefinitions can name at most 100 job definitions")
	}
	account, region := partition(ctx)
	q := store.Query{Kind: kindJobDef, Account: account, Region: region}
	if in.JobDefinitionName != "" {
		q.Prefix = in.JobDefinitionName + ":"
	}
	var all []*jobDefRecord
	err := a.store.View(ctx, func(tx store.Tx) error {
		return tx.List(q, func(o store.Object) error {
			var rec jobDefRecord
			if err := o.Decode(&rec); err != nil {
				return err
			}
			if in.Status != "" && rec.Status != in.Status {
				return nil
			}
			if len(in.JobDefinitions) > 0 && !matchesJobDef(in.JobDefinitions, &rec) {
				return nil
			}
			all = append(all, &rec)
			return nil
		})
	})
	if err != nil {
		return nil, errServer(err, "list job definitions")
	}
	page, next, err := paginate(all, in.NextToken, in.MaxResults, func(d *jobDefRecord) string {
		return jobDefID(d.JobDefinitionName, d.Revision)
	})
	if err != nil {
		return nil, err
	}
	return &describeJobDefsOutput{JobDefinitions: page, NextToken: next}, nil
}

// matchesJobDef reports whether a revision is named by one of refs: its
// ARN, name:revision, or (for ACTIVE ones) its bare name.
func matchesJobDef(refs []string, d *jobDefRecord) bool {
	for _, r := range refs {
		switch r {
		case d.JobDefinitionArn, d.JobDefinitionName + ":" + strconv.Itoa(d.Revision):
			return true
		case d.JobDefinitionName:
			if d.Status == "ACTIVE" {
				return true
			}
		}
	}
	return false
}

// resolveJobDef finds the revision a reference names: an ARN or
// name:revision names one revision, a bare name the latest ACTIVE one.
func resolveJobDef(tx store.Tx, account, region, ref string) (*jobDefRecord, error) {
	name := nameOf(ref)
	if n, rev, ok := strings.Cut(name, ":"); ok {
		r, err := strconv.Atoi(rev)
		if err != nil {
			return nil, errClient("Job definition %s is not valid", ref)
		}
		var rec jobDefRecord
		_, err = tx.Get(store.Key{Account: account, Region: region, Kind: kindJobDef, ID: jobDefID(n, r)}, &rec)
		if errors.Is(err, store.ErrNotFound) {
			return nil, errClient("Job definition %s does not exist", ref)
		}
		return &rec, err
	}
	var latest *jobDefRecord
	err := tx.List(store.Query{Kind: kindJobDef, Account: account, Region: region, Prefix: name + ":"}, func(o store.Object) error {
		var rec jobDefRecord
		if err := o.Decode(&rec); err != nil {
			return err
		}
		if rec.Status == "ACTIVE" {
			latest = &rec
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	if latest == nil {
		return nil, errClient("Job definition %s does not exist", ref)
	}
	return latest, nil
}

type deregisterJobDefInput struct {
	JobDefinition string `json:"jobDefinition"`
}

func (a *API) deregisterJobDef(ctx context.Context, in *deregisterJobDefInput) (*struct{}, error) {
	if in.JobDefinition == "" {
		return nil, errClient("jobDefinition is required")
	}
	if !strings.Contains(nameOf(in.JobDefinition), ":") {
		return nil, errClient("Error executing request, Exception : jobDefinition must be name:revision or an ARN")
	}
	account, region := partition(ctx)
	err := a.store.Update(ctx, func(tx store.Tx) error {
		rec, err := resolveJobDef(tx, account, region, in.JobDefinition)
		if err != nil {
			return err
		}
		rec.Status = "INACTIVE"
		_, err = tx.Put(store.Key{Account: account, Region: region, Kind: kindJobDef, ID: jobDefID(rec.JobDefinitionName, rec.Revision)}, rec, 0)
		return err
	})
	if err != nil {
		return nil, asAPIError(err, "deregister job definition %s", in.JobDefinition)
	}
	return &struct{}{}, nil
}

package batch

import (
	"context"
	"errors"
	"slices"
	"strings"
	"time"

	"github.com/nimbus-dev/nimbus/internal/service"
	"github.com/nimbus-dev/nimbus/internal/store"
)

func (a *API) registerComputeEnvs(svc *service.Service) {
	svc.Handle("CreateComputeEnvironment", service.Op(a.createComputeEnv))
	svc.Handle("UpdateComputeEnvironment", service.Op(a.updateComputeEnv))
	svc.Handle("DescribeComputeEnvironments", service.Op(a.describeComputeEnvs))
	svc.Handle("DeleteComputeEnvironment", service.Op(a.deleteComputeEnv))
}

type createComputeEnvInput struct {
	ComputeEnvironmentName string            `json:"computeEnvironmentName"`
	Type                   string            `json:"type"`
	State                  string            `json:"state"`
	UnmanagedvCpus         *int              `json:"unmanagedvCpus"`
	ComputeResources       *computeResources `json:"computeResources"`
	ServiceRole            string            `json:"serviceRole"`
	Tags                   map[string]string `json:"tags"`
}

type computeEnvOutput struct {
	ComputeEnvironmentName string `json:"computeEnvironmentName"`
	ComputeEnvironmentArn  string `json:"computeEnvironmentArn"`
}

var (
	resourceTypes        = []string{"EC2", "SPOT", "FARGATE", "FARGATE_SPOT"}
	allocationStrategies = []string{"BEST_FIT", "BEST_FIT_PROGRESSIVE", "SPOT_CAPACITY_OPTIMIZED", "SPOT_PRICE_CAPACITY_OPTIMIZED"}
)

func checkState(member, state string) error {
	if state != "" && state != "ENABLED" && state != "DISABLED" {
		return errClient("%s must be ENABLED or DISABLED", member)
	}
	return nil
}

func validateComputeResources(cr *computeResources) error {
	if !slices.Contains(resourceTypes, cr.Type) {
		return errClient("computeResources.type must be one of EC2, SPOT, FARGATE, FARGATE_SPOT")
	}
	if cr.MaxvCpus == nil {
		return errClient("computeResources.maxvCpus is required")
	}
	if *cr.MaxvCpus < 0 || (cr.MinvCpus != nil && *cr.MinvCpus < 0) || (cr.DesiredvCpus != nil && *cr.DesiredvCpus < 0) {
		return errClient("vCPU counts cannot be negative")
	}
	fargate := strings.HasPrefix(cr.Type, "FARGATE")
	if fargate {
		switch {
		case cr.MinvCpus != nil, cr.DesiredvCpus != nil, len(cr.InstanceTypes) > 0, cr.ImageID != "",
			cr.Ec2KeyPair != "", cr.InstanceRole != "", cr.AllocationStrategy != "", cr.BidPercentage != nil:
			return errClient("Error executing request, Exception : minvCpus, desiredvCpus, instanceTypes, imageId, ec2KeyPair, instanceRole, allocationStrategy and bidPercentage are not applicable for Fargate compute resources")
		}
	} else {
		if len(cr.InstanceTypes) == 0 {
			return errClient("Error executing request, Exception : instanceTypes must be specified for EC2 and SPOT compute resources")
		}
		if cr.InstanceRole == "" {
			return errClient("Error executing request, Exception : instanceRole must be specified for EC2 and SPOT compute resources")
		}
		if cr.AllocationStrategy != "" && !slices.Contains(allocationStrategies, cr.AllocationStrategy) {
			return errClient("computeResources.allocationStrategy %s is not valid", cr.AllocationStrategy)
		}
		min, max := 0, *cr.MaxvCpus
		if cr.MinvCpus != nil {
			min = *cr.MinvCpus
		}
		if min > max {
			return errClient("Error executing request, Exception : minvCpus %d must not be greater than maxvCpus %d", min, max)
		}
		if cr.DesiredvCpus != nil && (*cr.DesiredvCpus < min || *cr.DesiredvCpus > max) {
			return errClient("Error executing request, Exception : desiredvCpus must be between minvCpus and maxvCpus")
		}
		if cr.MinvCpus == nil {
			zero := 0
			cr.MinvCpus = &zero
		}
		if cr.DesiredvCpus == nil {
			d := *cr.MinvCpus
			cr.DesiredvCpus = &d
		}
	}
	if len(cr.Subnets) == 0 {
		return errClient("Error executing request, Exception : subnets must be specified")
	}
	return nil
}

func (a *API) createComputeEnv(ctx context.Context, in *createComputeEnvInput) (*computeEnvOutput, error) {
	account, region := partition(ctx)
	if in.ComputeEnvironmentName == "" {
		return nil, errClient("computeEnvironmentName is required")
	}
	if err := checkName("computeEnvironmentName", in.ComputeEnvironmentName); err != nil {
		return nil, err
	}
	if err := checkState("state", in.State); err != nil {
		return nil, err
	}
	rec := &computeEnvRecord{ComputeEnvironmentName: in.ComputeEnvironmentName, UUID: newUUID(), Type: in.Type,
		State: in.State, Status: "CREATING", ServiceRole: in.ServiceRole, Tags: in.Tags, SettlesAt: a.settledAt(),
		ContainerOrchestration: "ECS"}
	rec.ComputeEnvironmentArn = arn(region, account, "compute-environment/"+in.ComputeEnvironmentName)
	rec.EcsClusterArn = "arn:aws:ecs:" + region + ":" + account + ":cluster/AWSBatch-" + in.ComputeEnvironmentName + "-" + rec.UUID
	if rec.State == "" {
		rec.State = "ENABLED"
	}
	switch in.Type {
	case "MANAGED":
		if in.ComputeResources == nil {
			return nil, errClient("Error executing request, Exception : computeResources must be specified for MANAGED compute environments")
		}
		if err := validateComputeResources(in.ComputeResources); err != nil {
			return nil, err
		}
		rec.ComputeResources = in.ComputeResources
	case "UNMANAGED":
		if in.ComputeResources != nil {
			return nil, errClient("Error executing request, Exception : computeResources cannot be specified for UNMANAGED compute environments")
		}
		rec.UnmanagedvCpus = in.UnmanagedvCpus
	default:
		return nil, errClient("type must be MANAGED or UNMANAGED")
	}
	if err := checkTags(in.Tags); err != nil {
		return nil, err
	}
	err := a.store.Update(ctx, func(tx store.Tx) error {
		_, err := tx.Create(store.Key{Account: account, Region: region, Kind: kindComputeEnv, ID: rec.ComputeEnvironmentName}, rec)
		return err
	})
	if errors.Is(err, store.ErrAlreadyExists) {
		return nil, errClient("Error executing request, Exception : Object already exists")
	}
	if err != nil {
		return nil, errServer(err, "create compute environment %s", rec.ComputeEnvironmentName)
	}
	a.notify()
	return &computeEnvOutput{ComputeEnvironmentName: rec.ComputeEnvironmentName, ComputeEnvironmentArn: rec.ComputeEnvironmentArn}, nil
}

type updateComputeEnvInput struct {
	ComputeEnvironment string            `json:"computeEnvironment"`
	State              string            `json:"state"`
	UnmanagedvCpus     *int              `json:"unmanagedvCpus"`
	ComputeResources   *computeResources `json:"computeResources"`
	ServiceRole        string            `json:"serviceRole"`
}

func (a *API) updateComputeEnv(ctx context.Context, in *updateComputeEnvInput) (*computeEnvOutput, error) {
	if in.ComputeEnvironment == "" {
		return nil, errClient("computeEnvironment is required")
	}
	if err := checkState("state", in.State); err != nil {
		return nil, err
	}
	var out computeEnvOutput
	err := a.modifyComputeEnv(ctx, in.ComputeEnvironment, func(rec *computeEnvRecord) error {
		if rec.Status == "DELETING" || rec.Status == "DELETED" {
			return errClient("Error executing request, Exception : Cannot update a compute environment that is being deleted")
		}
		if in.State != "" {
			rec.State = in.State
		}
		if in.ServiceRole != "" {
			rec.ServiceRole = in.ServiceRole
		}
		if in.UnmanagedvCpus != nil {
			if rec.Type != "UNMANAGED" {
				return errClient("Error executing request, Exception : unmanagedvCpus applies only to UNMANAGED compute environments")
			}
			rec.UnmanagedvCpus = in.UnmanagedvCpus
		}
		if cr := in.ComputeResources; cr != nil {
			if rec.ComputeResources == nil {
				return errClient("Error executing request, Exception : computeResources cannot be updated for UNMANAGED compute environments")
			}
			next := *rec.ComputeResources
			if cr.MaxvCpus != nil {
				next.MaxvCpus = cr.MaxvCpus
			}
			if cr.MinvCpus != nil {
				next.MinvCpus = cr.MinvCpus
			}
			if cr.DesiredvCpus != nil {
				next.DesiredvCpus = cr.DesiredvCpus
			}
			if len(cr.Subnets) > 0 {
				next.Subnets = cr.Subnets
			}
			if len(cr.SecurityGroupIDs) > 0 {
				next.SecurityGroupIDs = cr.SecurityGroupIDs
			}
			if len(cr.InstanceTypes) > 0 {
				next.InstanceTypes = cr.InstanceTypes
			}
			if err := validateComputeResources(&next); err != nil {
				return err
			}
			rec.ComputeResources = &next
		}
		rec.Status = "UPDATING"
		rec.SettlesAt = a.settledAt()
		out = computeEnvOutput{ComputeEnvironmentName: rec.ComputeEnvironmentName, ComputeEnvironmentArn: rec.ComputeEnvironmentArn}
		return nil
	})
	if err != nil {
		return nil, err
	}
	a.notify()
	return &out, nil
}

// modifyComputeEnv applies fn to a compute environment named by name or ARN.
func (a *API) modifyComputeEnv(ctx context.Context, ref string, fn func(*computeEnvRecord) error) error {
	account, region := partition(ctx)
	key := store.Key{Account: account, Region: region, Kind: kindComputeEnv, ID: nameOf(ref)}
	err := a.store.Update(ctx, func(tx store.Tx) error {
		var rec computeEnvRecord
		meta, err := tx.Get(key, &rec)
		if errors.Is(err, store.ErrNotFound) {
			return errClient("Error executing request, Exception : ComputeEnvironment %s does not exist", ref)
		}
		if err != nil {
			return err
		}
		a.settleComputeEnv(&rec)
		if err := fn(&rec); err != nil {
			return err
		}
		_, err = tx.Put(key, &rec, meta.Version)
		return err
	})
	return asAPIError(err, "update compute environment %s", ref)
}

// settleComputeEnv moves CREATING and UPDATING to VALID once settled.
func (a *API) settleComputeEnv(rec *computeEnvRecord) {
	settle(a.now(), rec.SettlesAt, &rec.Status, &rec.StatusReason, "ComputeEnvironment Healthy")
}

// settle is the status lifecycle compute environments and job queues
// share: once settlesAt has passed, CREATING and UPDATING become VALID with
// the healthy reason, and DELETING becomes DELETED.
func settle(now, settlesAt time.Time, status, reason *string, healthy string) {
	if now.Before(settlesAt) {
		return
	}
	switch *status {
	case "CREATING", "UPDATING":
		*status, *reason = "VALID", healthy
	case "DELETING":
		*status = "DELETED"
	}
}

type describeComputeEnvsInput struct {
	ComputeEnvironments []string `json:"computeEnvironments"`
	MaxResults          *int     `json:"maxResults"`
	NextToken           string   `json:"nextToken"`
}

type describeComputeEnvsOutput struct {
	ComputeEnvironments []*computeEnvRecord `json:"computeEnvironments"`
	NextToken           string              `json:"nextToken,omitempty"`
}

func (a *API) describeComputeEnvs(ctx context.Context, in *describeComputeEnvsInput) (*describeComputeEnvsOutput, error) {
	if len(in.ComputeEnvironments) > 100 {
		return nil, errClient("computeEnvironments can name at most 100 compute environments")
	}
	if len(in.ComputeEnvironments) > 0 && (in.MaxResults != nil || in.NextToken != "") {
		return nil, errClient("maxResults and nextToken cannot be used with computeEnvironments")
	}
	page, next, err := describeNamed(ctx, a, kindComputeEnv, "compute environments", in.ComputeEnvironments, in.NextToken, in.MaxResults,
		a.settleComputeEnv, func(c *computeEnvRecord) (string, string) { return c.ComputeEnvironmentName, c.ComputeEnvironmentArn })
	if err != nil {
		return nil, err
	}
	return &describeComputeEnvsOutput{ComputeEnvironments: page, NextToken: next}, nil
}

type deleteComputeEnvInput struct {
	ComputeEnvironment string `json:"computeEnvironment"`
}

func (a *API) deleteComputeEnv(ctx context.Context, in *deleteComputeEnvInput) (*struct{}, error) {
	if in.ComputeEnvironment == "" {
		return nil, errClient("computeEnvironment is required")
	}
	account, region := partition(ctx)
	name := nameOf(in.ComputeEnvironment)
	// A queue that still names it keeps it, as Batch refuses.
	var used string
	err := a.store.View(ctx, func(tx store.Tx) error {
		return tx.List(store.Query{Kind: kindQueue, Account: account, Region: region}, func(o store.Object) error {
			var q queueRecord
			if err := o.Decode(&q); err != nil {
				return err
			}
			for _, c := range q.ComputeEnvironmentOrder {
				if nameOf(c.ComputeEnvironment) == name && q.Status != "DELETED" {
					used = q.JobQueueName
				}
			}
			return nil
		})
	})
	if err != nil {
		return nil, errServer(err, "list job queues")
	}
	if used != "" {
		return nil, errClient("Error executing request, Exception : Cannot delete, found existing JobQueue relationship")
	}
	err = a.modifyComputeEnv(ctx, in.ComputeEnvironment, func(rec *computeEnvRecord) error {
		if rec.State != "DISABLED" {
			return errClient("Error executing request, Exception : Cannot delete, the compute environment must be DISABLED first")
		}
		if rec.Status != "DELETING" && rec.Status != "DELETED" {
			rec.Status = "DELETING"
			rec.SettlesAt = a.settledAt()
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	a.notify()
	return &struct{}{}, nil
}

package batch

import (
	"context"
	"errors"
	"sort"

	"github.com/nimbus-dev/nimbus/internal/service"
	"github.com/nimbus-dev/nimbus/internal/store"
)

func (a *API) registerQueues(svc *service.Service) {
	svc.Handle("CreateJobQueue", service.Op(a.createQueue))
	svc.Handle("UpdateJobQueue", service.Op(a.updateQueue))
	svc.Handle("DescribeJobQueues", service.Op(a.describeQueues))
	svc.Handle("DeleteJobQueue", service.Op(a.deleteQueue))
}

type createQueueInput struct {
	JobQueueName             string            `json:"jobQueueName"`
	State                    string            `json:"state"`
	SchedulingPolicyArn      string            `json:"schedulingPolicyArn"`
	Priority                 *int              `json:"priority"`
	ComputeEnvironmentOrder  []ceOrder         `json:"computeEnvironmentOrder"`
	JobStateTimeLimitActions []timeLimitAction `json:"jobStateTimeLimitActions"`
	Tags                     map[string]string `json:"tags"`
}

type queueOutput struct {
	JobQueueName string `json:"jobQueueName"`
	JobQueueArn  string `json:"jobQueueArn"`
}

// checkOrder validates computeEnvironmentOrder against the compute
// environments that exist: at most 3, no two with the same order, all of
// one provisioning model (Fargate or EC2), as Batch requires.
func (a *API) checkOrder(tx store.Tx, account, region string, order []ceOrder) ([]ceOrder, error) {
	if len(order) == 0 {
		return nil, errClient("computeEnvironmentOrder is required")
	}
	if len(order) > 3 {
		return nil, errClient("Error executing request, Exception : A job queue can have at most 3 compute environments")
	}
	seen := map[int]bool{}
	fargate := 0
	out := make([]ceOrder, 0, len(order))
	for _, o := range order {
		if seen[o.Order] {
			return nil, errClient("Error executing request, Exception : computeEnvironmentOrder orders must be unique")
		}
		seen[o.Order] = true
		var ce computeEnvRecord
		_, err := tx.Get(store.Key{Account: account, Region: region, Kind: kindComputeEnv, ID: nameOf(o.ComputeEnvironment)}, &ce)
		if errors.Is(err, store.ErrNotFound) {
			return nil, errClient("Error executing request, Exception : ComputeEnvironment %s does not exist", o.ComputeEnvironment)
		}
		if err != nil {
			return nil, err
		}
		if ce.Status == "DELETING" || ce.Status == "DELETED" {
			return nil, errClient("Error executing request, Exception : ComputeEnvironment %s is being deleted", o.ComputeEnvironment)
		}
		if ce.fargate() {
			fargate++
		}
		out = append(out, ceOrder{Order: o.Order, ComputeEnvironment: ce.ComputeEnvironmentArn})
	}
	if fargate != 0 && fargate != len(order) {
		return nil, errClient("Error executing request, Exception : A job queue cannot mix Fargate and EC2 compute environments")
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Order < out[j].Order })
	return out, nil
}

func (a *API) checkPolicy(tx store.Tx, account, region, policyARN string) error {
	if policyARN == "" {
		return nil
	}
	_, err := tx.Get(store.Key{Account: account, Region: region, Kind: kindPolicy, ID: nameOf(policyARN)}, nil)
	if errors.Is(err, store.ErrNotFound) {
		return errClient("Error executing request, Exception : SchedulingPolicy %s does not exist", policyARN)
	}
	return err
}

func (a *API) createQueue(ctx context.Context, in *createQueueInput) (*queueOutput, error) {
	account, region := partition(ctx)
	if in.JobQueueName == "" {
		return nil, errClient("jobQueueName is required")
	}
	if err := checkName("jobQueueName", in.JobQueueName); err != nil {
		return nil, err
	}
	if in.Priority == nil {
		return nil, errClient("priority is required")
	}
	if *in.Priority < 0 || *in.Priority > 1000 {
		return nil, errClient("priority must be between 0 and 1000")
	}
	if err := checkState("state", in.State); err != nil {
		return nil, err
	}
	if err := checkTags(in.Tags); err != nil {
		return nil, err
	}
	if err := checkTimeLimitActions(in.JobStateTimeLimitActions); err != nil {
		return nil, err
	}
	rec := &queueRecord{JobQueueName: in.JobQueueName, JobQueueArn: arn(region, account, "job-queue/"+in.JobQueueName),
		State: in.State, Status: "CREATING", Priority: *in.Priority, SchedulingPolicyArn: in.SchedulingPolicyArn,
		JobStateTimeLimitActions: in.JobStateTimeLimitActions, Tags: in.Tags, SettlesAt: a.settledAt()}
	if rec.State == "" {
		rec.State = "ENABLED"
	}
	err := a.store.Update(ctx, func(tx store.Tx) error {
		order, err := a.checkOrder(tx, account, region, in.ComputeEnvironmentOrder)
		if err != nil {
			return err
		}
		if err := a.checkPolicy(tx, account, region, in.SchedulingPolicyArn); err != nil {
			return err
		}
		rec.ComputeEnvironmentOrder = order
		_, err = tx.Create(store.Key{Account: account, Region: region, Kind: kindQueue, ID: rec.JobQueueName}, rec)
		if errors.Is(err, store.ErrAlreadyExists) {
			return errClient("Error executing request, Exception : Object already exists")
		}
		return err
	})
	if err != nil {
		return nil, asAPIError(err, "create job queue %s", in.JobQueueName)
	}
	a.notify()
	return &queueOutput{JobQueueName: rec.JobQueueName, JobQueueArn: rec.JobQueueArn}, nil
}

type updateQueueInput struct {
	JobQueue                 string            `json:"jobQueue"`
	State                    string            `json:"state"`
	SchedulingPolicyArn      string            `json:"schedulingPolicyArn"`
	Priority                 *int              `json:"priority"`
	ComputeEnvironmentOrder  []ceOrder         `json:"computeEnvironmentOrder"`
	JobStateTimeLimitActions []timeLimitAction `json:"jobStateTimeLimitActions"`
}

func (a *API) updateQueue(ctx context.Context, in *updateQueueInput) (*queueOutput, error) {
	if in.JobQueue == "" {
		return nil, errClient("jobQueue is required")
	}
	if err := checkState("state", in.State); err != nil {
		return nil, err
	}
	if in.Priority != nil && (*in.Priority < 0 || *in.Priority > 1000) {
		return nil, errClient("priority must be between 0 and 1000")
	}
	if err := checkTimeLimitActions(in.JobStateTimeLimitActions); err != nil {
		return nil, err
	}
	var out queueOutput
	err := a.modifyQueue(ctx, in.JobQueue, func(tx store.Tx, account, region string, rec *queueRecord) error {
		if rec.Status == "DELETING" || rec.Status == "DELETED" {
			return errClient("Error executing request, Exception : Cannot update a job queue that is being deleted")
		}
		if in.State != "" {
			rec.State = in.State
		}
		if in.Priority != nil {
			rec.Priority = *in.Priority
		}
		if in.SchedulingPolicyArn != "" {
			if rec.SchedulingPolicyArn == "" {
				return errClient("Error executing request, Exception : A FIFO job queue cannot be given a scheduling policy")
			}
			if err := a.checkPolicy(tx, account, region, in.SchedulingPolicyArn); err != nil {
				return err
			}
			rec.SchedulingPolicyArn = in.SchedulingPolicyArn
		}
		if in.ComputeEnvironmentOrder != nil {
			order, err := a.checkOrder(tx, account, region, in.ComputeEnvironmentOrder)
			if err != nil {
				return err
			}
			rec.ComputeEnvironmentOrder = order
		}
		if in.JobStateTimeLimitActions != nil {
			rec.JobStateTimeLimitActions = in.JobStateTimeLimitActions
		}
		rec.Status = "UPDATING"
		rec.SettlesAt = a.settledAt()
		out = queueOutput{JobQueueName: rec.JobQueueName, JobQueueArn: rec.JobQueueArn}
		return nil
	})
	if err != nil {
		return nil, err
	}
	a.notify()
	return &out, nil
}

func (a *API) modifyQueue(ctx context.Context, ref string, fn func(tx store.Tx, account, region string, rec *queueRecord) error) error {
	account, region := partition(ctx)
	key := store.Key{Account: account, Region: region, Kind: kindQueue, ID: nameOf(ref)}
	err := a.store.Update(ctx, func(tx store.Tx) error {
		var rec queueRecord
		meta, err := tx.Get(key, &rec)
		if errors.Is(err, store.ErrNotFound) {
			return errClient("Error executing request, Exception : JobQueue %s does not exist", ref)
		}
		if err != nil {
			return err
		}
		a.settleQueue(&rec)
		if err := fn(tx, account, region, &rec); err != nil {
			return err
		}
		_, err = tx.Put(key, &rec, meta.Version)
		return err
	})
	return asAPIError(err, "update job queue %s", ref)
}

func (a *API) settleQueue(rec *queueRecord) {
	settle(a.now(), rec.SettlesAt, &rec.Status, &rec.StatusReason, "JobQueue Healthy")
}

type describeQueuesInput struct {
	JobQueues  []string `json:"jobQueues"`
	MaxResults *int     `json:"maxResults"`
	NextToken  string   `json:"nextToken"`
}

type describeQueuesOutput struct {
	JobQueues []*queueRecord `json:"jobQueues"`
	NextToken string         `json:"nextToken,omitempty"`
}

func (a *API) describeQueues(ctx context.Context, in *describeQueuesInput) (*describeQueuesOutput, error) {
	if len(in.JobQueues) > 100 {
		return nil, errClient("jobQueues can name at most 100 job queues")
	}
	page, next, err := describeNamed(ctx, a, kindQueue, "job queues", in.JobQueues, in.NextToken, in.MaxResults,
		a.settleQueue, func(q *queueRecord) (string, string) { return q.JobQueueName, q.JobQueueArn })
	if err != nil {
		return nil, err
	}
	return &describeQueuesOutput{JobQueues: page, NextToken: next}, nil
}

type deleteQueueInput struct {
	JobQueue string `json:"jobQueue"`
}

func (a *API) deleteQueue(ctx context.Context, in *deleteQueueInput) (*struct{}, error) {
	if in.JobQueue == "" {
		return nil, errClient("jobQueue is required")
	}
	err := a.modifyQueue(ctx, in.JobQueue, func(_ store.Tx, _, _ string, rec *queueRecord) error {
		if rec.State != "DISABLED" {
			return errClient("Error executing request, Exception : Cannot delete, the job queue must be DISABLED first")
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

// timeLimitAction cancels a job that has waited RUNNABLE, for a reason,
// longer than MaxTimeSeconds.
type timeLimitAction struct {
	Reason         string `json:"reason"`
	State          string `json:"state"`
	MaxTimeSeconds int    `json:"maxTimeSeconds"`
	Action         string `json:"action"`
}

func checkTimeLimitActions(actions []timeLimitAction) error {
	if len(actions) > 5 {
		return errClient("Error executing request, Exception : jobStateTimeLimitActions can hold at most 5 actions")
	}
	for _, a := range actions {
		switch {
		case a.Reason == "":
			return errClient("Error executing request, Exception : jobStateTimeLimitActions reason is required")
		case a.State != "RUNNABLE":
			return errClient("Error executing request, Exception : jobStateTimeLimitActions state must be RUNNABLE")
		case a.Action != "CANCEL":
			return errClient("Error executing request, Exception : jobStateTimeLimitActions action must be CANCEL")
		case a.MaxTimeSeconds < 600 || a.MaxTimeSeconds > 86400:
			return errClient("Error executing request, Exception : jobStateTimeLimitActions maxTimeSeconds must be between 600 and 86400")
		}
	}
	return nil
}

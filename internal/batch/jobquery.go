package batch

import (
	"context"
	"errors"
	"strconv"
	"strings"

	"github.com/nimbus-dev/nimbus/internal/batch/scheduler"
	"github.com/nimbus-dev/nimbus/internal/store"
)

type describeJobsInput struct {
	Jobs []string `json:"jobs"`
}

type describeJobsOutput struct {
	Jobs []*jobRecord `json:"jobs"`
}

func (a *API) describeJobs(ctx context.Context, in *describeJobsInput) (*describeJobsOutput, error) {
	if len(in.Jobs) == 0 {
		return nil, errClient("jobs is required")
	}
	if len(in.Jobs) > 100 {
		return nil, errClient("Error executing request, Exception : jobs can name at most 100 jobs")
	}
	account, region := partition(ctx)
	out := &describeJobsOutput{Jobs: []*jobRecord{}}
	err := a.store.View(ctx, func(tx store.Tx) error {
		for _, ref := range in.Jobs {
			var job jobRecord
			_, err := tx.Get(store.Key{Account: account, Region: region, Kind: kindJob, ID: nameOf(ref)}, &job)
			if errors.Is(err, store.ErrNotFound) {
				continue // Batch leaves unknown jobs out
			}
			if err != nil {
				return err
			}
			if job.isArrayParent() {
				summary := map[string]int{}
				for _, s := range scheduler.States {
					summary[string(s)] = 0
				}
				err := tx.List(store.Query{Kind: kindJob, Account: account, Region: region, Index: indexArray, IndexValue: job.JobID}, func(o store.Object) error {
					var c struct {
						Status string `json:"status"`
					}
					if err := o.Decode(&c); err != nil {
						return err
					}
					summary[c.Status]++
					return nil
				})
				if err != nil {
					return err
				}
				job.ArrayProperties.StatusSummary = summary
			}
			out.Jobs = append(out.Jobs, &job)
		}
		return nil
	})
	if err != nil {
		return nil, errServer(err, "describe jobs")
	}
	return out, nil
}

type listJobsInput struct {
	JobQueue       string          `json:"jobQueue"`
	ArrayJobID     string          `json:"arrayJobId"`
	MultiNodeJobID string          `json:"multiNodeJobId"`
	JobStatus      string          `json:"jobStatus"`
	MaxResults     *int            `json:"maxResults"`
	NextToken      string          `json:"nextToken"`
	Filters        []keyValuesPair `json:"filters"`
}

type keyValuesPair struct {
	Name   string   `json:"name"`
	Values []string `json:"values"`
}

type listJobsOutput struct {
	JobSummaryList []jobSummary `json:"jobSummaryList"`
	NextToken      string       `json:"nextToken,omitempty"`
}

type jobSummary struct {
	JobArn          string            `json:"jobArn"`
	JobID           string            `json:"jobId"`
	JobName         string            `json:"jobName"`
	CreatedAt       int64             `json:"createdAt"`
	Status          string            `json:"status"`
	StatusReason    string            `json:"statusReason,omitempty"`
	StartedAt       int64             `json:"startedAt,omitempty"`
	StoppedAt       int64             `json:"stoppedAt,omitempty"`
	Container       *containerSummary `json:"container,omitempty"`
	ArrayProperties *arraySummary     `json:"arrayProperties,omitempty"`
	JobDefinition   string            `json:"jobDefinition"`
}

type containerSummary struct {
	ExitCode *int   `json:"exitCode,omitempty"`
	Reason   string `json:"reason,omitempty"`
}

type arraySummary struct {
	Size  int  `json:"size,omitempty"`
	Index *int `json:"index,omitempty"`
}

// jobFilter is one ListJobs filter.
func jobFilter(f keyValuesPair) (func(*jobRecord) bool, error) {
	if len(f.Values) != 1 {
		return nil, errClient("Error executing request, Exception : A filter takes exactly one value")
	}
	v := f.Values[0]
	switch f.Name {
	case "JOB_NAME":
		return func(j *jobRecord) bool { return globMatch(v, j.JobName) }, nil
	case "JOB_DEFINITION":
		return func(j *jobRecord) bool {
			name := nameOf(j.JobDefinition)
			base, _, _ := strings.Cut(name, ":")
			return globMatch(v, j.JobDefinition) || globMatch(v, name) || globMatch(v, base)
		}, nil
	case "BEFORE_CREATED_AT", "AFTER_CREATED_AT":
		t, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			return nil, errClient("Error executing request, Exception : %s takes a time in milliseconds since the epoch", f.Name)
		}
		if f.Name == "BEFORE_CREATED_AT" {
			return func(j *jobRecord) bool { return j.CreatedAt < t }, nil
		}
		return func(j *jobRecord) bool { return j.CreatedAt > t }, nil
	}
	return nil, errClient("Error executing request, Exception : filter name must be JOB_NAME, JOB_DEFINITION, BEFORE_CREATED_AT or AFTER_CREATED_AT")
}

func (a *API) listJobs(ctx context.Context, in *listJobsInput) (*listJobsOutput, error) {
	account, region := partition(ctx)
	given := 0
	for _, s := range []string{in.JobQueue, in.ArrayJobID, in.MultiNodeJobID} {
		if s != "" {
			given++
		}
	}
	if given != 1 {
		return nil, errClient("Error executing request, Exception : Exactly one of jobQueue, arrayJobId and multiNodeJobId must be given")
	}
	if len(in.Filters) > 1 {
		return nil, errClient("Error executing request, Exception : At most one filter may be given")
	}
	status := scheduler.State(in.JobStatus)
	if status != "" && !status.Valid() {
		return nil, errClient("jobStatus %s is not valid", in.JobStatus)
	}
	var keep func(*jobRecord) bool
	if len(in.Filters) == 1 {
		f, err := jobFilter(in.Filters[0])
		if err != nil {
			return nil, err
		}
		keep, status = f, "" // a filter lists every status
	} else if status == "" {
		status = scheduler.Running
	}
	var jobs []*jobRecord
	err := a.store.View(ctx, func(tx store.Tx) error {
		q := store.Query{Kind: kindJob, Account: account, Region: region}
		switch {
		case in.MultiNodeJobID != "":
			return nil // nimbus runs no multinode jobs
		case in.ArrayJobID != "":
			q.Index, q.IndexValue = indexArray, nameOf(in.ArrayJobID)
		default:
			var qr queueRecord
			_, err := tx.Get(store.Key{Account: account, Region: region, Kind: kindQueue, ID: nameOf(in.JobQueue)}, &qr)
			if errors.Is(err, store.ErrNotFound) {
				return errClient("Error executing request, Exception : JobQueue %s not found", in.JobQueue)
			}
			if err != nil {
				return err
			}
			if status != "" {
				q.Index, q.IndexValue = indexQueueStatus, qr.JobQueueArn+"|"+string(status)
			} else {
				arnPrefix := qr.JobQueueArn
				keepFilter := keep
				keep = func(j *jobRecord) bool { return j.JobQueue == arnPrefix && j.ParentID == "" && keepFilter(j) }
			}
		}
		return tx.List(q, func(o store.Object) error {
			var j jobRecord
			if err := o.Decode(&j); err != nil {
				return err
			}
			if status != "" && j.Status != status {
				return nil
			}
			if in.ArrayJobID == "" && j.ParentID != "" {
				return nil // a queue lists array parents, not their children
			}
			if keep != nil && !keep(&j) {
				return nil
			}
			jobs = append(jobs, &j)
			return nil
		})
	})
	if err != nil {
		return nil, asAPIError(err, "list jobs")
	}
	page, next, err := paginate(jobs, in.NextToken, in.MaxResults, func(j *jobRecord) string { return j.JobID })
	if err != nil {
		return nil, err
	}
	out := &listJobsOutput{JobSummaryList: make([]jobSummary, 0, len(page)), NextToken: next}
	for _, j := range page {
		s := jobSummary{JobArn: j.JobArn, JobID: j.JobID, JobName: j.JobName, CreatedAt: j.CreatedAt, Status: string(j.Status),
			StatusReason: j.StatusReason, StartedAt: j.StartedAt, StoppedAt: j.StoppedAt, JobDefinition: j.JobDefinition}
		if j.Container != nil && (j.Container.ExitCode != nil || j.Container.Reason != "") {
			s.Container = &containerSummary{ExitCode: j.Container.ExitCode, Reason: j.Container.Reason}
		}
		if j.ArrayProperties != nil {
			s.ArrayProperties = &arraySummary{Size: j.ArrayProperties.Size, Index: j.ArrayProperties.Index}
		}
		out.JobSummaryList = append(out.JobSummaryList, s)
	}
	return out, nil
}

// globMatch matches Batch's patterns: exact, or a prefix ending in '*'.
func globMatch(pattern, s string) bool {
	if p, ok := strings.CutSuffix(pattern, "*"); ok {
		return strings.HasPrefix(s, p)
	}
	return pattern == s
}

type stopJobInput struct {
	JobID  string `json:"jobId"`
	Reason string `json:"reason"`
}

// cancelJob fails a job that has not started; Batch ignores the call for
// jobs already STARTING or RUNNING (TerminateJob stops those).
func (a *API) cancelJob(ctx context.Context, in *stopJobInput) (*struct{}, error) {
	return a.stopJob(ctx, in, false)
}

// terminateJob fails a job in any unfinished state, stopping its running
// attempt.
func (a *API) terminateJob(ctx context.Context, in *stopJobInput) (*struct{}, error) {
	return a.stopJob(ctx, in, true)
}

func (a *API) stopJob(ctx context.Context, in *stopJobInput, terminate bool) (*struct{}, error) {
	if in.JobID == "" {
		return nil, errClient("jobId is required")
	}
	if in.Reason == "" {
		return nil, errClient("reason is required")
	}
	account, region := partition(ctx)
	var touched []store.Key
	err := a.store.Update(ctx, func(tx store.Tx) error {
		key := store.Key{Account: account, Region: region, Kind: kindJob, ID: nameOf(in.JobID)}
		var job jobRecord
		_, err := tx.Get(key, &job)
		if errors.Is(err, store.ErrNotFound) {
			return errClient("Error executing request, Exception : Job %s not found", in.JobID)
		}
		if err != nil {
			return err
		}
		targets := []*jobRecord{&job}
		if job.isArrayParent() {
			// Stopping an array parent stops its children.
			err := tx.List(store.Query{Kind: kindJob, Account: account, Region: region, Index: indexArray, IndexValue: job.JobID}, func(o store.Object) error {
				var c jobRecord
				if err := o.Decode(&c); err != nil {
					return err
				}
				targets = append(targets, &c)
				return nil
			})
			if err != nil {
				return err
			}
		}
		for _, t := range targets {
			if t.Status.Done() {
				continue
			}
			yes := true
			switch t.Status {
			case scheduler.Starting, scheduler.Running:
				if !terminate {
					continue
				}
				t.IsTerminated, t.StopReason = &yes, in.Reason
			default:
				if terminate {
					t.IsTerminated = &yes
				} else {
					t.IsCancelled = &yes
				}
				if !t.isArrayParent() {
					t.Status, t.StatusReason, t.StoppedAt = scheduler.Failed, in.Reason, millis(a.now())
				}
			}
			if _, err := tx.Put(t.key(), t, 0); err != nil {
				return err
			}
			touched = append(touched, t.key())
		}
		return nil
	})
	if err != nil {
		return nil, asAPIError(err, "stop job %s", in.JobID)
	}
	for _, k := range touched {
		a.ctrl.markDirty(k)
	}
	a.notify()
	return &struct{}{}, nil
}

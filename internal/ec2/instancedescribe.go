package ec2

import (
	"context"

	"github.com/nimbus-dev/nimbus/internal/awserr"
)

type describeInstancesInput struct {
	InstanceIds []string
	Filters     []Filter
	MaxResults  int
	NextToken   string
	DryRun      bool
}

type describeInstancesOutput struct {
	Reservations []reservationView
	NextToken    string `json:",omitempty"`
}

func (e *EC2) describeInstances(ctx context.Context, in *describeInstancesInput) (*describeInstancesOutput, error) {
	if in.DryRun {
		return nil, dryRun()
	}
	page, next, err := e.selectInstances(ctx, instanceSelection{
		InstanceIds: in.InstanceIds, Filters: in.Filters, MaxResults: in.MaxResults, NextToken: in.NextToken,
		Fields: func(inst *instance) fields { return inst.filterFields },
	})
	if err != nil {
		return nil, err
	}
	return &describeInstancesOutput{Reservations: reservationsOf(page), NextToken: next}, nil
}

// instanceSelection is what DescribeInstances and DescribeInstanceStatus
// both ask for: the named instances (every one when none is named), those
// that Keep accepts and the filters match, one page of them.
type instanceSelection struct {
	InstanceIds []string
	Filters     []Filter
	MaxResults  int
	NextToken   string
	// Keep passes over instances before filtering; nil keeps them all.
	Keep func(*instance) bool
	// Fields answers the filter names of one instance.
	Fields func(*instance) fields
}

// selectInstances returns the page sel asks for and the next page's token.
func (e *EC2) selectInstances(ctx context.Context, sel instanceSelection) ([]*instance, string, error) {
	if sel.MaxResults != 0 && len(sel.InstanceIds) > 0 {
		return nil, "", awserr.New(awserr.Validation, "InvalidParameterCombination",
			"The parameter instancesSet cannot be used with the parameter maxResults")
	}
	if err := checkMaxResults(sel.MaxResults, 5, 1000); err != nil {
		return nil, "", err
	}
	account, reg := partition(ctx)
	idOf := func(i *instance) string { return i.InstanceId }
	if len(sel.InstanceIds) == 0 && len(sel.Filters) == 0 && sel.Keep == nil && sel.MaxResults > 0 {
		// A page of everything: read just the page, and one more to know
		// whether another follows.
		after := ""
		if sel.NextToken != "" {
			var err error
			if after, err = decodePageToken(sel.NextToken); err != nil {
				return nil, "", err
			}
		}
		items, err := e.instanceCache.page(ctx, e.store, account, reg, after, sel.MaxResults+1)
		if err != nil {
			return nil, "", awserr.Internalf(err, "list instances")
		}
		return paginate(items, sel.MaxResults, "", idOf)
	}
	var chosen []*instance
	var err error
	if len(sel.InstanceIds) == 0 {
		// Every instance, from the cache: the slice is shared, so what
		// follows builds new ones rather than filter it in place.
		chosen, err = e.instanceCache.load(ctx, e.store, account, reg)
		if err != nil {
			return nil, "", awserr.Internalf(err, "list instances")
		}
	} else if chosen, err = e.chooseInstances(ctx, account, reg, sel.InstanceIds); err != nil {
		return nil, "", err
	}
	if sel.Keep != nil {
		var kept []*instance
		for _, inst := range chosen {
			if sel.Keep(inst) {
				kept = append(kept, inst)
			}
		}
		chosen = kept
	}
	matched := chosen
	if len(sel.Filters) > 0 {
		matched, err = matching(chosen, sel.Filters, sel.Fields, func(inst *instance) []Tag { return inst.Tags })
		if err != nil {
			return nil, "", err
		}
	}
	return paginate(matched, sel.MaxResults, sel.NextToken, idOf)
}

type describeInstanceStatusInput struct {
	InstanceIds         []string
	Filters             []Filter
	MaxResults          int
	NextToken           string
	IncludeAllInstances bool
	DryRun              bool
}

type statusDetail struct {
	Name   string
	Status string
}

type statusSummary struct {
	Details []statusDetail
	Status  string
}

type instanceStatusView struct {
	AvailabilityZone string
	InstanceId       string
	InstanceState    instanceStateView
	InstanceStatus   statusSummary
	SystemStatus     statusSummary
	Events           []struct{}
}

type describeInstanceStatusOutput struct {
	InstanceStatuses []instanceStatusView
	NextToken        string `json:",omitempty"`
}

func (e *EC2) describeInstanceStatus(ctx context.Context, in *describeInstanceStatusInput) (*describeInstanceStatusOutput, error) {
	if in.DryRun {
		return nil, dryRun()
	}
	page, next, err := e.selectInstances(ctx, instanceSelection{
		InstanceIds: in.InstanceIds, Filters: in.Filters, MaxResults: in.MaxResults, NextToken: in.NextToken,
		Keep:   func(inst *instance) bool { return in.IncludeAllInstances || inst.State == stateRunning },
		Fields: func(inst *instance) fields { return inst.statusFilterFields },
	})
	if err != nil {
		return nil, err
	}
	out := &describeInstanceStatusOutput{InstanceStatuses: []instanceStatusView{}, NextToken: next}
	for _, inst := range page {
		summary := statusSummary{Status: inst.healthStatus(), Details: []statusDetail{{Name: "reachability", Status: inst.reachability()}}}
		if summary.Status == "not-applicable" {
			summary.Details = nil
		}
		out.InstanceStatuses = append(out.InstanceStatuses, instanceStatusView{
			AvailabilityZone: inst.AvailabilityZone, InstanceId: inst.InstanceId, InstanceState: stateView(inst.State),
			InstanceStatus: summary, SystemStatus: summary,
		})
	}
	return out, nil
}

// healthStatus is the status check summary: a running sandbox passes.
func (in *instance) healthStatus() string {
	if in.State == stateRunning {
		return "ok"
	}
	return "not-applicable"
}

func (in *instance) reachability() string {
	if in.State == stateRunning {
		return "passed"
	}
	return "not-applicable"
}

// statusFilterFields answers DescribeInstanceStatus' filter names: the
// status checks' own, then DescribeInstances'.
func (in *instance) statusFilterFields(name string) ([]string, bool) {
	switch name {
	case "instance-status.status", "system-status.status":
		return []string{in.healthStatus()}, true
	case "instance-status.reachability", "system-status.reachability":
		return []string{in.reachability()}, true
	}
	return in.filterFields(name)
}

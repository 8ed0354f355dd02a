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
	if in.MaxResults != 0 && len(in.InstanceIds) > 0 {
		return nil, awserr.New(awserr.Validation, "InvalidParameterCombination",
			"The parameter instancesSet cannot be used with the parameter maxResults")
	}
	if err := checkMaxResults(in.MaxResults, 5, 1000); err != nil {
		return nil, err
	}
	account, reg := partition(ctx)
	chosen, err := e.chooseInstances(ctx, account, reg, in.InstanceIds)
	if err != nil {
		return nil, err
	}
	var matched []*instance
	for _, inst := range chosen {
		ok, err := matchFilters(in.Filters, inst.filterFields, inst.Tags)
		if err != nil {
			return nil, err
		}
		if ok {
			matched = append(matched, inst)
		}
	}
	page, next, err := paginate(matched, in.MaxResults, in.NextToken, func(i *instance) string { return i.InstanceId })
	if err != nil {
		return nil, err
	}
	return &describeInstancesOutput{Reservations: reservationsOf(page), NextToken: next}, nil
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
	if in.MaxResults != 0 && len(in.InstanceIds) > 0 {
		return nil, awserr.New(awserr.Validation, "InvalidParameterCombination",
			"The parameter instancesSet cannot be used with the parameter maxResults")
	}
	if err := checkMaxResults(in.MaxResults, 5, 1000); err != nil {
		return nil, err
	}
	account, reg := partition(ctx)
	chosen, err := e.chooseInstances(ctx, account, reg, in.InstanceIds)
	if err != nil {
		return nil, err
	}
	var matched []*instance
	for _, inst := range chosen {
		if !in.IncludeAllInstances && inst.State != stateRunning {
			continue
		}
		ok, err := matchFilters(in.Filters, func(name string) ([]string, bool) {
			switch name {
			case "instance-status.status", "system-status.status":
				return []string{inst.healthStatus()}, true
			case "instance-status.reachability", "system-status.reachability":
				return []string{inst.reachability()}, true
			}
			return inst.filterFields(name)
		}, inst.Tags)
		if err != nil {
			return nil, err
		}
		if ok {
			matched = append(matched, inst)
		}
	}
	page, next, err := paginate(matched, in.MaxResults, in.NextToken, func(i *instance) string { return i.InstanceId })
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

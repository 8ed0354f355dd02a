package ec2

import (
	"context"
	"slices"
	"strings"

	"github.com/nimbus-dev/nimbus/internal/awserr"
	"github.com/nimbus-dev/nimbus/internal/store"
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
	chosen, err := e.candidates(ctx, account, reg, sel)
	if err != nil {
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

// candidates returns, sorted by ID, the instances sel's answer is drawn
// from: those it names, those its instance-id filter names, or else every
// instance of the partition, which the cache shares: what follows builds
// new slices rather than filter it in place.
func (e *EC2) candidates(ctx context.Context, account, reg string, sel instanceSelection) ([]*instance, error) {
	if len(sel.InstanceIds) > 0 {
		return e.chooseInstances(ctx, account, reg, sel.InstanceIds)
	}
	if ids, ok := namedByFilter(sel.Filters, sel.Fields); ok {
		var named []*instance
		err := e.store.View(ctx, func(tx store.Tx) error {
			var err error
			named, _, _, err = getInstances(tx, account, reg, ids)
			return err
		})
		if err != nil {
			return nil, awserr.Internalf(err, "read instances")
		}
		sortByKey(named, func(i *instance) string { return i.InstanceId })
		return named, nil
	}
	all, err := e.instanceCache.load(ctx, e.store, account, reg)
	if err != nil {
		return nil, awserr.Internalf(err, "list instances")
	}
	return all, nil
}

// namedByFilter returns the IDs an instance-id filter names, when it names
// them exactly (no wildcards) and every filter's name is known. Then no
// other instance can match, and no filter can fail on one that is read:
// reading only the named instances answers what reading them all would.
func namedByFilter(filters []Filter, fieldsOf func(*instance) fields) ([]string, bool) {
	var ids []string
	named := false
	probe := fieldsOf(&instance{})
	for _, f := range filters {
		switch {
		case strings.HasPrefix(f.Name, "tag:") || f.Name == "tag-key" || f.Name == "tag-value":
			continue
		case f.Name == "instance-id" && !named:
			if slices.ContainsFunc(f.Values, func(v string) bool { return strings.ContainsAny(v, "*?") }) {
				return nil, false
			}
			ids, named = f.Values, true
		}
		if _, known := probe(f.Name); !known {
			return nil, false
		}
	}
	return ids, named
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

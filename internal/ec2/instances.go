package ec2

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"regexp"
	"slices"
	"sort"
	"strings"

	"github.com/nimbus-dev/nimbus/internal/awserr"
	"github.com/nimbus-dev/nimbus/internal/service"
	"github.com/nimbus-dev/nimbus/internal/store"
)

// registerInstances wires the instance API and the hooks through which
// security groups and tags reach instances.
func (e *EC2) registerInstances(svc *service.Service) {
	e.kinds = append(e.kinds, kindInstance, kindConsole)
	e.groupMembers = e.instanceIPsInGroup
	e.onGroupChanged = e.reapplyFirewalls
	e.registerTagger("i-", tagger{ResourceType: "instance", Apply: e.tagInstance, List: e.listInstanceTags})
	svc.Handle("RunInstances", service.Op(e.runInstances))
	svc.Handle("DescribeInstances", service.Op(e.describeInstances))
	svc.Handle("DescribeInstanceStatus", service.Op(e.describeInstanceStatus))
	svc.Handle("StartInstances", service.Op(e.startInstances))
	svc.Handle("StopInstances", service.Op(e.stopInstances))
	svc.Handle("RebootInstances", service.Op(e.rebootInstances))
	svc.Handle("TerminateInstances", service.Op(e.terminateInstances))
	svc.Handle("GetConsoleOutput", service.Op(e.getConsoleOutput))
	svc.Handle("ModifyInstanceAttribute", service.Op(e.modifyInstanceAttribute))
	svc.Handle("DescribeInstanceAttribute", service.Op(e.describeInstanceAttribute))
}

var instanceIDPattern = regexp.MustCompile(`^i-([0-9a-f]{8}|[0-9a-f]{17})$`)

func validInstanceIDs(ids []string) error {
	for _, id := range ids {
		if !instanceIDPattern.MatchString(id) {
			return awserr.New(awserr.Validation, "InvalidInstanceID.Malformed", "Invalid id: \"%s\"", id)
		}
	}
	return nil
}

func instancesNotFound(ids []string) error {
	if len(ids) == 1 {
		return awserr.New(awserr.NotFound, "InvalidInstanceID.NotFound", "The instance ID '%s' does not exist", ids[0])
	}
	return awserr.New(awserr.NotFound, "InvalidInstanceID.NotFound", "The instance IDs '%s' do not exist", strings.Join(ids, ", "))
}

// loadInstances returns the partition's instances, sorted by ID.
func (e *EC2) loadInstances(ctx context.Context, account, reg string) ([]*instance, error) {
	var out []*instance
	err := e.store.View(ctx, func(tx store.Tx) error {
		return tx.List(store.Query{Kind: kindInstance, Account: account, Region: reg}, func(o store.Object) error {
			var inst instance
			if err := o.Decode(&inst); err != nil {
				return fmt.Errorf("decode instance %s: %w", o.Key.ID, err)
			}
			out = append(out, &inst)
			return nil
		})
	})
	if err != nil {
		return nil, awserr.Internalf(err, "list instances")
	}
	return out, nil
}

// chooseInstances returns the named instances (every one must exist), read
// one by one so that a waiter polling a few instances costs the same however
// many the account has, or every instance of the partition when none is named.
func (e *EC2) chooseInstances(ctx context.Context, account, reg string, ids []string) ([]*instance, error) {
	if len(ids) == 0 {
		return e.loadInstances(ctx, account, reg)
	}
	if err := validInstanceIDs(ids); err != nil {
		return nil, err
	}
	var out []*instance
	var missing []string
	err := e.store.View(ctx, func(tx store.Tx) error {
		var err error
		out, _, missing, err = getInstances(tx, account, reg, ids)
		return err
	})
	if err != nil {
		return nil, awserr.Internalf(err, "read instances")
	}
	if len(missing) > 0 {
		return nil, instancesNotFound(missing)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].InstanceId < out[j].InstanceId })
	return out, nil
}

// getInstances reads the named instances in tx, each once however often it
// is named, with the versions to write them back at; missing holds the IDs
// that have no record.
func getInstances(tx store.Tx, account, reg string, ids []string) (found []*instance, metas []store.Meta, missing []string, err error) {
	seen := map[string]bool{}
	for _, id := range ids {
		if seen[id] {
			continue
		}
		seen[id] = true
		var inst instance
		meta, err := tx.Get(store.Key{Account: account, Region: reg, Kind: kindInstance, ID: id}, &inst)
		switch {
		case errors.Is(err, store.ErrNotFound):
			missing = append(missing, id)
		case err != nil:
			return nil, nil, nil, err
		default:
			found = append(found, &inst)
			metas = append(metas, meta)
		}
	}
	return found, metas, missing, nil
}

// ---- hooks for security groups and tags ----

// instanceIPsInGroup is e.groupMembers: the addresses of the running
// instances in a group.
func (e *EC2) instanceIPsInGroup(ctx context.Context, account, reg, groupID string) ([]netip.Addr, error) {
	all, err := e.loadInstances(ctx, account, reg)
	if err != nil {
		return nil, err
	}
	var out []netip.Addr
	for _, inst := range all {
		if inst.State != stateRunning && inst.State != statePending && inst.State != stateStopping {
			continue
		}
		if !slices.ContainsFunc(inst.SecurityGroups, func(g groupIdentifier) bool { return g.GroupId == groupID }) {
			continue
		}
		if ip, err := netip.ParseAddr(inst.PrivateIpAddress); err == nil {
			out = append(out, ip)
		}
	}
	return out, nil
}

func (e *EC2) tagInstance(ctx context.Context, account, reg, id string, set, remove []Tag) error {
	err := e.store.Update(ctx, func(tx store.Tx) error {
		return retagStored(tx, store.Key{Account: account, Region: reg, Kind: kindInstance, ID: id},
			func() error { return instancesNotFound([]string{id}) }, func(i *instance) *[]Tag { return &i.Tags }, set, remove)
	})
	return asAPIErrorOrNil(err, "tag instance")
}

func (e *EC2) listInstanceTags(ctx context.Context, account, reg string) ([]TaggedResource, error) {
	all, err := e.loadInstances(ctx, account, reg)
	if err != nil {
		return nil, err
	}
	var out []TaggedResource
	for _, inst := range all {
		if len(inst.Tags) > 0 {
			out = append(out, TaggedResource{ResourceId: inst.InstanceId, ResourceType: "instance", Tags: inst.Tags})
		}
	}
	return out, nil
}

package batch

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/nimbus-dev/nimbus/internal/batch/scheduler"
	"github.com/nimbus-dev/nimbus/internal/identity"
	"github.com/nimbus-dev/nimbus/internal/service"
	"github.com/nimbus-dev/nimbus/internal/store"
)

// EC2Handlers is the EC2 API's operation handlers (*service.Service has
// them). Given one, an EC2 or SPOT compute environment launches instances
// through EC2's own RunInstances, so they show in DescribeInstances and are
// billed as EC2, and terminates them down to minvCpus when idle. Jobs still
// run in sandboxes of their own (one per attempt); the instances stand for
// the capacity they use.
type EC2Handlers interface {
	Handler(op string) (service.Handler, bool)
}

const (
	// batchTag names the compute environment an instance belongs to, as
	// Batch tags the instances it launches.
	batchTag = "AWSBatchServiceTag"
	// optimalType is what instanceTypes "optimal" launches.
	optimalType = "m5.large"
	// scaleEvery spaces the scaler's passes.
	scaleEvery = time.Second
)

// scaler keeps each EC2 compute environment's instances at what its jobs
// use, never below minvCpus nor above maxvCpus. It runs inside the
// controller's goroutine.
type scaler struct {
	ec2    EC2Handlers
	last   time.Time
	vcpus  map[string]int    // instance type -> vCPUs
	amis   map[string]string // region -> busybox AMI
	failed map[string]string // compute environment -> last error, logged once
	// hosts is which instance each running attempt counts against, so the
	// loss of an instance (a spot interruption) ends the attempts on it.
	// It is filled as instances come up and rebuilt after a restart.
	hosts map[store.Key]string
	// seen is each compute environment's instances at the last pass.
	seen map[string][]string
}

func newScaler(h EC2Handlers) *scaler {
	return &scaler{ec2: h, vcpus: map[string]int{}, amis: map[string]string{}, failed: map[string]string{},
		hosts: map[store.Key]string{}, seen: map[string][]string{}}
}

// asRoot is a context acting as the account's root user in region, as
// Batch's service-linked role acts for the account.
func asRoot(ctx context.Context, account, region string) context.Context {
	return identity.With(ctx, &identity.Call{Service: "ec2", Region: region, Principal: &identity.Principal{
		Type: identity.Root, Account: account, ARN: "arn:aws:iam::" + account + ":root", UserID: account, Name: "root"}})
}

// call runs an EC2 operation and decodes its answer into out.
func (s *scaler) call(ctx context.Context, op string, in map[string]any, out any) error {
	h, ok := s.ec2.Handler(op)
	if !ok {
		return fmt.Errorf("EC2 has no %s", op)
	}
	res, err := h(ctx, in)
	if err != nil {
		return fmt.Errorf("%s: %w", op, err)
	}
	if out == nil {
		return nil
	}
	raw, err := json.Marshal(res)
	if err != nil {
		return fmt.Errorf("%s: encode answer: %w", op, err)
	}
	return json.Unmarshal(raw, out)
}

type ec2Instance struct {
	InstanceID   string `json:"InstanceId"`
	InstanceType string
	LaunchTime   time.Time
	State        struct{ Name string }
	StateReason  *struct{ Code string }
}

// instances lists a compute environment's pending and running instances.
func (s *scaler) instances(ctx context.Context, ce string) ([]ec2Instance, error) {
	var out struct {
		Reservations []struct{ Instances []ec2Instance }
	}
	err := s.call(ctx, "DescribeInstances", map[string]any{"Filters": []any{
		map[string]any{"Name": "tag:" + batchTag, "Values": []any{ce}},
		map[string]any{"Name": "instance-state-name", "Values": []any{"pending", "running"}},
	}}, &out)
	var list []ec2Instance
	for _, r := range out.Reservations {
		list = append(list, r.Instances...)
	}
	return list, err
}

func (s *scaler) typeVCPUs(ctx context.Context, typ string) (int, error) {
	if n, ok := s.vcpus[typ]; ok {
		return n, nil
	}
	var out struct {
		InstanceTypes []struct{ VCpuInfo struct{ DefaultVCpus int } }
	}
	if err := s.call(ctx, "DescribeInstanceTypes", map[string]any{"InstanceTypes": []any{typ}}, &out); err != nil {
		return 0, err
	}
	if len(out.InstanceTypes) == 0 || out.InstanceTypes[0].VCpuInfo.DefaultVCpus <= 0 {
		return 0, fmt.Errorf("instance type %s has no vCPU count", typ)
	}
	s.vcpus[typ] = out.InstanceTypes[0].VCpuInfo.DefaultVCpus
	return s.vcpus[typ], nil
}

// image is the AMI instances boot: the environment's imageId, else the
// built-in busybox AMI.
func (s *scaler) image(ctx context.Context, region string, cr *computeResources) (string, error) {
	if cr.ImageID != "" {
		return cr.ImageID, nil
	}
	if ami, ok := s.amis[region]; ok {
		return ami, nil
	}
	var out struct {
		Images []struct{ ImageId string }
	}
	err := s.call(ctx, "DescribeImages", map[string]any{"Owners": []any{"amazon"},
		"Filters": []any{map[string]any{"Name": "name", "Values": []any{"nimbus-busybox-*"}}}}, &out)
	if err != nil {
		return "", err
	}
	if len(out.Images) == 0 {
		return "", fmt.Errorf("no busybox AMI for the instances (busybox-static is not installed)")
	}
	s.amis[region] = out.Images[0].ImageId
	return s.amis[region], nil
}

// instanceType is the type an environment launches: its first named type,
// "optimal" (or a bare family) as m5.large.
func instanceType(cr *computeResources) string {
	for _, t := range cr.InstanceTypes {
		if t != "optimal" && strings.Contains(t, ".") {
			return t
		}
	}
	return optimalType
}

// scale brings every EC2 and SPOT compute environment's instances to
// what its running jobs use.
func (c *controller) scale(ctx context.Context, ces []*computeEnvRecord) {
	s := c.scaler
	if s == nil {
		return
	}
	// A compute environment being deleted loses its instances at once,
	// before the controller forgets it.
	urgent := slices.ContainsFunc(ces, func(ce *computeEnvRecord) bool { return ce.Status == "DELETING" || ce.Status == "DELETED" })
	if !urgent && c.api.now().Sub(s.last) < scaleEvery {
		return
	}
	s.last = c.api.now()
	for _, ce := range ces {
		cr := ce.ComputeResources
		if cr == nil || (cr.Type != "EC2" && cr.Type != "SPOT") {
			continue
		}
		account, region, name := splitKey(ce.ComputeEnvironmentArn) // account/region/name, as syncConfig keeps it
		err := c.scaleOne(asRoot(ctx, account, region), ce, region, name)
		switch {
		case err != nil && s.failed[name] != err.Error():
			s.failed[name] = err.Error()
			c.api.log.Warn("batch: scale compute environment instances", "computeEnvironment", name, "err", err)
		case err == nil:
			delete(s.failed, name)
		}
	}
}

func (c *controller) scaleOne(ctx context.Context, ce *computeEnvRecord, region, name string) error {
	s := c.scaler
	cr := ce.ComputeResources
	typ := instanceType(cr)
	per, err := s.typeVCPUs(ctx, typ)
	if err != nil {
		return err
	}
	used := c.sched.Used(ce.ComputeEnvironmentArn).MilliCPU
	want := int((used + 999) / 1000)
	if cr.MinvCpus != nil {
		want = max(want, *cr.MinvCpus)
	}
	if cr.MaxvCpus != nil {
		want = min(want, *cr.MaxvCpus)
	}
	if ce.Status == "DELETING" || ce.Status == "DELETED" {
		want = 0
	}
	have, err := s.instances(ctx, name)
	if err != nil {
		return err
	}
	c.placeOnHosts(ctx, ce, name, have, per)
	switch wantN := (want + per - 1) / per; {
	case wantN > len(have):
		ami, err := s.image(ctx, region, cr)
		if err != nil {
			return err
		}
		n := wantN - len(have)
		tags := []any{map[string]any{"Key": batchTag, "Value": name}}
		for k, v := range cr.Tags {
			tags = append(tags, map[string]any{"Key": k, "Value": v})
		}
		in := map[string]any{"ImageId": ami, "InstanceType": typ, "MinCount": n, "MaxCount": n,
			"TagSpecifications": []any{map[string]any{"ResourceType": "instance", "Tags": tags}}}
		if cr.Type == "SPOT" {
			in["InstanceMarketOptions"] = map[string]any{"MarketType": "spot"}
		}
		return s.call(ctx, "RunInstances", in, nil)
	case wantN < len(have):
		// Idle instances go first, then the newest, as an Auto Scaling
		// group scales in.
		busy := map[string]bool{}
		for _, id := range s.hosts {
			busy[id] = true
		}
		slices.SortFunc(have, func(a, b ec2Instance) int {
			if busy[a.InstanceID] != busy[b.InstanceID] {
				if busy[a.InstanceID] {
					return 1
				}
				return -1
			}
			return b.LaunchTime.Compare(a.LaunchTime)
		})
		ids := []any{}
		for _, inst := range have[:len(have)-wantN] {
			ids = append(ids, inst.InstanceID)
		}
		return s.call(ctx, "TerminateInstances", map[string]any{"InstanceIds": ids}, nil)
	}
	return nil
}

// placeOnHosts keeps the attempts running in a compute environment
// assigned to its instances: the attempts on an instance that a spot
// interruption took end with Batch's "Host EC2 (instance ...) terminated."
// (their retry strategy decides what follows), and attempts with no
// instance yet take room on one, first fit. An instance gone for another
// reason (scale-in, a user's terminate) only frees its attempts for
// another instance.
func (c *controller) placeOnHosts(ctx context.Context, ce *computeEnvRecord, name string, have []ec2Instance, per int) {
	s := c.scaler
	up := map[string]bool{}
	for _, in := range have {
		up[in.InstanceID] = true
	}
	arn := ce.ComputeEnvironmentArn
	for _, id := range s.seen[arn] {
		if up[id] {
			continue
		}
		if !s.interrupted(ctx, id) {
			continue
		}
		for k, host := range s.hosts {
			if host != id {
				continue
			}
			if at, ok := c.attempts[k]; ok {
				c.api.log.Info("batch: attempt lost with its spot instance", "job", k.ID, "instance", id)
				at.hostLost(reasonHostTerminated(id))
			}
			delete(s.hosts, k)
		}
	}
	s.seen[arn] = s.seen[arn][:0]
	for _, in := range have {
		s.seen[arn] = append(s.seen[arn], in.InstanceID)
	}
	// Room left on each running instance, in milli-vCPUs.
	room := map[string]int64{}
	for _, in := range have {
		if in.State.Name == "running" {
			room[in.InstanceID] = int64(per) * 1000
		}
	}
	account, region, _ := splitKey(arn)
	var unplaced []store.Key
	for k, j := range c.active {
		if k.Account != account || k.Region != region || j.ComputeEnv != name ||
			(j.Status != scheduler.Running && j.Status != scheduler.Starting) {
			continue
		}
		host, ok := s.hosts[k]
		if ok && up[host] {
			room[host] -= c.schedJob(j).Need.MilliCPU
			continue
		}
		delete(s.hosts, k)
		unplaced = append(unplaced, k)
	}
	slices.SortFunc(unplaced, func(a, b store.Key) int { return strings.Compare(a.ID, b.ID) })
	for _, k := range unplaced {
		need := c.schedJob(c.active[k]).Need.MilliCPU
		// First fit; a job larger than any one instance counts against
		// the one with the most room.
		best := ""
		for _, in := range have {
			r, ok := room[in.InstanceID]
			if !ok {
				continue
			}
			if r >= need {
				best = in.InstanceID
				break
			}
			if best == "" || r > room[best] {
				best = in.InstanceID
			}
		}
		if best != "" {
			room[best] -= need
			s.hosts[k] = best
		}
	}
	// Attempts that ended no longer hold an instance.
	for k := range s.hosts {
		if _, ok := c.attempts[k]; !ok {
			delete(s.hosts, k)
		}
	}
}

// interrupted reports whether EC2 ended an instance by a spot
// interruption.
func (s *scaler) interrupted(ctx context.Context, id string) bool {
	var out struct {
		Reservations []struct{ Instances []ec2Instance }
	}
	if err := s.call(ctx, "DescribeInstances", map[string]any{"InstanceIds": []any{id}}, &out); err != nil {
		return false
	}
	for _, r := range out.Reservations {
		for _, in := range r.Instances {
			if in.StateReason != nil && in.StateReason.Code == "Server.SpotInstanceTermination" {
				return true
			}
		}
	}
	return false
}

package ec2

import (
	"context"
	"encoding/base64"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/nimbus-dev/nimbus/internal/awserr"
	"github.com/nimbus-dev/nimbus/internal/identity"
	"github.com/nimbus-dev/nimbus/internal/region"
	"github.com/nimbus-dev/nimbus/internal/sandbox/fake"
	"github.com/nimbus-dev/nimbus/internal/service"
	"github.com/nimbus-dev/nimbus/internal/store"
	"github.com/nimbus-dev/nimbus/internal/store/sqlitestore"
	"github.com/nimbus-dev/nimbus/internal/substrate"
)

const testAccount = "000000000000"

// instanceHarness is EC2 over a fake-driver substrate with its instance
// controller running.
type instanceHarness struct {
	t       *testing.T
	ctx     context.Context // carries the caller's identity
	e       *EC2
	st      store.Store
	fakes   *fake.Host
	dataDir string
	host    *substrate.Host
	ctrl    *InstanceController
	stop    func()
	amiID   string
	// capacity and spotWarning configure EC2 at open; zero takes defaults.
	capacity    Capacity
	spotWarning time.Duration
	// profiles is IAM for instance profiles; nil runs without it.
	profiles InstanceProfiles
}

func newInstanceHarness(t *testing.T, opts ...func(*instanceHarness)) *instanceHarness {
	t.Helper()
	h := &instanceHarness{t: t, st: sqlitestore.OpenTemp(t), fakes: fake.NewHost(), dataDir: t.TempDir()}
	// Tests of other things than capacity launch freely.
	h.capacity = Capacity{VCPUs: 1024, MemoryMiB: 1 << 22, GPUs: 64}
	for _, o := range opts {
		o(h)
	}
	h.ctx = identity.With(context.Background(), &identity.Call{Region: "us-east-1",
		Principal: &identity.Principal{Type: identity.Root, Account: testAccount}})
	h.open()
	amis, err := h.e.builtinAMIs(h.ctx, "us-east-1")
	if err != nil || len(amis) == 0 {
		t.Fatalf("no built-in AMI (busybox-static is needed): %v", err)
	}
	h.amiID = amis[0].ImageId
	return h
}

// open starts a host and controller over the harness's store and fake host,
// as a nimbus start does.
func (h *instanceHarness) open() {
	t := h.t
	host, err := substrate.Open(context.Background(), substrate.Options{DataDir: h.dataDir, Store: h.st,
		SandboxDriver: fake.New(fake.WithHost(h.fakes))})
	if err != nil {
		t.Fatal(err)
	}
	h.host = host
	regions, _ := region.NewCatalog(nil, false)
	svc, err := service.New("ec2")
	if err != nil {
		t.Fatal(err)
	}
	h.e = &EC2{store: h.st, regions: regions, host: host, profiles: h.profiles}
	h.e.setCapacity(h.capacity, h.spotWarning)
	h.e.registerCatalog(svc)
	h.e.registerInstances(svc)
	h.e.registerVolumes(svc)
	h.e.registerSpot(svc)
	h.ctrl, err = NewInstanceController(InstanceControllerOptions{Store: h.st, Regions: regions, Host: host,
		DataDir: h.dataDir, StopGrace: 100 * time.Millisecond, Capacity: h.capacity, InstanceProfiles: h.profiles})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- h.ctrl.Run(ctx) }()
	stopped := false
	h.stop = func() {
		if stopped {
			return
		}
		stopped = true
		cancel()
		if err := <-done; err != nil {
			t.Errorf("controller: %v", err)
		}
		host.Close()
	}
	t.Cleanup(h.stop)
}

func (h *instanceHarness) run(in *runInstancesInput) *reservationView {
	h.t.Helper()
	if in.ImageId == "" {
		in.ImageId = h.amiID
	}
	if in.MinCount == 0 {
		in.MinCount, in.MaxCount = 1, 1
	}
	out, err := h.e.runInstances(h.ctx, in)
	if err != nil {
		h.t.Fatalf("RunInstances: %v", err)
	}
	return out
}

func (h *instanceHarness) describe(id string) instanceView {
	h.t.Helper()
	out, err := h.e.describeInstances(h.ctx, &describeInstancesInput{InstanceIds: []string{id}})
	if err != nil {
		h.t.Fatalf("DescribeInstances %s: %v", id, err)
	}
	return out.Reservations[0].Instances[0]
}

// waitState polls DescribeInstances as the CLI waiters do.
func (h *instanceHarness) waitState(id, state string) instanceView {
	h.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		v := h.describe(id)
		if v.State.Name == state {
			return v
		}
		if time.Now().After(deadline) {
			h.t.Fatalf("instance %s is %s, want %s", id, v.State.Name, state)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func (h *instanceHarness) record(id string) *instance {
	h.t.Helper()
	var inst instance
	err := h.st.View(context.Background(), func(tx store.Tx) error {
		_, err := tx.Get(store.Key{Account: testAccount, Region: "us-east-1", Kind: kindInstance, ID: id}, &inst)
		return err
	})
	if err != nil {
		h.t.Fatal(err)
	}
	return &inst
}

func (h *instanceHarness) console(id string) string {
	h.t.Helper()
	out, err := h.e.getConsoleOutput(h.ctx, &getConsoleOutputInput{InstanceId: id})
	if err != nil {
		h.t.Fatal(err)
	}
	raw, err := base64.StdEncoding.DecodeString(out.Output)
	if err != nil {
		h.t.Fatal(err)
	}
	return string(raw)
}

func wantErr(t *testing.T, err error, code string) {
	t.Helper()
	ae := awserr.As(err)
	if ae == nil || awserr.Resolve(awserr.FamilyEC2, ae).Code != code {
		t.Errorf("error = %v, want code %s", err, code)
	}
}

func TestInstanceLifecycle(t *testing.T) {
	h := newInstanceHarness(t)
	if _, err := h.e.importKeyPair(h.ctx, &importKeyPairInput{KeyName: "k",
		PublicKeyMaterial: []byte("ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl me")}); err != nil {
		t.Fatal(err)
	}
	userData := base64.StdEncoding.EncodeToString([]byte("#!/bin/sh\necho hello\n"))
	res := h.run(&runInstancesInput{InstanceType: "t3.small", KeyName: "k", UserData: userData, MinCount: 1, MaxCount: 2,
		TagSpecifications: []TagSpecification{{ResourceType: "instance", Tags: []Tag{{"Name", "web"}}}}})
	if len(res.Instances) != 2 || res.OwnerId != testAccount || !strings.HasPrefix(res.ReservationId, "r-") {
		t.Fatalf("reservation = %+v", res)
	}
	first := res.Instances[0]
	if first.State != (instanceStateView{0, "pending"}) || first.StateReason == nil || first.StateReason.Code != "pending" ||
		first.InstanceType != "t3.small" || first.Placement.AvailabilityZone != "us-east-1a" || first.KeyName != "k" ||
		first.SubnetId == "" || first.VpcId == "" || len(first.SecurityGroups) != 1 || first.SecurityGroups[0].GroupName != "default" ||
		first.Tags[0] != (Tag{"Name", "web"}) || first.RootDeviceName != "/dev/xvda" || first.CpuOptions.CoreCount != 1 {
		t.Errorf("pending instance = %+v", first)
	}
	id := first.InstanceId
	running := h.waitState(id, "running")
	if running.State.Code != 16 || running.StateReason != nil || running.PrivateIpAddress == "" ||
		!strings.HasSuffix(running.PrivateDnsName, ".ec2.internal") || len(running.NetworkInterfaces) != 1 ||
		running.NetworkInterfaces[0].MacAddress == "" || running.NetworkInterfaces[0].PrivateIpAddress != running.PrivateIpAddress {
		t.Errorf("running instance = %+v", running)
	}
	sb, err := h.host.Get(context.Background(), id)
	if err != nil {
		t.Fatalf("running instance has no sandbox: %v", err)
	}
	if sb.Owner != (substrate.Owner{Kind: "ec2-instance", Account: testAccount, Region: "us-east-1", ResourceID: id}) {
		t.Errorf("sandbox owner = %+v", sb.Owner)
	}
	if boot, err := os.ReadFile(filepath.Join(h.dataDir, "ec2", "instances", id, "boot", bootFileKeys)); err != nil ||
		!strings.HasPrefix(string(boot), "ssh-ed25519 ") {
		t.Errorf("authorized_keys for the instance = %q, %v", boot, err)
	}
	if c := h.console(id); !strings.Contains(c, "nimbus-init: instance "+id+" booting") {
		t.Errorf("console = %q", c)
	}

	// Stop: the sandbox goes, the root stays, the console is kept.
	stop, err := h.e.stopInstances(h.ctx, &instanceIDsInput{InstanceIds: []string{id}})
	if err != nil {
		t.Fatal(err)
	}
	if c := stop.StoppingInstances[0]; c.PreviousState.Name != "running" || c.CurrentState != (instanceStateView{64, "stopping"}) {
		t.Errorf("stop change = %+v", c)
	}
	stopped := h.waitState(id, "stopped")
	if stopped.State.Code != 80 || stopped.StateReason == nil || stopped.StateReason.Code != "Client.UserInitiatedShutdown" ||
		!strings.HasPrefix(stopped.StateTransitionReason, "User initiated (") || !strings.HasSuffix(stopped.StateTransitionReason, " GMT)") {
		t.Errorf("stopped instance = %+v", stopped)
	}
	if _, err := h.host.Get(context.Background(), id); !errors.Is(err, substrate.ErrNotFound) {
		t.Errorf("stopped instance still has a sandbox: %v", err)
	}
	rootDir := filepath.Join(h.dataDir, "ec2", "instances", id, "root")
	if _, err := os.Stat(rootDir); err != nil {
		t.Errorf("root volume of a stopped instance: %v", err)
	}
	if c := h.console(id); !strings.Contains(c, "booting") {
		t.Errorf("console after stop = %q", c)
	}
	// Stop again: no change, no error.
	if again, err := h.e.stopInstances(h.ctx, &instanceIDsInput{InstanceIds: []string{id}}); err != nil ||
		again.StoppingInstances[0].CurrentState.Name != "stopped" {
		t.Errorf("second stop = %+v, %v", again, err)
	}

	// Start: a second boot over the same root and address.
	start, err := h.e.startInstances(h.ctx, &instanceIDsInput{InstanceIds: []string{id}})
	if err != nil || start.StartingInstances[0].CurrentState.Name != "pending" {
		t.Fatalf("start = %+v, %v", start, err)
	}
	restarted := h.waitState(id, "running")
	if restarted.PrivateIpAddress != running.PrivateIpAddress || h.record(id).Boots != 2 {
		t.Errorf("after start: ip %s (was %s), boots %d", restarted.PrivateIpAddress, running.PrivateIpAddress, h.record(id).Boots)
	}
	if c := h.console(id); strings.Count(c, "booting") != 2 {
		t.Errorf("console after two boots = %q", c)
	}

	// Reboot stays running with a new boot.
	if _, err := h.e.rebootInstances(h.ctx, &instanceIDsInput{InstanceIds: []string{id}}); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for h.record(id).RebootsDone != 1 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if r := h.record(id); r.RebootsDone != 1 || r.Boots != 3 || r.State != stateRunning {
		t.Errorf("after reboot: %+v", r)
	}

	// Terminate: sandbox and root go; the instance stays visible.
	term, err := h.e.terminateInstances(h.ctx, &instanceIDsInput{InstanceIds: []string{id}})
	if err != nil || term.TerminatingInstances[0].CurrentState != (instanceStateView{32, "shutting-down"}) {
		t.Fatalf("terminate = %+v, %v", term, err)
	}
	gone := h.waitState(id, "terminated")
	if gone.State.Code != 48 || gone.PrivateIpAddress != "" || len(gone.NetworkInterfaces) != 0 {
		t.Errorf("terminated instance = %+v", gone)
	}
	if _, err := os.Stat(rootDir); !os.IsNotExist(err) {
		t.Errorf("root volume after terminate: %v", err)
	}
	if _, err := h.host.Get(context.Background(), id); !errors.Is(err, substrate.ErrNotFound) {
		t.Errorf("terminated instance still has a sandbox: %v", err)
	}
	// Refused transitions.
	_, err = h.e.stopInstances(h.ctx, &instanceIDsInput{InstanceIds: []string{id}})
	wantErr(t, err, "IncorrectInstanceState")
	_, err = h.e.startInstances(h.ctx, &instanceIDsInput{InstanceIds: []string{id}})
	wantErr(t, err, "IncorrectInstanceState")
	if again, err := h.e.terminateInstances(h.ctx, &instanceIDsInput{InstanceIds: []string{id}}); err != nil ||
		again.TerminatingInstances[0].CurrentState.Name != "terminated" {
		t.Errorf("terminate a terminated instance = %+v, %v", again, err)
	}
}

func TestStateTransitionTable(t *testing.T) {
	legal := map[string][]string{
		statePending:      {stateRunning, stateShuttingDown, stateTerminated},
		stateRunning:      {stateStopping, stateShuttingDown, stateStopped},
		stateStopping:     {stateStopped, stateShuttingDown},
		stateStopped:      {statePending, stateShuttingDown},
		stateShuttingDown: {stateTerminated},
		stateTerminated:   nil,
	}
	for from := range stateCodes {
		for to := range stateCodes {
			inst := &instance{InstanceId: "i-12345678", State: from}
			err := inst.moveTo(to, time.Now())
			want := false
			for _, l := range legal[from] {
				want = want || l == to
			}
			if (err == nil) != want {
				t.Errorf("%s → %s: err %v, legal %v", from, to, err, want)
			}
			if err != nil && !errors.Is(err, errIllegalTransition) {
				t.Errorf("%s → %s: %v is not errIllegalTransition", from, to, err)
			}
		}
	}
	if stateCodes[statePending] != 0 || stateCodes[stateRunning] != 16 || stateCodes[stateShuttingDown] != 32 ||
		stateCodes[stateTerminated] != 48 || stateCodes[stateStopping] != 64 || stateCodes[stateStopped] != 80 {
		t.Errorf("state codes = %v", stateCodes)
	}
}

func TestRunInstancesErrors(t *testing.T) {
	h := newInstanceHarness(t)
	cases := []struct {
		name string
		in   runInstancesInput
		code string
	}{
		{"no image", runInstancesInput{MinCount: 1, MaxCount: 1}, "MissingParameter"},
		{"unknown image", runInstancesInput{ImageId: "ami-0123456789abcdef0", MinCount: 1, MaxCount: 1}, "InvalidAMIID.NotFound"},
		{"malformed image", runInstancesInput{ImageId: "img-1", MinCount: 1, MaxCount: 1}, "InvalidAMIID.Malformed"},
		{"unknown type", runInstancesInput{ImageId: h.amiID, InstanceType: "t3.enormous", MinCount: 1, MaxCount: 1}, "InvalidParameterValue"},
		{"zero count", runInstancesInput{ImageId: h.amiID, MinCount: 0, MaxCount: 1}, "InvalidParameterValue"},
		{"max below min", runInstancesInput{ImageId: h.amiID, MinCount: 2, MaxCount: 1}, "InvalidParameterValue"},
		{"unknown key", runInstancesInput{ImageId: h.amiID, KeyName: "nope", MinCount: 1, MaxCount: 1}, "InvalidKeyPair.NotFound"},
		{"unknown group", runInstancesInput{ImageId: h.amiID, SecurityGroupIds: []string{"sg-0123456789abcdef0"}, MinCount: 1, MaxCount: 1}, "InvalidGroup.NotFound"},
		{"bad user data", runInstancesInput{ImageId: h.amiID, UserData: "not base64!", MinCount: 1, MaxCount: 1}, "InvalidParameterValue"},
		{"bad zone", runInstancesInput{ImageId: h.amiID, Placement: &placementRequest{AvailabilityZone: "eu-west-1a"}, MinCount: 1, MaxCount: 1}, "InvalidParameterValue"},
		{"bad subnet", runInstancesInput{ImageId: h.amiID, SubnetId: "subnet-0123456789abcdef0", MinCount: 1, MaxCount: 1}, "InvalidSubnetID.NotFound"},
		{"bad behaviour", runInstancesInput{ImageId: h.amiID, InstanceInitiatedShutdownBehavior: "explode", MinCount: 1, MaxCount: 1}, "InvalidParameterValue"},
		{"dry run", runInstancesInput{ImageId: h.amiID, DryRun: true, MinCount: 1, MaxCount: 1}, "DryRunOperation"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := h.e.runInstances(h.ctx, &tc.in)
			wantErr(t, err, tc.code)
		})
	}
	all, err := h.e.loadInstances(h.ctx, testAccount, "us-east-1")
	if err != nil || len(all) != 0 {
		t.Errorf("failed launches left %d instances (%v)", len(all), err)
	}

	_, err = h.e.describeInstances(h.ctx, &describeInstancesInput{InstanceIds: []string{"i-0123456789abcdef0"}})
	wantErr(t, err, "InvalidInstanceID.NotFound")
	_, err = h.e.describeInstances(h.ctx, &describeInstancesInput{InstanceIds: []string{"i-xyz"}})
	wantErr(t, err, "InvalidInstanceID.Malformed")
	_, err = h.e.describeInstances(h.ctx, &describeInstancesInput{InstanceIds: []string{"i-0123456789abcdef0"}, MaxResults: 5})
	wantErr(t, err, "InvalidParameterCombination")
	_, err = h.e.describeInstances(h.ctx, &describeInstancesInput{MaxResults: 2})
	wantErr(t, err, "InvalidParameterValue")
	_, err = h.e.stopInstances(h.ctx, &instanceIDsInput{InstanceIds: []string{"i-0123456789abcdef0"}})
	wantErr(t, err, "InvalidInstanceID.NotFound")
	_, err = h.e.getConsoleOutput(h.ctx, &getConsoleOutputInput{InstanceId: "i-0123456789abcdef0"})
	wantErr(t, err, "InvalidInstanceID.NotFound")
}

func TestRunInstancesClientToken(t *testing.T) {
	h := newInstanceHarness(t)
	first := h.run(&runInstancesInput{ClientToken: "once", MinCount: 2, MaxCount: 2})
	again := h.run(&runInstancesInput{ClientToken: "once", MinCount: 2, MaxCount: 2})
	if again.ReservationId != first.ReservationId || len(again.Instances) != 2 ||
		again.Instances[0].InstanceId != first.Instances[0].InstanceId || again.Instances[1].InstanceId != first.Instances[1].InstanceId {
		t.Errorf("retry with the same token: %+v, first %+v", again, first)
	}
	all, _ := h.e.loadInstances(h.ctx, testAccount, "us-east-1")
	if len(all) != 2 {
		t.Errorf("%d instances after a retried launch of 2", len(all))
	}
	_, err := h.e.runInstances(h.ctx, &runInstancesInput{ImageId: h.amiID, ClientToken: "once", InstanceType: "m5.large", MinCount: 2, MaxCount: 2})
	wantErr(t, err, "IdempotentParameterMismatch")
}

func TestDescribeInstancesFiltersAndPages(t *testing.T) {
	h := newInstanceHarness(t)
	var ids []string
	for i, typ := range []string{"t3.micro", "t3.micro", "m5.large", "c5.large", "t3.micro", "t3.nano", "t3.micro"} {
		zone := "us-east-1a"
		if i%2 == 1 {
			zone = "us-east-1b"
		}
		res := h.run(&runInstancesInput{InstanceType: typ, Placement: &placementRequest{AvailabilityZone: zone},
			TagSpecifications: []TagSpecification{{ResourceType: "instance", Tags: []Tag{{"n", string(rune('a' + i))}}}}})
		ids = append(ids, res.Instances[0].InstanceId)
	}
	for _, id := range ids {
		h.waitState(id, "running")
	}
	if _, err := h.e.terminateInstances(h.ctx, &instanceIDsInput{InstanceIds: ids[:1]}); err != nil {
		t.Fatal(err)
	}
	h.waitState(ids[0], "terminated")
	count := func(filters ...Filter) int {
		t.Helper()
		out, err := h.e.describeInstances(h.ctx, &describeInstancesInput{Filters: filters})
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		for _, r := range out.Reservations {
			n += len(r.Instances)
		}
		return n
	}
	b := h.describe(ids[1])
	cases := []struct {
		filter Filter
		want   int
	}{
		{Filter{"instance-type", []string{"t3.micro"}}, 4},
		{Filter{"instance-type", []string{"t3.*"}}, 5},
		{Filter{"instance-state-name", []string{"running"}}, 6},
		{Filter{"instance-state-name", []string{"terminated"}}, 1},
		{Filter{"instance-state-code", []string{"48"}}, 1},
		{Filter{"availability-zone", []string{"us-east-1b"}}, 3},
		{Filter{"tag:n", []string{"c", "d"}}, 2},
		{Filter{"tag-key", []string{"n"}}, 7},
		{Filter{"instance-id", []string{ids[3]}}, 1},
		{Filter{"image-id", []string{h.amiID}}, 7},
		{Filter{"private-ip-address", []string{b.PrivateIpAddress}}, 1},
		{Filter{"subnet-id", []string{b.SubnetId}}, 3},
		{Filter{"vpc-id", []string{b.VpcId}}, 6},
		{Filter{"key-name", []string{"none"}}, 0},
		{Filter{"instance-lifecycle", []string{"spot"}}, 0},
	}
	for _, tc := range cases {
		if got := count(tc.filter); got != tc.want {
			t.Errorf("filter %v: %d instances, want %d", tc.filter, got, tc.want)
		}
	}
	if _, err := h.e.describeInstances(h.ctx, &describeInstancesInput{Filters: []Filter{{"colour", []string{"red"}}}}); err == nil {
		t.Error("unknown filter accepted")
	}
	// Pages of 5 cover every instance once.
	seen := map[string]bool{}
	token := ""
	pages := 0
	for {
		out, err := h.e.describeInstances(h.ctx, &describeInstancesInput{MaxResults: 5, NextToken: token})
		if err != nil {
			t.Fatal(err)
		}
		pages++
		for _, r := range out.Reservations {
			for _, i := range r.Instances {
				if seen[i.InstanceId] {
					t.Errorf("%s on two pages", i.InstanceId)
				}
				seen[i.InstanceId] = true
			}
		}
		if token = out.NextToken; token == "" {
			break
		}
	}
	if pages != 2 || len(seen) != 7 {
		t.Errorf("%d pages, %d instances", pages, len(seen))
	}
	// Status: running only by default, all with IncludeAllInstances.
	st, err := h.e.describeInstanceStatus(h.ctx, &describeInstanceStatusInput{})
	if err != nil || len(st.InstanceStatuses) != 6 || st.InstanceStatuses[0].InstanceStatus.Status != "ok" ||
		st.InstanceStatuses[0].SystemStatus.Details[0].Status != "passed" {
		t.Errorf("DescribeInstanceStatus = %+v, %v", st, err)
	}
	all, err := h.e.describeInstanceStatus(h.ctx, &describeInstanceStatusInput{IncludeAllInstances: true})
	if err != nil || len(all.InstanceStatuses) != 7 {
		t.Errorf("DescribeInstanceStatus IncludeAllInstances = %d, %v", len(all.InstanceStatuses), err)
	}
}

func TestInstanceProtections(t *testing.T) {
	h := newInstanceHarness(t)
	id := h.run(&runInstancesInput{DisableApiTermination: true}).Instances[0].InstanceId
	// Pending cannot be stopped. The fake driver starts an instance within
	// milliseconds, so on a loaded machine it may be running already: the
	// rule is checked only while the record still says pending.
	if v := h.describe(id); v.State.Name == "pending" {
		_, err := h.e.stopInstances(h.ctx, &instanceIDsInput{InstanceIds: []string{id}})
		if after := h.describe(id); after.State.Name == "pending" || err != nil {
			wantErr(t, err, "IncorrectInstanceState")
		}
	}
	h.waitState(id, "running")
	var err error
	_, err = h.e.terminateInstances(h.ctx, &instanceIDsInput{InstanceIds: []string{id}})
	wantErr(t, err, "OperationNotPermitted")
	_, err = h.e.terminateInstances(h.ctx, &instanceIDsInput{InstanceIds: []string{id}, DryRun: true})
	wantErr(t, err, "OperationNotPermitted")
	_, err = h.e.stopInstances(h.ctx, &instanceIDsInput{InstanceIds: []string{id}, DryRun: true})
	wantErr(t, err, "DryRunOperation")
	if h.describe(id).State.Name != "running" {
		t.Error("a dry run changed the instance")
	}
	_, err = h.e.rebootInstances(h.ctx, &instanceIDsInput{InstanceIds: []string{id, "i-0123456789abcdef0"}})
	wantErr(t, err, "InvalidInstanceID.NotFound")
}

func TestInstanceInitiatedShutdown(t *testing.T) {
	h := newInstanceHarness(t)
	stopper := h.run(&runInstancesInput{}).Instances[0].InstanceId
	terminator := h.run(&runInstancesInput{InstanceInitiatedShutdownBehavior: "terminate"}).Instances[0].InstanceId
	for _, id := range []string{stopper, terminator} {
		h.waitState(id, "running")
		// The guest powers off: its init exits.
		if err := h.host.Kill(context.Background(), id, int(syscall.SIGTERM)); err != nil {
			t.Fatal(err)
		}
	}
	s := h.waitState(stopper, "stopped")
	if s.StateReason == nil || s.StateReason.Code != "Client.InstanceInitiatedShutdown" {
		t.Errorf("stopped by the guest: %+v", s.StateReason)
	}
	tm := h.waitState(terminator, "terminated")
	if tm.StateReason == nil || tm.StateReason.Code != "Client.InstanceInitiatedShutdown" {
		t.Errorf("terminated by the guest: %+v", tm.StateReason)
	}
}

func TestControllerRestartReconciles(t *testing.T) {
	h := newInstanceHarness(t)
	keep := h.run(&runInstancesInput{}).Instances[0].InstanceId
	lost := h.run(&runInstancesInput{}).Instances[0].InstanceId
	halfStopped := h.run(&runInstancesInput{}).Instances[0].InstanceId
	for _, id := range []string{keep, lost, halfStopped} {
		h.waitState(id, "running")
	}
	before, err := h.host.Get(context.Background(), keep)
	if err != nil {
		t.Fatal(err)
	}
	h.stop()

	// While nimbus is down: a launch is recorded but never run, a stop is
	// recorded but not carried out, and one sandbox vanishes with its host.
	notLaunched := h.run(&runInstancesInput{}).Instances[0].InstanceId
	if _, err := h.e.stopInstances(h.ctx, &instanceIDsInput{InstanceIds: []string{halfStopped}}); err != nil {
		t.Fatal(err)
	}
	other, err := substrate.Open(context.Background(), substrate.Options{DataDir: h.dataDir, Store: h.st,
		SandboxDriver: fake.New(fake.WithHost(h.fakes))})
	if err != nil {
		t.Fatal(err)
	}
	if err := other.Delete(context.Background(), lost); err != nil {
		t.Fatal(err)
	}
	other.Close()

	h.open()
	h.waitState(notLaunched, "running")
	h.waitState(halfStopped, "stopped")
	l := h.waitState(lost, "stopped")
	if l.StateReason == nil || l.StateReason.Code != "Server.InternalError" {
		t.Errorf("lost instance reason = %+v", l.StateReason)
	}
	if v := h.describe(keep); v.State.Name != "running" {
		t.Errorf("surviving instance is %s", v.State.Name)
	}
	after, err := h.host.Get(context.Background(), keep)
	if err != nil {
		t.Fatal(err)
	}
	if !after.Started.Equal(before.Started) || h.record(keep).Boots != 1 {
		t.Errorf("surviving instance was run again: started %v then %v, boots %d", before.Started, after.Started, h.record(keep).Boots)
	}
	if _, err := h.host.Get(context.Background(), halfStopped); !errors.Is(err, substrate.ErrNotFound) {
		t.Errorf("stopped instance kept its sandbox: %v", err)
	}
	// The adopted sandbox is watched again: its exit is noticed.
	if err := h.host.Kill(context.Background(), keep, int(syscall.SIGTERM)); err != nil {
		t.Fatal(err)
	}
	h.waitState(keep, "stopped")
}

func TestResetRemovesInstanceSandboxes(t *testing.T) {
	h := newInstanceHarness(t)
	id := h.run(&runInstancesInput{}).Instances[0].InstanceId
	h.waitState(id, "running")
	if err := service.DeleteKinds(context.Background(), h.st, h.e.kinds...); err != nil {
		t.Fatal(err)
	}
	// The controller deletes the sandbox first and the instance directory
	// after it: wait for both.
	dir := filepath.Join(h.dataDir, "ec2", "instances", id)
	deadline := time.Now().Add(5 * time.Second)
	for {
		_, err := h.host.Get(context.Background(), id)
		_, statErr := os.Stat(dir)
		if errors.Is(err, substrate.ErrNotFound) && os.IsNotExist(statErr) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("reset instance not cleaned up: sandbox %v, directory %v", err, statErr)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestTerminatedInstancesExpire(t *testing.T) {
	h := newInstanceHarness(t)
	id := h.run(&runInstancesInput{}).Instances[0].InstanceId
	h.waitState(id, "running")
	if _, err := h.e.terminateInstances(h.ctx, &instanceIDsInput{InstanceIds: []string{id}}); err != nil {
		t.Fatal(err)
	}
	h.waitState(id, "terminated")
	h.ctrl.retention = -time.Second // everything terminated is past it
	h.ctrl.collectTerminated(context.Background())
	_, err := h.e.describeInstances(h.ctx, &describeInstancesInput{InstanceIds: []string{id}})
	wantErr(t, err, "InvalidInstanceID.NotFound")
}

func TestInstanceMetadataLookup(t *testing.T) {
	h := newInstanceHarness(t)
	ud := base64.StdEncoding.EncodeToString([]byte("#!/bin/sh\ntrue\n"))
	id := h.run(&runInstancesInput{UserData: ud, InstanceType: "m5.large",
		TagSpecifications: []TagSpecification{{ResourceType: "instance", Tags: []Tag{{"Name", "md"}}}}}).Instances[0].InstanceId
	v := h.waitState(id, "running")
	md, err := h.ctrl.InstanceForSandbox(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	if md.InstanceID != id || md.InstanceType != "m5.large" || md.ImageID != h.amiID || md.AccountID != testAccount ||
		md.Region != "us-east-1" || md.AvailabilityZone != "us-east-1a" || md.PrivateIP.String() != v.PrivateIpAddress ||
		string(md.UserData) != "#!/bin/sh\ntrue\n" || md.Tags["Name"] != "md" || len(md.SecurityGroups) != 1 || md.AvailabilityZoneID == "" {
		t.Errorf("metadata = %+v", md)
	}
	if _, err := h.ctrl.InstanceForSandbox(context.Background(), "lambda-xyz"); err == nil {
		t.Error("a sandbox that is no instance has metadata")
	}
}

func TestSubnetAddress(t *testing.T) {
	cases := []struct {
		cidr string
		n    int64
		want string
	}{
		{"172.31.0.0/20", 1, "172.31.0.4"},
		{"172.31.16.0/20", 300, "172.31.17.47"},
		{"172.31.0.0/20", 4091, "172.31.15.254"},
		{"172.31.0.0/20", 4092, "172.31.0.4"},
		{"bogus", 1, ""},
	}
	for _, tc := range cases {
		if got := subnetAddress(tc.cidr, tc.n); got != tc.want {
			t.Errorf("subnetAddress(%s, %d) = %s, want %s", tc.cidr, tc.n, got, tc.want)
		}
	}
}

func TestModifyInstanceAttribute(t *testing.T) {
	h := newInstanceHarness(t)
	id := h.run(&runInstancesInput{InstanceType: "t3.micro", DisableApiTermination: true}).Instances[0].InstanceId
	h.waitState(id, "running")
	_, err := h.e.modifyInstanceAttribute(h.ctx, &modifyInstanceAttributeInput{InstanceId: id, InstanceType: &attributeString{"m5.large"}})
	wantErr(t, err, "IncorrectInstanceState") // only while stopped
	_, err = h.e.modifyInstanceAttribute(h.ctx, &modifyInstanceAttributeInput{InstanceId: id, Attribute: "kernel", Value: "aki-1"})
	wantErr(t, err, "InvalidParameterValue")

	off := false
	if _, err := h.e.modifyInstanceAttribute(h.ctx, &modifyInstanceAttributeInput{InstanceId: id,
		DisableApiTermination: &attributeBool{Value: &off}}); err != nil {
		t.Fatal(err)
	}
	attr, err := h.e.describeInstanceAttribute(h.ctx, &describeInstanceAttributeInput{InstanceId: id, Attribute: "disableApiTermination"})
	if err != nil || attr.DisableApiTermination == nil || attr.DisableApiTermination.Value {
		t.Errorf("disableApiTermination = %+v, %v", attr, err)
	}
	if _, err := h.e.stopInstances(h.ctx, &instanceIDsInput{InstanceIds: []string{id}}); err != nil {
		t.Fatal(err)
	}
	h.waitState(id, "stopped")
	if _, err := h.e.modifyInstanceAttribute(h.ctx, &modifyInstanceAttributeInput{InstanceId: id, Attribute: "instanceType", Value: "m5.large"}); err != nil {
		t.Fatal(err)
	}
	if _, err := h.e.modifyInstanceAttribute(h.ctx, &modifyInstanceAttributeInput{InstanceId: id,
		UserData: &struct{ Value []byte }{[]byte("#!/bin/sh\necho new\n")}}); err != nil {
		t.Fatal(err)
	}
	if _, err := h.e.startInstances(h.ctx, &instanceIDsInput{InstanceIds: []string{id}}); err != nil {
		t.Fatal(err)
	}
	v := h.waitState(id, "running")
	sb, err := h.host.Get(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	if v.InstanceType != "m5.large" || v.CpuOptions.CoreCount != 1 || h.record(id).MemoryMiB != 8192 {
		t.Errorf("after resize: type %s, cores %d, memory %d MiB (sandbox %s)", v.InstanceType, v.CpuOptions.CoreCount, h.record(id).MemoryMiB, sb.ID)
	}
	ud, err := h.e.describeInstanceAttribute(h.ctx, &describeInstanceAttributeInput{InstanceId: id, Attribute: "userData"})
	if err != nil || ud.UserData == nil || ud.UserData.Value != base64.StdEncoding.EncodeToString([]byte("#!/bin/sh\necho new\n")) {
		t.Errorf("userData = %+v, %v", ud, err)
	}
	if _, err := h.e.terminateInstances(h.ctx, &instanceIDsInput{InstanceIds: []string{id}}); err != nil {
		t.Errorf("terminate after clearing disableApiTermination: %v", err)
	}
	_, err = h.e.describeInstanceAttribute(h.ctx, &describeInstanceAttributeInput{InstanceId: id, Attribute: "colour"})
	wantErr(t, err, "InvalidParameterValue")
}

package substrate

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"sync"
	"testing"
	"time"

	"github.com/nimbus-dev/nimbus/internal/network"
	"github.com/nimbus-dev/nimbus/internal/sandbox"
	"github.com/nimbus-dev/nimbus/internal/sandbox/fake"
	"github.com/nimbus-dev/nimbus/internal/sandboxlog"
	"github.com/nimbus-dev/nimbus/internal/store"
	"github.com/nimbus-dev/nimbus/internal/store/sqlitestore"
)

// Bookkeeping tests over the fake driver and an in-memory network double:
// no root needed.

// fakeNet is a network manager double that records attachments.
type fakeNet struct {
	mu         sync.Mutex
	atts       map[string]network.Attachment
	next       byte
	failAttach error
}

func newFakeNet() *fakeNet { return &fakeNet{atts: map[string]network.Attachment{}, next: 2} }

func (f *fakeNet) Attach(ctx context.Context, id, name string, opts network.AttachOptions) (*sandbox.NetworkAttachment, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.failAttach != nil {
		return nil, f.failAttach
	}
	ip := netip.AddrFrom4([4]byte{10, 9, 0, f.next})
	f.next++
	f.atts[id] = network.Attachment{SandboxID: id, Network: name, IP: ip, Complete: true}
	return &sandbox.NetworkAttachment{NetNSPath: "/nonexistent/" + id, IP: ip.String(), Gateway: "10.9.0.1"}, nil
}

func (f *fakeNet) Detach(ctx context.Context, id string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	delete(f.atts, id)
	return nil
}

func (f *fakeNet) List(ctx context.Context) ([]network.Attachment, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []network.Attachment
	for _, a := range f.atts {
		out = append(out, a)
	}
	return out, nil
}

func (f *fakeNet) SetRules(ctx context.Context, id string, in, eg []network.Rule) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if _, ok := f.atts[id]; !ok {
		return network.ErrNotFound
	}
	return nil
}

func (f *fakeNet) Networks() []network.Network { return nil }

func (f *fakeNet) count() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.atts)
}

// fakeEnv is what survives a simulated nimbus restart: the data dir, the
// store, the fake machine and its network.
type fakeEnv struct {
	dir   string
	store store.Store
	host  *fake.Host
	net   *fakeNet
	root  string
}

func newFakeEnv(t *testing.T) *fakeEnv {
	return &fakeEnv{dir: t.TempDir(), store: sqlitestore.OpenTemp(t), host: fake.NewHost(), net: newFakeNet(), root: t.TempDir()}
}

func (env *fakeEnv) open(t *testing.T) *Host {
	t.Helper()
	h, err := Open(context.Background(), Options{
		DataDir: env.dir, Store: env.store,
		SandboxDriver: fake.New(fake.WithHost(env.host)),
		net:           env.net,
	})
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { h.Close() })
	return h
}

func (env *fakeEnv) spec(b fake.Behavior) RunSpec {
	return RunSpec{Owner: Owner{Kind: "batch-job", Account: "123456789012", Region: "us-east-1", ResourceID: "job-1"},
		RootDir: env.root, Command: fake.Command(b)}
}

// records counts the sandbox records in the store.
func (env *fakeEnv) records(t *testing.T) int {
	t.Helper()
	n := 0
	err := env.store.View(context.Background(), func(tx store.Tx) error {
		return tx.List(store.Query{Kind: KindSandbox, AllAccounts: true, AllRegions: true}, func(store.Object) error {
			n++
			return nil
		})
	})
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func (env *fakeEnv) driverCount(t *testing.T) int {
	t.Helper()
	infos, err := fake.New(fake.WithHost(env.host)).List(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return len(infos)
}

// requireClean fails unless no record, driver sandbox or attachment is left.
func (env *fakeEnv) requireClean(t *testing.T) {
	t.Helper()
	if n := env.records(t); n != 0 {
		t.Errorf("%d sandbox records left in the store", n)
	}
	if n := env.driverCount(t); n != 0 {
		t.Errorf("%d driver sandboxes left", n)
	}
	if n := env.net.count(); n != 0 {
		t.Errorf("%d network attachments left", n)
	}
}

func TestFakeRunWaitDelete(t *testing.T) {
	env := newFakeEnv(t)
	h := env.open(t)
	ctx := context.Background()
	rs := env.spec(fake.Behavior{ExitCode: 3, Stdout: []string{"hello"}, Duration: 10 * time.Millisecond})
	rs.Network = "net1"
	sb, err := h.Run(ctx, rs)
	if err != nil {
		t.Fatal(err)
	}
	if !sb.IP.IsValid() || sb.Labels[LabelResource] != "job-1" || sb.Labels[LabelSandbox] != sb.ID {
		t.Errorf("Run returned %+v", sb)
	}
	st, err := h.Wait(ctx, sb.ID)
	if err != nil {
		t.Fatal(err)
	}
	if st.ExitCode != 3 {
		t.Errorf("exit code %d, want 3", st.ExitCode)
	}
	got, err := h.Get(ctx, sb.ID)
	if err != nil || got.State != sandbox.StateExited || got.Exit == nil || got.Exit.ExitCode != 3 {
		t.Errorf("Get after exit: %+v, %v", got, err)
	}
	rc, err := h.Logs(sb.ID)
	if err != nil {
		t.Fatal(err)
	}
	recs, err := sandboxlog.ReadAll(rc)
	rc.Close()
	if err != nil || len(recs) != 1 || recs[0].Content != "hello" {
		t.Errorf("log records %+v, %v", recs, err)
	}
	if n := env.records(t); n != 1 {
		t.Errorf("%d records while the sandbox exists, want 1", n)
	}
	if err := h.Delete(ctx, sb.ID); err != nil {
		t.Fatal(err)
	}
	if err := h.Delete(ctx, sb.ID); err != nil {
		t.Errorf("second Delete: %v", err)
	}
	if _, err := h.Get(ctx, sb.ID); !errors.Is(err, ErrNotFound) {
		t.Errorf("Get after Delete: %v", err)
	}
	env.requireClean(t)
}

func TestFakeRunFailureLeavesNothing(t *testing.T) {
	cases := []struct {
		name  string
		setup func(env *fakeEnv, rs *RunSpec)
		want  error
	}{
		{"network attach fails", func(env *fakeEnv, rs *RunSpec) {
			env.net.failAttach = fmt.Errorf("no leases: %w", network.ErrInvalid)
			rs.Network = "net1"
		}, network.ErrInvalid},
		{"start fails", func(env *fakeEnv, rs *RunSpec) {
			rs.Network = "net1"
			rs.Command = nil // the script below decides
		}, errStartRefused},
		{"missing image", func(env *fakeEnv, rs *RunSpec) {
			rs.RootDir, rs.Image = "", "no-such-image"
		}, nil},
		{"no command", func(env *fakeEnv, rs *RunSpec) {
			rs.Command = nil
			rs.Labels = map[string]string{"no-script": "1"}
		}, ErrInvalid},
		{"bad id", func(env *fakeEnv, rs *RunSpec) { rs.ID = "Bad_ID" }, ErrInvalid},
		{"missing dir volume", func(env *fakeEnv, rs *RunSpec) {
			rs.Mounts = []Mount{{Type: MountDirVolume, Source: "vol-nope", Destination: "/data"}}
		}, ErrNotFound},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			env := newFakeEnv(t)
			h, err := Open(context.Background(), Options{
				DataDir: env.dir, Store: env.store, net: env.net,
				SandboxDriver: fake.New(fake.WithHost(env.host), fake.WithScript(func(s sandbox.Spec) fake.Behavior {
					return fake.Behavior{StartError: errStartRefused}
				})),
			})
			if err != nil {
				t.Fatal(err)
			}
			defer h.Close()
			rs := env.spec(fake.Behavior{})
			tc.setup(env, &rs)
			if rs.Command == nil && rs.Labels == nil {
				rs.Command = []string{"anything"}
			}
			_, err = h.Run(context.Background(), rs)
			if err == nil {
				t.Fatal("Run succeeded")
			}
			if tc.want != nil && !errors.Is(err, tc.want) {
				t.Errorf("Run error %v, want %v", err, tc.want)
			}
			env.requireClean(t)
			if sbs, _ := h.List(context.Background(), nil); len(sbs) != 0 {
				t.Errorf("List after failed Run: %d sandboxes", len(sbs))
			}
		})
	}
}

var errStartRefused = errors.New("start refused by the test script")

func TestFakeRestartAdopts(t *testing.T) {
	env := newFakeEnv(t)
	ctx := context.Background()
	h1 := env.open(t)
	long, err := h1.Run(ctx, env.spec(fake.Behavior{Duration: fake.Forever}))
	if err != nil {
		t.Fatal(err)
	}
	short, err := h1.Run(ctx, env.spec(fake.Behavior{Duration: 20 * time.Millisecond, ExitCode: 7}))
	if err != nil {
		t.Fatal(err)
	}
	h1.Close()
	time.Sleep(50 * time.Millisecond) // short exits while "nimbus is down"

	h2 := env.open(t)
	got, err := h2.Get(ctx, long.ID)
	if err != nil || got.State != sandbox.StateRunning {
		t.Fatalf("adopted long-running sandbox: %+v, %v", got, err)
	}
	st, err := h2.Wait(ctx, short.ID)
	if err != nil || st.ExitCode != 7 {
		t.Fatalf("Wait on sandbox that exited while down: %+v, %v", st, err)
	}
	if err := h2.Stop(ctx, long.ID, time.Second); err != nil {
		t.Fatal(err)
	}
	if got, _ := h2.Get(ctx, long.ID); got.State != sandbox.StateExited {
		t.Errorf("after Stop: state %s", got.State)
	}
	if err := h2.Reset(ctx, nil); err != nil {
		t.Fatal(err)
	}
	env.requireClean(t)
}

// TestFakeRecoveryRules checks each rule of the package doc: creating and
// deleting records are undone, orphans with our label are deleted, foreign
// sandboxes and running ones are kept.
func TestFakeRecoveryRules(t *testing.T) {
	env := newFakeEnv(t)
	ctx := context.Background()
	drv := fake.New(fake.WithHost(env.host))
	mk := func(id string, labels map[string]string) *sandbox.Handle {
		hd, err := drv.Create(ctx, sandbox.Spec{ID: id, Labels: labels, Command: fake.Command(fake.Behavior{Duration: fake.Forever}),
			Log: sandbox.LogSink{Path: env.dir + "/" + id + ".log"}})
		if err != nil {
			t.Fatal(err)
		}
		if err := drv.Start(ctx, hd); err != nil {
			t.Fatal(err)
		}
		return hd
	}
	put := func(rec *record) {
		if err := env.store.Update(ctx, func(tx store.Tx) error { _, err := tx.Put(rec.key(), rec, 0); return err }); err != nil {
			t.Fatal(err)
		}
	}
	// Interrupted Run after the driver created it but before its handle was recorded.
	mk("creating-1", map[string]string{LabelSandbox: "creating-1"})
	env.net.Attach(ctx, "creating-1", "net1", network.AttachOptions{})
	put(&record{Schema: recordVersion, ID: "creating-1", Phase: phaseCreating, Network: "net1"})
	// Interrupted Delete.
	put(&record{Schema: recordVersion, ID: "deleting-1", Phase: phaseDeleting, Handle: mk("deleting-1", map[string]string{LabelSandbox: "deleting-1"})})
	// A running sandbox Run finished.
	put(&record{Schema: recordVersion, ID: "running-1", Phase: phaseRunning, Network: "net1",
		Labels: map[string]string{LabelSandbox: "running-1"}, Handle: mk("running-1", map[string]string{LabelSandbox: "running-1"})})
	env.net.Attach(ctx, "running-1", "net1", network.AttachOptions{})
	// A recorded running sandbox that vanished (host reboot).
	put(&record{Schema: recordVersion, ID: "vanished-1", Phase: phaseRunning,
		Handle: &sandbox.Handle{ID: "vanished-1", Driver: fake.DriverName, Version: 1, DriverState: []byte("{}")}})
	// Orphans: a labelled sandbox and an attachment with no record; a foreign sandbox.
	mk("orphan-1", map[string]string{LabelSandbox: "orphan-1"})
	env.net.Attach(ctx, "orphan-2", "net1", network.AttachOptions{})
	mk("foreign-1", map[string]string{"owner": "someone else"})

	h := env.open(t)
	infos, _ := drv.List(ctx)
	left := map[string]bool{}
	for _, in := range infos {
		left[in.Handle.ID] = true
	}
	want := map[string]bool{"running-1": true, "foreign-1": true}
	if fmt.Sprint(left) != fmt.Sprint(want) {
		t.Errorf("driver sandboxes after recovery %v, want %v", left, want)
	}
	atts, _ := env.net.List(ctx)
	if len(atts) != 1 || atts[0].SandboxID != "running-1" {
		t.Errorf("attachments after recovery %+v, want running-1 only", atts)
	}
	sbs, _ := h.List(ctx, nil)
	ids := []string{}
	for _, sb := range sbs {
		ids = append(ids, sb.ID+":"+string(sb.State))
	}
	if fmt.Sprint(ids) != "[running-1:running vanished-1:exited]" {
		t.Errorf("sandboxes after recovery %v", ids)
	}
	if _, err := h.Wait(ctx, "vanished-1"); !errors.Is(err, ErrExitStatusLost) {
		t.Errorf("Wait on vanished sandbox: %v, want ErrExitStatusLost", err)
	}
	if err := h.Reset(ctx, nil); err != nil {
		t.Fatal(err)
	}
	drv.Delete(ctx, &sandbox.Handle{ID: "foreign-1", Driver: fake.DriverName, Version: 1})
	env.requireClean(t)
}

// TestFakeCrashDuringRun abandons a Host at each step of Run, as kill -9
// would, and checks the next Host undoes it.
func TestFakeCrashDuringRun(t *testing.T) {
	for _, step := range []string{"recorded", "volumes", "network", "created", "started"} {
		t.Run(step, func(t *testing.T) {
			env := newFakeEnv(t)
			h1 := env.open(t)
			crashHook = func(s string) {
				if s == step {
					panic(errCrash)
				}
			}
			func() {
				defer func() {
					if r := recover(); r != errCrash {
						t.Fatalf("Run did not reach step %s (recovered %v)", step, r)
					}
				}()
				rs := env.spec(fake.Behavior{Duration: fake.Forever})
				rs.Network = "net1"
				h1.Run(context.Background(), rs)
			}()
			crashHook = nil
			h2 := env.open(t)
			if sbs, _ := h2.List(context.Background(), nil); len(sbs) != 0 {
				t.Errorf("%d sandboxes listed after recovery", len(sbs))
			}
			env.requireClean(t)
		})
	}
}

var errCrash = errors.New("simulated crash")

func TestFakeResetFilter(t *testing.T) {
	env := newFakeEnv(t)
	h := env.open(t)
	ctx := context.Background()
	for i, kind := range []string{"lambda-sandbox", "lambda-sandbox", "ec2-instance"} {
		rs := env.spec(fake.Behavior{Duration: fake.Forever})
		rs.Owner = Owner{Kind: kind, Account: "123456789012", ResourceID: fmt.Sprint("r", i)}
		if _, err := h.Run(ctx, rs); err != nil {
			t.Fatal(err)
		}
	}
	if err := h.Reset(ctx, map[string]string{LabelKind: "lambda-sandbox"}); err != nil {
		t.Fatal(err)
	}
	sbs, _ := h.List(ctx, nil)
	if len(sbs) != 1 || sbs[0].Owner.Kind != "ec2-instance" {
		t.Fatalf("after filtered Reset: %+v", sbs)
	}
	if c := h.Info().Sandboxes[sandbox.StateRunning]; c != 1 {
		t.Errorf("Info counts %d running, want 1", c)
	}
	if err := h.Reset(ctx, nil); err != nil {
		t.Fatal(err)
	}
	env.requireClean(t)
}

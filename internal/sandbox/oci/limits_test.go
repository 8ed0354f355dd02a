package oci

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/nimbus-dev/nimbus/internal/sandbox"
	"github.com/nimbus-dev/nimbus/internal/sandbox/sandboxtest"
	"github.com/nimbus-dev/nimbus/internal/sandboxlog"
)

type fixture struct {
	t    *testing.T
	dir  string
	d    *Driver
	root string
	n    int
}

func newFixture(t *testing.T) *fixture {
	requireRuntime(t, "runc")
	dir := t.TempDir()
	return &fixture{t: t, dir: dir, d: newTestDriver(t, dir), root: sandboxtest.BusyboxRoot(t)}
}

func (f *fixture) spec(script string) sandbox.Spec {
	f.n++
	id := fmt.Sprintf("lim-%d-%d", os.Getpid()%100000, f.n)
	return sandbox.Spec{
		ID:      id,
		RootFS:  sandbox.RootFS{ImageDir: f.root},
		Command: []string{"sh", "-c", script},
		Log:     sandbox.LogSink{Path: filepath.Join(f.dir, "logs", id+".log")},
	}
}

// start creates and starts spec and deletes it (checking for leaks) at the end.
func (f *fixture) start(spec sandbox.Spec) *sandbox.Handle {
	f.t.Helper()
	ctx := context.Background()
	h, err := f.d.Create(ctx, spec)
	if err != nil {
		f.t.Fatalf("Create: %v", err)
	}
	f.t.Cleanup(func() {
		if err := f.d.Delete(context.Background(), h); err != nil {
			f.t.Errorf("Delete: %v", err)
		}
		checkNothingLeft(f.t, f.d, h.ID)
	})
	if err := f.d.Start(ctx, h); err != nil {
		f.t.Fatalf("Start: %v", err)
	}
	return h
}

// runOnce runs spec to the end and returns its status and output lines.
func (f *fixture) runOnce(spec sandbox.Spec) (*sandbox.ExitStatus, []string) {
	f.t.Helper()
	h := f.start(spec)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	st, err := f.d.Wait(ctx, h)
	if err != nil {
		f.t.Fatalf("Wait: %v", err)
	}
	recs, err := sandboxlog.ReadFile(spec.Log.Path)
	if err != nil {
		f.t.Fatal(err)
	}
	return st, sandboxlog.Lines(recs, "")
}

func TestMemoryLimitOOMKill(t *testing.T) {
	f := newFixture(t)
	spec := f.spec("exec dd if=/dev/zero of=/dev/null bs=64M count=1")
	spec.MemoryBytes = 16 << 20
	st, out := f.runOnce(spec)
	if !st.OOMKilled || st.Signal != 9 {
		t.Errorf("status %+v, want an OOM kill; output %q", st, out)
	}
	// The same program fits without the limit, so the limit did it.
	spec = f.spec("dd if=/dev/zero of=/dev/null bs=64M count=1 2>/dev/null; echo survived")
	st, out = f.runOnce(spec)
	if st.OOMKilled || st.ExitCode != 0 || !slices.Contains(out, "survived") {
		t.Errorf("unlimited run: %+v %q", st, out)
	}
}

func TestLimitsReachTheCgroup(t *testing.T) {
	f := newFixture(t)
	spec := f.spec("sleep 30")
	spec.MilliCPU = 500
	spec.PidsLimit = 7
	spec.MemoryBytes = 64 << 20
	h := f.start(spec)
	cg := cgroupDirsFor(f.d.mode, h.ID)
	want := map[string]string{filepath.Join(cg.pids, "pids.max"): "7"}
	if f.d.mode == CgroupV2 {
		want[filepath.Join(cg.cpu, "cpu.max")] = "50000 100000"
		want[filepath.Join(cg.memory, "memory.max")] = fmt.Sprint(64 << 20)
	} else {
		want[filepath.Join(cgroupMount, "cpu", sandboxCgroupsPath(h.ID), "cpu.cfs_quota_us")] = "50000"
		want[filepath.Join(cg.memory, "memory.limit_in_bytes")] = fmt.Sprint(64 << 20)
	}
	for path, v := range want {
		b, err := os.ReadFile(path)
		if err != nil {
			t.Errorf("read %s: %v", path, err)
			continue
		}
		if got := strings.TrimSpace(string(b)); got != v {
			t.Errorf("%s = %q, want %q", path, got, v)
		}
	}
	stats, err := f.d.Stats(context.Background(), h)
	if err != nil {
		t.Fatalf("Stats: %v", err)
	}
	if stats.MemoryBytes <= 0 || stats.Pids < 1 {
		t.Errorf("stats %+v", stats)
	}
}

func TestPidsLimitEnforced(t *testing.T) {
	f := newFixture(t)
	spec := f.spec("for i in 1 2 3 4 5 6 7 8; do sleep 5 & done; wait; echo done")
	spec.PidsLimit = 4
	st, out := f.runOnce(spec)
	if !slices.ContainsFunc(out, func(l string) bool {
		return strings.Contains(l, "can't fork") || strings.Contains(l, "Resource temporarily unavailable")
	}) {
		t.Errorf("forking past the pids limit did not fail: %+v %q", st, out)
	}
}

func TestIsolationSettings(t *testing.T) {
	f := newFixture(t)
	hostDir := t.TempDir()
	os.WriteFile(filepath.Join(hostDir, "from-host"), []byte("hi\n"), 0o644)
	rwDir := t.TempDir()
	spec := f.spec(strings.Join([]string{
		"hostname",
		"id -u",
		"ulimit -n",
		"cat /ro/from-host",
		"touch /ro/x 2>/dev/null && echo ro-writable || echo ro-readonly",
		"touch /rw/made-inside && echo rw-ok",
		"grep ' /scratch ' /proc/mounts | grep -o 'size=[0-9]*k'",
		"dd if=/dev/zero of=/scratch/big bs=1024 count=2048 2>/dev/null && echo tmpfs-unlimited || echo tmpfs-full",
		"touch /rootfile 2>/dev/null && echo root-writable || echo root-readonly",
		"cat /proc/kcore 2>/dev/null | head -c 1 | wc -c",
		"grep NoNewPrivs /proc/self/status | tr -d '\\t'",
		"ip -o link | wc -l",
	}, "; "))
	spec.Hostname = "box-one"
	spec.User = "nobody"
	spec.ReadOnly = true
	spec.Rlimits = []sandbox.Rlimit{{Type: "RLIMIT_NOFILE", Soft: 256, Hard: 512}}
	spec.Mounts = []sandbox.Mount{
		{Type: sandbox.MountBind, Source: hostDir, Destination: "/ro", ReadOnly: true},
		{Type: sandbox.MountBind, Source: rwDir, Destination: "/rw"},
		{Type: sandbox.MountTmpfs, Destination: "/scratch", SizeBytes: 1 << 20},
	}
	os.Chmod(rwDir, 0o777)
	_, out := f.runOnce(spec)
	want := []string{"box-one", "65534", "256", "hi", "ro-readonly", "rw-ok", "size=1024k", "tmpfs-full", "root-readonly", "0", "NoNewPrivs:1", "1"}
	if !slices.Equal(out, want) {
		t.Errorf("output\n got %q\nwant %q", out, want)
	}
	if _, err := os.Stat(filepath.Join(rwDir, "made-inside")); err != nil {
		t.Errorf("write through the rw bind did not reach the host: %v", err)
	}
}

func TestJoinsNetworkNamespace(t *testing.T) {
	f := newFixture(t)
	if _, err := exec.LookPath("ip"); err != nil {
		t.Skip("no ip command")
	}
	ns := fmt.Sprintf("nimbus-test-%d", os.Getpid())
	if out, err := exec.Command("ip", "netns", "add", ns).CombinedOutput(); err != nil {
		t.Skipf("cannot make a netns: %v %s", err, out)
	}
	t.Cleanup(func() { exec.Command("ip", "netns", "del", ns).Run() })
	if out, err := exec.Command("ip", "-n", ns, "link", "add", "probe0", "type", "veth", "peer", "name", "probe1").CombinedOutput(); err != nil {
		t.Fatalf("add veth pair: %v %s", err, out)
	}
	spec := f.spec("ip -o link | grep -o 'probe0@' ")
	spec.Network = &sandbox.NetworkAttachment{NetNSPath: "/var/run/netns/" + ns}
	st, out := f.runOnce(spec)
	if st.ExitCode != 0 || !slices.Equal(out, []string{"probe0@"}) {
		t.Errorf("sandbox did not see the namespace's link: %+v %q", st, out)
	}
}

func TestPersistentUpperSurvivesDelete(t *testing.T) {
	f := newFixture(t)
	upper := t.TempDir()
	spec := f.spec("echo kept > /root/state")
	spec.RootFS.UpperDir = upper
	if st, _ := f.runOnce(spec); st.ExitCode != 0 {
		t.Fatalf("writer: %+v", st)
	}
	spec = f.spec("cat /root/state")
	spec.RootFS.UpperDir = upper
	if st, out := f.runOnce(spec); st.ExitCode != 0 || !slices.Equal(out, []string{"kept"}) {
		t.Errorf("second sandbox: %+v %q", st, out)
	}
	if _, err := os.Stat(filepath.Join(f.root, "root", "state")); !os.IsNotExist(err) {
		t.Errorf("write leaked into the image: %v", err)
	}
}

func TestExecAndPause(t *testing.T) {
	f := newFixture(t)
	h := f.start(f.spec("sleep 30"))
	ctx := context.Background()
	var out strings.Builder
	code, err := f.d.Exec(ctx, h, []string{"sh", "-c", "echo inside; exit 5"}, nil, &out, nil)
	if err != nil || code != 5 || out.String() != "inside\n" {
		t.Errorf("Exec: code %d, err %v, out %q", code, err, out.String())
	}
	if err := f.d.Pause(ctx, h); err != nil {
		t.Fatalf("Pause: %v", err)
	}
	infos, _ := f.d.List(ctx)
	if len(infos) != 1 || infos[0].State != sandbox.StatePaused {
		t.Errorf("paused sandbox listed as %+v", infos)
	}
	if err := f.d.Resume(ctx, h); err != nil {
		t.Fatalf("Resume: %v", err)
	}
}

// TestBadInputLeavesNothing: each bad spec fails with a clear error and the
// state directory stays empty.
func TestBadInputLeavesNothing(t *testing.T) {
	f := newFixture(t)
	cases := []struct {
		name   string
		mutate func(*sandbox.Spec)
		want   error
	}{
		{"missing root", func(s *sandbox.Spec) { s.RootFS.ImageDir = "/nonexistent/root" }, sandbox.ErrInvalidSpec},
		{"one byte of memory", func(s *sandbox.Spec) { s.MemoryBytes = 1 }, sandbox.ErrInvalidSpec},
		{"more GPUs than the host", func(s *sandbox.Spec) { s.GPUs = CountGPUs() + 1 }, sandbox.ErrUnsupported},
		{"unknown rlimit", func(s *sandbox.Spec) { s.Rlimits = []sandbox.Rlimit{{Type: "RLIMIT_BOGUS"}} }, sandbox.ErrInvalidSpec},
		{"missing netns", func(s *sandbox.Spec) { s.Network = &sandbox.NetworkAttachment{NetNSPath: "/var/run/netns/nope"} }, sandbox.ErrInvalidSpec},
		{"missing bind source", func(s *sandbox.Spec) {
			s.Mounts = []sandbox.Mount{{Type: sandbox.MountBind, Source: "/nonexistent", Destination: "/x"}}
		}, sandbox.ErrInvalidSpec},
		{"unknown user", func(s *sandbox.Spec) { s.User = "nosuchuser" }, sandbox.ErrInvalidSpec},
		// Fails inside the runtime, after the root is mounted and the shim runs.
		{"command not in root", func(s *sandbox.Spec) { s.Command = []string{"/no/such/program"} }, nil},
	}
	for _, c := range cases {
		spec := f.spec("true")
		c.mutate(&spec)
		h, err := f.d.Create(context.Background(), spec)
		if err == nil {
			f.d.Delete(context.Background(), h)
			t.Errorf("%s: Create succeeded", c.name)
			continue
		}
		if c.want != nil && !errors.Is(err, c.want) {
			t.Errorf("%s: error %v, want %v", c.name, err, c.want)
		}
		if c.name == "command not in root" && !strings.Contains(err.Error(), "/no/such/program") {
			t.Errorf("%s: error does not say what is wrong: %v", c.name, err)
		}
		checkNothingLeft(t, f.d, spec.ID)
	}
	entries, _ := os.ReadDir(filepath.Join(f.d.root, "sandboxes"))
	if len(entries) != 0 {
		t.Errorf("state left behind: %v", entries)
	}
}

func TestMissingRuntimeBinary(t *testing.T) {
	_, err := New(context.Background(), WithRoot(t.TempDir()), WithRuntimePath("/nonexistent/runc"))
	if err == nil || !strings.Contains(err.Error(), "/nonexistent/runc") {
		t.Errorf("New with a missing runtime: %v", err)
	}
}

func TestAutoRuntimeProbesCrun(t *testing.T) {
	requireRuntime(t, "runc")
	requireRuntime(t, "crun")
	d := newTestDriver(t, t.TempDir(), WithRuntime(RuntimeAuto))
	name, _, reason := d.Runtime()
	mode := DetectCgroupMode()
	if mode == CgroupHybrid && len(UnifiedControllers(mode)) > 0 {
		if name != RuntimeRunc || !strings.Contains(reason, "hybrid") {
			t.Errorf("on a hybrid host with unified controllers crun cannot work; got %s (%s)", name, reason)
		}
	} else if name != RuntimeCrun {
		t.Logf("auto chose %s: %s", name, reason)
	}
	if d.Name() != DriverName+"/"+name {
		t.Errorf("Name %q", d.Name())
	}
}

func TestInitRunsAsPidOne(t *testing.T) {
	f := newFixture(t)
	if f.d.init == "" {
		t.Skip("no static init on this host: apt-get install tini")
	}
	spec := f.spec("cat /proc/1/comm; echo $$; exit 3")
	spec.Init = true
	st, out := f.runOnce(spec)
	if st.ExitCode != 3 {
		t.Errorf("exit status %+v, want the command's 3 passed through", st)
	}
	if len(out) != 2 || out[0] != filepath.Base(initMountPoint) || out[1] == "1" {
		t.Errorf("PID 1 should be the init and the command another pid; output %q", out)
	}
	if _, err := os.Stat(filepath.Join(f.root, initMountPoint)); !os.IsNotExist(err) {
		t.Errorf("the init's mount point leaked into the image: %v", err)
	}
}

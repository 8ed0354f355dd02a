package substrate

import (
	"context"
	"errors"
	"fmt"
	"github.com/nimbus-dev/nimbus/internal/network/nettest"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/nimbus-dev/nimbus/internal/image"
	"github.com/nimbus-dev/nimbus/internal/network"
	"github.com/nimbus-dev/nimbus/internal/sandbox"
	"github.com/nimbus-dev/nimbus/internal/sandboxlog"
	"github.com/nimbus-dev/nimbus/internal/store"
	"github.com/nimbus-dev/nimbus/internal/store/sqlitestore"
)

var testOwner = Owner{Kind: "ec2-instance", Account: "123456789012", Region: "us-east-1", ResourceID: "i-0123456789abcdef0"}

func ensureBusybox(t testing.TB, h *Host) {
	t.Helper()
	if _, err := h.Images().EnsureBusybox(context.Background()); err != nil {
		if errors.Is(err, image.ErrMissingTool) {
			t.Skipf("busybox image: %v (apt-get install busybox-static)", err)
		}
		t.Fatalf("EnsureBusybox: %v", err)
	}
}

// httpdSpec serves a page naming the sandbox on port 8080.
func (env *ociEnv) httpdSpec(t testing.TB, id string) RunSpec {
	www := t.TempDir()
	if err := os.WriteFile(filepath.Join(www, "index.html"), []byte("hello from "+id+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	return RunSpec{
		ID: id, Owner: testOwner, Image: "busybox", Network: env.NetName, Init: true,
		Command: []string{"sh", "-c", "echo serving; exec httpd -f -p 8080 -h /www"},
		Mounts:  []Mount{{Type: MountBind, Source: www, Destination: "/www", ReadOnly: true}},
	}
}

func requireServes(t testing.TB, sb *Sandbox) {
	t.Helper()
	eventually(t, 5*time.Second, "fetch from "+sb.IP.String(), func() error {
		body, err := fetch(context.Background(), sb.IP)
		if err == nil && body != "hello from "+sb.ID+"\n" {
			err = fmt.Errorf("body %q", body)
		}
		return err
	})
}

func logLines(t testing.TB, h *Host, id string) []sandboxlog.Record {
	t.Helper()
	rc, err := h.Logs(id)
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	recs, err := sandboxlog.ReadAll(rc)
	if err != nil {
		t.Fatal(err)
	}
	return recs
}

func TestOCIServeOnNetwork(t *testing.T) {
	env := newOCIEnv(t)
	h := env.open(t)
	ensureBusybox(t, h)
	ctx := context.Background()
	before := time.Now()
	sb, err := h.Run(ctx, env.httpdSpec(t, "web-"+nettest.RandomHex(t, 4)))
	if err != nil {
		t.Fatal(err)
	}
	tr := traceOf(t, h, sb)
	requireServes(t, sb)
	recs := logLines(t, h, sb.ID)
	if len(recs) == 0 || recs[0].Content != "serving" || recs[0].Stream != sandboxlog.Stdout ||
		recs[0].Time.Before(before.Add(-time.Second)) || recs[0].Time.After(time.Now()) {
		t.Errorf("log records %+v, want a timestamped stdout 'serving'", recs)
	}
	if in := h.Info(); in.Sandboxes[sandbox.StateRunning] != 1 || !in.Networking || in.Runtime != "runc" {
		t.Errorf("Info %+v", in)
	}
	var out strings.Builder
	if code, err := h.Exec(ctx, sb.ID, []string{"cat", "/www/index.html"}, nil, &out, &out); err != nil || code != 0 || !strings.Contains(out.String(), sb.ID) {
		t.Errorf("Exec: %d, %v, %q", code, err, out.String())
	}

	// The firewall passes through: no ingress rule blocks the host, one opens it again.
	if err := h.SetFirewall(ctx, sb.ID, []network.Rule{}, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := fetch(ctx, sb.IP); err == nil {
		t.Error("fetch succeeded with ingress denied")
	}
	if err := h.SetFirewall(ctx, sb.ID, []network.Rule{{Protocol: network.ProtocolTCP, FromPort: 8080, ToPort: 8080, CIDR: mustPrefix("0.0.0.0/0")}}, nil); err != nil {
		t.Fatal(err)
	}
	requireServes(t, sb)

	if err := h.Kill(ctx, sb.ID, int(syscall.SIGKILL)); err != nil {
		t.Fatal(err)
	}
	st, err := h.Wait(ctx, sb.ID)
	if err != nil || st.ExitCode != 137 {
		t.Errorf("Wait after SIGKILL: %+v, %v; want exit code 137", st, err)
	}
	if err := h.Delete(ctx, sb.ID); err != nil {
		t.Fatal(err)
	}
	env.requireNoLeaks(t, tr)
}

func TestOCIExitCodeAndOOM(t *testing.T) {
	env := newOCIEnv(t)
	h := env.open(t)
	ensureBusybox(t, h)
	ctx := context.Background()
	run := func(rs RunSpec) (*sandbox.ExitStatus, []sandboxlog.Record) {
		t.Helper()
		rs.Owner, rs.Image = testOwner, "busybox"
		sb, err := h.Run(ctx, rs)
		if err != nil {
			t.Fatal(err)
		}
		st, err := h.Wait(ctx, sb.ID)
		if err != nil {
			t.Fatal(err)
		}
		recs := logLines(t, h, sb.ID)
		if err := h.Delete(ctx, sb.ID); err != nil {
			t.Fatal(err)
		}
		env.requireNoLeaks(t, trace{ID: sb.ID})
		return st, recs
	}
	st, recs := run(RunSpec{Command: []string{"sh", "-c", "echo out; echo err >&2; exit 7"}})
	if st.ExitCode != 7 || st.OOMKilled {
		t.Errorf("status %+v, want exit code 7", st)
	}
	if got := fmt.Sprint(sandboxlog.Lines(recs, sandboxlog.Stdout), sandboxlog.Lines(recs, sandboxlog.Stderr)); got != "[out] [err]" {
		t.Errorf("log lines %s", got)
	}
	st, _ = run(RunSpec{Command: []string{"dd", "if=/dev/zero", "of=/dev/null", "bs=64M", "count=1"}, MemoryBytes: 16 << 20})
	if !st.OOMKilled || st.ExitCode != 137 {
		t.Errorf("status %+v, want an OOM kill", st)
	}
}

func TestOCIBlockVolume(t *testing.T) {
	env := newOCIEnv(t)
	h := env.open(t)
	ensureBusybox(t, h)
	ctx := context.Background()
	vol := "vol-" + nettest.RandomHex(t, 4)
	if err := h.Volumes().Create(ctx, vol, 16<<20); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { h.Volumes().Delete(context.Background(), vol) })
	sb, err := h.Run(ctx, RunSpec{Owner: testOwner, Image: "busybox",
		Command: []string{"sh", "-c", "echo kept > /data/f && cat /data/f && df /data | tail -1"},
		Mounts:  []Mount{{Type: MountBlockVolume, Source: vol, Destination: "/data"}, {Type: MountTmpfs, Destination: "/scratch", SizeBytes: 1 << 20}}})
	if err != nil {
		t.Fatal(err)
	}
	if st, err := h.Wait(ctx, sb.ID); err != nil || st.ExitCode != 0 {
		t.Fatalf("Wait: %+v, %v; log %+v", st, err, logLines(t, h, sb.ID))
	}
	if lines := sandboxlog.Lines(logLines(t, h, sb.ID), sandboxlog.Stdout); len(lines) < 1 || lines[0] != "kept" {
		t.Errorf("output %q", lines)
	}
	if info, err := h.Volumes().Inspect(ctx, vol); err != nil || !info.Attached {
		t.Errorf("volume while its sandbox exists: %+v, %v", info, err)
	}
	if err := h.Delete(ctx, sb.ID); err != nil {
		t.Fatal(err)
	}
	if info, err := h.Volumes().Inspect(ctx, vol); err != nil || info.Attached || len(info.LoopDevices) != 0 {
		t.Errorf("volume after Delete: %+v, %v", info, err)
	}
	env.requireNoLeaks(t, trace{ID: sb.ID})
}

// adoptAndDelete checks a sandbox made by an earlier Host is running,
// reachable, waitable and deletable from h.
func adoptAndDelete(t *testing.T, env *ociEnv, h *Host, id string) {
	ctx := context.Background()
	sb, err := h.Get(ctx, id)
	if err != nil || sb.State != sandbox.StateRunning {
		t.Fatalf("adopted sandbox: %+v, %v", sb, err)
	}
	tr := traceOf(t, h, sb)
	requireServes(t, sb)
	waited := make(chan error, 1)
	go func() {
		st, err := h.Wait(ctx, id)
		if err == nil && st.ExitCode != 137 {
			err = fmt.Errorf("exit status %+v, want 137", st)
		}
		waited <- err
	}()
	if err := h.Kill(ctx, id, int(syscall.SIGKILL)); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-waited:
		if err != nil {
			t.Errorf("Wait on adopted sandbox: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Wait on adopted sandbox did not return after SIGKILL")
	}
	if err := h.Delete(ctx, id); err != nil {
		t.Fatal(err)
	}
	env.requireNoLeaks(t, tr)
}

func TestOCIRestartAfterClose(t *testing.T) {
	env := newOCIEnv(t)
	h1 := env.open(t)
	ensureBusybox(t, h1)
	sb, err := h1.Run(context.Background(), env.httpdSpec(t, "web-"+nettest.RandomHex(t, 4)))
	if err != nil {
		t.Fatal(err)
	}
	short, err := h1.Run(context.Background(), RunSpec{Owner: testOwner, Image: "busybox", Command: []string{"sh", "-c", "sleep 0.3; exit 5"}})
	if err != nil {
		t.Fatal(err)
	}
	env.shutdown()
	requireServes(t, sb)    // Close leaves it running
	time.Sleep(time.Second) // short exits while nimbus is down
	h2 := env.open(t)
	st, err := h2.Wait(context.Background(), short.ID)
	if err != nil || st.ExitCode != 5 {
		t.Errorf("Wait on a sandbox that exited while nimbus was down: %+v, %v; want exit code 5", st, err)
	}
	if err := h2.Delete(context.Background(), short.ID); err != nil {
		t.Fatal(err)
	}
	adoptAndDelete(t, env, h2, sb.ID)
}

func TestOCIRestartAfterKill9(t *testing.T) {
	env := newOCIEnv(t)
	h0 := env.open(t)
	ensureBusybox(t, h0)
	env.shutdown()
	id := "web-" + nettest.RandomHex(t, 4)
	runCrashHelper(t, env, "running", env.httpdSpec(t, id))
	h := env.open(t)
	adoptAndDelete(t, env, h, id)
}

func TestOCICrashDuringRun(t *testing.T) {
	for _, step := range []string{"recorded", "volumes", "network", "created", "started"} {
		t.Run(step, func(t *testing.T) {
			env := newOCIEnv(t)
			h0 := env.open(t)
			ensureBusybox(t, h0)
			vol := "vol-" + nettest.RandomHex(t, 4)
			if err := h0.Volumes().Create(context.Background(), vol, 16<<20); err != nil {
				t.Fatal(err)
			}
			env.shutdown()
			id := "crash-" + nettest.RandomHex(t, 4)
			spec := env.httpdSpec(t, id)
			spec.Mounts = append(spec.Mounts, Mount{Type: MountBlockVolume, Source: vol, Destination: "/data"})
			runCrashHelper(t, env, step, spec)

			h := env.open(t)
			if sbs, err := h.List(context.Background(), nil); err != nil || len(sbs) != 0 {
				t.Errorf("after recovery: %d sandboxes, %v", len(sbs), err)
			}
			if n := countRecords(t, env); n != 0 {
				t.Errorf("%d records after recovery", n)
			}
			if atts, _ := h.Network().List(context.Background()); len(atts) != 0 {
				t.Errorf("network attachments after recovery: %+v", atts)
			}
			env.requireNoLeaks(t, trace{ID: id})
			if err := h.Volumes().Delete(context.Background(), vol); err != nil {
				t.Errorf("volume still in use after recovery: %v", err)
			}
		})
	}
}

func countRecords(t *testing.T, env *ociEnv) int {
	n := 0
	err := env.last.store.View(context.Background(), func(tx store.Tx) error {
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

func TestOCIResetLeavesNothing(t *testing.T) {
	env := newOCIEnv(t)
	h := env.open(t)
	ensureBusybox(t, h)
	ctx := context.Background()
	var traces []trace
	for i := range 4 {
		rs := RunSpec{Owner: testOwner, Image: "busybox", Command: []string{"sleep", "300"}}
		if i%2 == 0 {
			rs.Network = env.NetName
		}
		sb, err := h.Run(ctx, rs)
		if err != nil {
			t.Fatal(err)
		}
		traces = append(traces, traceOf(t, h, sb))
	}
	if err := h.Reset(ctx, nil); err != nil {
		t.Fatal(err)
	}
	if sbs, _ := h.List(ctx, nil); len(sbs) != 0 {
		t.Errorf("%d sandboxes after Reset", len(sbs))
	}
	if infos, _ := h.Driver().List(ctx); len(infos) != 0 {
		t.Errorf("%d driver sandboxes after Reset", len(infos))
	}
	env.requireNoLeaks(t, traces...)
}

func TestOCIBadInputLeavesNothing(t *testing.T) {
	env := newOCIEnv(t)
	h := env.open(t)
	ensureBusybox(t, h)
	cases := []struct {
		name   string
		mutate func(*RunSpec)
		want   error
	}{
		{"missing image", func(rs *RunSpec) { rs.Image = "no-such-image" }, image.ErrNotFound},
		{"unknown network", func(rs *RunSpec) { rs.Network = "no-such-net" }, nil},
		{"address outside the subnet", func(rs *RunSpec) { rs.Network, rs.IP = env.NetName, mustPrefix("192.0.2.7/32").Addr() }, nil},
		{"too many GPUs", func(rs *RunSpec) { rs.GPUs = 64 }, nil},
		{"missing command binary", func(rs *RunSpec) { rs.Command = []string{"/no/such/program"}; rs.Network = env.NetName }, nil},
		{"missing block volume", func(rs *RunSpec) {
			rs.Mounts = []Mount{{Type: MountBlockVolume, Source: "vol-missing", Destination: "/data"}}
		}, nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			id := "bad-" + nettest.RandomHex(t, 4)
			rs := RunSpec{ID: id, Owner: testOwner, Image: "busybox", Command: []string{"true"}}
			tc.mutate(&rs)
			_, err := h.Run(context.Background(), rs)
			if err == nil {
				h.Delete(context.Background(), id)
				t.Fatal("Run succeeded")
			}
			if tc.want != nil && !errors.Is(err, tc.want) {
				t.Errorf("error %v, want %v", err, tc.want)
			}
			t.Logf("error: %v", err)
			if n := countRecords(t, env); n != 0 {
				t.Errorf("%d records left", n)
			}
			if atts, _ := h.Network().List(context.Background()); len(atts) != 0 {
				t.Errorf("network attachments left: %+v", atts)
			}
			env.requireNoLeaks(t, trace{ID: id})
		})
	}
}

func TestOpenMissingRuntime(t *testing.T) {
	t.Setenv("PATH", t.TempDir())
	_, err := Open(context.Background(), Options{DataDir: t.TempDir(), Store: sqlitestore.OpenTemp(t), Driver: DriverOCI, Runtime: "runc"})
	if err == nil || !strings.Contains(err.Error(), "runc") {
		t.Fatalf("Open without runc: %v, want an error naming runc", err)
	}
}

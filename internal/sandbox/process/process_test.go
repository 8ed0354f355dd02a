package process

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/nimbus-dev/nimbus/internal/sandbox"
	"github.com/nimbus-dev/nimbus/internal/sandbox/oci"
	"github.com/nimbus-dev/nimbus/internal/sandbox/sandboxtest"
	"github.com/nimbus-dev/nimbus/internal/sandboxlog"
)

func TestMain(m *testing.M) {
	if len(os.Args) > 1 && os.Args[1] == oci.ShimCommand {
		os.Exit(oci.ShimMain(os.Args[2:]))
	}
	os.Exit(m.Run())
}

func newTestDriver(t testing.TB, dir string) *Driver {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	d, err := New(WithRoot(filepath.Join(dir, "process")), WithShim(exe, oci.ShimCommand))
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func TestContract(t *testing.T) {
	var last *Driver
	sandboxtest.Run(t, sandboxtest.Harness{
		NewDriver: func(t *testing.T, dir string) sandbox.Driver {
			last = newTestDriver(t, dir)
			return last
		},
		Command:       sandboxtest.ShellCommand,
		RootFS:        func(t *testing.T) sandbox.RootFS { return sandbox.RootFS{} },
		RealProcesses: true,
		CheckClean: func(t *testing.T, id string) {
			dir := last.sandboxDir(id)
			if _, err := os.Stat(dir); !os.IsNotExist(err) {
				t.Errorf("state dir %s remains", dir)
			}
			if pids := processesMentioning(dir); len(pids) > 0 {
				t.Errorf("processes remain: %v", pids)
			}
		},
	})
}

func processesMentioning(s string) []string {
	entries, _ := os.ReadDir("/proc")
	var found []string
	for _, e := range entries {
		b, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if err != nil || len(b) == 0 {
			continue
		}
		if st, _ := os.ReadFile(filepath.Join("/proc", e.Name(), "stat")); strings.Contains(string(st), ") Z ") {
			continue
		}
		if cmd := strings.ReplaceAll(string(b), "\x00", " "); strings.Contains(cmd, s) {
			found = append(found, e.Name()+": "+cmd)
		}
	}
	return found
}

func TestRlimitsAndNameSayWhatItIs(t *testing.T) {
	dir := t.TempDir()
	d := newTestDriver(t, dir)
	if !strings.Contains(d.Description(), "NO isolation") {
		t.Errorf("description does not warn: %q", d.Description())
	}
	ctx := context.Background()
	logPath := filepath.Join(dir, "r.log")
	h, err := d.Create(ctx, sandbox.Spec{
		ID: "rl", Command: []string{"sh", "-c", "ulimit -n; ulimit -Hn"},
		Rlimits: []sandbox.Rlimit{{Type: "RLIMIT_NOFILE", Soft: 100, Hard: 200}},
		Log:     sandbox.LogSink{Path: logPath},
	})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Delete(ctx, h)
	if err := d.Start(ctx, h); err != nil {
		t.Fatal(err)
	}
	if st, err := d.Wait(ctx, h); err != nil || st.ExitCode != 0 {
		t.Fatalf("Wait: %+v %v", st, err)
	}
	recs, _ := sandboxlog.ReadFile(logPath)
	if got := sandboxlog.Lines(recs, sandboxlog.Stdout); !slices.Equal(got, []string{"100", "200"}) {
		t.Errorf("rlimits seen %q", got)
	}
}

func TestRefusesWhatItCannotIsolate(t *testing.T) {
	d := newTestDriver(t, t.TempDir())
	base := sandbox.Spec{ID: "x", Command: []string{"true"}, Log: sandbox.LogSink{Path: "/tmp/x.log"}}
	for name, mutate := range map[string]func(*sandbox.Spec){
		"gpus":    func(s *sandbox.Spec) { s.GPUs = 1 },
		"mounts":  func(s *sandbox.Spec) { s.Mounts = []sandbox.Mount{{Type: sandbox.MountTmpfs, Destination: "/x"}} },
		"network": func(s *sandbox.Spec) { s.Network = &sandbox.NetworkAttachment{NetNSPath: "/var/run/netns/x"} },
	} {
		spec := base
		mutate(&spec)
		if _, err := d.Create(context.Background(), spec); !errors.Is(err, sandbox.ErrUnsupported) {
			t.Errorf("%s: %v, want ErrUnsupported", name, err)
		}
	}
	spec := base
	spec.Command = []string{"/no/such/program"}
	h, err := d.Create(context.Background(), spec)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Delete(context.Background(), h)
	if err := d.Start(context.Background(), h); err == nil || !strings.Contains(err.Error(), "/no/such/program") {
		t.Errorf("Start of a missing program: %v", err)
	}
}

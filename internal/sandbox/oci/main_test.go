package oci

import (
	"bufio"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/nimbus-dev/nimbus/internal/sandbox"
	"github.com/nimbus-dev/nimbus/internal/sandbox/sandboxtest"
)

// TestMain lets the test binary serve as the shim, as the nimbus binary
// does in production.
func TestMain(m *testing.M) {
	if len(os.Args) > 1 && os.Args[1] == ShimCommand {
		os.Exit(ShimMain(os.Args[2:]))
	}
	if len(os.Args) > 1 && os.Args[1] == orphanHelperCommand {
		os.Exit(orphanHelperMain(os.Args[2:]))
	}
	if len(os.Args) > 1 && os.Args[1] == crashInCreateHelperCommand {
		os.Exit(crashInCreateHelperMain(os.Args[2:]))
	}
	os.Exit(m.Run())
}

// requireRuntime skips unless we are root and the runtime is installed.
func requireRuntime(t testing.TB, name string) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("the oci driver needs root")
	}
	if _, err := exec.LookPath(name); err != nil {
		t.Skipf("%s is not installed", name)
	}
}

func newTestDriver(t testing.TB, dir string, opts ...Option) *Driver {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	opts = append([]Option{WithRoot(filepath.Join(dir, "oci")), WithShim(exe, ShimCommand)}, opts...)
	d, err := New(context.Background(), opts...)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return d
}

// checkNothingLeft looks at the host for anything sandbox id may have left.
func checkNothingLeft(t *testing.T, d *Driver, id string) {
	t.Helper()
	dir := d.sandboxDir(id)
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Errorf("%s: state dir %s still exists", id, dir)
	}
	mounts, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(mounts), dir) {
		t.Errorf("%s: a mount under %s remains", id, dir)
	}
	for _, cg := range allCgroupDirs(d.mode, id) {
		if _, err := os.Stat(cg); !os.IsNotExist(err) {
			t.Errorf("%s: cgroup %s remains", id, cg)
		}
	}
	out, err := exec.Command(d.rt.path, "--root", d.rt.root, "list", "-q").Output()
	if err != nil {
		t.Errorf("%s list: %v", d.rt.name, err)
	}
	for _, l := range strings.Fields(string(out)) {
		if l == id {
			t.Errorf("%s: %s still lists it", id, d.rt.name)
		}
	}
	if pids := processesMentioning(dir); len(pids) > 0 {
		t.Errorf("%s: processes still running for it: %v", id, pids)
	}
}

// processesMentioning scans /proc for command lines containing s (shims
// are started with their state dir as last argument).
func processesMentioning(s string) []string {
	entries, _ := os.ReadDir("/proc")
	var found []string
	for _, e := range entries {
		if e.Name()[0] < '0' || e.Name()[0] > '9' {
			continue
		}
		b, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if err != nil {
			continue
		}
		cmd := strings.ReplaceAll(string(b), "\x00", " ")
		if strings.Contains(cmd, s) && !isZombie(e.Name()) {
			found = append(found, e.Name()+": "+cmd)
		}
	}
	return found
}

func isZombie(pid string) bool {
	f, err := os.Open(filepath.Join("/proc", pid, "status"))
	if err != nil {
		return true
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if strings.HasPrefix(sc.Text(), "State:") {
			return strings.Contains(sc.Text(), "Z")
		}
	}
	return false
}

func TestContractRunc(t *testing.T) {
	requireRuntime(t, "runc")
	var last *Driver
	sandboxtest.Run(t, sandboxtest.Harness{
		NewDriver: func(t *testing.T, dir string) sandbox.Driver {
			last = newTestDriver(t, dir)
			return last
		},
		Command: sandboxtest.ShellCommand,
		RootFS: func(t *testing.T) sandbox.RootFS {
			return sandbox.RootFS{ImageDir: sandboxtest.BusyboxRoot(t)}
		},
		RealProcesses: true,
		CheckClean:    func(t *testing.T, id string) { checkNothingLeft(t, last, id) },
	})
}

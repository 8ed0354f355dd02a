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
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/nimbus-dev/nimbus/internal/sandbox"
	"github.com/nimbus-dev/nimbus/internal/sandbox/sandboxtest"
)

// crashInCreateHelperCommand makes the test binary play a nimbus that is
// killed inside Create: its "shim" SIGKILLs it, so Create has made the
// state directory, mounted the root and written config.json and
// handle.json, but no runtime ever heard of the container.
const crashInCreateHelperCommand = "__crash_in_create_helper"

func crashInCreateHelperMain(args []string) int {
	root, imageDir, logPath := args[0], args[1], args[2]
	ctx := context.Background()
	d, err := New(ctx, WithRoot(root), WithShim("sh", "-c", "kill -KILL $PPID"))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	_, err = d.Create(ctx, sandbox.Spec{
		ID: "crashed", RootFS: sandbox.RootFS{ImageDir: imageDir},
		Command: []string{"true"}, Log: sandbox.LogSink{Path: logPath},
	})
	fmt.Fprintln(os.Stderr, "Create returned instead of the process being killed:", err)
	return 1
}

// TestNewSweepsSandboxOfCrashedCreate: nimbus is SIGKILLed inside Create
// before the runtime made the container; the next New removes the state
// directory and unmounts its overlay root.
func TestNewSweepsSandboxOfCrashedCreate(t *testing.T) {
	requireRuntime(t, "runc")
	dir := t.TempDir()
	root := filepath.Join(dir, "oci")
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(exe, crashInCreateHelperCommand, root, sandboxtest.BusyboxRoot(t), filepath.Join(dir, "crashed.log"))
	cmd.Stderr = os.Stderr
	err = cmd.Run()
	var exitErr *exec.ExitError
	if !errors.As(err, &exitErr) || exitErr.Sys().(syscall.WaitStatus).Signal() != syscall.SIGKILL {
		t.Fatalf("helper ended with %v, want killed by SIGKILL inside Create", err)
	}
	sbDir := filepath.Join(root, "sandboxes", "crashed")
	// The leak this guards against: the directory and its mounted root.
	if mounts, err := mountsUnder(sbDir); err != nil || !slices.Contains(mounts, filepath.Join(sbDir, "rootfs")) {
		t.Fatalf("crashed Create left mounts %v (%v), want its overlay root", mounts, err)
	}
	t.Cleanup(func() { unmountRoot(sbDir) })
	// The "shim" that killed the helper may not have exited yet, and a
	// sweep rightly leaves a directory whose shim runs.
	deadline := time.Now().Add(5 * time.Second)
	for _, alive := readShimPid(sbDir); alive; _, alive = readShimPid(sbDir) {
		if time.Now().After(deadline) {
			t.Fatal("the helper's shim is still running")
		}
		time.Sleep(10 * time.Millisecond)
	}

	d := newTestDriver(t, dir)
	checkNothingLeft(t, d, "crashed")
	if infos, err := d.List(context.Background()); err != nil || len(infos) != 0 {
		t.Errorf("List after the sweep = %+v, %v; want nothing", infos, err)
	}
}

// TestNewSweepKeepsLiveSandboxes: of the directories a driver finds, only
// those no runtime knows, no shim watches and no Create holds are removed,
// with every mount under them and their empty cgroups.
func TestNewSweepKeepsLiveSandboxes(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()

	running := f.start(f.spec("sleep 30"))

	// Like Create killed after mounting the root, with something mounted
	// inside it and the cgroup the runtime had begun to make.
	abandoned := "abandoned-" + f.spec("").ID
	abandonedDir := f.d.sandboxDir(abandoned)
	if err := os.Mkdir(abandonedDir, 0o700); err != nil {
		t.Fatal(err)
	}
	rootPath, err := mountRoot(abandonedDir, sandbox.RootFS{ImageDir: f.root})
	if err != nil {
		t.Fatal(err)
	}
	inner := filepath.Join(rootPath, "tmp")
	if err := os.MkdirAll(inner, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := unix.Mount("tmpfs", inner, "tmpfs", 0, "size=1m"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		unix.Unmount(inner, unix.MNT_DETACH)
		unmountRoot(abandonedDir)
	})
	cgroup := cgroupDirsFor(f.d.mode, abandoned).memory
	if err := os.MkdirAll(cgroup, 0o755); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.Remove(cgroup) })

	// A shim still starting the runtime: its command line ends with the dir.
	shimmed := f.d.sandboxDir("shimmed-" + f.spec("").ID)
	if err := os.Mkdir(shimmed, 0o700); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(shimmed) })
	shim := exec.Command("sh", "-c", "sleep 30; :", "sh", shimmed)
	if err := shim.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { shim.Process.Kill(); shim.Wait() })
	if err := os.WriteFile(filepath.Join(shimmed, shimPidFile), []byte(fmt.Sprint(shim.Process.Pid)), 0o600); err != nil {
		t.Fatal(err)
	}

	// A Create in progress on another driver of the same root.
	creating := f.d.sandboxDir("creating-" + f.spec("").ID)
	if err := os.Mkdir(creating, 0o700); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(creating) })
	lock, err := lockSandboxDir(creating, true)
	if err != nil {
		t.Fatal(err)
	}
	defer lock.Close()

	d2 := newTestDriver(t, f.dir)

	checkNothingLeft(t, d2, abandoned)
	for _, kept := range []string{f.d.sandboxDir(running.ID), shimmed, creating} {
		if _, err := os.Stat(kept); err != nil {
			t.Errorf("the sweep removed %s: %v", kept, err)
		}
	}
	if mounts, err := mountsUnder(f.d.sandboxDir(running.ID)); err != nil || len(mounts) == 0 {
		t.Errorf("the sweep unmounted the running sandbox's root: %v, %v", mounts, err)
	}
	infos, err := d2.List(ctx)
	if err != nil || len(infos) != 1 || infos[0].Handle.ID != running.ID || infos[0].State != sandbox.StateRunning {
		t.Errorf("List after the sweep = %+v, %v; want %s running", infos, err, running.ID)
	}
	if err := d2.Adopt(ctx, running); err != nil {
		t.Errorf("Adopt after the sweep: %v", err)
	}
	if err := d2.Stop(ctx, running, time.Second); err != nil {
		t.Errorf("Stop after the sweep: %v", err)
	}
}

// A Create that loses its directory to a sweep between mkdir and lock
// fails instead of making a sandbox in a directory nobody owns.
func TestLockedDirStillAt(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "sb")
	if err := os.Mkdir(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	lock, err := lockSandboxDir(dir, true)
	if err != nil {
		t.Fatal(err)
	}
	defer lock.Close()
	if !lockedDirStillAt(lock, dir) {
		t.Error("lockedDirStillAt = false for the locked directory")
	}
	if other, err := lockSandboxDir(dir, false); !errors.Is(err, unix.EWOULDBLOCK) {
		if other != nil {
			other.Close()
		}
		t.Errorf("second lock = %v, want EWOULDBLOCK", err)
	}
	if err := os.Remove(dir); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	if lockedDirStillAt(lock, dir) {
		t.Error("lockedDirStillAt = true after the directory was replaced")
	}
}

func TestUnescapeMountinfo(t *testing.T) {
	cases := map[string]string{
		`/a/b`:            "/a/b",
		`/a\040b`:         "/a b",
		`/tab\011nl\012`:  "/tab\tnl\n",
		`/back\134slash`:  `/back\slash`,
		`/not\04`:         `/not\04`,
		`/trailing\`:      `/trailing\`,
		`/\0401\040\0402`: "/ 1  2",
	}
	for in, want := range cases {
		if got := unescapeMountinfo(in); got != want {
			t.Errorf("unescapeMountinfo(%q) = %q, want %q", in, got, want)
		}
	}
	if strings.Contains(unescapeMountinfo(`/x\999`), " ") {
		t.Error("non-octal escape decoded")
	}
}

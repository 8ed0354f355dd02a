package oci

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/nimbus-dev/nimbus/internal/sandbox"
	"github.com/nimbus-dev/nimbus/internal/sandbox/sandboxtest"
)

// orphanHelperCommand makes the test binary play a nimbus that starts one
// sandbox, prints its handle and then waits to be killed.
const orphanHelperCommand = "__orphan_helper"

func orphanHelperMain(args []string) int {
	root, imageDir, logPath := args[0], args[1], args[2]
	exe, _ := os.Executable()
	ctx := context.Background()
	d, err := New(ctx, WithRoot(root), WithShim(exe, ShimCommand))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	h, err := d.Create(ctx, sandbox.Spec{
		ID: "orphan", RootFS: sandbox.RootFS{ImageDir: imageDir},
		Command: []string{"sh", "-c", "echo started; sleep 60"},
		Log:     sandbox.LogSink{Path: logPath},
	})
	if err == nil {
		err = d.Start(ctx, h)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	json.NewEncoder(os.Stdout).Encode(h)
	time.Sleep(time.Minute)
	return 0
}

// TestKilledOwnerThenAdoptAndDelete: nimbus is killed with SIGKILL while a
// sandbox runs; a new nimbus adopts it, sees it running, and Delete leaves
// nothing behind.
func TestKilledOwnerThenAdoptAndDelete(t *testing.T) {
	requireRuntime(t, "runc")
	dir := t.TempDir()
	root := filepath.Join(dir, "oci")
	logPath := filepath.Join(dir, "orphan.log")
	exe, _ := os.Executable()
	cmd := exec.Command(exe, orphanHelperCommand, root, sandboxtest.BusyboxRoot(t), logPath)
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var h sandbox.Handle
	if err := json.NewDecoder(out).Decode(&h); err != nil {
		cmd.Process.Kill()
		cmd.Wait()
		t.Fatalf("helper gave no handle: %v", err)
	}
	cmd.Process.Signal(syscall.SIGKILL)
	cmd.Wait()

	d := newTestDriver(t, dir)
	ctx := context.Background()
	if err := d.Adopt(ctx, &h); err != nil {
		t.Fatalf("Adopt: %v", err)
	}
	infos, err := d.List(ctx)
	if err != nil || len(infos) != 1 || infos[0].State != sandbox.StateRunning {
		t.Fatalf("List after restart: %+v, %v", infos, err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		b, _ := os.ReadFile(logPath)
		if strings.Contains(string(b), "stdout F started") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("orphan's log lacks its output: %q", b)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err := d.Delete(ctx, &h); err != nil {
		t.Fatalf("Delete: %v", err)
	}
	checkNothingLeft(t, d, h.ID)
}

// TestShimKilled: with its shim gone, Wait still waits for the container
// and then says the status is lost; Delete still cleans up everything.
func TestShimKilled(t *testing.T) {
	f := newFixture(t)
	h := f.start(f.spec("sleep 1"))
	pid, alive := readShimPid(f.d.sandboxDir(h.ID))
	if !alive {
		t.Fatal("no shim")
	}
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	d2 := newTestDriver(t, f.dir) // a driver that did not launch the shim
	_, err := d2.Wait(context.Background(), h)
	if !errors.Is(err, ErrExitStatusLost) {
		t.Errorf("Wait: %v, want ErrExitStatusLost", err)
	}
	if time.Since(start) < 500*time.Millisecond {
		t.Errorf("Wait returned after %v, before the container could have ended", time.Since(start))
	}
}

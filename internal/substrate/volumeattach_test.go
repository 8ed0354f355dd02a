package substrate

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/nimbus-dev/nimbus/internal/network/nettest"
	"github.com/nimbus-dev/nimbus/internal/sandbox"
	"github.com/nimbus-dev/nimbus/internal/sandboxlog"
)

// TestOCIAttachVolumeToRunningSandbox: a block volume attached to a running
// sandbox appears at a directory made for it, takes writes, and is detached
// from the host when the sandbox is deleted.
func TestOCIAttachVolumeToRunningSandbox(t *testing.T) {
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
		Command: []string{"sh", "-c", "until grep -q ' /mnt/sdg ' /proc/mounts; do sleep 0.02; done; echo hot > /mnt/sdg/f && cat /mnt/sdg/f"}})
	if err != nil {
		t.Fatal(err)
	}
	if err := h.AttachVolume(ctx, sb.ID, vol, "/mnt/sdg"); err != nil {
		t.Fatalf("AttachVolume: %v", err)
	}
	wctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if st, err := h.Wait(wctx, sb.ID); err != nil || st.ExitCode != 0 {
		t.Fatalf("Wait: %+v, %v; log %+v", st, err, logLines(t, h, sb.ID))
	}
	if lines := sandboxlog.Lines(logLines(t, h, sb.ID), sandboxlog.Stdout); len(lines) != 1 || lines[0] != "hot" {
		t.Errorf("output %q", lines)
	}
	if info, err := h.Volumes().Inspect(ctx, vol); err != nil || !info.Attached {
		t.Errorf("volume while its sandbox exists: %+v, %v", info, err)
	}
	// An exited sandbox takes no more volumes.
	if err := h.AttachVolume(ctx, sb.ID, vol, "/mnt/sdh"); !errors.Is(err, ErrNotRunning) {
		t.Errorf("AttachVolume to an exited sandbox: %v; want ErrNotRunning", err)
	}
	if err := h.Delete(ctx, sb.ID); err != nil {
		t.Fatal(err)
	}
	if info, err := h.Volumes().Inspect(ctx, vol); err != nil || info.Attached || len(info.LoopDevices) != 0 {
		t.Errorf("volume after Delete: %+v, %v", info, err)
	}
}

// TestOCIDetachVolumeFromRunningSandbox: a volume in use inside the sandbox
// (a process's working directory) is not detached; once free it leaves the
// sandbox and the host while the sandbox runs on.
func TestOCIDetachVolumeFromRunningSandbox(t *testing.T) {
	env := newOCIEnv(t)
	h := env.open(t)
	ensureBusybox(t, h)
	ctx := context.Background()
	vol := "vol-" + nettest.RandomHex(t, 4)
	if err := h.Volumes().Create(ctx, vol, 16<<20); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { h.Volumes().Delete(context.Background(), vol) })
	// A process sits in the volume until /tmp/release exists, then the
	// sandbox waits until the volume is gone and says so.
	script := "until grep -q ' /mnt/sdg ' /proc/mounts; do sleep 0.02; done; " +
		"(cd /mnt/sdg && touch /tmp/inside && until [ -e /tmp/release ]; do sleep 0.02; done); " +
		"while grep -q ' /mnt/sdg ' /proc/mounts; do sleep 0.02; done; echo unmounted; sleep 30"
	sb, err := h.Run(ctx, RunSpec{Owner: testOwner, Image: "busybox", Command: []string{"sh", "-c", script}})
	if err != nil {
		t.Fatal(err)
	}
	if err := h.AttachVolume(ctx, sb.ID, vol, "/mnt/sdg"); err != nil {
		t.Fatal(err)
	}
	eventually(t, 10*time.Second, "a process inside the volume", func() error {
		if code, err := h.Exec(ctx, sb.ID, []string{"test", "-e", "/tmp/inside"}, nil, io.Discard, io.Discard); err != nil || code != 0 {
			return fmt.Errorf("not yet (%d, %v)", code, err)
		}
		return nil
	})
	if err := h.DetachVolume(ctx, sb.ID, vol, "/mnt/sdg"); !errors.Is(err, ErrMountBusy) {
		t.Fatalf("DetachVolume while in use: %v; want ErrMountBusy", err)
	}
	if info, err := h.Volumes().Inspect(ctx, vol); err != nil || !info.Attached {
		t.Fatalf("volume after a busy detach: %+v, %v; want still attached", info, err)
	}
	var out, errOut strings.Builder
	if code, err := h.Exec(ctx, sb.ID, []string{"touch", "/tmp/release"}, nil, &out, &errOut); err != nil || code != 0 {
		t.Fatalf("release: %d %v %s", code, err, errOut.String())
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		err := h.DetachVolume(ctx, sb.ID, vol, "/mnt/sdg")
		if err == nil {
			break
		}
		if !errors.Is(err, ErrMountBusy) || time.Now().After(deadline) {
			t.Fatalf("DetachVolume once free: %v", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if info, err := h.Volumes().Inspect(ctx, vol); err != nil || info.Attached || len(info.LoopDevices) != 0 {
		t.Errorf("volume after detach: %+v, %v; want off the host", info, err)
	}
	eventually(t, 10*time.Second, "the sandbox to see the volume gone", func() error {
		if !slices.Contains(sandboxlog.Lines(logLines(t, h, sb.ID), sandboxlog.Stdout), "unmounted") {
			return errors.New("no \"unmounted\" line yet")
		}
		return nil
	})
	if got, _ := h.Get(ctx, sb.ID); got == nil || got.State != sandbox.StateRunning {
		t.Errorf("sandbox after the detach: %+v; want still running", got)
	}
	if err := h.Delete(ctx, sb.ID); err != nil {
		t.Fatal(err)
	}
}

package substrate

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/nimbus-dev/nimbus/internal/network/nettest"
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

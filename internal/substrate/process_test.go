package substrate

import (
	"context"
	"errors"
	"testing"

	"github.com/nimbus-dev/nimbus/internal/sandbox"
	"github.com/nimbus-dev/nimbus/internal/sandboxlog"
	"github.com/nimbus-dev/nimbus/internal/store/sqlitestore"
)

// The process driver needs neither root nor a runtime: Info says isolation is
// weak, networks are refused clearly, and the lifecycle still works.
func TestProcessDriver(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	h, err := Open(ctx, Options{DataDir: dir, Store: sqlitestore.OpenTemp(t), Driver: DriverProcess})
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	in := h.Info()
	if !in.WeakIsolation || in.Networking || in.NetworkReason == "" || in.Description == "" {
		t.Errorf("Info %+v: want weak isolation said plainly and networking unavailable with a reason", in)
	}
	rs := RunSpec{Owner: testOwner, RootDir: "/", Command: []string{"/bin/sh", "-c", "echo hi; exit 4"}}
	bad := rs
	bad.Network = "nimbus0"
	if _, err := h.Run(ctx, bad); !errors.Is(err, ErrNetworkUnavailable) {
		t.Errorf("Run with a network: %v, want ErrNetworkUnavailable", err)
	}
	sb, err := h.Run(ctx, rs)
	if err != nil {
		t.Fatal(err)
	}
	st, err := h.Wait(ctx, sb.ID)
	if err != nil || st.ExitCode != 4 {
		t.Fatalf("Wait: %+v, %v", st, err)
	}
	if got, _ := h.Get(ctx, sb.ID); got.State != sandbox.StateExited {
		t.Errorf("state %s after exit", got.State)
	}
	recs, err := sandboxlog.ReadFile(sb.LogPath)
	if err != nil || len(sandboxlog.Lines(recs, sandboxlog.Stdout)) != 1 {
		t.Errorf("log %+v, %v", recs, err)
	}
	if err := h.Delete(ctx, sb.ID); err != nil {
		t.Fatal(err)
	}
	if infos, _ := h.Driver().List(ctx); len(infos) != 0 {
		t.Errorf("%d process sandboxes left", len(infos))
	}
	if sbs, _ := h.List(ctx, nil); len(sbs) != 0 {
		t.Errorf("%d sandboxes listed after Delete", len(sbs))
	}
}

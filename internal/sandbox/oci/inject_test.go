package oci

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/nimbus-dev/nimbus/internal/sandbox"
	"github.com/nimbus-dev/nimbus/internal/sandboxlog"
)

// TestInjectMount: a directory injected into a running sandbox appears
// there, read-only, while the host's own view of the target is unchanged.
func TestInjectMount(t *testing.T) {
	f := newFixture(t)
	src := t.TempDir()
	if err := os.WriteFile(filepath.Join(src, "hello"), []byte("from the host\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	spec := f.spec(`until [ -e /data/hello ]; do sleep 0.02; done; cat /data/hello; touch /data/new 2>/dev/null && echo writable || echo read-only`)
	h := f.start(spec)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := f.d.InjectMount(ctx, h, src, "/data", sandbox.InjectOptions{ReadOnly: true}); err != nil {
		t.Fatalf("InjectMount: %v", err)
	}
	st, err := f.d.Wait(ctx, h)
	if err != nil || st.ExitCode != 0 {
		t.Fatalf("Wait: %+v, %v", st, err)
	}
	recs, err := sandboxlog.ReadFile(spec.Log.Path)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := sandboxlog.Lines(recs, ""), []string{"from the host", "read-only"}; !slices.Equal(got, want) {
		t.Errorf("sandbox printed %q; want %q", got, want)
	}
	if _, err := os.Stat(filepath.Join(f.root, "data", "hello")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the injected file shows in the image root on the host: %v", err)
	}
	// An exited sandbox takes no more mounts.
	if err := f.d.InjectMount(ctx, h, src, "/data", sandbox.InjectOptions{ReadOnly: true}); !errors.Is(err, sandbox.ErrNotRunning) {
		t.Errorf("InjectMount into an exited sandbox: %v; want ErrNotRunning", err)
	}
}

func TestInjectMountMissingTarget(t *testing.T) {
	f := newFixture(t)
	h := f.start(f.spec("sleep 30"))
	if err := f.d.InjectMount(context.Background(), h, t.TempDir(), "/no/such/dir", sandbox.InjectOptions{}); err == nil {
		t.Error("InjectMount onto a missing directory succeeded")
	}
}

// TestInjectMountCreatesTarget: with CreateTarget a missing directory is
// made inside the sandbox (not on the host's image root) and the mount is
// writable unless asked otherwise.
func TestInjectMountCreatesTarget(t *testing.T) {
	f := newFixture(t)
	src := t.TempDir()
	spec := f.spec(`until [ -d /mnt/new/vol ] && grep -q ' /mnt/new/vol ' /proc/mounts; do sleep 0.02; done; echo inside > /mnt/new/vol/proof && echo wrote`)
	h := f.start(spec)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := f.d.InjectMount(ctx, h, src, "/mnt/new/vol", sandbox.InjectOptions{CreateTarget: true}); err != nil {
		t.Fatalf("InjectMount: %v", err)
	}
	if st, err := f.d.Wait(ctx, h); err != nil || st.ExitCode != 0 {
		t.Fatalf("Wait: %+v, %v", st, err)
	}
	if got, err := os.ReadFile(filepath.Join(src, "proof")); err != nil || string(got) != "inside\n" {
		t.Errorf("file the sandbox wrote through the mount = %q, %v", got, err)
	}
	if _, err := os.Stat(filepath.Join(f.root, "mnt", "new")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the target was made in the image root on the host: %v", err)
	}
}

// TestPrivilegeGainIsOptIn: sandboxes run with no_new_privs unless the spec
// allows privilege gain (an EC2 instance, whose users sudo).
func TestPrivilegeGainIsOptIn(t *testing.T) {
	f := newFixture(t)
	for _, allow := range []bool{false, true} {
		spec := f.spec(`grep NoNewPrivs /proc/self/status`)
		spec.AllowPrivilegeGain = allow
		h := f.start(spec)
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		st, err := f.d.Wait(ctx, h)
		cancel()
		if err != nil || st.ExitCode != 0 {
			t.Fatalf("Wait: %+v, %v", st, err)
		}
		recs, err := sandboxlog.ReadFile(spec.Log.Path)
		if err != nil {
			t.Fatal(err)
		}
		want := "NoNewPrivs:\t1"
		if allow {
			want = "NoNewPrivs:\t0"
		}
		if got := sandboxlog.Lines(recs, ""); len(got) != 1 || got[0] != want {
			t.Errorf("AllowPrivilegeGain=%v: %q, want %q", allow, got, want)
		}
	}
}

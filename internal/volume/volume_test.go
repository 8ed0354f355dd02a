package volume

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

func requireBlockHost(t testing.TB) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root: attaches loop devices and mounts ext4")
	}
	for _, bin := range []string{"mkfs.ext4", "e2fsck", "resize2fs", "losetup"} {
		if _, err := exec.LookPath(bin); err != nil {
			t.Skipf("needs %s on PATH (apt-get install e2fsprogs mount)", bin)
		}
	}
	if _, err := os.Stat("/dev/loop-control"); err != nil {
		t.Skipf("needs /dev/loop-control: %v", err)
	}
}

func newTestManager(t testing.TB) *Manager {
	t.Helper()
	m, err := NewManager(Options{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	// Detach whatever a failing test left attached, before TempDir removal.
	t.Cleanup(func() {
		infos, _ := m.List(context.Background())
		for _, info := range infos {
			if err := m.Detach(context.Background(), info.ID); err != nil {
				t.Errorf("cleanup: %v", err)
			}
		}
	})
	return m
}

// assertDetachedOnHost checks the kernel holds nothing of the volume.
func assertDetachedOnHost(t *testing.T, m *Manager, id string) {
	t.Helper()
	mounts, err := os.ReadFile("/proc/mounts")
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(mounts), m.MountPath(id)) {
		t.Errorf("%s is still in /proc/mounts", m.MountPath(id))
	}
	files, _ := filepath.Glob("/sys/block/loop*/loop/backing_file")
	for _, f := range files {
		b, _ := os.ReadFile(f)
		if strings.HasPrefix(strings.TrimSpace(string(b)), m.ImagePath(id)) {
			t.Errorf("%s still backs %s", m.ImagePath(id), f)
		}
	}
	out, err := exec.Command("losetup", "-j", m.ImagePath(id)).CombinedOutput()
	if len(strings.TrimSpace(string(out))) != 0 {
		t.Errorf("losetup -j %s: %s (%v)", m.ImagePath(id), out, err)
	}
}

func writeFile(t *testing.T, dir, name, content string) {
	t.Helper()
	if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

func readFile(t *testing.T, dir, name string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, name))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func fsSize(t *testing.T, dir string) int64 {
	t.Helper()
	var st unix.Statfs_t
	if err := unix.Statfs(dir, &st); err != nil {
		t.Fatal(err)
	}
	return int64(st.Blocks) * st.Bsize
}

func TestBlockVolumeLifecycle(t *testing.T) {
	requireBlockHost(t)
	t.Parallel()
	m := newTestManager(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	const id, size = "vol-life", 64 << 20

	if err := m.Create(ctx, id, size); err != nil {
		t.Fatalf("Create: %v", err)
	}
	if err := m.Create(ctx, id, size); !errors.Is(err, ErrAlreadyExists) {
		t.Errorf("second Create = %v, want ErrAlreadyExists", err)
	}
	info, err := m.Inspect(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	if info.SizeBytes != size || info.AllocBytes >= size/2 || info.Attached {
		t.Errorf("new volume %+v: want %d bytes, sparse, detached", info, size)
	}

	path, err := m.Attach(ctx, id)
	if err != nil {
		t.Fatalf("Attach: %v", err)
	}
	info, _ = m.Inspect(ctx, id)
	if !info.Attached || info.MountPath != path || len(info.LoopDevices) != 1 {
		t.Errorf("attached volume %+v", info)
	}
	writeFile(t, path, "data.txt", "kept across attachments")
	if again, err := m.Attach(ctx, id); err != nil || again != path {
		t.Errorf("Attach of an attached volume = %q, %v; want %q", again, err, path)
	}
	if err := m.Delete(ctx, id); !errors.Is(err, ErrAttached) {
		t.Errorf("Delete while attached = %v, want ErrAttached", err)
	}
	if err := m.Grow(ctx, id, 2*size); !errors.Is(err, ErrAttached) {
		t.Errorf("Grow while attached = %v, want ErrAttached", err)
	}

	// An open file keeps the filesystem busy: Detach says so and keeps it.
	f, err := os.Open(filepath.Join(path, "data.txt"))
	if err != nil {
		t.Fatal(err)
	}
	if err := m.Detach(ctx, id); !errors.Is(err, ErrBusy) {
		t.Errorf("Detach with an open file = %v, want ErrBusy", err)
	}
	f.Close()

	if err := m.Detach(ctx, id); err != nil {
		t.Fatalf("Detach: %v", err)
	}
	assertDetachedOnHost(t, m, id)
	if err := m.Detach(ctx, id); err != nil {
		t.Errorf("second Detach = %v, want nil", err)
	}

	path, err = m.Attach(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	if got := readFile(t, path, "data.txt"); got != "kept across attachments" {
		t.Errorf("after re-attach data.txt = %q", got)
	}
	before := fsSize(t, path)
	if err := m.Detach(ctx, id); err != nil {
		t.Fatal(err)
	}

	if err := m.Grow(ctx, id, size/2); !errors.Is(err, ErrInvalid) {
		t.Errorf("shrinking Grow = %v, want ErrInvalid", err)
	}
	if err := m.Grow(ctx, id, 2*size); err != nil {
		t.Fatalf("Grow: %v", err)
	}
	path, err = m.Attach(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	if after := fsSize(t, path); after < before+size*9/10 {
		t.Errorf("filesystem is %d bytes after growing by %d from %d", after, size, before)
	}
	if got := readFile(t, path, "data.txt"); got != "kept across attachments" {
		t.Errorf("after Grow data.txt = %q", got)
	}
	if err := m.Detach(ctx, id); err != nil {
		t.Fatal(err)
	}

	if err := m.Delete(ctx, id); err != nil {
		t.Fatalf("Delete: %v", err)
	}
	assertDetachedOnHost(t, m, id)
	if _, err := os.Stat(m.ImagePath(id)); !os.IsNotExist(err) {
		t.Errorf("image still exists after Delete: %v", err)
	}
	if _, err := m.Attach(ctx, id); !errors.Is(err, ErrNotFound) {
		t.Errorf("Attach of a deleted volume = %v, want ErrNotFound", err)
	}
}

func TestSnapshotIsPointInTime(t *testing.T) {
	requireBlockHost(t)
	t.Parallel()
	m := newTestManager(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()

	if err := m.Create(ctx, "vol-src", 32<<20); err != nil {
		t.Fatal(err)
	}
	src, err := m.Attach(ctx, "vol-src")
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, src, "before.txt", "in the snapshot")
	// Snapshot while attached: the filesystem is frozen for the copy.
	if err := m.Snapshot(ctx, "vol-src", "snap-1"); err != nil {
		t.Fatalf("Snapshot: %v", err)
	}
	writeFile(t, src, "after.txt", "not in the snapshot")
	if err := m.Snapshot(ctx, "vol-src", "snap-1"); !errors.Is(err, ErrAlreadyExists) {
		t.Errorf("second Snapshot with the same id = %v, want ErrAlreadyExists", err)
	}

	if err := m.FromSnapshot(ctx, "snap-1", "vol-copy"); err != nil {
		t.Fatalf("FromSnapshot: %v", err)
	}
	copyPath, err := m.Attach(ctx, "vol-copy")
	if err != nil {
		t.Fatal(err)
	}
	if got := readFile(t, copyPath, "before.txt"); got != "in the snapshot" {
		t.Errorf("copy has before.txt = %q", got)
	}
	if _, err := os.Stat(filepath.Join(copyPath, "after.txt")); !os.IsNotExist(err) {
		t.Errorf("copy has a file written after the snapshot (stat err %v)", err)
	}
	info, _ := m.Inspect(ctx, "vol-copy")
	if info.AllocBytes >= info.SizeBytes/2 {
		t.Errorf("copy is not sparse: %d of %d bytes allocated", info.AllocBytes, info.SizeBytes)
	}

	for _, id := range []string{"vol-src", "vol-copy"} {
		if err := m.Detach(ctx, id); err != nil {
			t.Fatal(err)
		}
		if err := m.Delete(ctx, id); err != nil {
			t.Fatal(err)
		}
		assertDetachedOnHost(t, m, id)
	}
	if err := m.DeleteSnapshot(ctx, "snap-1"); err != nil {
		t.Errorf("DeleteSnapshot: %v", err)
	}
	if err := m.FromSnapshot(ctx, "snap-1", "vol-x"); !errors.Is(err, ErrNotFound) {
		t.Errorf("FromSnapshot of a deleted snapshot = %v, want ErrNotFound", err)
	}
}

// A crashed nimbus may leave a loop device bound but unmounted, and
// half-written files; Recover clears them and keeps mounted volumes.
func TestRecover(t *testing.T) {
	requireBlockHost(t)
	t.Parallel()
	m := newTestManager(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	for _, id := range []string{"vol-kept", "vol-stray"} {
		if err := m.Create(ctx, id, 16<<20); err != nil {
			t.Fatal(err)
		}
	}
	kept, err := m.Attach(ctx, "vol-kept")
	if err != nil {
		t.Fatal(err)
	}
	// losetup binds without autoclear, as a crash between binding and
	// mounting would leave it.
	if out, err := exec.Command("losetup", "-f", m.ImagePath("vol-stray")).CombinedOutput(); err != nil {
		t.Fatalf("losetup: %v: %s", err, out)
	}
	writeFile(t, m.blockDir(), "vol-half.ext4.tmp", "half")

	// As if a Snapshot had been interrupted: the kept volume is frozen.
	thaw, err := freeze(kept)
	if err != nil {
		t.Fatal(err)
	}
	// It holds the mount busy until called; called once whatever happens.
	thawAnyway := sync.OnceFunc(thaw)
	defer thawAnyway()

	restarted, err := NewManager(m.opts)
	if err != nil {
		t.Fatal(err)
	}
	if err := restarted.Recover(ctx); err != nil {
		t.Fatalf("Recover: %v", err)
	}
	infos, err := restarted.List(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(infos) != 2 || infos[0].ID != "vol-kept" || !infos[0].Attached || infos[0].MountPath != kept || infos[1].Attached {
		t.Errorf("after Recover List = %+v", infos)
	}
	assertDetachedOnHost(t, m, "vol-stray")
	// Thawed: a write completes instead of blocking.
	written := make(chan error, 1)
	go func() { written <- os.WriteFile(filepath.Join(kept, "after-recover"), []byte("x"), 0o644) }()
	select {
	case err := <-written:
		if err != nil {
			t.Errorf("write after Recover: %v", err)
		}
	case <-time.After(5 * time.Second):
		thawAnyway()
		<-written
		t.Errorf("volume still frozen after Recover")
	}
	thawAnyway()
	if _, err := os.Stat(filepath.Join(m.blockDir(), "vol-half.ext4.tmp")); !os.IsNotExist(err) {
		t.Errorf("half-written image survived Recover")
	}
	if err := restarted.Detach(ctx, "vol-kept"); err != nil {
		t.Fatal(err)
	}
	assertDetachedOnHost(t, m, "vol-kept")
}

func TestDirVolume(t *testing.T) {
	m, err := NewManager(Options{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	path, err := m.CreateDir(ctx, "fn-scratch")
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, path, "x", "y")
	if _, err := m.CreateDir(ctx, "fn-scratch"); !errors.Is(err, ErrAlreadyExists) {
		t.Errorf("second CreateDir = %v, want ErrAlreadyExists", err)
	}
	if err := m.DeleteDir(ctx, "fn-scratch"); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(path); !os.IsNotExist(err) {
		t.Errorf("directory volume survived DeleteDir")
	}
	if err := m.DeleteDir(ctx, "fn-scratch"); !errors.Is(err, ErrNotFound) {
		t.Errorf("second DeleteDir = %v, want ErrNotFound", err)
	}
}

func TestInvalidRequests(t *testing.T) {
	m, err := NewManager(Options{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	cases := []struct {
		name string
		err  error
		want error
	}{
		{"path in id", m.Create(ctx, "../etc", 1<<30), ErrInvalid},
		{"too small", m.Create(ctx, "vol-small", 1<<20), ErrInvalid},
		{"attach missing", func() error { _, err := m.Attach(ctx, "vol-none"); return err }(), ErrNotFound},
		{"delete missing", m.Delete(ctx, "vol-none"), ErrNotFound},
		{"grow missing", m.Grow(ctx, "vol-none", 1<<30), ErrNotFound},
		{"snapshot missing", m.Snapshot(ctx, "vol-none", "snap"), ErrNotFound},
		{"dir with slash", func() error { _, err := m.CreateDir(ctx, "a/b"); return err }(), ErrInvalid},
	}
	for _, tc := range cases {
		if !errors.Is(tc.err, tc.want) {
			t.Errorf("%s: got %v, want %v", tc.name, tc.err, tc.want)
		}
	}
}

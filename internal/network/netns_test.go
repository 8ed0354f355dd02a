package network

import (
	"context"
	"net/netip"
	"os"
	"path/filepath"
	"testing"
)

// The namespace directory's own mount goes only once nothing is pinned or
// open in it, and an unmounted directory is not an error.
func TestReleaseSharedDir(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root: mounts the namespace directory")
	}
	t.Parallel()
	dir := filepath.Join(t.TempDir(), "netns")
	mounted, err := ensureSharedDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { releaseSharedDir(dir) })
	if !mounted || !isMountPoint(t, dir) {
		t.Fatalf("ensureSharedDir(%s) = %v, mounted per mountinfo %v; want a new mount", dir, mounted, isMountPoint(t, dir))
	}
	if again, err := ensureSharedDir(dir); err != nil || again {
		t.Errorf("second ensureSharedDir = %v, %v; want no second mount", again, err)
	}

	ns := filepath.Join(dir, "sb-pinned")
	if err := createNetNS(ns); err != nil {
		t.Fatal(err)
	}
	if released, err := releaseSharedDir(dir); err != nil || released {
		t.Errorf("releaseSharedDir with a pinned netns = %v, %v; want it kept", released, err)
	}
	if !isNetNS(ns) || !isMountPoint(t, dir) {
		t.Errorf("releaseSharedDir unpinned %s or unmounted %s", ns, dir)
	}
	if err := removeNetNS(ns); err != nil {
		t.Fatal(err)
	}

	// An open directory makes the mount busy: the unmount is never lazy.
	f, err := os.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	released, err := releaseSharedDir(dir)
	f.Close()
	if err != nil || released || !isMountPoint(t, dir) {
		t.Errorf("releaseSharedDir of a busy dir = %v, %v; want it kept mounted", released, err)
	}

	if released, err := releaseSharedDir(dir); err != nil || !released {
		t.Errorf("releaseSharedDir of an empty dir = %v, %v; want released", released, err)
	}
	if isMountPoint(t, dir) {
		t.Errorf("%s is still a mount point", dir)
	}
	if released, err := releaseSharedDir(dir); err != nil || !released {
		t.Errorf("releaseSharedDir of an unmounted dir = %v, %v; want released", released, err)
	}
}

// A NewManager that fails after mounting the namespace directory unmounts it.
func TestNewManagerFailureLeavesNoMount(t *testing.T) {
	requireHost(t)
	t.Parallel()
	opts := testOptions(t)
	opts.Networks = []Network{{Name: "Bad_Name", Subnet: netip.MustParsePrefix("10.9.9.0/24")}}
	if m, err := NewManager(context.Background(), opts); err == nil {
		m.Teardown(context.Background())
		t.Fatal("NewManager with an invalid network succeeded")
	}
	if isMountPoint(t, opts.NetNSDir) {
		t.Errorf("failed NewManager left %s mounted", opts.NetNSDir)
	}
}

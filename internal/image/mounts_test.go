package image

import (
	"os"
	"path/filepath"
	"testing"

	"golang.org/x/sys/unix"
)

// A work directory with a host directory bind-mounted inside (as
// debootstrap does with /proc, /sys, /dev) is removed without deleting
// anything of the host's.
func TestRemoveWorkDirNeverDeletesThroughMounts(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to bind-mount")
	}
	host := t.TempDir()
	precious := filepath.Join(host, "precious")
	if err := os.WriteFile(precious, []byte("keep"), 0o644); err != nil {
		t.Fatal(err)
	}
	work := filepath.Join(t.TempDir(), "work")
	dev := filepath.Join(work, "rootfs", "dev")
	if err := os.MkdirAll(dev, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := unix.Mount(host, dev, "", unix.MS_BIND, ""); err != nil {
		t.Skipf("bind mount not possible here: %v", err)
	}
	t.Cleanup(func() { unix.Unmount(dev, unix.MNT_DETACH) })
	if mounts, err := mountsUnder(work); err != nil || len(mounts) != 1 || mounts[0] != dev {
		t.Fatalf("mountsUnder = %v, %v; want [%s]", mounts, err, dev)
	}
	if err := removeWorkDir(work); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(work); !os.IsNotExist(err) {
		t.Errorf("work dir still there: %v", err)
	}
	if data, err := os.ReadFile(precious); err != nil || string(data) != "keep" {
		t.Fatalf("the host's file behind the mount was touched: %q %v", data, err)
	}
}

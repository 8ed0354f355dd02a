package image

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

func requireBusybox(t testing.TB) {
	t.Helper()
	if _, err := os.Stat(defaultBusybox); err != nil {
		t.Skipf("needs Debian's busybox-static at %s: %v", defaultBusybox, err)
	}
}

func TestEnsureBusyboxContent(t *testing.T) {
	requireBusybox(t)
	ctx := context.Background()
	s := openTestStore(t)
	img, err := s.EnsureBusybox(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(img.Names) != 1 || img.Names[0] != BusyboxName {
		t.Errorf("names = %v, want [%s]", img.Names, BusyboxName)
	}
	if img.Layers != 1 {
		t.Errorf("layers = %d, want 1", img.Layers)
	}
	bin, err := os.Stat(filepath.Join(img.RootDir, "bin/busybox"))
	if err != nil || bin.Mode()&0o111 == 0 {
		t.Fatalf("bin/busybox: %v, mode %v", err, bin.Mode())
	}
	for _, applet := range []string{"sh", "ls", "cat", "wget", "env"} {
		target, err := os.Readlink(filepath.Join(img.RootDir, "bin", applet))
		if err != nil || target != "busybox" {
			t.Errorf("bin/%s -> %q (%v), want busybox", applet, target, err)
		}
	}
	// /usr/bin/env must work through the usr/bin -> ../bin link.
	if fi, err := os.Stat(filepath.Join(img.RootDir, "usr/bin/env")); err != nil || !fi.Mode().IsRegular() {
		t.Errorf("usr/bin/env does not lead to busybox: %v", err)
	}
	passwd, err := os.ReadFile(filepath.Join(img.RootDir, "etc/passwd"))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"root:x:0:0:", "nobody:x:65534:65534:"} {
		if !strings.Contains(string(passwd), want) {
			t.Errorf("etc/passwd lacks %q:\n%s", want, passwd)
		}
	}
	group, err := os.ReadFile(filepath.Join(img.RootDir, "etc/group"))
	if err != nil || !strings.Contains(string(group), "nobody:x:65534:") {
		t.Errorf("etc/group: %v\n%s", err, group)
	}
	for dir, mode := range map[string]os.FileMode{"tmp": 0o777 | os.ModeSticky, "root": 0o700, "proc": 0o555, "sys": 0o555, "dev": 0o755, "var": 0o755} {
		fi, err := os.Lstat(filepath.Join(img.RootDir, dir))
		if err != nil || !fi.IsDir() {
			t.Errorf("/%s: %v", dir, err)
			continue
		}
		if got := fi.Mode() & (os.ModePerm | os.ModeSticky); got != mode {
			t.Errorf("/%s mode = %v, want %v", dir, got, mode)
		}
	}
	if got := img.Config.Argv(); len(got) != 1 || got[0] != "/bin/sh" {
		t.Errorf("argv = %v", got)
	}

	// The sandbox drivers run it; a chroot is enough to show the root works.
	if os.Geteuid() != 0 {
		t.Skip("chroot into the image needs root")
	}
	out, err := exec.Command("chroot", img.RootDir, "/bin/sh", "-c", "/usr/bin/env echo hello from $(id -un)").CombinedOutput()
	if err != nil || strings.TrimSpace(string(out)) != "hello from root" {
		t.Errorf("running the image's shell: %v\n%s", err, out)
	}
}

func TestEnsureBusyboxDeterministic(t *testing.T) {
	requireBusybox(t)
	ctx := context.Background()
	a, err := openTestStore(t).EnsureBusybox(ctx)
	if err != nil {
		t.Fatal(err)
	}
	s := openTestStore(t)
	b, err := s.EnsureBusybox(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if a.Digest != b.Digest {
		t.Errorf("two builds from one binary differ: %s vs %s", a.Digest, b.Digest)
	}
	again, err := s.EnsureBusybox(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if again.Digest != b.Digest {
		t.Errorf("rebuild in the same store changed the digest: %s vs %s", again.Digest, b.Digest)
	}
	list, err := s.List(ctx)
	if err != nil || len(list) != 1 {
		t.Errorf("list after two EnsureBusybox = %d images (%v), want 1", len(list), err)
	}
}

func TestEnsureBusyboxMissingBinaryNamesPackage(t *testing.T) {
	s, err := Open(t.TempDir(), WithBusyboxBinary(filepath.Join(t.TempDir(), "no-busybox")))
	if err != nil {
		t.Fatal(err)
	}
	_, err = s.EnsureBusybox(context.Background())
	if err == nil || !strings.Contains(err.Error(), "busybox-static") {
		t.Fatalf("err = %v, want one naming the busybox-static package", err)
	}
}

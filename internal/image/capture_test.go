package image

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"testing"

	"golang.org/x/sys/unix"
)

// TestCaptureOverlayMergesUpperOverLower builds an overlayfs upper directory
// by hand (whiteout devices and the opaque xattr need root) and checks the
// captured image's root: replaced, added, deleted and hidden entries, and
// the base image and upper directory left as they were.
func TestCaptureOverlayMergesUpperOverLower(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("whiteout devices and trusted.* xattrs need root")
	}
	ctx := context.Background()
	s := openTestStore(t)
	base := ociImage(t, gzipLayer(t, layerTar(t,
		dirEntry("etc/"), fileEntry("etc/motd", "lower motd\n"), fileEntry("etc/keep", "kept\n"),
		fileEntry("etc/gone", "deleted by a whiteout\n"),
		dirEntry("srv/"), dirEntry("srv/data/"), fileEntry("srv/data/old", "hidden by opaque\n"),
		dirEntry("var/"), fileEntry("var/was-file", "becomes a directory\n"),
	)))
	baseImg, err := s.add(ctx, base, []string{"base:1"}, nil)
	if err != nil {
		t.Fatal(err)
	}

	upper := t.TempDir()
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(os.MkdirAll(filepath.Join(upper, "etc"), 0o755))
	must(os.WriteFile(filepath.Join(upper, "etc/motd"), []byte("upper motd\n"), 0o644))
	must(unix.Mknod(filepath.Join(upper, "etc/gone"), unix.S_IFCHR|0o000, 0))
	must(os.MkdirAll(filepath.Join(upper, "srv/data"), 0o755))
	must(unix.Setxattr(filepath.Join(upper, "srv/data"), overlayOpaqueXattr, []byte("y"), 0))
	must(os.WriteFile(filepath.Join(upper, "srv/data/new"), []byte("new\n"), 0o600))
	must(os.MkdirAll(filepath.Join(upper, "var/was-file"), 0o755))
	must(os.WriteFile(filepath.Join(upper, "var/was-file/inner"), []byte("inner\n"), 0o644))
	must(os.MkdirAll(filepath.Join(upper, "home/ec2-user"), 0o755))
	must(os.WriteFile(filepath.Join(upper, "home/ec2-user/hello"), []byte("hello\n"), 0o640))

	got, err := s.CaptureOverlay(ctx, "base:1", upper, "captured/ami-1", nil)
	if err != nil {
		t.Fatal(err)
	}
	if got.Digest == baseImg.Digest || got.Layers != baseImg.Layers+1 {
		t.Fatalf("captured %s with %d layers; base %s has %d", got.Digest, got.Layers, baseImg.Digest, baseImg.Layers)
	}
	if len(got.Names) != 1 || got.Names[0] != "captured/ami-1:latest" {
		t.Fatalf("names = %v", got.Names)
	}
	root := got.RootDir
	wantFiles := map[string]string{
		"etc/motd":            "upper motd\n",
		"etc/keep":            "kept\n",
		"srv/data/new":        "new\n",
		"var/was-file/inner":  "inner\n",
		"home/ec2-user/hello": "hello\n",
	}
	for rel, want := range wantFiles {
		b, err := os.ReadFile(filepath.Join(root, rel))
		if err != nil || string(b) != want {
			t.Errorf("%s = %q, %v; want %q", rel, b, err, want)
		}
	}
	for _, rel := range []string{"etc/gone", "srv/data/old"} {
		if _, err := os.Lstat(filepath.Join(root, rel)); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("%s: want it gone, Lstat = %v", rel, err)
		}
	}
	if fi, err := os.Stat(filepath.Join(root, "home/ec2-user/hello")); err != nil || fi.Mode().Perm() != 0o640 {
		t.Errorf("hello mode: %v, %v", fi, err)
	}
	if _, err := unix.Lgetxattr(filepath.Join(root, "srv/data"), overlayOpaqueXattr, make([]byte, 8)); err == nil {
		t.Error("overlayfs's opaque xattr leaked into the captured root")
	}
	// The base image and the upper directory are untouched.
	if b, err := os.ReadFile(filepath.Join(baseImg.RootDir, "srv/data/old")); err != nil || string(b) != "hidden by opaque\n" {
		t.Errorf("base root changed: srv/data/old = %q, %v", b, err)
	}
	if fi, err := os.Lstat(filepath.Join(upper, "etc/gone")); err != nil || fi.Mode()&fs.ModeCharDevice == 0 {
		t.Errorf("upper whiteout changed: %v, %v", fi, err)
	}
}

// TestCaptureOverlayWithoutUpper captures a root nothing was written to.
func TestCaptureOverlayWithoutUpper(t *testing.T) {
	ctx := context.Background()
	s := openTestStore(t)
	if _, err := s.add(ctx, ociImage(t, gzipLayer(t, layerTar(t, fileEntry("a", "A")))), []string{"base:1"}, nil); err != nil {
		t.Fatal(err)
	}
	got, err := s.CaptureOverlay(ctx, "base:1", filepath.Join(t.TempDir(), "never-booted"), "copy:1", nil)
	if err != nil {
		t.Fatal(err)
	}
	if b, err := os.ReadFile(filepath.Join(got.RootDir, "a")); err != nil || string(b) != "A" {
		t.Fatalf("a = %q, %v", b, err)
	}
	if _, err := s.CaptureOverlay(ctx, "missing:1", t.TempDir(), "copy:2", nil); !errors.Is(err, ErrNotFound) {
		t.Fatalf("capture of a missing base: %v, want ErrNotFound", err)
	}
}

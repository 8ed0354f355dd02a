package image

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// Packing a directory and unpacking the tar gives the same tree back.
func TestRootTarRoundTrip(t *testing.T) {
	src := t.TempDir()
	mtime := time.Date(2023, 5, 6, 7, 8, 9, 0, time.UTC)
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(os.MkdirAll(filepath.Join(src, "usr/bin"), 0o755))
	must(os.WriteFile(filepath.Join(src, "usr/bin/tool"), []byte("tool"), 0o755))
	must(os.Link(filepath.Join(src, "usr/bin/tool"), filepath.Join(src, "usr/bin/tool-alias")))
	must(os.Symlink("usr/bin", filepath.Join(src, "bin")))
	must(os.WriteFile(filepath.Join(src, "secret"), []byte("s"), 0o600))
	must(os.Chmod(filepath.Join(src, "usr/bin/tool"), 0o755|os.ModeSetuid))
	xattrOK := unix.Lsetxattr(filepath.Join(src, "secret"), "user.kind", []byte("secret"), 0) == nil
	for _, p := range []string{"usr/bin/tool", "secret", "usr/bin", "usr"} {
		must(os.Chtimes(filepath.Join(src, p), mtime, mtime))
	}

	var buf bytes.Buffer
	must(writeRootTar(context.Background(), &buf, src))
	dst := t.TempDir()
	must(newApplier(dst, discardLogger()).apply(context.Background(), &buf))

	if data, err := os.ReadFile(filepath.Join(dst, "bin/tool")); err != nil || string(data) != "tool" {
		t.Errorf("bin/tool through the symlink: %q %v", data, err)
	}
	var a, b unix.Stat_t
	must(unix.Stat(filepath.Join(dst, "usr/bin/tool"), &a))
	must(unix.Stat(filepath.Join(dst, "usr/bin/tool-alias"), &b))
	if a.Ino != b.Ino {
		t.Error("hard link became a copy")
	}
	if a.Mode&0o7777 != 0o4755 {
		t.Errorf("tool mode = %o, want 4755", a.Mode&0o7777)
	}
	for _, p := range []string{"usr/bin/tool", "usr/bin", "usr"} {
		fi, err := os.Lstat(filepath.Join(dst, p))
		if err != nil || !fi.ModTime().Equal(mtime) {
			t.Errorf("%s mtime = %v, %v; want %v", p, fi.ModTime(), err, mtime)
		}
	}
	if xattrOK {
		val := make([]byte, 32)
		n, err := unix.Lgetxattr(filepath.Join(dst, "secret"), "user.kind", val)
		if err != nil || string(val[:n]) != "secret" {
			t.Errorf("xattr: %q %v", val[:n], err)
		}
	}
}

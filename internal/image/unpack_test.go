package image

import (
	"archive/tar"
	"context"
	"errors"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"
)

// layeredImage is two crafted layers exercising every OCI layer rule.
func layeredImage(t testing.TB) (lower, upper []byte) {
	owned := fileEntry("a/owned", "owned")
	owned.Uid, owned.Gid, owned.Mode = 1000, 1001, 0o640
	setuid := fileEntry("bin/su", "su")
	setuid.Mode = 0o4755
	xattr := fileEntry("a/xattr", "x")
	xattr.PAXRecords = map[string]string{"SCHILY.xattr.user.nimbus": "yes"}
	lower = layerTar(t,
		dirEntry("a/"),
		fileEntry("a/keep", "keep"),
		fileEntry("a/gone", "gone"),
		dirEntry("a/gonedir/"),
		fileEntry("a/gonedir/inner", "inner"),
		owned, xattr,
		dirEntry("bin/"), setuid,
		dirEntry("etc/"),
		fileEntry("etc/hosts", "lower hosts"),
		dirEntry("opq/"),
		fileEntry("opq/old", "old"),
		dirEntry("opq/sub/"),
		fileEntry("opq/sub/deep", "deep"),
		symlinkEntry("rel", "a/keep"),
		hardlinkEntry("a/keep-hard", "a/keep"),
		fileEntry("replaced", "file in lower"),
	)
	upper = layerTar(t,
		fileEntry("a/.wh.gone", ""),
		fileEntry("a/.wh.gonedir", ""),
		// This layer writes into opq/ before its opaque marker: tar order
		// must not make the marker delete what the same layer wrote.
		fileEntry("opq/new", "new"),
		fileEntry("opq/.wh..wh..opq", ""),
		dirEntry("opq/sub2/"),
		fileEntry("opq/sub2/x", "x"),
		// A symlink with an absolute target, then an entry through it: the
		// write must land in the root's /etc, never the host's.
		symlinkEntry("abs", "/etc"),
		fileEntry("abs/through-abs", "in root etc"),
		// A symlink climbing out, then an entry through it: clamped at the root.
		symlinkEntry("up", "../../../../../../.."),
		fileEntry("up/through-up", "at root"),
		hardlinkEntry("hard-to-link", "rel"),
		dirEntry("replaced/"),
		fileEntry("replaced/now-a-dir", "dir"),
	)
	return lower, upper
}

func TestImportOCILayoutLayerSemantics(t *testing.T) {
	ctx := context.Background()
	s := openTestStore(t)
	lower, upper := layeredImage(t)
	src := ociImage(t, gzipLayer(t, lower), gzipLayer(t, upper))
	dir := writeLayout(t, src, "example.com/layers:v1")
	img, err := s.Import(ctx, dir, "", nil)
	if err != nil {
		t.Fatal(err)
	}
	root := img.RootDir
	read := func(p string) string {
		b, err := os.ReadFile(filepath.Join(root, p))
		if err != nil {
			return "<" + err.Error() + ">"
		}
		return string(b)
	}
	exists := func(p string) bool { _, err := os.Lstat(filepath.Join(root, p)); return err == nil }

	for p, want := range map[string]string{
		"a/keep": "keep", "opq/new": "new", "opq/sub2/x": "x", "etc/through-abs": "in root etc",
		"through-up": "at root", "etc/hosts": "lower hosts", "replaced/now-a-dir": "dir",
	} {
		if got := read(p); got != want {
			t.Errorf("%s = %q, want %q", p, got, want)
		}
	}
	for _, gone := range []string{"a/gone", "a/gonedir", "opq/old", "opq/sub", "a/.wh.gone", "opq/.wh..wh..opq"} {
		if exists(gone) {
			t.Errorf("%s exists, want removed by whiteout", gone)
		}
	}
	if _, err := os.Stat("/etc/through-abs"); err == nil {
		t.Fatal("an entry through an absolute symlink was written to the host's /etc")
	}
	if target, err := os.Readlink(filepath.Join(root, "rel")); err != nil || target != "a/keep" {
		t.Errorf("rel -> %q, %v", target, err)
	}
	if target, err := os.Readlink(filepath.Join(root, "abs")); err != nil || target != "/etc" {
		t.Errorf("abs -> %q, %v (the link itself is kept as written)", target, err)
	}
	// Hard links share an inode; a hard link to a symlink is a symlink.
	var keep, keepHard unix.Stat_t
	if err := unix.Lstat(filepath.Join(root, "a/keep"), &keep); err != nil {
		t.Fatal(err)
	}
	if err := unix.Lstat(filepath.Join(root, "a/keep-hard"), &keepHard); err != nil {
		t.Fatal(err)
	}
	if keep.Ino != keepHard.Ino || keep.Nlink != 2 {
		t.Errorf("a/keep-hard is not a hard link of a/keep: ino %d vs %d, nlink %d", keep.Ino, keepHard.Ino, keep.Nlink)
	}
	if fi, err := os.Lstat(filepath.Join(root, "hard-to-link")); err != nil || fi.Mode()&os.ModeSymlink == 0 {
		t.Errorf("hard-to-link: %v, mode %v, want a symlink", err, fi.Mode())
	}
	// Modes, ownership, times, xattrs.
	fi, err := os.Stat(filepath.Join(root, "bin/su"))
	if err != nil || fi.Mode()&os.ModeSetuid == 0 || fi.Mode().Perm() != 0o755 {
		t.Errorf("bin/su mode = %v (%v), want setuid 0755", fi.Mode(), err)
	}
	var owned unix.Stat_t
	if err := unix.Stat(filepath.Join(root, "a/owned"), &owned); err != nil {
		t.Fatal(err)
	}
	if owned.Mode&0o7777 != 0o640 {
		t.Errorf("a/owned mode = %o, want 640", owned.Mode&0o7777)
	}
	if os.Geteuid() == 0 && (owned.Uid != 1000 || owned.Gid != 1001) {
		t.Errorf("a/owned owner = %d:%d, want 1000:1001", owned.Uid, owned.Gid)
	}
	// Directories the upper layer did not touch keep the lower layer's time.
	for _, p := range []string{"a/keep", "bin", "bin/su", "opq/sub2", "a/owned"} {
		fi, err := os.Lstat(filepath.Join(root, p))
		if err != nil || !fi.ModTime().Equal(testTime) {
			t.Errorf("%s mtime = %v (%v), want %v", p, fi.ModTime(), err, testTime)
		}
	}
	buf := make([]byte, 16)
	if n, err := unix.Lgetxattr(filepath.Join(root, "a/xattr"), "user.nimbus", buf); err == nil {
		if string(buf[:n]) != "yes" {
			t.Errorf("xattr user.nimbus = %q", buf[:n])
		}
	} else if !errors.Is(err, unix.ENOTSUP) {
		t.Errorf("xattr user.nimbus: %v", err)
	}

	// Metadata from the config.
	if img.Config.WorkingDir != "/srv" || img.Config.User != "1000:1000" || img.Config.Labels["team"] != "nimbus" {
		t.Errorf("config = %+v", img.Config)
	}
	if got := strings.Join(img.Config.ExposedPorts, ","); got != "53/udp,8080/tcp" {
		t.Errorf("exposed ports = %s", got)
	}
	if got := strings.Join(img.Config.Argv(), " "); got != "/bin/app --serve" {
		t.Errorf("argv = %s", got)
	}
	if !img.Created.Equal(testTime) || img.Architecture != "amd64" || img.Layers != 2 {
		t.Errorf("created %v arch %s layers %d", img.Created, img.Architecture, img.Layers)
	}
	if d, _ := src.Digest(); img.Digest != d.String() {
		t.Errorf("digest = %s, want the source's %s", img.Digest, d)
	}
	if img.RootSize <= 0 || img.Size <= 0 {
		t.Errorf("sizes: root %d, stored %d", img.RootSize, img.Size)
	}
}

func TestUnpackRefusesTraversal(t *testing.T) {
	outside := filepath.Join(t.TempDir(), "victim")
	cases := map[string][]entry{
		"dotdot file":         {fileEntry("../../../../../../../.."+outside, "pwned")},
		"dotdot inside":       {dirEntry("a/"), fileEntry("a/../../../../../../../.."+outside, "pwned")},
		"hardlink out":        {hardlinkEntry("h", "../../../../../../../.."+outside)},
		"whiteout dotdot":     {fileEntry("a/.wh...", "")},
		"file as root":        {fileEntry(".", "x")},
		"hardlink to missing": {hardlinkEntry("h", "nope")},
	}
	for name, entries := range cases {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			s := openTestStore(t)
			good := gzipLayer(t, layerTar(t, fileEntry("ok", "ok")))
			bad := gzipLayer(t, layerTar(t, entries...))
			dir := writeLayout(t, ociImage(t, good, bad), "evil:latest")
			_, err := s.Import(ctx, dir, "", nil)
			if !errors.Is(err, ErrUnsafeLayer) {
				t.Fatalf("err = %v, want ErrUnsafeLayer", err)
			}
			if _, err := os.Stat(outside); err == nil {
				t.Fatal("the layer wrote outside the root")
			}
			// Nothing half-unpacked is left, and nothing is listed.
			if got := dirEntries(t, s.rootsDir()); len(got) != 0 {
				t.Errorf("roots after a refused image: %v", got)
			}
			if got := dirEntries(t, s.tmpDir()); len(got) != 0 {
				t.Errorf("tmp after a refused image: %v", got)
			}
			if list, _ := s.List(ctx); len(list) != 0 {
				t.Errorf("a refused image is listed: %v", list[0].Names)
			}
		})
	}
}

func TestUnpackDeviceNodes(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("device nodes need root; as another user they are skipped")
	}
	root := t.TempDir()
	null := entry{Header: tar.Header{Name: "null", Typeflag: tar.TypeChar, Mode: 0o666, Devmajor: 1, Devminor: 3, ModTime: testTime}}
	fifo := entry{Header: tar.Header{Name: "fifo", Typeflag: tar.TypeFifo, Mode: 0o600, ModTime: testTime}}
	data := layerTar(t, null, fifo)
	a := newApplier(root, discardLogger())
	if err := a.apply(context.Background(), bytesReader(data)); err != nil {
		t.Fatal(err)
	}
	var st unix.Stat_t
	if err := unix.Stat(filepath.Join(root, "null"), &st); err != nil {
		t.Fatal(err)
	}
	if st.Mode&syscall.S_IFMT != syscall.S_IFCHR || unix.Major(st.Rdev) != 1 || unix.Minor(st.Rdev) != 3 {
		t.Errorf("null: mode %o rdev %d:%d", st.Mode, unix.Major(st.Rdev), unix.Minor(st.Rdev))
	}
	if fi, err := os.Lstat(filepath.Join(root, "fifo")); err != nil || fi.Mode()&os.ModeNamedPipe == 0 {
		t.Errorf("fifo: %v %v", fi, err)
	}
}

func TestUnpackSymlinkLoopRefused(t *testing.T) {
	root := t.TempDir()
	data := layerTar(t, symlinkEntry("loop", "loop"), fileEntry("loop/x", "x"))
	err := newApplier(root, discardLogger()).apply(context.Background(), bytesReader(data))
	if !errors.Is(err, ErrUnsafeLayer) {
		t.Fatalf("err = %v, want ErrUnsafeLayer for a symlink loop", err)
	}
}

func TestUnpackCancelled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	err := newApplier(t.TempDir(), discardLogger()).apply(ctx, bytesReader(layerTar(t, fileEntry("x", "x"))))
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
}

func TestOpenClearsStaleWork(t *testing.T) {
	data := t.TempDir()
	s, err := Open(data)
	if err != nil {
		t.Fatal(err)
	}
	// What a crash mid-unpack and mid-blob-write leaves behind.
	if err := os.MkdirAll(filepath.Join(s.tmpDir(), "root-123", "bin"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(s.blobDir(), ".tmp-abc-1"), []byte("partial"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := Open(data); err != nil {
		t.Fatal(err)
	}
	if got := dirEntries(t, s.tmpDir()); len(got) != 0 {
		t.Errorf("tmp after reopen: %v", got)
	}
	got := dirEntries(t, s.blobDir())
	sort.Strings(got)
	if len(got) != 0 {
		t.Errorf("blobs after reopen: %v", got)
	}
}

// A directory replaced by an absolute symlink mid-layer: later entries under
// it must resolve inside the root, not through the host's path.
func TestUnpackDirReplacedBySymlinkStaysInRoot(t *testing.T) {
	host := t.TempDir()
	root := t.TempDir()
	data := layerTar(t,
		dirEntry("a/"), fileEntry("a/f1", "1"),
		symlinkEntry("a", host),
		fileEntry("a/f2", "2"),
	)
	if err := newApplier(root, discardLogger()).apply(context.Background(), bytesReader(data)); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(host, "f2")); err == nil {
		t.Fatal("an entry was written through an absolute symlink onto the host")
	}
	if got, err := os.ReadFile(filepath.Join(root, host, "f2")); err != nil || string(got) != "2" {
		t.Errorf("a/f2 inside the root: %q %v", got, err)
	}
}

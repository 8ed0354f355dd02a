package image

import (
	"archive/tar"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"golang.org/x/sys/unix"
)

const (
	whiteoutPrefix = ".wh."
	opaqueWhiteout = ".wh..wh..opq"
	// maxLinkHops bounds symlink resolution inside a root, as the kernel's
	// own limit does, so a link loop in a layer cannot hang an unpack.
	maxLinkHops = 255
)

// unpackRoot applies the layers of img, bottom first, into a fresh directory
// under tmp/ and renames it to dst only once every layer is in place and
// synced. It returns the bytes of regular files in the root.
func (s *Store) unpackRoot(ctx context.Context, img v1.Image, dst string, p Progress) (int64, error) {
	layers, err := img.Layers()
	if err != nil {
		return 0, fmt.Errorf("list layers: %w", err)
	}
	work, err := os.MkdirTemp(s.tmpDir(), "root-")
	if err != nil {
		return 0, fmt.Errorf("unpack: %w", err)
	}
	defer os.RemoveAll(work) // a no-op once renamed into place
	if err := os.Chmod(work, 0o755); err != nil {
		return 0, fmt.Errorf("unpack: %w", err)
	}
	var total int64
	for _, l := range layers {
		if sz, err := l.Size(); err == nil {
			total += sz
		}
	}
	p.Step("unpack", total)
	for i, l := range layers {
		if err := s.unpackLayer(ctx, work, l, p); err != nil {
			return 0, fmt.Errorf("unpack layer %d of %d: %w", i+1, len(layers), err)
		}
	}
	size, err := rootSize(work)
	if err != nil {
		return 0, err
	}
	if err := syncFilesystem(work); err != nil {
		return 0, err
	}
	if err := os.Rename(work, dst); err != nil {
		if errors.Is(err, fs.ErrExist) || errors.Is(err, syscall.ENOTEMPTY) {
			// Another process unpacked the same image first; its root is as good.
			return size, nil
		}
		return 0, fmt.Errorf("unpack: move root into place: %w", err)
	}
	return size, syncDir(filepath.Dir(dst))
}

func (s *Store) unpackLayer(ctx context.Context, root string, l v1.Layer, p Progress) error {
	rc, err := l.Uncompressed()
	if err != nil {
		return fmt.Errorf("open layer: %w", err)
	}
	defer rc.Close()
	size, _ := l.Size()
	a := newApplier(root, s.log)
	if err := a.apply(ctx, rc); err != nil {
		return err
	}
	// Progress counts layers by their stored size, the one size known up front.
	p.Add(size)
	return nil
}

// applier writes the entries of one layer tar into a root directory with
// OCI layer semantics: whiteouts delete, opaque markers hide lower content,
// and no entry, link or symlink can make a write land outside the root.
type applier struct {
	root    string
	asRoot  bool // running as uid 0: chown and device nodes are possible
	log     *slog.Logger
	created map[string]bool // absolute paths written by this layer
	dirs    []dirTime       // directory mtimes, set after their children
	buf     []byte
	// resolved caches resolveDir; any removal or new symlink can change
	// what a path resolves to, so those clear it.
	resolved map[string]string
}

type dirTime struct {
	path         string
	atime, mtime time.Time
}

func newApplier(root string, log *slog.Logger) *applier {
	return &applier{
		root:     root,
		asRoot:   os.Geteuid() == 0,
		log:      log,
		created:  map[string]bool{},
		buf:      make([]byte, 1<<20),
		resolved: map[string]string{},
	}
}

func (a *applier) apply(ctx context.Context, r io.Reader) error {
	tr := tar.NewReader(r)
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		hdr, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return fmt.Errorf("read layer tar: %w", err)
		}
		if err := a.entry(hdr, tr); err != nil {
			return fmt.Errorf("%s: %w", hdr.Name, err)
		}
	}
	// Children are in place: now directory mtimes stay as the layer says.
	for i := len(a.dirs) - 1; i >= 0; i-- {
		d := a.dirs[i]
		if err := setTimes(d.path, d.atime, d.mtime); err != nil {
			return err
		}
	}
	return nil
}

// entryPath turns a tar name into a clean path relative to the root,
// refusing any ".." component: a layer has no business naming one, and
// refusing beats silently remapping it.
func entryPath(name string) (string, error) {
	for _, c := range strings.Split(name, "/") {
		if c == ".." {
			return "", fmt.Errorf("%w: path %q leaves the root", ErrUnsafeLayer, name)
		}
	}
	rel := strings.TrimPrefix(path.Clean("/"+name), "/")
	return rel, nil
}

func (a *applier) entry(hdr *tar.Header, r io.Reader) error {
	rel, err := entryPath(hdr.Name)
	if err != nil {
		return err
	}
	if rel == "" {
		if hdr.Typeflag != tar.TypeDir {
			return fmt.Errorf("%w: non-directory entry for the root itself", ErrUnsafeLayer)
		}
		return a.attributes(a.root, hdr)
	}
	dir, base := path.Split(rel)
	parent, err := a.resolveDir(dir)
	if err != nil {
		return err
	}
	if strings.HasPrefix(base, whiteoutPrefix) {
		return a.whiteout(parent, base)
	}
	target := filepath.Join(parent, base)
	a.created[target] = true

	switch hdr.Typeflag {
	case tar.TypeDir:
		fi, err := os.Lstat(target)
		if err == nil && !fi.IsDir() {
			if err := a.removeExisting(target); err != nil {
				return err
			}
		}
		if err != nil || !fi.IsDir() {
			if err := os.Mkdir(target, 0o700); err != nil {
				return err
			}
		}
	case tar.TypeReg, tar.TypeRegA: //nolint:staticcheck // old archives still use TypeRegA
		if err := a.removeExisting(target); err != nil {
			return err
		}
		f, err := os.OpenFile(target, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
		if err != nil {
			return err
		}
		_, err = io.CopyBuffer(f, r, a.buf)
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return err
		}
	case tar.TypeSymlink:
		// The target is stored as written; it is only ever resolved inside
		// the root (resolveDir), so an absolute or climbing target is harmless.
		if err := a.removeExisting(target); err != nil {
			return err
		}
		clear(a.resolved)
		if err := os.Symlink(hdr.Linkname, target); err != nil {
			return err
		}
	case tar.TypeLink:
		return a.hardlink(target, hdr.Linkname)
	case tar.TypeChar, tar.TypeBlock, tar.TypeFifo:
		if hdr.Typeflag != tar.TypeFifo && !a.asRoot {
			a.log.Debug("skip device node: not root", "path", rel)
			delete(a.created, target)
			return nil
		}
		if err := a.removeExisting(target); err != nil {
			return err
		}
		mode := uint32(hdr.Mode & 0o7777)
		switch hdr.Typeflag {
		case tar.TypeChar:
			mode |= unix.S_IFCHR
		case tar.TypeBlock:
			mode |= unix.S_IFBLK
		default:
			mode |= unix.S_IFIFO
		}
		dev := unix.Mkdev(uint32(hdr.Devmajor), uint32(hdr.Devminor))
		if err := unix.Mknod(target, mode, int(dev)); err != nil {
			if errors.Is(err, unix.EPERM) {
				a.log.Debug("skip device node: not permitted", "path", rel)
				delete(a.created, target)
				return nil
			}
			return fmt.Errorf("mknod: %w", err)
		}
	case tar.TypeXGlobalHeader:
		delete(a.created, target)
		return nil
	default:
		a.log.Debug("skip unsupported tar entry", "path", rel, "type", string(hdr.Typeflag))
		delete(a.created, target)
		return nil
	}
	return a.attributes(target, hdr)
}

// hardlink links target to the file the layer names, resolved in the root.
func (a *applier) hardlink(target, linkname string) error {
	rel, err := entryPath(linkname)
	if err != nil {
		return err
	}
	if rel == "" {
		return fmt.Errorf("%w: hard link to the root", ErrUnsafeLayer)
	}
	dir, base := path.Split(rel)
	parent, err := a.resolveDir(dir)
	if err != nil {
		return err
	}
	src := filepath.Join(parent, base)
	fi, err := os.Lstat(src)
	if err != nil {
		return fmt.Errorf("%w: hard link to missing %q", ErrUnsafeLayer, linkname)
	}
	if fi.IsDir() {
		return fmt.Errorf("%w: hard link to directory %q", ErrUnsafeLayer, linkname)
	}
	if src == target {
		return nil
	}
	if err := a.removeExisting(target); err != nil {
		return err
	}
	// linkat without AT_SYMLINK_FOLLOW: a link to a symlink links the symlink.
	return os.Link(src, target)
}

// whiteout applies ".wh.NAME" (delete NAME from lower layers) or the opaque
// marker (hide everything lower layers put in the directory).
func (a *applier) whiteout(parent, base string) error {
	clear(a.resolved)
	if base == opaqueWhiteout {
		return a.opaque(parent)
	}
	name := strings.TrimPrefix(base, whiteoutPrefix)
	if name == "" || name == "." || name == ".." || strings.HasPrefix(name, whiteoutPrefix) {
		return fmt.Errorf("%w: bad whiteout %q", ErrUnsafeLayer, base)
	}
	return os.RemoveAll(filepath.Join(parent, name))
}

// opaque removes what lower layers left in dir while keeping what this layer
// already wrote there (tar order puts no constraint on where the marker is).
func (a *applier) opaque(dir string) error {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return fmt.Errorf("opaque dir: %w", err)
	}
	for _, e := range entries {
		p := filepath.Join(dir, e.Name())
		if !a.created[p] {
			if err := os.RemoveAll(p); err != nil {
				return err
			}
			continue
		}
		if e.Type().IsDir() {
			if err := a.opaque(p); err != nil {
				return err
			}
		}
	}
	return nil
}

// resolveDir resolves a directory path of the layer to a real directory
// inside the root, creating missing directories. Symlinks on the way are
// followed as if the root were "/": an absolute target restarts at the root
// and ".." stops at it, so no link can lead outside.
func (a *applier) resolveDir(rel string) (string, error) {
	if dir, ok := a.resolved[rel]; ok {
		return dir, nil
	}
	dir, err := a.resolveDirUncached(rel)
	if err == nil {
		a.resolved[rel] = dir
	}
	return dir, err
}

func (a *applier) resolveDirUncached(rel string) (string, error) {
	parts := strings.Split(rel, "/")
	cur := "" // resolved so far, relative to the root
	hops := 0
	for len(parts) > 0 {
		c := parts[0]
		parts = parts[1:]
		switch c {
		case "", ".":
			continue
		case "..":
			if cur != "" {
				cur = path.Dir(cur)
				if cur == "." {
					cur = ""
				}
			}
			continue
		}
		next := path.Join(cur, c)
		full := filepath.Join(a.root, next)
		fi, err := os.Lstat(full)
		if errors.Is(err, fs.ErrNotExist) {
			if err := os.Mkdir(full, 0o755); err != nil {
				return "", err
			}
			cur = next
			continue
		}
		if err != nil {
			return "", err
		}
		if fi.Mode()&fs.ModeSymlink != 0 {
			if hops++; hops > maxLinkHops {
				return "", fmt.Errorf("%w: too many symlinks resolving %q", ErrUnsafeLayer, rel)
			}
			link, err := os.Readlink(full)
			if err != nil {
				return "", err
			}
			if strings.HasPrefix(link, "/") {
				cur = ""
			}
			parts = append(strings.Split(link, "/"), parts...)
			continue
		}
		if !fi.IsDir() {
			return "", fmt.Errorf("%w: %q is not a directory", ErrUnsafeLayer, next)
		}
		cur = next
	}
	return filepath.Join(a.root, cur), nil
}

// attributes sets ownership, mode, xattrs and times from the header; a
// symlink gets ownership and times only, a directory's times wait for its
// children.
func (a *applier) attributes(p string, hdr *tar.Header) error {
	isLink := hdr.Typeflag == tar.TypeSymlink
	if a.asRoot {
		if err := os.Lchown(p, hdr.Uid, hdr.Gid); err != nil {
			return fmt.Errorf("chown: %w", err)
		}
	}
	if !isLink {
		// After chown, which clears setuid and setgid bits.
		mode := uint32(hdr.Mode & 0o7777)
		if hdr.Typeflag == tar.TypeDir && !a.asRoot {
			mode |= 0o700 // so an unprivileged unpack can still fill it
		}
		if err := unix.Fchmodat(unix.AT_FDCWD, p, mode, 0); err != nil {
			return fmt.Errorf("chmod: %w", err)
		}
	}
	for k, v := range hdr.PAXRecords {
		name, ok := strings.CutPrefix(k, "SCHILY.xattr.")
		if !ok {
			continue
		}
		// Best effort: the filesystem or our privileges may not allow the
		// namespace (trusted.*, security.*); the image still runs without.
		if err := unix.Lsetxattr(p, name, []byte(v), 0); err != nil {
			a.log.Debug("skip xattr", "path", p, "xattr", name, "err", err)
		}
	}
	atime := hdr.AccessTime
	if atime.IsZero() {
		atime = hdr.ModTime
	}
	if hdr.Typeflag == tar.TypeDir {
		a.dirs = append(a.dirs, dirTime{path: p, atime: atime, mtime: hdr.ModTime})
		return nil
	}
	return setTimes(p, atime, hdr.ModTime)
}

// setTimes sets times on p itself, never on what a symlink points to.
func setTimes(p string, atime, mtime time.Time) error {
	ts := []unix.Timespec{unix.NsecToTimespec(atime.UnixNano()), unix.NsecToTimespec(mtime.UnixNano())}
	if err := unix.UtimesNanoAt(unix.AT_FDCWD, p, ts, unix.AT_SYMLINK_NOFOLLOW); err != nil {
		return fmt.Errorf("set times: %w", err)
	}
	return nil
}

// removeExisting clears the way for a new entry at p, whatever is there.
func (a *applier) removeExisting(p string) error {
	if _, err := os.Lstat(p); err != nil {
		return nil
	}
	clear(a.resolved)
	return os.RemoveAll(p)
}

// rootSize sums regular files, counting hard-linked files once.
func rootSize(root string) (int64, error) {
	type inode struct{ dev, ino uint64 }
	seen := map[inode]bool{}
	var total int64
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil || !d.Type().IsRegular() {
			return err
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		if st, ok := fi.Sys().(*syscall.Stat_t); ok && st.Nlink > 1 {
			k := inode{uint64(st.Dev), st.Ino}
			if seen[k] {
				return nil
			}
			seen[k] = true
		}
		total += fi.Size()
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("measure root: %w", err)
	}
	return total, nil
}

// syncFilesystem flushes the filesystem holding dir: one syncfs(2) is far
// cheaper than an fsync per unpacked file and as good before the rename.
func syncFilesystem(dir string) error {
	f, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("sync root: %w", err)
	}
	defer f.Close()
	if err := unix.Syncfs(int(f.Fd())); err != nil {
		return fmt.Errorf("sync root: %w", err)
	}
	return nil
}

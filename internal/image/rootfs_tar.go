package image

import (
	"archive/tar"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// writeRootTar packs the directory root as a layer tar: entries in lexical
// order, ownership from the files (not the host's user names), hard links
// as links, xattrs as PAX records. Sockets are skipped; they are runtime
// litter, not content.
func writeRootTar(ctx context.Context, w io.Writer, root string) error {
	return writeTreeTar(ctx, w, root, false)
}

// writeTreeTar is writeRootTar; with overlayUpper, root is an overlayfs
// upper directory whose whiteouts and opaque directories become OCI ones.
func writeTreeTar(ctx context.Context, w io.Writer, root string, overlayUpper bool) error {
	type inode struct{ dev, ino uint64 }
	links := map[inode]string{}
	tw := tar.NewWriter(w)
	buf := make([]byte, 1<<20)
	rootInfo, err := os.Stat(root)
	if err != nil {
		return fmt.Errorf("pack %s: %w", root, err)
	}
	rootDev := rootInfo.Sys().(*syscall.Stat_t).Dev
	err = filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		if p == root {
			return nil
		}
		rel, err := filepath.Rel(root, p)
		if err != nil {
			return err
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		if fi.Mode()&fs.ModeSocket != 0 {
			return nil
		}
		if st, ok := fi.Sys().(*syscall.Stat_t); ok && fi.IsDir() && st.Dev != rootDev {
			// A mount point (a chroot's /proc): not part of the root.
			return fs.SkipDir
		}
		var target string
		if fi.Mode()&fs.ModeSymlink != 0 {
			if target, err = os.Readlink(p); err != nil {
				return err
			}
		}
		hdr, err := tar.FileInfoHeader(fi, target)
		if err != nil {
			return fmt.Errorf("%s: %w", rel, err)
		}
		hdr.Name = filepath.ToSlash(rel)
		if fi.IsDir() {
			hdr.Name += "/"
		}
		hdr.Uname, hdr.Gname = "", ""
		hdr.AccessTime, hdr.ChangeTime = time.Time{}, time.Time{}
		hdr.Format = tar.FormatPAX
		if st, ok := fi.Sys().(*syscall.Stat_t); ok && fi.Mode().IsRegular() && st.Nlink > 1 {
			k := inode{uint64(st.Dev), st.Ino}
			if first, seen := links[k]; seen {
				hdr.Typeflag, hdr.Linkname, hdr.Size = tar.TypeLink, first, 0
			} else {
				links[k] = hdr.Name
			}
		}
		if err := addXattrs(p, hdr); err != nil {
			return fmt.Errorf("%s: %w", rel, err)
		}
		if overlayUpper {
			if translated := overlayEntry(p, fi, hdr); translated != nil {
				for _, h := range translated {
					if err := tw.WriteHeader(h); err != nil {
						return fmt.Errorf("%s: %w", rel, err)
					}
				}
				return nil
			}
		}
		if err := tw.WriteHeader(hdr); err != nil {
			return fmt.Errorf("%s: %w", rel, err)
		}
		if hdr.Typeflag != tar.TypeReg {
			return nil
		}
		f, err := os.Open(p)
		if err != nil {
			return err
		}
		_, err = io.CopyBuffer(tw, f, buf)
		f.Close()
		if err != nil {
			return fmt.Errorf("%s: %w", rel, err)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("pack %s: %w", root, err)
	}
	if err := tw.Close(); err != nil {
		return fmt.Errorf("pack %s: %w", root, err)
	}
	return nil
}

// addXattrs records p's extended attributes (file capabilities such as
// ping's cap_net_raw live there) in the header.
func addXattrs(p string, hdr *tar.Header) error {
	size, err := unix.Llistxattr(p, nil)
	if errors.Is(err, unix.ENOTSUP) || size == 0 {
		return nil
	}
	if err != nil {
		return fmt.Errorf("list xattrs: %w", err)
	}
	list := make([]byte, size)
	if size, err = unix.Llistxattr(p, list); err != nil {
		return fmt.Errorf("list xattrs: %w", err)
	}
	for _, name := range strings.Split(strings.TrimRight(string(list[:size]), "\x00"), "\x00") {
		if name == "" || strings.HasPrefix(name, "trusted.overlay.") {
			// overlayfs's own bookkeeping, never content.
			continue
		}
		n, err := unix.Lgetxattr(p, name, nil)
		if err != nil {
			continue // vanished or unreadable: nothing to record
		}
		val := make([]byte, n)
		if n, err = unix.Lgetxattr(p, name, val); err != nil {
			continue
		}
		if hdr.PAXRecords == nil {
			hdr.PAXRecords = map[string]string{}
		}
		hdr.PAXRecords["SCHILY.xattr."+name] = string(val[:n])
	}
	return nil
}

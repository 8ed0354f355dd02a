package oci

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/nimbus-dev/nimbus/internal/sandbox"
)

// A nimbus killed inside Create before the runtime knows the container
// leaves a state directory, and usually its overlay root mounted, that List
// cannot report (it lists runtime containers) and whose handle nobody
// recorded. New sweeps them: a directory under <root>/sandboxes is
// abandoned when no runtime state root under <root> has a container of
// that ID, its shim (if it ever had one) no longer runs, and no Create
// holds its lock. Everything else is left for List, Adopt and Delete.

// lockSandboxDir opens dir and takes an exclusive flock on it. Create holds
// it until the sandbox exists or is undone, so that a sweep by another
// driver on the same root never takes a sandbox being made for an abandoned
// one; the kernel drops the lock with the process, so a crash frees it.
// With wait false it fails with unix.EWOULDBLOCK when the lock is held.
func lockSandboxDir(dir string, wait bool) (*os.File, error) {
	f, err := os.Open(dir)
	if err != nil {
		return nil, err
	}
	how := unix.LOCK_EX
	if !wait {
		how |= unix.LOCK_NB
	}
	for {
		err = unix.Flock(int(f.Fd()), how)
		if !errors.Is(err, unix.EINTR) {
			break
		}
	}
	if err != nil {
		f.Close()
		return nil, err
	}
	return f, nil
}

// lockedDirStillAt reports whether the directory locked through f is still
// the one at dir: a sweep may have removed it between Create's mkdir and
// its lock.
func lockedDirStillAt(f *os.File, dir string) bool {
	var locked, current unix.Stat_t
	if unix.Fstat(int(f.Fd()), &locked) != nil || unix.Stat(dir, &current) != nil {
		return false
	}
	return locked.Dev == current.Dev && locked.Ino == current.Ino
}

// sweepAbandoned removes the abandoned sandbox directories under the
// driver's root (see above): their mounts, their empty cgroups and the
// directories. It is best effort: what it cannot remove is logged and left.
func (d *Driver) sweepAbandoned(ctx context.Context) {
	entries, err := os.ReadDir(filepath.Join(d.root, "sandboxes"))
	if err != nil {
		d.log.WarnContext(ctx, "oci driver: cannot look for abandoned sandboxes", "err", err)
		return
	}
	for _, e := range entries {
		if !e.IsDir() {
			continue
		}
		id := e.Name()
		dir := d.sandboxDir(id)
		if !d.abandoned(id, dir) {
			continue
		}
		lock, err := lockSandboxDir(dir, false)
		if err != nil {
			if !errors.Is(err, unix.EWOULDBLOCK) && !errors.Is(err, os.ErrNotExist) {
				d.log.WarnContext(ctx, "oci driver: lock abandoned sandbox", "id", id, "err", err)
			}
			continue
		}
		// A Create may have finished between the first look and the lock.
		if d.abandoned(id, dir) {
			if err := d.removeAbandoned(id, dir); err != nil {
				d.log.WarnContext(ctx, "oci driver: remove abandoned sandbox", "id", id, "dir", dir, "err", err)
			} else {
				d.log.InfoContext(ctx, "oci driver: removed sandbox abandoned by a crash before the runtime knew it", "id", id)
			}
		}
		lock.Close()
	}
}

// abandoned reports whether nothing but its state directory knows sandbox
// id: no runtime has its container, and no shim of it runs.
func (d *Driver) abandoned(id, dir string) bool {
	for _, root := range d.runtimeRoots(dir) {
		if fileExists(filepath.Join(root, id)) {
			return false
		}
	}
	if _, alive := readShimPid(dir); alive {
		return false
	}
	return fileExists(dir)
}

// runtimeRoots are the state roots a container of the sandbox in dir may be
// in: the one in use, every runtime's under this driver's root (a previous
// nimbus may have run the other runtime), and the one its handle names.
func (d *Driver) runtimeRoots(dir string) []string {
	roots := []string{d.rt.root, filepath.Join(d.root, RuntimeRunc), filepath.Join(d.root, RuntimeCrun)}
	var h sandbox.Handle
	var st driverState
	if readJSON(filepath.Join(dir, handleFile), &h) == nil && json.Unmarshal(h.DriverState, &st) == nil && st.RuntimeRoot != "" {
		roots = append(roots, st.RuntimeRoot)
	}
	return roots
}

// removeAbandoned unmounts everything mounted at or under dir (the overlay
// root, and whatever else a half-made sandbox mounted there), removes the
// sandbox's cgroups where they are empty, and removes dir.
func (d *Driver) removeAbandoned(id, dir string) error {
	mounts, err := mountsUnder(dir)
	if err != nil {
		return err
	}
	var errs []error
	for _, m := range mounts {
		if err := unix.Unmount(m, unix.MNT_DETACH); err != nil && !errors.Is(err, unix.EINVAL) && !errors.Is(err, unix.ENOENT) {
			errs = append(errs, fmt.Errorf("unmount %s: %w", m, err))
		}
	}
	// The runtime may have made the cgroup before it was killed; rmdir
	// only succeeds on an empty cgroup, so a live one is never touched.
	for _, cg := range allCgroupDirs(d.mode, id) {
		if err := unix.Rmdir(cg); err != nil && !errors.Is(err, unix.ENOENT) {
			errs = append(errs, fmt.Errorf("remove cgroup %s: %w", cg, err))
		}
	}
	if len(errs) > 0 {
		return errors.Join(errs...)
	}
	if err := os.RemoveAll(dir); err != nil {
		return fmt.Errorf("remove state: %w", err)
	}
	return nil
}

// mountsUnder lists the mount points at or under dir in this process's
// mount namespace, deepest first, so that each is unmounted before the one
// it sits on.
func mountsUnder(dir string) ([]string, error) {
	f, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		return nil, fmt.Errorf("read mounts: %w", err)
	}
	defer f.Close()
	var found []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) < 5 {
			continue
		}
		mp := unescapeMountinfo(fields[4])
		if mp == dir || strings.HasPrefix(mp, dir+"/") {
			found = append(found, mp)
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("read mounts: %w", err)
	}
	// Later lines are mounted on top of earlier ones.
	slices.Reverse(found)
	return found, nil
}

// unescapeMountinfo undoes the octal escapes (\040 for a space, \011,
// \012, \134) the kernel writes in mountinfo paths.
func unescapeMountinfo(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+3 < len(s) && isOctal(s[i+1]) && isOctal(s[i+2]) && isOctal(s[i+3]) {
			b.WriteByte((s[i+1]-'0')<<6 | (s[i+2]-'0')<<3 | (s[i+3] - '0'))
			i += 3
			continue
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

func isOctal(c byte) bool { return c >= '0' && c <= '7' }

package network

import (
	"errors"
	"fmt"
	"os"
	"runtime"

	"golang.org/x/sys/unix"
)

// ensureSharedDir makes dir a mount point with shared propagation, as
// `ip netns` does with /run/netns, so that unmounting a namespace file here
// also unmounts its copies in mount namespaces created meanwhile (runc's),
// letting the kernel free the namespace. It reports whether it bind-mounted
// dir onto itself, which releaseSharedDir undoes.
func ensureSharedDir(dir string) (mounted bool, err error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return false, fmt.Errorf("create netns dir %s: %w", dir, err)
	}
	err = unix.Mount("", dir, "none", unix.MS_SHARED|unix.MS_REC, "")
	if err == nil {
		return false, nil
	}
	if !errors.Is(err, unix.EINVAL) {
		return false, fmt.Errorf("make %s shared: %w", dir, err)
	}
	// EINVAL: not a mount point yet.
	if err := unix.Mount(dir, dir, "none", unix.MS_BIND|unix.MS_REC, ""); err != nil {
		return false, fmt.Errorf("bind %s onto itself: %w", dir, err)
	}
	if err := unix.Mount("", dir, "none", unix.MS_SHARED|unix.MS_REC, ""); err != nil {
		unix.Unmount(dir, 0)
		return false, fmt.Errorf("make %s shared: %w", dir, err)
	}
	return true, nil
}

// maxSelfBinds bounds how many stacked self-binds releaseSharedDir peels
// off (two managers starting at once on one directory can each make one).
const maxSelfBinds = 8

// releaseSharedDir undoes ensureSharedDir once no namespace is pinned in
// dir: it unmounts dir's own mount, so none piles up per run. It reports
// whether dir was left unmounted. A dir holding any entry is left alone, and
// the unmount is not lazy: the kernel refuses it (EBUSY) while anything is
// still mounted under dir or open in it, so a namespace another manager
// pins here meanwhile is never detached with it.
func releaseSharedDir(dir string) (bool, error) {
	entries, err := os.ReadDir(dir)
	if errors.Is(err, os.ErrNotExist) {
		return true, nil
	}
	if err != nil {
		return false, fmt.Errorf("read netns dir %s: %w", dir, err)
	}
	if len(entries) > 0 {
		return false, nil
	}
	for range maxSelfBinds {
		err := unix.Unmount(dir, 0)
		switch {
		case errors.Is(err, unix.EINVAL): // not a mount point (any more)
			return true, nil
		case errors.Is(err, unix.EBUSY):
			return false, nil
		case err != nil:
			return false, fmt.Errorf("unmount netns dir %s: %w", dir, err)
		}
	}
	return false, fmt.Errorf("unmount netns dir %s: still a mount point after %d unmounts", dir, maxSelfBinds)
}

// createNetNS makes a new network namespace and pins it by bind-mounting its
// nsfs file onto path. The unshare happens on a dedicated OS thread that is
// never unlocked, so the Go runtime throws that thread away afterwards
// instead of reusing a thread that lives in the wrong namespace.
func createNetNS(path string) error {
	f, err := os.OpenFile(path, os.O_RDONLY|os.O_CREATE|os.O_EXCL, 0o444)
	if err != nil {
		return fmt.Errorf("create netns file %s: %w", path, err)
	}
	f.Close()

	done := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		// No UnlockOSThread: this thread's namespace changes below.
		if err := unix.Unshare(unix.CLONE_NEWNET); err != nil {
			done <- fmt.Errorf("unshare netns: %w", err)
			return
		}
		self := fmt.Sprintf("/proc/self/task/%d/ns/net", unix.Gettid())
		if err := unix.Mount(self, path, "none", unix.MS_BIND, ""); err != nil {
			done <- fmt.Errorf("pin netns at %s: %w", path, err)
			return
		}
		done <- nil
	}()
	if err := <-done; err != nil {
		os.Remove(path)
		return err
	}
	return nil
}

// removeNetNS unpins and deletes the namespace file; a missing file is not
// an error so that cleanup can be repeated.
func removeNetNS(path string) error {
	if err := unix.Unmount(path, unix.MNT_DETACH); err != nil && !errors.Is(err, unix.EINVAL) && !errors.Is(err, unix.ENOENT) {
		return fmt.Errorf("unmount netns %s: %w", path, err)
	}
	if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("remove netns file %s: %w", path, err)
	}
	return nil
}

// isNetNS reports whether path is a pinned network namespace.
func isNetNS(path string) bool {
	var st unix.Statfs_t
	if err := unix.Statfs(path, &st); err != nil {
		return false
	}
	return st.Type == unix.NSFS_MAGIC
}

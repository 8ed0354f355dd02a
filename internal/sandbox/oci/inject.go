package oci

import (
	"context"
	"errors"
	"fmt"
	"os"
	goruntime "runtime"

	"golang.org/x/sys/unix"

	"github.com/nimbus-dev/nimbus/internal/sandbox"
)

// InjectMount bind-mounts the host path source at dest inside a running
// sandbox, read-only when asked, without restarting it and without any
// mount propagation between the host and the sandbox. With CreateTarget a
// missing dest directory is made first, inside the sandbox's own root.
//
// Why: a sandbox started ahead of time (a Lambda warm spare) gets its
// function's code only once an invocation claims it; injecting one mount
// costs well under a millisecond, where a new sandbox costs a runc create
// and start. How: open_tree clones source into a detached mount (made
// read-only with mount_setattr before anyone can see it), then a thread of
// this process that has joined the sandbox's mount namespace moves it onto
// dest. The sandbox's processes see the mount appear; nothing of the host
// beyond source becomes visible, and the host's namespace is not changed.
func (d *Driver) InjectMount(ctx context.Context, h *sandbox.Handle, source, dest string, opts sandbox.InjectOptions) error {
	st, err := d.decodeHandle(h)
	if err != nil {
		return err
	}
	if fileExists(st.Dir + "/" + exitFile) {
		return fmt.Errorf("inject mount into sandbox %s: %w", h.ID, sandbox.ErrNotRunning)
	}
	pid := InitPid(st.Dir)
	if pid <= 0 {
		return fmt.Errorf("inject mount into sandbox %s: %w: no init pid", h.ID, sandbox.ErrNotRunning)
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	ns, err := os.Open(fmt.Sprintf("/proc/%d/ns/mnt", pid))
	if err != nil {
		return fmt.Errorf("inject mount into sandbox %s: open its mount namespace: %w", h.ID, err)
	}
	defer ns.Close()
	tree, err := unix.OpenTree(unix.AT_FDCWD, source, unix.OPEN_TREE_CLONE|unix.OPEN_TREE_CLOEXEC|unix.AT_RECURSIVE)
	if err != nil {
		return fmt.Errorf("inject mount into sandbox %s: clone %s: %w", h.ID, source, err)
	}
	defer unix.Close(tree)
	attr := unix.MountAttr{Attr_set: unix.MOUNT_ATTR_NOSUID | unix.MOUNT_ATTR_NODEV}
	if opts.ReadOnly {
		attr.Attr_set |= unix.MOUNT_ATTR_RDONLY
	}
	if err := unix.MountSetattr(tree, "", unix.AT_EMPTY_PATH|unix.AT_RECURSIVE, &attr); err != nil {
		return fmt.Errorf("inject mount into sandbox %s: set attributes of %s: %w", h.ID, source, err)
	}
	if err := moveMountInNamespace(int(ns.Fd()), tree, dest, opts.CreateTarget); err != nil {
		return fmt.Errorf("inject mount into sandbox %s: mount %s at %s: %w", h.ID, source, dest, err)
	}
	return nil
}

// init pins the main goroutine to the process's main thread for good. The
// thread that joins a sandbox's mount namespace (moveMountInNamespace) must
// be one the runtime can throw away, and the main thread never is: Go
// parks it instead, and /proc/self (the main thread's view) would then show
// the sandbox's mounts to every later reader of /proc/self/mountinfo. With
// the main goroutine locked to it, no other goroutine ever runs there.
func init() { goruntime.LockOSThread() }

// moveMountInNamespace moves the detached mount tree onto dest as resolved
// in the mount namespace nsFD. It runs on a thread of its own that joins
// that namespace and is then thrown away: a goroutine that exits while
// locked to its thread takes the thread with it, so no other goroutine
// ever runs in the sandbox's namespace.
func moveMountInNamespace(nsFD, tree int, dest string, create bool) error {
	errc := make(chan error, 1)
	go func() {
		goruntime.LockOSThread()
		// Deliberately never unlocked (see above).
		// setns into a mount namespace needs a thread that shares its
		// filesystem context (root, cwd) with no other thread.
		if err := unix.Unshare(unix.CLONE_FS); err != nil {
			errc <- fmt.Errorf("unshare filesystem context: %w", err)
			return
		}
		if err := unix.Setns(nsFD, unix.CLONE_NEWNS); err != nil {
			errc <- fmt.Errorf("join mount namespace: %w", err)
			return
		}
		// Joining the namespace moved this thread's root to the sandbox's,
		// so dest (and any symlink on the way) resolves inside it.
		if create {
			if err := os.MkdirAll(dest, 0o755); err != nil {
				errc <- fmt.Errorf("create %s in the sandbox: %w", dest, err)
				return
			}
		}
		err := unix.MoveMount(tree, "", unix.AT_FDCWD, dest, unix.MOVE_MOUNT_F_EMPTY_PATH)
		if errors.Is(err, unix.ENOENT) {
			err = fmt.Errorf("%s does not exist in the sandbox: %w", dest, err)
		}
		errc <- err
	}()
	return <-errc
}

// RemoveMount unmounts dest inside a running sandbox from a thread that
// joined its mount namespace, without MNT_DETACH: a mount something in the
// sandbox still uses stays, and the answer is ErrMountBusy, as umount(8)
// answers "target is busy".
func (d *Driver) RemoveMount(ctx context.Context, h *sandbox.Handle, dest string) error {
	st, err := d.decodeHandle(h)
	if err != nil {
		return err
	}
	pid := InitPid(st.Dir)
	if fileExists(st.Dir+"/"+exitFile) || pid <= 0 {
		return fmt.Errorf("remove mount from sandbox %s: %w", h.ID, sandbox.ErrNotRunning)
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	ns, err := os.Open(fmt.Sprintf("/proc/%d/ns/mnt", pid))
	if err != nil {
		return fmt.Errorf("remove mount from sandbox %s: open its mount namespace: %w", h.ID, err)
	}
	defer ns.Close()
	errc := make(chan error, 1)
	go func() {
		goruntime.LockOSThread()
		// Deliberately never unlocked: the thread is thrown away (see
		// moveMountInNamespace).
		if err := unix.Unshare(unix.CLONE_FS); err != nil {
			errc <- fmt.Errorf("unshare filesystem context: %w", err)
			return
		}
		if err := unix.Setns(int(ns.Fd()), unix.CLONE_NEWNS); err != nil {
			errc <- fmt.Errorf("join mount namespace: %w", err)
			return
		}
		errc <- unix.Unmount(dest, unix.UMOUNT_NOFOLLOW)
	}()
	switch err := <-errc; {
	case errors.Is(err, unix.EBUSY):
		return fmt.Errorf("remove mount %s from sandbox %s: %w", dest, h.ID, sandbox.ErrMountBusy)
	case err != nil:
		return fmt.Errorf("remove mount %s from sandbox %s: %w", dest, h.ID, err)
	}
	return nil
}

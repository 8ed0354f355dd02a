package volume

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// MinBlockSize is the smallest block volume: below it mkfs.ext4 has no room
// for a journal.
const MinBlockSize = 8 << 20

// Create makes block volume id: a sparse file of sizeBytes holding a fresh
// ext4 filesystem. Inode tables and the journal are initialised lazily, so
// a large volume takes no longer than a small one. On error nothing is left.
func (m *Manager) Create(ctx context.Context, id string, sizeBytes int64) error {
	if err := validateID("volume", id); err != nil {
		return fmt.Errorf("create volume: %w", err)
	}
	if sizeBytes < MinBlockSize {
		return fmt.Errorf("create volume %s: %w: size %d is below the minimum %d", id, ErrInvalid, sizeBytes, MinBlockSize)
	}
	unlock := m.lock(id)
	defer unlock()
	image := m.ImagePath(id)
	if _, err := os.Stat(image); err == nil {
		return fmt.Errorf("create volume %s: %w", id, ErrAlreadyExists)
	}
	tmp := image + ".tmp"
	if err := createSparse(tmp, sizeBytes); err != nil {
		return fmt.Errorf("create volume %s: %w", id, err)
	}
	if err := mkfsExt4(ctx, tmp); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("create volume %s: %w", id, err)
	}
	if err := publish(tmp, image); err != nil {
		return fmt.Errorf("create volume %s: %w", id, err)
	}
	return nil
}

func createSparse(path string, size int64) error {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return fmt.Errorf("create image file: %w", err)
	}
	if err := f.Truncate(size); err != nil {
		f.Close()
		os.Remove(path)
		return fmt.Errorf("size image file to %d: %w", size, err)
	}
	if err := f.Close(); err != nil {
		os.Remove(path)
		return fmt.Errorf("close image file: %w", err)
	}
	return nil
}

// publish moves a finished temporary file to its name, refusing to replace
// an existing one (a hard link fails on an existing name, a rename would not).
func publish(tmp, final string) error {
	defer os.Remove(tmp)
	if err := os.Link(tmp, final); err != nil {
		if errors.Is(err, os.ErrExist) {
			return ErrAlreadyExists
		}
		return fmt.Errorf("publish %s: %w", final, err)
	}
	return nil
}

func mkfsExt4(ctx context.Context, image string) error {
	// -m 0: no blocks reserved for root; the volume is all the user's.
	return run(ctx, "mkfs.ext4", "-q", "-F", "-m", "0",
		"-E", "lazy_itable_init=1,lazy_journal_init=1,nodiscard", image)
}

// run execs a host tool and returns its output in the error.
func run(ctx context.Context, name string, args ...string) error {
	out, err := exec.CommandContext(ctx, name, args...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("%s %s: %w: %s", name, strings.Join(args, " "), err, strings.TrimSpace(string(out)))
	}
	return nil
}

// Attach mounts block volume id and returns its host mount point, for a
// sandbox bind mount. Attaching an attached volume returns the same path.
func (m *Manager) Attach(ctx context.Context, id string) (string, error) {
	if err := validateID("volume", id); err != nil {
		return "", fmt.Errorf("attach volume: %w", err)
	}
	if err := checkCtx(ctx, "attach volume "+id); err != nil {
		return "", err
	}
	unlock := m.lock(id)
	defer unlock()
	image := m.ImagePath(id)
	if _, err := os.Stat(image); err != nil {
		return "", fmt.Errorf("attach volume %s: %w", id, ErrNotFound)
	}
	target := m.MountPath(id)
	mounted, err := isMounted(target)
	if err != nil {
		return "", fmt.Errorf("attach volume %s: %w", id, err)
	}
	if mounted {
		return target, nil
	}
	if err := os.MkdirAll(target, 0o755); err != nil {
		return "", fmt.Errorf("attach volume %s: create mount point: %w", id, err)
	}
	dev, loopFile, err := attachLoop(image)
	if err != nil {
		return "", fmt.Errorf("attach volume %s: %w", id, err)
	}
	// Closing the handle once mounted (or not) lets autoclear free the
	// device when the filesystem is unmounted (or right away).
	defer loopFile.Close()
	if err := unix.Mount(dev, target, "ext4", 0, ""); err != nil {
		return "", errors.Join(fmt.Errorf("attach volume %s: mount %s on %s: %w", id, dev, target, err), os.Remove(target))
	}
	m.log.DebugContext(ctx, "volume attached", "volume", id, "device", dev, "mount", target)
	return target, nil
}

// Detach unmounts block volume id and frees its loop device. It fails with
// ErrBusy while something (a sandbox's bind mount, an open file) still uses
// it. Detaching a detached volume is not an error.
func (m *Manager) Detach(ctx context.Context, id string) error {
	if err := validateID("volume", id); err != nil {
		return fmt.Errorf("detach volume: %w", err)
	}
	if err := checkCtx(ctx, "detach volume "+id); err != nil {
		return err
	}
	unlock := m.lock(id)
	defer unlock()
	return m.detachLocked(id, 2*time.Second)
}

// detachLocked unmounts the volume, then gives autoclear up to patience
// to free its loop devices before freeing them itself.
func (m *Manager) detachLocked(id string, patience time.Duration) error {
	target := m.MountPath(id)
	mounted, err := isMounted(target)
	if err != nil {
		return fmt.Errorf("detach volume %s: %w", id, err)
	}
	if mounted {
		if err := unix.Unmount(target, 0); err != nil {
			if errors.Is(err, unix.EBUSY) {
				return fmt.Errorf("detach volume %s: %w: %v", id, ErrBusy, err)
			}
			return fmt.Errorf("detach volume %s: unmount %s: %w", id, target, err)
		}
	}
	if err := waitLoopsFreed(m.ImagePath(id), patience); err != nil {
		return fmt.Errorf("detach volume %s: %w", id, err)
	}
	if err := os.Remove(target); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("detach volume %s: remove mount point: %w", id, err)
	}
	return nil
}

// attachedLocked reports whether block volume id is mounted or held by a
// loop device.
func (m *Manager) attachedLocked(id string) (bool, error) {
	mounted, err := isMounted(m.MountPath(id))
	if err != nil || mounted {
		return mounted, err
	}
	devs, err := loopDevicesOf(m.ImagePath(id))
	return len(devs) > 0, err
}

// Grow enlarges block volume id and its filesystem to newSize. It works
// offline only (growing a mounted ext4 fails on these hosts), so it refuses
// an attached volume. Shrinking is refused.
func (m *Manager) Grow(ctx context.Context, id string, newSize int64) error {
	if err := validateID("volume", id); err != nil {
		return fmt.Errorf("grow volume: %w", err)
	}
	unlock := m.lock(id)
	defer unlock()
	image := m.ImagePath(id)
	st, err := os.Stat(image)
	if err != nil {
		return fmt.Errorf("grow volume %s: %w", id, ErrNotFound)
	}
	if newSize < st.Size() {
		return fmt.Errorf("grow volume %s: %w: %d is smaller than the current %d", id, ErrInvalid, newSize, st.Size())
	}
	if newSize == st.Size() {
		return nil
	}
	attached, err := m.attachedLocked(id)
	if err != nil {
		return fmt.Errorf("grow volume %s: %w", id, err)
	}
	if attached {
		return fmt.Errorf("grow volume %s: %w: detach it first", id, ErrAttached)
	}
	if err := os.Truncate(image, newSize); err != nil {
		return fmt.Errorf("grow volume %s: %w", id, err)
	}
	// resize2fs insists on a freshly checked filesystem. e2fsck exits 1
	// when it fixed something, which is fine here.
	if err := run(ctx, "e2fsck", "-f", "-p", image); err != nil {
		var ee *exec.ExitError
		if !errors.As(err, &ee) || ee.ExitCode() != 1 {
			return fmt.Errorf("grow volume %s: %w", id, err)
		}
	}
	if err := run(ctx, "resize2fs", image); err != nil {
		return fmt.Errorf("grow volume %s: %w", id, err)
	}
	return nil
}

// Delete removes block volume id; it refuses an attached volume. Deleting
// a missing volume is ErrNotFound.
func (m *Manager) Delete(ctx context.Context, id string) error {
	if err := validateID("volume", id); err != nil {
		return fmt.Errorf("delete volume: %w", err)
	}
	unlock := m.lock(id)
	defer unlock()
	image := m.ImagePath(id)
	if _, err := os.Stat(image); err != nil {
		return fmt.Errorf("delete volume %s: %w", id, ErrNotFound)
	}
	attached, err := m.attachedLocked(id)
	if err != nil {
		return fmt.Errorf("delete volume %s: %w", id, err)
	}
	if attached {
		return fmt.Errorf("delete volume %s: %w", id, ErrAttached)
	}
	if err := os.Remove(image); err != nil {
		return fmt.Errorf("delete volume %s: %w", id, err)
	}
	return nil
}

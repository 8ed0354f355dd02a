package volume

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"

	"golang.org/x/sys/unix"
)

// Snapshot copies block volume id into snapshot snapID (an EBS snapshot's
// data). An attached volume's filesystem is frozen for the copy, so the
// snapshot is consistent, as a snapshot of a quiesced EBS volume is.
func (m *Manager) Snapshot(ctx context.Context, id, snapID string) error {
	if err := validateID("volume", id); err != nil {
		return fmt.Errorf("snapshot: %w", err)
	}
	if err := validateID("snapshot", snapID); err != nil {
		return fmt.Errorf("snapshot %s: %w", id, err)
	}
	unlock := m.lock(id)
	defer unlock()
	image := m.ImagePath(id)
	if _, err := os.Stat(image); err != nil {
		return fmt.Errorf("snapshot %s: %w", id, ErrNotFound)
	}
	dst := m.snapshotPath(snapID)
	if _, err := os.Stat(dst); err == nil {
		return fmt.Errorf("snapshot %s as %s: %w", id, snapID, ErrAlreadyExists)
	}
	mounted, err := isMounted(m.MountPath(id))
	if err != nil {
		return fmt.Errorf("snapshot %s: %w", id, err)
	}
	if mounted {
		thaw, err := freeze(m.MountPath(id))
		if err != nil {
			return fmt.Errorf("snapshot %s: %w", id, err)
		}
		defer thaw()
	}
	if err := copyImage(ctx, image, dst); err != nil {
		return fmt.Errorf("snapshot %s as %s: %w", id, snapID, err)
	}
	return nil
}

// FromSnapshot creates block volume id from snapshot snapID; Grow it
// afterwards for a larger volume.
func (m *Manager) FromSnapshot(ctx context.Context, snapID, id string) error {
	if err := validateID("snapshot", snapID); err != nil {
		return fmt.Errorf("volume from snapshot: %w", err)
	}
	if err := validateID("volume", id); err != nil {
		return fmt.Errorf("volume from snapshot %s: %w", snapID, err)
	}
	unlock := m.lock(id)
	defer unlock()
	src := m.snapshotPath(snapID)
	if _, err := os.Stat(src); err != nil {
		return fmt.Errorf("volume %s from snapshot %s: %w", id, snapID, ErrNotFound)
	}
	if _, err := os.Stat(m.ImagePath(id)); err == nil {
		return fmt.Errorf("volume %s from snapshot %s: %w", id, snapID, ErrAlreadyExists)
	}
	if err := copyImage(ctx, src, m.ImagePath(id)); err != nil {
		return fmt.Errorf("volume %s from snapshot %s: %w", id, snapID, err)
	}
	return nil
}

// DeleteSnapshot removes snapshot snapID.
func (m *Manager) DeleteSnapshot(ctx context.Context, snapID string) error {
	if err := validateID("snapshot", snapID); err != nil {
		return fmt.Errorf("delete snapshot: %w", err)
	}
	if err := os.Remove(m.snapshotPath(snapID)); err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("delete snapshot %s: %w", snapID, ErrNotFound)
		}
		return fmt.Errorf("delete snapshot %s: %w", snapID, err)
	}
	return nil
}

// ioctl numbers of FIFREEZE and FITHAW (_IOWR('X', 119/120, int)), which
// x/sys/unix does not name.
const (
	fiFreeze = 0xc0045877
	fiThaw   = 0xc0045878
)

// freeze blocks writes to the filesystem mounted at dir until thaw.
func freeze(dir string) (thaw func(), err error) {
	f, err := os.Open(dir)
	if err != nil {
		return nil, fmt.Errorf("open %s to freeze: %w", dir, err)
	}
	if err := unix.IoctlSetInt(int(f.Fd()), fiFreeze, 0); err != nil {
		f.Close()
		return nil, fmt.Errorf("freeze %s: %w", dir, err)
	}
	return func() {
		unix.IoctlSetInt(int(f.Fd()), fiThaw, 0)
		f.Close()
	}, nil
}

// copyImage copies a sparse image to a new file dst: a reflink where the
// filesystem shares extents (btrfs, XFS), else only the data regions, so
// holes stay holes. dst appears complete or not at all.
func copyImage(ctx context.Context, src, dst string) error {
	in, err := os.Open(src)
	if err != nil {
		return fmt.Errorf("open %s: %w", src, err)
	}
	defer in.Close()
	st, err := in.Stat()
	if err != nil {
		return fmt.Errorf("stat %s: %w", src, err)
	}
	tmp := dst + ".tmp"
	out, err := os.OpenFile(tmp, os.O_RDWR|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return fmt.Errorf("create %s: %w", tmp, err)
	}
	err = unix.IoctlFileClone(int(out.Fd()), int(in.Fd()))
	if err != nil {
		err = copySparse(ctx, in, out, st.Size())
	}
	if err == nil {
		err = out.Sync()
	}
	if cerr := out.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(tmp)
		return err
	}
	if err := publish(tmp, dst); err != nil {
		return err
	}
	return nil
}

// copySparse copies the data regions of in (found with SEEK_DATA and
// SEEK_HOLE) with copy_file_range and sizes out to size.
func copySparse(ctx context.Context, in, out *os.File, size int64) error {
	if err := out.Truncate(size); err != nil {
		return fmt.Errorf("size copy: %w", err)
	}
	inFd, outFd := int(in.Fd()), int(out.Fd())
	var off int64
	for off < size {
		if err := ctx.Err(); err != nil {
			return err
		}
		data, err := unix.Seek(inFd, off, unix.SEEK_DATA)
		if errors.Is(err, unix.ENXIO) {
			break // only a hole remains
		}
		if err != nil {
			return fmt.Errorf("seek data: %w", err)
		}
		hole, err := unix.Seek(inFd, data, unix.SEEK_HOLE)
		if err != nil {
			return fmt.Errorf("seek hole: %w", err)
		}
		for pos := data; pos < hole; {
			inOff, outOff := pos, pos
			n, err := unix.CopyFileRange(inFd, &inOff, outFd, &outOff, int(hole-pos), 0)
			if err != nil {
				return fmt.Errorf("copy range at %d: %w", pos, err)
			}
			if n == 0 {
				return fmt.Errorf("copy range at %d: %w", pos, io.ErrUnexpectedEOF)
			}
			pos += int64(n)
		}
		off = hole
	}
	return nil
}

// thawIfFrozen thaws the filesystem mounted at dir; one that is not frozen
// (EINVAL) is fine.
func thawIfFrozen(dir string) error {
	f, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("open %s to thaw: %w", dir, err)
	}
	defer f.Close()
	if err := unix.IoctlSetInt(int(f.Fd()), fiThaw, 0); err != nil && !errors.Is(err, unix.EINVAL) {
		return fmt.Errorf("thaw %s: %w", dir, err)
	}
	return nil
}

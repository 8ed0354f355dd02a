package volume

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// Info describes a block volume as the host has it.
type Info struct {
	ID          string
	SizeBytes   int64 // apparent size
	AllocBytes  int64 // space the sparse file takes on disk
	Attached    bool
	MountPath   string   // set while attached
	LoopDevices []string // normally one while attached, none otherwise
}

// List reports every block volume, with what the kernel says about its
// attachment; after a restart this is how attachments are known again.
func (m *Manager) List(ctx context.Context) ([]Info, error) {
	entries, err := os.ReadDir(m.blockDir())
	if err != nil {
		return nil, fmt.Errorf("list volumes: %w", err)
	}
	mps, err := mountPoints()
	if err != nil {
		return nil, fmt.Errorf("list volumes: %w", err)
	}
	var out []Info
	for _, e := range entries {
		id, ok := strings.CutSuffix(e.Name(), ".ext4")
		if !ok {
			continue
		}
		info, err := m.info(id, mps)
		if err != nil {
			return nil, fmt.Errorf("list volumes: %w", err)
		}
		out = append(out, info)
	}
	slices.SortFunc(out, func(a, b Info) int { return strings.Compare(a.ID, b.ID) })
	return out, nil
}

// Inspect reports one block volume.
func (m *Manager) Inspect(ctx context.Context, id string) (Info, error) {
	if err := validateID("volume", id); err != nil {
		return Info{}, fmt.Errorf("inspect volume: %w", err)
	}
	mps, err := mountPoints()
	if err != nil {
		return Info{}, fmt.Errorf("inspect volume %s: %w", id, err)
	}
	info, err := m.info(id, mps)
	if err != nil {
		return Info{}, fmt.Errorf("inspect volume %s: %w", id, err)
	}
	return info, nil
}

func (m *Manager) info(id string, mountPoints map[string]bool) (Info, error) {
	image := m.ImagePath(id)
	st, err := os.Stat(image)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return Info{}, ErrNotFound
		}
		return Info{}, err
	}
	info := Info{ID: id, SizeBytes: st.Size(), AllocBytes: allocatedBytes(st)}
	if mountPoints[m.MountPath(id)] {
		info.Attached = true
		info.MountPath = m.MountPath(id)
	}
	info.LoopDevices, err = loopDevicesOf(image)
	if err != nil {
		return Info{}, err
	}
	return info, nil
}

// Recover tidies what a crashed nimbus may have left: half-written images
// and snapshots, loop devices bound to a volume but not mounted, empty
// mount points, and filesystems still frozen by an interrupted Snapshot. Mounted volumes stay attached (their sandboxes may still
// run); List reports them.
func (m *Manager) Recover(ctx context.Context) error {
	var errs []error
	for _, dir := range []string{m.blockDir(), m.snapshotDir()} {
		tmps, err := filepath.Glob(filepath.Join(dir, "*.tmp"))
		if err != nil {
			return fmt.Errorf("recover volumes: %w", err)
		}
		for _, t := range tmps {
			if err := os.Remove(t); err != nil {
				errs = append(errs, err)
			}
		}
	}
	infos, err := m.List(ctx)
	if err != nil {
		return fmt.Errorf("recover volumes: %w", err)
	}
	for _, info := range infos {
		if info.Attached {
			// A snapshot interrupted by the crash would leave it frozen.
			if err := thawIfFrozen(info.MountPath); err != nil {
				errs = append(errs, err)
			}
			continue
		}
		unlock := m.lock(info.ID)
		// Unmounted: nothing will autoclear these devices, free them now.
		if err := m.detachLocked(info.ID, 0); err != nil {
			errs = append(errs, err)
		}
		unlock()
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("recover volumes: %w", err)
	}
	return nil
}

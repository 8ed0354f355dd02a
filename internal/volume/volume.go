// Package volume provides the block volumes behind EBS (sparse ext4 image
// files attached through loop devices and mounted at a nimbus-owned host
// path, which sandboxes receive as bind mounts) and plain directory volumes
// for Batch and Lambda.
//
// The kernel is the record of what is attached: a volume is attached when
// its mount point is mounted, and its loop device is found through
// /sys/block/loop*/loop/backing_file. So a restarted nimbus knows every
// attachment without state files of its own (see Recover).
package volume

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"regexp"
	"sync"
)

// Sentinel errors; the layers above map them to AWS codes at the edge.
var (
	ErrNotFound      = errors.New("volume not found")
	ErrAlreadyExists = errors.New("volume already exists")
	ErrAttached      = errors.New("volume is attached")
	ErrInvalid       = errors.New("invalid volume request")
	ErrBusy          = errors.New("volume is busy")
)

// Options configures a Manager.
type Options struct {
	// Dir holds the images, directory volumes and snapshots; normally
	// <nimbus data dir>/volumes. Required.
	Dir string
	// MountDir is where block volumes are mounted; <Dir>/mnt by default.
	MountDir string
	Logger   *slog.Logger
}

// Manager creates and attaches volumes. It is safe for concurrent use;
// operations on one volume are serialized.
type Manager struct {
	opts Options
	log  *slog.Logger

	mu    sync.Mutex
	locks map[string]*idLock
}

type idLock struct {
	mu   sync.Mutex
	refs int
}

// NewManager prepares the directory layout.
func NewManager(opts Options) (*Manager, error) {
	if opts.Dir == "" {
		return nil, fmt.Errorf("%w: volume dir is required", ErrInvalid)
	}
	if opts.MountDir == "" {
		opts.MountDir = filepath.Join(opts.Dir, "mnt")
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	m := &Manager{opts: opts, log: opts.Logger, locks: make(map[string]*idLock)}
	for _, d := range []string{m.blockDir(), m.dirVolumeDir(), m.snapshotDir(), opts.MountDir} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			return nil, fmt.Errorf("create volume dir: %w", err)
		}
	}
	return m, nil
}

func (m *Manager) blockDir() string     { return filepath.Join(m.opts.Dir, "blocks") }
func (m *Manager) dirVolumeDir() string { return filepath.Join(m.opts.Dir, "dirs") }
func (m *Manager) snapshotDir() string  { return filepath.Join(m.opts.Dir, "snapshots") }

// ImagePath is the sparse ext4 file of block volume id.
func (m *Manager) ImagePath(id string) string { return filepath.Join(m.blockDir(), id+".ext4") }

// MountPath is where block volume id is mounted while attached.
func (m *Manager) MountPath(id string) string { return filepath.Join(m.opts.MountDir, id) }

func (m *Manager) snapshotPath(snapID string) string {
	return filepath.Join(m.snapshotDir(), snapID+".ext4")
}

var idRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$`)

func validateID(kind, id string) error {
	if !idRE.MatchString(id) {
		return fmt.Errorf("%w: %s id %q must match %s", ErrInvalid, kind, id, idRE)
	}
	return nil
}

// lock serializes operations on one id; the returned func unlocks.
func (m *Manager) lock(id string) func() {
	m.mu.Lock()
	l, ok := m.locks[id]
	if !ok {
		l = &idLock{}
		m.locks[id] = l
	}
	l.refs++
	m.mu.Unlock()
	l.mu.Lock()
	return func() {
		l.mu.Unlock()
		m.mu.Lock()
		l.refs--
		if l.refs == 0 {
			delete(m.locks, id)
		}
		m.mu.Unlock()
	}
}

// checkCtx lets long operations stop before starting when ctx is done.
func checkCtx(ctx context.Context, op string) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("%s: %w", op, err)
	}
	return nil
}

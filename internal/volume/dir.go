package volume

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
)

// DirPath is the host directory of directory volume id.
func (m *Manager) DirPath(id string) string { return filepath.Join(m.dirVolumeDir(), id) }

// CreateDir makes directory volume id, a plain host directory for Batch and
// Lambda (no size limit of its own), and returns its path.
func (m *Manager) CreateDir(ctx context.Context, id string) (string, error) {
	if err := validateID("volume", id); err != nil {
		return "", fmt.Errorf("create dir volume: %w", err)
	}
	path := m.DirPath(id)
	if err := os.Mkdir(path, 0o755); err != nil {
		if errors.Is(err, os.ErrExist) {
			return "", fmt.Errorf("create dir volume %s: %w", id, ErrAlreadyExists)
		}
		return "", fmt.Errorf("create dir volume %s: %w", id, err)
	}
	return path, nil
}

// DeleteDir removes directory volume id and everything in it.
func (m *Manager) DeleteDir(ctx context.Context, id string) error {
	if err := validateID("volume", id); err != nil {
		return fmt.Errorf("delete dir volume: %w", err)
	}
	path := m.DirPath(id)
	if _, err := os.Stat(path); err != nil {
		return fmt.Errorf("delete dir volume %s: %w", id, ErrNotFound)
	}
	if err := os.RemoveAll(path); err != nil {
		return fmt.Errorf("delete dir volume %s: %w", id, err)
	}
	return nil
}

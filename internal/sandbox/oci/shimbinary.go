package oci

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// embeddedShim is the nimbus-shim binary (cmd/nimbus-shim) when nimbus was
// built with the nimbus_embedshim tag, as `make build` does
// (shimbinary_embed.go); otherwise empty, and the driver runs its own
// executable as the shim.
var embeddedShim []byte

// installShim writes the shim binary into dir under a name from its
// content hash, once, and returns its path. Shims already running keep the
// file they started from, so older versions are never overwritten.
func installShim(dir string, binary []byte) (string, error) {
	sum := sha256.Sum256(binary)
	path := filepath.Join(dir, "nimbus-shim-"+hex.EncodeToString(sum[:6]))
	if have, err := os.ReadFile(path); err == nil && bytes.Equal(have, binary) {
		return path, nil
	} else if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return "", fmt.Errorf("install shim: %w", err)
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", fmt.Errorf("install shim: %w", err)
	}
	tmp, err := os.CreateTemp(dir, ".nimbus-shim-*")
	if err != nil {
		return "", fmt.Errorf("install shim: %w", err)
	}
	defer os.Remove(tmp.Name()) // after the rename, a no-op
	if _, err := tmp.Write(binary); err != nil {
		tmp.Close()
		return "", fmt.Errorf("install shim: %w", err)
	}
	if err := tmp.Chmod(0o755); err != nil {
		tmp.Close()
		return "", fmt.Errorf("install shim: %w", err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return "", fmt.Errorf("install shim: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return "", fmt.Errorf("install shim: %w", err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return "", fmt.Errorf("install shim: %w", err)
	}
	return path, nil
}

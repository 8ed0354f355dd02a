package oci

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/nimbus-dev/nimbus/internal/sandbox"
)

// mountRoot prepares the sandbox root under dir and returns its path: an
// overlay of the image (lower) and an upper layer, or the image itself.
// A persistent upper (Spec.RootFS.UpperDir) holds "upper" and "work"
// subdirectories, since overlayfs needs both on the same filesystem.
func mountRoot(dir string, rootfs sandbox.RootFS) (string, error) {
	if rootfs.Direct {
		return rootfs.ImageDir, nil
	}
	base := rootfs.UpperDir
	if base == "" {
		base = dir
	}
	upper, work := filepath.Join(base, "upper"), filepath.Join(base, "work")
	target := filepath.Join(dir, "rootfs")
	for _, d := range []string{upper, work, target} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return "", fmt.Errorf("make root dir: %w", err)
		}
	}
	opts := fmt.Sprintf("lowerdir=%s,upperdir=%s,workdir=%s", escapeOverlay(rootfs.ImageDir), escapeOverlay(upper), escapeOverlay(work))
	if err := unix.Mount("overlay", target, "overlay", 0, opts); err != nil {
		return "", fmt.Errorf("mount overlay root: %w", err)
	}
	return target, nil
}

// unmountRoot undoes mountRoot; an unmounted root is not an error.
func unmountRoot(dir string) error {
	target := filepath.Join(dir, "rootfs")
	err := unix.Unmount(target, unix.MNT_DETACH)
	if err != nil && !errors.Is(err, unix.EINVAL) && !errors.Is(err, unix.ENOENT) {
		return fmt.Errorf("unmount root %s: %w", target, err)
	}
	return nil
}

// escapeOverlay escapes the characters overlayfs options treat specially.
func escapeOverlay(p string) string {
	return strings.NewReplacer(`\`, `\\`, `,`, `\,`, `:`, `\:`).Replace(p)
}

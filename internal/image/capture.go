package image

import (
	"archive/tar"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"golang.org/x/sys/unix"
)

// overlayOpaqueXattr marks an overlayfs upper directory whose lower
// counterpart is hidden entirely.
const overlayOpaqueXattr = "trusted.overlay.opaque"

// CaptureOverlay stores, under name, the root a sandbox sees when upperDir
// (an overlayfs upper directory) lies over the root of image base: base's
// layers plus one more made from upperDir, with overlayfs's whiteouts (char
// devices 0/0) and opaque directories (trusted.overlay.opaque=y) written as
// OCI whiteouts. The store unpacks the result into a new root directory,
// where an upper entry has replaced the lower one, a whiteout has deleted
// it and an opaque directory has hidden the lower directory's contents.
// upperDir is only read. A missing upperDir captures base unchanged.
// EC2's CreateImage captures an instance's root volume with it.
func (s *Store) CaptureOverlay(ctx context.Context, base, upperDir, name string, p Progress) (*Image, error) {
	p = orNoProgress(p)
	norm, err := NormalizeName(name)
	if err != nil {
		return nil, err
	}
	baseImg, err := s.Get(ctx, base)
	if err != nil {
		return nil, fmt.Errorf("capture %s: %w", name, err)
	}
	h, err := v1.NewHash(baseImg.Digest)
	if err != nil {
		return nil, fmt.Errorf("capture %s: %w", name, err)
	}
	lower, err := s.storedImage(h)
	if err != nil {
		return nil, fmt.Errorf("capture %s: %w", name, err)
	}
	work, err := os.MkdirTemp(s.tmpDir(), "capture-")
	if err != nil {
		return nil, fmt.Errorf("capture %s: %w", name, err)
	}
	defer os.RemoveAll(work)
	layerPath := filepath.Join(work, "upper.tar.gz")
	if _, err := os.Stat(upperDir); errors.Is(err, fs.ErrNotExist) {
		// Nothing was ever written: an empty directory is an empty layer.
		upperDir = filepath.Join(work, "empty")
		if err := os.Mkdir(upperDir, 0o755); err != nil {
			return nil, fmt.Errorf("capture %s: %w", name, err)
		}
	} else if err != nil {
		return nil, fmt.Errorf("capture %s: %w", name, err)
	}
	p.Step("pack upper layer", 0)
	if err := packTree(ctx, upperDir, layerPath, true, p); err != nil {
		return nil, fmt.Errorf("capture %s: %w", name, err)
	}
	layer, err := tarball.LayerFromFile(layerPath, tarball.WithMediaType(types.OCILayer))
	if err != nil {
		return nil, fmt.Errorf("capture %s: %w", name, err)
	}
	img, err := mutate.Append(lower, mutate.Addendum{Layer: layer, History: v1.History{
		CreatedBy: "nimbus capture of " + baseImg.Digest, Created: v1.Time{Time: time.Now().UTC().Truncate(time.Second)},
	}})
	if err != nil {
		return nil, fmt.Errorf("capture %s: %w", name, err)
	}
	if img, err = mutate.CreatedAt(img, v1.Time{Time: time.Now().UTC().Truncate(time.Second)}); err != nil {
		return nil, fmt.Errorf("capture %s: %w", name, err)
	}
	out, err := s.add(ctx, img, []string{norm}, p)
	if err != nil {
		return nil, fmt.Errorf("capture %s: %w", name, err)
	}
	return out, nil
}

// overlayEntry turns one entry of an overlayfs upper directory into the OCI
// layer entries that mean the same: a whiteout device becomes ".wh.NAME",
// an opaque directory is followed by its ".wh..wh..opq" marker. It returns
// nil for an entry that needs no translation.
func overlayEntry(p string, fi fs.FileInfo, hdr *tar.Header) []*tar.Header {
	if st, ok := fi.Sys().(*syscall.Stat_t); ok && fi.Mode()&fs.ModeCharDevice != 0 && st.Rdev == 0 {
		dir, base := filepath.Split(hdr.Name)
		return []*tar.Header{{Name: dir + whiteoutPrefix + base, Typeflag: tar.TypeReg, Mode: 0o600,
			ModTime: hdr.ModTime, Format: tar.FormatPAX}}
	}
	if fi.IsDir() {
		val := make([]byte, 8)
		n, err := unix.Lgetxattr(p, overlayOpaqueXattr, val)
		if err == nil && string(val[:n]) == "y" {
			return []*tar.Header{hdr, {Name: hdr.Name + opaqueWhiteout, Typeflag: tar.TypeReg, Mode: 0o600,
				ModTime: hdr.ModTime, Format: tar.FormatPAX}}
		}
	}
	return nil
}

package image

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"strconv"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// add stores img under names: blobs first, then the unpacked root, and only
// then the names in the index, so an image is never listed before it can run.
func (s *Store) add(ctx context.Context, img v1.Image, names []string, p Progress) (*Image, error) {
	p = orNoProgress(p)
	normalized := make([]string, 0, len(names))
	for _, n := range names {
		norm, err := NormalizeName(n)
		if err != nil {
			return nil, err
		}
		normalized = append(normalized, norm)
	}
	out, orphaned, err := s.addLocked(ctx, img, normalized, p)
	if err != nil {
		return nil, err
	}
	if orphaned {
		// A name moved to a new image and left the old one nameless.
		if _, err := s.GC(ctx); err != nil {
			s.log.Warn("image garbage collection failed", "err", err)
		}
	}
	p.Logf("stored %s as %s", out.Digest, joinNames(out.Names))
	return out, nil
}

// addLocked does add's work under the shared gc lock, so no collection can
// remove the blobs between storing them and describing the result. It
// reports whether a name left an image that now has none.
func (s *Store) addLocked(ctx context.Context, img v1.Image, names []string, p Progress) (*Image, bool, error) {
	gc, err := lockFile(s.gcLockPath(), false)
	if err != nil {
		return nil, false, err
	}
	defer gc.unlock()
	desc, rootSize, err := s.store(ctx, img, p)
	if err != nil {
		return nil, false, err
	}
	var orphaned bool
	var all []string
	err = s.updateIndex(func(idx *v1.IndexManifest) error {
		for _, n := range names {
			if prev := setName(idx, n, desc, rootSize); prev != nil && len(namesOf(idx, *prev)) == 0 {
				orphaned = true
			}
		}
		all = namesOf(idx, desc.Digest)
		return nil
	})
	if err != nil {
		return nil, false, err
	}
	desc.Annotations = map[string]string{annotationRootSize: strconv.FormatInt(rootSize, 10)}
	out, err := s.describe(desc, all)
	if err != nil {
		return nil, false, err
	}
	return out, orphaned, nil
}

// store writes img's blobs and unpacks its root; the caller holds the gc lock.
func (s *Store) store(ctx context.Context, img v1.Image, p Progress) (v1.Descriptor, int64, error) {
	m, err := img.Manifest()
	if err != nil {
		return v1.Descriptor{}, 0, fmt.Errorf("read manifest: %w", err)
	}
	rawManifest, err := img.RawManifest()
	if err != nil {
		return v1.Descriptor{}, 0, fmt.Errorf("read manifest: %w", err)
	}
	digest, err := img.Digest()
	if err != nil {
		return v1.Descriptor{}, 0, fmt.Errorf("manifest digest: %w", err)
	}
	mediaType, err := img.MediaType()
	if err != nil {
		return v1.Descriptor{}, 0, fmt.Errorf("manifest media type: %w", err)
	}
	cf, err := img.ConfigFile()
	if err != nil {
		return v1.Descriptor{}, 0, fmt.Errorf("read config: %w", err)
	}
	rawConfig, err := img.RawConfigFile()
	if err != nil {
		return v1.Descriptor{}, 0, fmt.Errorf("read config: %w", err)
	}

	var total int64
	for _, l := range m.Layers {
		total += l.Size
	}
	p.Step("copy layers", total)
	for _, ld := range m.Layers {
		if err := ctx.Err(); err != nil {
			return v1.Descriptor{}, 0, err
		}
		if s.hasBlob(ld.Digest) {
			p.Add(ld.Size)
			continue
		}
		l, err := img.LayerByDigest(ld.Digest)
		if err != nil {
			return v1.Descriptor{}, 0, fmt.Errorf("layer %s: %w", ld.Digest, err)
		}
		rc, err := l.Compressed()
		if err != nil {
			return v1.Descriptor{}, 0, fmt.Errorf("layer %s: %w", ld.Digest, err)
		}
		err = s.writeBlob(ld.Digest, &countingReader{r: rc, p: p})
		rc.Close()
		if err != nil {
			return v1.Descriptor{}, 0, err
		}
	}
	if err := s.writeBlob(m.Config.Digest, bytes.NewReader(rawConfig)); err != nil {
		return v1.Descriptor{}, 0, err
	}
	if err := s.writeBlob(digest, bytes.NewReader(rawManifest)); err != nil {
		return v1.Descriptor{}, 0, err
	}
	if err := syncDir(s.blobDir()); err != nil {
		return v1.Descriptor{}, 0, err
	}
	rootSize, err := s.ensureRoot(ctx, digest, p)
	if err != nil {
		return v1.Descriptor{}, 0, err
	}
	desc := v1.Descriptor{
		MediaType: mediaType,
		Digest:    digest,
		Size:      int64(len(rawManifest)),
		Platform:  &v1.Platform{OS: cf.OS, Architecture: cf.Architecture, Variant: cf.Variant},
	}
	return desc, rootSize, nil
}

// ensureRoot unpacks the root of manifest h unless it is there already;
// concurrent callers for one image share one unpack.
func (s *Store) ensureRoot(ctx context.Context, h v1.Hash, p Progress) (int64, error) {
	v, err, _ := s.unpacks.Do(h.Hex, func() (any, error) {
		root := s.rootPath(h)
		if _, err := os.Stat(root); err == nil {
			return rootSize(root)
		}
		img, err := s.storedImage(h)
		if err != nil {
			return int64(0), fmt.Errorf("read image %s: %w", h, err)
		}
		return s.unpackRoot(ctx, img, root, p)
	})
	if err != nil {
		return 0, err
	}
	return v.(int64), nil
}

func (s *Store) hasBlob(h v1.Hash) bool {
	_, err := os.Stat(s.blobPath(h))
	return err == nil
}

// writeBlob stores r as blob h, checking that the content has that digest.
// The caller syncs the blob directory once after a batch of blobs.
func (s *Store) writeBlob(h v1.Hash, r io.Reader) error {
	if h.Algorithm != "sha256" {
		return fmt.Errorf("blob %s: unsupported digest algorithm", h)
	}
	dst := s.blobPath(h)
	if _, err := os.Stat(dst); err == nil {
		return nil
	}
	f, err := os.CreateTemp(s.blobDir(), ".tmp-"+h.Hex+"-")
	if err != nil {
		return fmt.Errorf("blob %s: %w", h, err)
	}
	defer os.Remove(f.Name()) // a no-op once renamed
	sum := sha256.New()
	if _, err := io.Copy(io.MultiWriter(f, sum), r); err != nil {
		f.Close()
		return fmt.Errorf("blob %s: %w", h, err)
	}
	if got := hex.EncodeToString(sum.Sum(nil)); got != h.Hex {
		f.Close()
		return fmt.Errorf("blob %s: content has digest sha256:%s", h, got)
	}
	if err := f.Chmod(0o444); err != nil {
		f.Close()
		return fmt.Errorf("blob %s: %w", h, err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return fmt.Errorf("blob %s: %w", h, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("blob %s: %w", h, err)
	}
	if err := os.Rename(f.Name(), dst); err != nil && !errors.Is(err, fs.ErrExist) {
		return fmt.Errorf("blob %s: %w", h, err)
	}
	return nil
}

func joinNames(names []string) string {
	if len(names) == 0 {
		return "<none>"
	}
	out := names[0]
	for _, n := range names[1:] {
		out += ", " + n
	}
	return out
}

// rootSizeOf reads the root size recorded for an index entry.
func rootSizeOf(d v1.Descriptor) int64 {
	n, _ := strconv.ParseInt(d.Annotations[annotationRootSize], 10, 64)
	return n
}

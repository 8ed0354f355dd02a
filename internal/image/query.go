package image

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"sort"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// Get returns the image with a name ("busybox", "busybox:latest") or a full
// or abbreviated manifest digest. Its root is unpacked again if it went
// missing.
func (s *Store) Get(ctx context.Context, ref string) (*Image, error) {
	// Shared gc lock: no collection between reading the index and the blobs.
	gc, err := lockFile(s.gcLockPath(), false)
	if err != nil {
		return nil, err
	}
	defer gc.unlock()
	idx, err := s.snapshotIndex()
	if err != nil {
		return nil, err
	}
	desc, err := resolve(idx, ref)
	if err != nil {
		return nil, err
	}
	if _, err := os.Stat(s.rootPath(desc.Digest)); errors.Is(err, fs.ErrNotExist) {
		if _, err := s.ensureRoot(ctx, desc.Digest, NoProgress{}); err != nil {
			return nil, fmt.Errorf("restore root of %s: %w", ref, err)
		}
	}
	return s.describe(desc, namesOf(idx, desc.Digest))
}

// List returns every stored image, ordered by first name.
func (s *Store) List(ctx context.Context) ([]*Image, error) {
	idx, err := s.snapshotIndex()
	if err != nil {
		return nil, err
	}
	seen := map[v1.Hash]bool{}
	var out []*Image
	for _, d := range idx.Manifests {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		if seen[d.Digest] {
			continue
		}
		seen[d.Digest] = true
		img, err := s.describe(d, namesOf(idx, d.Digest))
		if errors.Is(err, fs.ErrNotExist) {
			continue // removed and collected since the index was read
		}
		if err != nil {
			return nil, err
		}
		out = append(out, img)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Names[0] < out[j].Names[0] })
	return out, nil
}

// Tag gives the image src (a name or digest) the additional name name,
// taking name off any image that had it.
func (s *Store) Tag(ctx context.Context, src, name string) (*Image, error) {
	n, err := NormalizeName(name)
	if err != nil {
		return nil, err
	}
	var desc v1.Descriptor
	var orphaned bool
	var names []string
	gc, err := lockFile(s.gcLockPath(), false)
	if err != nil {
		return nil, err
	}
	err = s.updateIndex(func(idx *v1.IndexManifest) error {
		d, err := resolve(idx, src)
		if err != nil {
			return err
		}
		desc = d
		if prev := setName(idx, n, d, rootSizeOf(d)); prev != nil && len(namesOf(idx, *prev)) == 0 {
			orphaned = true
		}
		names = namesOf(idx, d.Digest)
		return nil
	})
	var img *Image
	if err == nil {
		img, err = s.describe(desc, names)
	}
	gc.unlock()
	if err != nil {
		return nil, fmt.Errorf("tag %s as %s: %w", src, name, err)
	}
	if orphaned {
		if _, err := s.GC(ctx); err != nil {
			s.log.Warn("image garbage collection failed", "err", err)
		}
	}
	return img, nil
}

// Remove deletes a name, or every name of an image when ref is a digest,
// then collects blobs and roots no image references any more. A root that a
// running sandbox still has mounted is kept until a later collection.
func (s *Store) Remove(ctx context.Context, ref string) (GCResult, error) {
	err := s.updateIndex(func(idx *v1.IndexManifest) error {
		d, err := resolve(idx, ref)
		if err != nil {
			return err
		}
		byName := false
		if n, err := NormalizeName(ref); err == nil && d.Annotations[annotationRefName] == n {
			byName = true
		}
		kept := idx.Manifests[:0]
		for _, m := range idx.Manifests {
			if m.Digest == d.Digest && (!byName || m.Annotations[annotationRefName] == d.Annotations[annotationRefName]) {
				continue
			}
			kept = append(kept, m)
		}
		idx.Manifests = kept
		return nil
	})
	if err != nil {
		return GCResult{}, fmt.Errorf("remove image %s: %w", ref, err)
	}
	return s.GC(ctx)
}

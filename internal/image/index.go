package image

import (
	"encoding/json"
	"fmt"
	"os"
	"regexp"
	"strconv"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// Annotations on index.json descriptors.
const (
	annotationRefName  = "org.opencontainers.image.ref.name" // the image's name
	annotationRootSize = "dev.nimbus.image.root-size"        // bytes of regular files in the root
)

func (s *Store) readIndex() (*v1.IndexManifest, error) {
	f, err := os.Open(s.indexPath())
	if err != nil {
		return nil, fmt.Errorf("read image index: %w", err)
	}
	defer f.Close()
	idx, err := v1.ParseIndexManifest(f)
	if err != nil {
		return nil, fmt.Errorf("read image index: %w", err)
	}
	return idx, nil
}

func (s *Store) writeIndex(idx *v1.IndexManifest) error {
	idx.SchemaVersion = 2
	idx.MediaType = types.OCIImageIndex
	if idx.Manifests == nil {
		idx.Manifests = []v1.Descriptor{}
	}
	data, err := json.MarshalIndent(idx, "", "  ")
	if err != nil {
		return fmt.Errorf("encode image index: %w", err)
	}
	return writeFileDurable(s.indexPath(), data, 0o644)
}

// updateIndex runs fn on the index under the index lock and writes the result.
func (s *Store) updateIndex(fn func(idx *v1.IndexManifest) error) error {
	l, err := lockFile(s.indexLockPath(), true)
	if err != nil {
		return err
	}
	defer l.unlock()
	idx, err := s.readIndex()
	if err != nil {
		return err
	}
	if err := fn(idx); err != nil {
		return err
	}
	return s.writeIndex(idx)
}

// snapshotIndex reads the index under the index lock.
func (s *Store) snapshotIndex() (*v1.IndexManifest, error) {
	l, err := lockFile(s.indexLockPath(), false)
	if err != nil {
		return nil, err
	}
	defer l.unlock()
	return s.readIndex()
}

// setName points name at desc, taking it off any other image. It reports the
// digest the name left, if any.
func setName(idx *v1.IndexManifest, name string, desc v1.Descriptor, rootSize int64) (previous *v1.Hash) {
	kept := idx.Manifests[:0]
	for _, d := range idx.Manifests {
		if d.Annotations[annotationRefName] == name {
			if d.Digest != desc.Digest {
				h := d.Digest
				previous = &h
			}
			continue
		}
		kept = append(kept, d)
	}
	d := v1.Descriptor{
		MediaType: desc.MediaType,
		Digest:    desc.Digest,
		Size:      desc.Size,
		Platform:  desc.Platform,
		Annotations: map[string]string{
			annotationRefName:  name,
			annotationRootSize: strconv.FormatInt(rootSize, 10),
		},
	}
	idx.Manifests = append(kept, d)
	return previous
}

// Docker's reference grammar, loosely: a lower-case repository (with an
// optional registry host[:port] first), an optional tag that may use upper
// case, an optional digest.
var (
	repositoryPattern = regexp.MustCompile(`^[a-z0-9]+([._-]*[a-z0-9]+)*(:[0-9]+)?(/[a-z0-9]+([._-]*[a-z0-9]+)*)*$`)
	tagPattern        = regexp.MustCompile(`^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$`)
	digestPattern     = regexp.MustCompile(`^sha256:[0-9a-f]{64}$`)
)

// NormalizeName returns the canonical form of an image name: it is checked
// against docker's grammar and gets ":latest" when it has neither tag nor
// digest, so "busybox" and "busybox:latest" name the same image.
func NormalizeName(name string) (string, error) {
	bad := fmt.Errorf("%w: %q", ErrInvalidReference, name)
	rest, digest, hasDigest := strings.Cut(strings.TrimSpace(name), "@")
	if hasDigest && !digestPattern.MatchString(digest) {
		return "", bad
	}
	repo, tag := rest, ""
	if i := strings.LastIndex(rest, ":"); i > strings.LastIndex(rest, "/") {
		repo, tag = rest[:i], rest[i+1:]
		if !tagPattern.MatchString(tag) {
			return "", bad
		}
	}
	if !repositoryPattern.MatchString(repo) {
		return "", bad
	}
	switch {
	case hasDigest:
		return rest + "@" + digest, nil
	case tag == "":
		return repo + ":latest", nil
	}
	return repo + ":" + tag, nil
}

// hexDigest matches a full or abbreviated sha256 digest as users type it.
var hexDigest = regexp.MustCompile(`^(sha256:)?[0-9a-f]{6,64}$`)

// resolve finds the index entry for a name, a full digest or a digest prefix
// of at least six hex digits.
func resolve(idx *v1.IndexManifest, ref string) (v1.Descriptor, error) {
	if n, err := NormalizeName(ref); err == nil {
		for _, d := range idx.Manifests {
			if d.Annotations[annotationRefName] == n {
				return d, nil
			}
		}
	}
	if !hexDigest.MatchString(ref) {
		return v1.Descriptor{}, fmt.Errorf("%w: %s", ErrNotFound, ref)
	}
	prefix := strings.TrimPrefix(ref, "sha256:")
	var found []v1.Descriptor
	for _, d := range idx.Manifests {
		if strings.HasPrefix(d.Digest.Hex, prefix) {
			if len(found) == 0 || found[0].Digest != d.Digest {
				found = append(found, d)
			}
		}
	}
	switch len(found) {
	case 0:
		return v1.Descriptor{}, fmt.Errorf("%w: %s", ErrNotFound, ref)
	case 1:
		return found[0], nil
	}
	return v1.Descriptor{}, fmt.Errorf("%w: %s matches %d images", ErrAmbiguous, ref, len(found))
}

// namesOf lists the names pointing at digest h, in index order.
func namesOf(idx *v1.IndexManifest, h v1.Hash) []string {
	var names []string
	for _, d := range idx.Manifests {
		if d.Digest == h {
			names = append(names, d.Annotations[annotationRefName])
		}
	}
	return names
}

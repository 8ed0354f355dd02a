package image

import (
	"bytes"
	"fmt"
	"io"
	"os"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/partial"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// storedImage reads the image with manifest digest h straight from the blob
// directory. (layout.Path.Image would insist on an index.json entry, which
// an image being added does not have yet.)
func (s *Store) storedImage(h v1.Hash) (v1.Image, error) {
	raw, err := os.ReadFile(s.blobPath(h))
	if err != nil {
		return nil, fmt.Errorf("read manifest %s: %w", h, err)
	}
	m, err := v1.ParseManifest(bytes.NewReader(raw))
	if err != nil {
		return nil, fmt.Errorf("parse manifest %s: %w", h, err)
	}
	img, err := partial.CompressedToImage(&blobImage{s: s, raw: raw, manifest: m})
	if err != nil {
		return nil, fmt.Errorf("read image %s: %w", h, err)
	}
	return img, nil
}

type blobImage struct {
	s        *Store
	raw      []byte
	manifest *v1.Manifest
}

var _ partial.CompressedImageCore = (*blobImage)(nil)

func (b *blobImage) RawManifest() ([]byte, error) { return b.raw, nil }

func (b *blobImage) MediaType() (types.MediaType, error) {
	if b.manifest.MediaType != "" {
		return b.manifest.MediaType, nil
	}
	return types.OCIManifestSchema1, nil
}

func (b *blobImage) RawConfigFile() ([]byte, error) {
	data, err := os.ReadFile(b.s.blobPath(b.manifest.Config.Digest))
	if err != nil {
		return nil, fmt.Errorf("read config: %w", err)
	}
	return data, nil
}

func (b *blobImage) LayerByDigest(h v1.Hash) (partial.CompressedLayer, error) {
	if h == b.manifest.Config.Digest {
		return &blobLayer{s: b.s, desc: b.manifest.Config}, nil
	}
	for _, d := range b.manifest.Layers {
		if d.Digest == h {
			return &blobLayer{s: b.s, desc: d}, nil
		}
	}
	return nil, fmt.Errorf("image has no layer %s", h)
}

// blobLayer is one stored blob, described by its manifest descriptor.
type blobLayer struct {
	s    *Store
	desc v1.Descriptor
}

func (l *blobLayer) Digest() (v1.Hash, error)            { return l.desc.Digest, nil }
func (l *blobLayer) Size() (int64, error)                { return l.desc.Size, nil }
func (l *blobLayer) MediaType() (types.MediaType, error) { return l.desc.MediaType, nil }
func (l *blobLayer) Descriptor() (*v1.Descriptor, error) { return &l.desc, nil }

func (l *blobLayer) Compressed() (io.ReadCloser, error) {
	f, err := os.Open(l.s.blobPath(l.desc.Digest))
	if err != nil {
		return nil, fmt.Errorf("open layer %s: %w", l.desc.Digest, err)
	}
	return f, nil
}

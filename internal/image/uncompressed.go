package image

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/partial"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// withUncompressedLayers re-describes img with its layers stored as plain
// tar (OCI's uncompressed layer media type), config unchanged.
//
// A docker-save archive carries layers uncompressed and no registry
// manifest; go-containerregistry would invent a gzip manifest and compress
// every layer twice (once for its digest, once for its bytes), which costs
// far more time on these hosts than the disk the plain layers take. The
// manifest digest is synthetic either way.
func withUncompressedLayers(img v1.Image) (v1.Image, error) {
	rawConfig, err := img.RawConfigFile()
	if err != nil {
		return nil, fmt.Errorf("read config: %w", err)
	}
	layers, err := img.Layers()
	if err != nil {
		return nil, fmt.Errorf("list layers: %w", err)
	}
	configDigest, configSize, err := v1.SHA256(bytes.NewReader(rawConfig))
	if err != nil {
		return nil, err
	}
	m := v1.Manifest{
		SchemaVersion: 2,
		MediaType:     types.OCIManifestSchema1,
		Config:        v1.Descriptor{MediaType: types.OCIConfigJSON, Digest: configDigest, Size: configSize},
	}
	byDigest := map[v1.Hash]v1.Layer{}
	for i, l := range layers {
		diffID, err := l.DiffID()
		if err != nil {
			return nil, fmt.Errorf("layer %d: %w", i+1, err)
		}
		size, err := uncompressedSize(l)
		if err != nil {
			return nil, fmt.Errorf("layer %d: %w", i+1, err)
		}
		m.Layers = append(m.Layers, v1.Descriptor{MediaType: types.OCIUncompressedLayer, Digest: diffID, Size: size})
		byDigest[diffID] = l
	}
	rawManifest, err := json.Marshal(m)
	if err != nil {
		return nil, fmt.Errorf("encode manifest: %w", err)
	}
	return partial.CompressedToImage(&plainLayerImage{config: rawConfig, manifest: rawManifest, m: m, layers: byDigest})
}

// uncompressedSize reads a layer through once: an archive's manifest does
// not record the tar sizes.
func uncompressedSize(l v1.Layer) (int64, error) {
	rc, err := l.Uncompressed()
	if err != nil {
		return 0, err
	}
	defer rc.Close()
	return io.Copy(io.Discard, rc)
}

type plainLayerImage struct {
	config, manifest []byte
	m                v1.Manifest
	layers           map[v1.Hash]v1.Layer
}

func (p *plainLayerImage) RawConfigFile() ([]byte, error)      { return p.config, nil }
func (p *plainLayerImage) RawManifest() ([]byte, error)        { return p.manifest, nil }
func (p *plainLayerImage) MediaType() (types.MediaType, error) { return p.m.MediaType, nil }

func (p *plainLayerImage) LayerByDigest(h v1.Hash) (partial.CompressedLayer, error) {
	if h == p.m.Config.Digest {
		return &plainBlob{desc: p.m.Config, open: func() (io.ReadCloser, error) {
			return io.NopCloser(bytes.NewReader(p.config)), nil
		}}, nil
	}
	for _, d := range p.m.Layers {
		if d.Digest == h {
			return &plainBlob{desc: d, open: p.layers[h].Uncompressed}, nil
		}
	}
	return nil, fmt.Errorf("image has no layer %s", h)
}

// plainBlob is a blob whose stored bytes are exactly what open returns.
type plainBlob struct {
	desc v1.Descriptor
	open func() (io.ReadCloser, error)
}

func (b *plainBlob) Digest() (v1.Hash, error)            { return b.desc.Digest, nil }
func (b *plainBlob) Size() (int64, error)                { return b.desc.Size, nil }
func (b *plainBlob) MediaType() (types.MediaType, error) { return b.desc.MediaType, nil }
func (b *plainBlob) Compressed() (io.ReadCloser, error)  { return b.open() }

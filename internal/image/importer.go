package image

import (
	"archive/tar"
	"bufio"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
)

// Import stores the image in a `docker save` archive, an OCI image layout
// tarball or an OCI image layout directory (gzip-compressed archives too).
// name chooses the image when the archive holds several and names the
// stored image; when empty, the archive's own tags are used.
func (s *Store) Import(ctx context.Context, path, name string, p Progress) (*Image, error) {
	p = orNoProgress(p)
	img, names, err := s.openArchive(ctx, path, name, p)
	if err != nil {
		return nil, fmt.Errorf("import %s: %w", path, err)
	}
	defer releaseTemps(img)
	out, err := s.add(ctx, img, names, p)
	if err != nil {
		return nil, fmt.Errorf("import %s: %w", path, err)
	}
	return out, nil
}

func (s *Store) openArchive(ctx context.Context, path, want string, p Progress) (v1.Image, []string, error) {
	if want != "" {
		n, err := NormalizeName(want)
		if err != nil {
			return nil, nil, err
		}
		want = n
	}
	fi, err := os.Stat(path)
	if err != nil {
		return nil, nil, err
	}
	if fi.IsDir() {
		return s.fromLayout(path, path, want)
	}
	gz, err := isGzip(path)
	if err != nil {
		return nil, nil, err
	}
	if gz {
		// tarball needs to seek back into the archive: decompress once to a file.
		p.Step("decompress archive", 0)
		plain, err := s.gunzipToTemp(path)
		if err != nil {
			return nil, nil, err
		}
		// The temp file lives in tmp/ and is cleared by a later Open if this
		// process dies; it is removed when the import returns.
		img, names, err := s.openTar(ctx, plain, path, want)
		if err != nil {
			os.Remove(plain)
			return nil, nil, err
		}
		return &tempBackedImage{Image: img, path: plain}, names, nil
	}
	return s.openTar(ctx, path, path, want)
}

// openTar reads a plain tar: docker-save (manifest.json) or OCI layout.
func (s *Store) openTar(ctx context.Context, tarPath, origin, want string) (v1.Image, []string, error) {
	kind, err := archiveKind(tarPath)
	if err != nil {
		return nil, nil, err
	}
	switch kind {
	case "docker":
		return fromDockerArchive(tarPath, want)
	case "oci":
		dir, err := os.MkdirTemp(s.tmpDir(), "layout-")
		if err != nil {
			return nil, nil, err
		}
		f, err := os.Open(tarPath)
		if err != nil {
			os.RemoveAll(dir)
			return nil, nil, err
		}
		// The same guarded extraction as layers: an archive cannot write
		// outside the directory.
		err = newApplier(dir, s.log).apply(ctx, bufio.NewReaderSize(f, 1<<20))
		f.Close()
		if err != nil {
			os.RemoveAll(dir)
			return nil, nil, fmt.Errorf("extract OCI layout: %w", err)
		}
		img, names, err := s.fromLayout(dir, origin, want)
		if err != nil {
			os.RemoveAll(dir)
			return nil, nil, err
		}
		return &tempBackedImage{Image: img, path: dir}, names, nil
	}
	return nil, nil, errors.New("neither a docker-save archive (manifest.json) nor an OCI image layout (oci-layout, index.json)")
}

// archiveKind looks at the tar's entry names. docker save since Docker 25
// writes both formats; manifest.json wins because it carries the tags.
func archiveKind(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	tr := tar.NewReader(f)
	oci := false
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return "", fmt.Errorf("read archive: %w", err)
		}
		switch strings.TrimPrefix(hdr.Name, "./") {
		case "manifest.json":
			return "docker", nil
		case "oci-layout":
			oci = true
		}
	}
	if oci {
		return "oci", nil
	}
	return "", nil
}

func fromDockerArchive(path, want string) (v1.Image, []string, error) {
	opener := func() (io.ReadCloser, error) { return os.Open(path) }
	manifest, err := tarball.LoadManifest(opener)
	if err != nil {
		return nil, nil, fmt.Errorf("read manifest.json: %w", err)
	}
	if len(manifest) == 0 {
		return nil, nil, errors.New("archive holds no image")
	}
	chosen := -1
	var tag *name.Tag
	if want != "" {
		for i, d := range manifest {
			for _, t := range d.RepoTags {
				if n, err := NormalizeName(t); err == nil && n == want {
					chosen = i
					if parsed, err := name.NewTag(t); err == nil {
						tag = &parsed
					}
				}
			}
		}
	}
	if chosen < 0 {
		if len(manifest) > 1 {
			var tags []string
			for _, d := range manifest {
				tags = append(tags, d.RepoTags...)
			}
			return nil, nil, fmt.Errorf("archive holds %d images (%s): choose one with --name", len(manifest), strings.Join(tags, ", "))
		}
		chosen = 0
	}
	archived, err := tarball.Image(opener, tag)
	if err != nil {
		return nil, nil, fmt.Errorf("read image: %w", err)
	}
	img, err := withUncompressedLayers(archived)
	if err != nil {
		return nil, nil, fmt.Errorf("read image: %w", err)
	}
	if want != "" {
		return img, []string{want}, nil
	}
	if len(manifest[chosen].RepoTags) == 0 {
		return nil, nil, errors.New("the image in the archive has no tag: give it a name with --name")
	}
	return img, append([]string{}, manifest[chosen].RepoTags...), nil
}

// Annotations naming an image in an OCI layout's index.
const annotationContainerdName = "io.containerd.image.name"

func (s *Store) fromLayout(dir, origin, want string) (v1.Image, []string, error) {
	lp, err := layout.FromPath(dir)
	if err != nil {
		return nil, nil, fmt.Errorf("open OCI layout: %w", err)
	}
	idx, err := lp.ImageIndex()
	if err != nil {
		return nil, nil, fmt.Errorf("open OCI layout: %w", err)
	}
	im, err := idx.IndexManifest()
	if err != nil {
		return nil, nil, fmt.Errorf("open OCI layout: %w", err)
	}
	if len(im.Manifests) == 0 {
		return nil, nil, errors.New("OCI layout holds no image")
	}
	chosen := -1
	for i, d := range im.Manifests {
		if want != "" && (layoutName(d, origin) == want || d.Annotations[annotationRefName] == want) {
			chosen = i
		}
	}
	if chosen < 0 {
		if len(im.Manifests) > 1 {
			return nil, nil, fmt.Errorf("OCI layout holds %d images: choose one with --name (matching its %s annotation)", len(im.Manifests), annotationRefName)
		}
		chosen = 0
	}
	d := im.Manifests[chosen]
	var img v1.Image
	if d.MediaType.IsIndex() {
		inner, err := idx.ImageIndex(d.Digest)
		if err != nil {
			return nil, nil, fmt.Errorf("open image index %s: %w", d.Digest, err)
		}
		img, err = s.pickPlatform(inner)
		if err != nil {
			return nil, nil, err
		}
	} else {
		img, err = idx.Image(d.Digest)
		if err != nil {
			return nil, nil, fmt.Errorf("open image %s: %w", d.Digest, err)
		}
	}
	if want != "" {
		return img, []string{want}, nil
	}
	return img, []string{layoutName(d, origin)}, nil
}

// layoutName names an image found in an OCI layout: containerd's full name
// annotation, else ref.name when it is a full reference, else the archive's
// file name with ref.name (or "latest") as the tag.
func layoutName(d v1.Descriptor, origin string) string {
	if n := d.Annotations[annotationContainerdName]; n != "" {
		if norm, err := NormalizeName(n); err == nil {
			return norm
		}
	}
	ref := d.Annotations[annotationRefName]
	if strings.ContainsAny(ref, ":/") {
		if norm, err := NormalizeName(ref); err == nil {
			return norm
		}
	}
	base := strings.ToLower(filepath.Base(origin))
	for _, ext := range []string{".gz", ".tgz", ".tar", ".oci"} {
		base = strings.TrimSuffix(base, ext)
	}
	if ref == "" {
		ref = "latest"
	}
	return base + ":" + ref
}

// pickPlatform chooses this store's platform from a multi-platform index.
func (s *Store) pickPlatform(idx v1.ImageIndex) (v1.Image, error) {
	im, err := idx.IndexManifest()
	if err != nil {
		return nil, err
	}
	for _, d := range im.Manifests {
		if d.Platform != nil && d.Platform.Satisfies(s.platform) {
			return idx.Image(d.Digest)
		}
	}
	return nil, fmt.Errorf("no image for platform %s in the index", s.platform.String())
}

func isGzip(path string) (bool, error) {
	f, err := os.Open(path)
	if err != nil {
		return false, err
	}
	defer f.Close()
	magic := make([]byte, 2)
	if _, err := io.ReadFull(f, magic); err != nil {
		return false, nil
	}
	return magic[0] == 0x1f && magic[1] == 0x8b, nil
}

func (s *Store) gunzipToTemp(path string) (string, error) {
	in, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer in.Close()
	zr, err := gzip.NewReader(bufio.NewReaderSize(in, 1<<20))
	if err != nil {
		return "", fmt.Errorf("decompress: %w", err)
	}
	out, err := os.CreateTemp(s.tmpDir(), "archive-")
	if err != nil {
		return "", err
	}
	if _, err := io.Copy(out, zr); err != nil {
		out.Close()
		os.Remove(out.Name())
		return "", fmt.Errorf("decompress: %w", err)
	}
	if err := out.Close(); err != nil {
		os.Remove(out.Name())
		return "", err
	}
	return out.Name(), nil
}

// tempBackedImage is an image read from temporary files that add removes
// once stored (see release).
type tempBackedImage struct {
	v1.Image
	path string
}

// releaseTemps removes the temporary files behind img, however many
// wrappers deep (a gzip-compressed OCI layout has two).
func releaseTemps(img v1.Image) {
	for {
		t, ok := img.(*tempBackedImage)
		if !ok {
			return
		}
		os.RemoveAll(t.path)
		img = t.Image
	}
}

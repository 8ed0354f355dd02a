package image

import (
	"fmt"
	"sort"
	"strconv"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// Image is a stored image with its unpacked root.
type Image struct {
	Names        []string  // every name pointing at this image, e.g. "busybox:latest"
	Digest       string    // manifest digest, "sha256:<hex>"
	Size         int64     // bytes stored: manifest, config and layers as distributed
	RootSize     int64     // bytes of regular files in the unpacked root
	Created      time.Time // from the image config; zero when the image does not say
	OS           string
	Architecture string
	Layers       int
	Config       Config
	// RootDir is the unpacked root, shared read-only by every sandbox that
	// runs this image (the overlay lower dir). Never write into it.
	RootDir string
}

// Config is what the image says about how to run it.
type Config struct {
	Entrypoint   []string
	Cmd          []string
	Env          []string // KEY=VALUE
	WorkingDir   string
	User         string
	ExposedPorts []string // "80/tcp", sorted
	Labels       map[string]string
	StopSignal   string
}

// Argv is the command the image runs by default: Entrypoint then Cmd.
func (c Config) Argv() []string {
	return append(append([]string{}, c.Entrypoint...), c.Cmd...)
}

// describe builds an Image from the blobs of manifest desc.
func (s *Store) describe(desc v1.Descriptor, names []string) (*Image, error) {
	img, err := s.storedImage(desc.Digest)
	if err != nil {
		return nil, fmt.Errorf("read image %s: %w", desc.Digest, err)
	}
	m, err := img.Manifest()
	if err != nil {
		return nil, fmt.Errorf("read manifest %s: %w", desc.Digest, err)
	}
	cf, err := img.ConfigFile()
	if err != nil {
		return nil, fmt.Errorf("read config of %s: %w", desc.Digest, err)
	}
	size := desc.Size + m.Config.Size
	for _, l := range m.Layers {
		size += l.Size
	}
	rootSize, _ := strconv.ParseInt(desc.Annotations[annotationRootSize], 10, 64)
	var ports []string
	for p := range cf.Config.ExposedPorts {
		ports = append(ports, p)
	}
	sort.Strings(ports)
	return &Image{
		Names:        names,
		Digest:       desc.Digest.String(),
		Size:         size,
		RootSize:     rootSize,
		Created:      cf.Created.Time,
		OS:           cf.OS,
		Architecture: cf.Architecture,
		Layers:       len(m.Layers),
		Config: Config{
			Entrypoint:   cf.Config.Entrypoint,
			Cmd:          cf.Config.Cmd,
			Env:          cf.Config.Env,
			WorkingDir:   cf.Config.WorkingDir,
			User:         cf.Config.User,
			ExposedPorts: ports,
			Labels:       cf.Config.Labels,
			StopSignal:   cf.Config.StopSignal,
		},
		RootDir: s.rootPath(desc.Digest),
	}, nil
}

package image

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"runtime"
	"sort"
	"strings"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/static"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

const (
	// defaultBusybox is where Debian's busybox-static package puts the binary.
	defaultBusybox = "/bin/busybox"
	// BusyboxName is the name EnsureBusybox stores its image under.
	BusyboxName = "busybox:latest"
)

// builtinEpoch is the timestamp of every file and of the config of built-in
// images, so the same inputs always give the same digest.
var builtinEpoch = time.Unix(0, 0).UTC()

// EnsureBusybox stores busybox:latest, built from the host's busybox-static
// binary: one uncompressed layer with /bin/busybox and a symlink per applet,
// /etc/passwd and /etc/group (root, nobody) and the usual top directories.
// The same binary always gives the same digest, so calling it again is cheap
// and changes nothing.
func (s *Store) EnsureBusybox(ctx context.Context) (*Image, error) {
	img, err := s.busyboxImage(ctx)
	if err != nil {
		return nil, err
	}
	out, err := s.add(ctx, img, []string{BusyboxName}, nil)
	if err != nil {
		return nil, fmt.Errorf("store busybox image: %w", err)
	}
	return out, nil
}

func (s *Store) busyboxImage(ctx context.Context) (v1.Image, error) {
	bin, err := os.ReadFile(s.busybox)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("%w: %s not found: install Debian's busybox-static package (apt-get install busybox-static)", ErrMissingTool, s.busybox)
	}
	if err != nil {
		return nil, fmt.Errorf("read busybox: %w", err)
	}
	// The applet list is a property of the binary, so it keeps the digest
	// deterministic.
	out, err := exec.CommandContext(ctx, s.busybox, "--list").Output()
	if err != nil {
		return nil, fmt.Errorf("list busybox applets (is %s busybox-static?): %w", s.busybox, err)
	}
	applets := strings.Fields(string(out))
	sort.Strings(applets)

	layer, err := busyboxLayer(bin, applets)
	if err != nil {
		return nil, err
	}
	return builtinImage(layer, v1.Config{
		Env: []string{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"},
		Cmd: []string{"/bin/sh"},
	}, "busybox-static "+s.busybox)
}

// busyboxLayer builds the layer tar in memory (busybox is about 2 MB).
func busyboxLayer(bin []byte, applets []string) ([]byte, error) {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	add := func(h *tar.Header, body []byte) error {
		h.ModTime, h.Format = builtinEpoch, tar.FormatPAX
		h.Uname, h.Gname = "root", "root"
		if h.Typeflag == tar.TypeReg {
			h.Size = int64(len(body))
		}
		if err := tw.WriteHeader(h); err != nil {
			return fmt.Errorf("busybox layer: %w", err)
		}
		if _, err := tw.Write(body); err != nil {
			return fmt.Errorf("busybox layer: %w", err)
		}
		return nil
	}
	dir := func(name string, mode int64) error {
		return add(&tar.Header{Name: name + "/", Typeflag: tar.TypeDir, Mode: mode}, nil)
	}
	file := func(name string, mode int64, body string) error {
		return add(&tar.Header{Name: name, Typeflag: tar.TypeReg, Mode: mode}, []byte(body))
	}
	link := func(name, target string) error {
		return add(&tar.Header{Name: name, Typeflag: tar.TypeSymlink, Linkname: target, Mode: 0o777}, nil)
	}
	steps := []func() error{
		func() error { return dir("bin", 0o755) },
		func() error { return add(&tar.Header{Name: "bin/busybox", Typeflag: tar.TypeReg, Mode: 0o755}, bin) },
		func() error {
			for _, a := range applets {
				if a == "busybox" || strings.Contains(a, "/") {
					continue
				}
				if err := link("bin/"+a, "busybox"); err != nil {
					return err
				}
			}
			return nil
		},
		func() error { return dir("dev", 0o755) },
		func() error { return dir("etc", 0o755) },
		func() error { return file("etc/group", 0o644, "root:x:0:\nnobody:x:65534:\n") },
		func() error { return file("etc/hostname", 0o644, "localhost\n") },
		func() error {
			return file("etc/passwd", 0o644, "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n")
		},
		func() error { return dir("home", 0o755) },
		func() error { return dir("proc", 0o555) },
		func() error { return dir("root", 0o700) },
		func() error { return dir("run", 0o755) },
		// Scripts say /usr/bin/env and /sbin/init: every usual bin directory
		// leads to /bin.
		func() error { return link("sbin", "bin") },
		func() error { return dir("sys", 0o555) },
		func() error { return dir("tmp", 0o1777) },
		func() error { return dir("usr", 0o755) },
		func() error { return link("usr/bin", "../bin") },
		func() error { return link("usr/sbin", "../bin") },
		func() error { return dir("var", 0o755) },
		func() error { return dir("var/log", 0o755) },
		func() error { return dir("var/tmp", 0o1777) },
	}
	for _, step := range steps {
		if err := step(); err != nil {
			return nil, err
		}
	}
	if err := tw.Close(); err != nil {
		return nil, fmt.Errorf("busybox layer: %w", err)
	}
	return buf.Bytes(), nil
}

// builtinImage wraps one uncompressed layer tar into an OCI image whose
// config is cfg, with fixed timestamps.
func builtinImage(layerTar []byte, cfg v1.Config, createdBy string) (v1.Image, error) {
	return builtinImageFromLayer(static.NewLayer(layerTar, types.OCIUncompressedLayer), cfg, createdBy, builtinEpoch)
}

func builtinImageFromLayer(layer v1.Layer, cfg v1.Config, createdBy string, created time.Time) (v1.Image, error) {
	base := mutate.MediaType(empty.Image, types.OCIManifestSchema1)
	base = mutate.ConfigMediaType(base, types.OCIConfigJSON)
	img, err := mutate.Append(base, mutate.Addendum{
		Layer:   layer,
		History: v1.History{Created: v1.Time{Time: created}, CreatedBy: createdBy},
	})
	if err != nil {
		return nil, fmt.Errorf("build image: %w", err)
	}
	cf, err := img.ConfigFile()
	if err != nil {
		return nil, fmt.Errorf("build image: %w", err)
	}
	cf = cf.DeepCopy()
	cf.Config = cfg
	cf.Created = v1.Time{Time: created}
	cf.OS = "linux"
	cf.Architecture = runtime.GOARCH
	img, err = mutate.ConfigFile(img, cf)
	if err != nil {
		return nil, fmt.Errorf("build image: %w", err)
	}
	return img, nil
}

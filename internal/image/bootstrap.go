package image

import (
	"bufio"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// bootstrapRecipe is how one distribution image is built with debootstrap.
type bootstrapRecipe struct {
	name     string // the stored image's name
	suite    string
	packages []string // on top of minbase
	// defaultUser is the login user with passwordless sudo the distro's
	// AMIs have (cloud-init makes it on AWS; the image has it here).
	defaultUser string
}

// Distros Bootstrap can build. EC2 instances need sshd and sudo for their
// default user, cloud-init-like user data needs python3, and the rest is
// what people expect on a server.
var bootstrapRecipes = map[string]bootstrapRecipe{
	"debian-12": {
		name:        "debian-12:latest",
		suite:       "bookworm",
		packages:    []string{"openssh-server", "sudo", "python3", "ca-certificates", "iproute2", "procps"},
		defaultUser: "admin",
	},
}

// BootstrapDistros lists the names Bootstrap accepts.
func BootstrapDistros() []string {
	var out []string
	for k := range bootstrapRecipes {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// WithDebianMirror sets the archive Bootstrap installs from; the default is
// the one the host's apt sources name for the suite.
func WithDebianMirror(url string) Option { return func(s *Store) { s.debianMirror = url } }

// WithAptConfigDir sets where the host's apt sources are read (/etc/apt).
func WithAptConfigDir(dir string) Option { return func(s *Store) { s.aptDir = dir } }

// Bootstrap builds a real distribution root with debootstrap
// (--variant=minbase plus the recipe's packages) from the host's Debian
// mirror and stores it as a one-layer image (debian-12 → debian-12:latest).
// It needs root and Debian's debootstrap package, and takes a minute or two.
// SSH host keys are removed so every instance generates its own.
func (s *Store) Bootstrap(ctx context.Context, distro string, p Progress) (*Image, error) {
	p = orNoProgress(p)
	recipe, ok := bootstrapRecipes[distro]
	if !ok {
		return nil, fmt.Errorf("bootstrap %s: unknown distribution (known: %s)", distro, strings.Join(BootstrapDistros(), ", "))
	}
	debootstrap, err := exec.LookPath("debootstrap")
	if err != nil {
		return nil, fmt.Errorf("bootstrap %s: %w: debootstrap not found: install Debian's debootstrap package (apt-get install debootstrap)", distro, ErrMissingTool)
	}
	if os.Geteuid() != 0 {
		return nil, fmt.Errorf("bootstrap %s: debootstrap needs root", distro)
	}
	mirror := s.debianMirror
	if mirror == "" {
		if mirror, err = debianMirror(s.aptDir, recipe.suite); err != nil {
			return nil, fmt.Errorf("bootstrap %s: %w", distro, err)
		}
	}
	work, err := os.MkdirTemp(s.tmpDir(), "bootstrap-")
	if err != nil {
		return nil, fmt.Errorf("bootstrap %s: %w", distro, err)
	}
	defer func() {
		if err := removeWorkDir(work); err != nil {
			s.log.Warn("bootstrap work directory left behind", "dir", work, "err", err)
		}
	}()
	rootfs := filepath.Join(work, "rootfs")

	started := time.Now()
	p.Step(fmt.Sprintf("debootstrap %s from %s", recipe.suite, mirror), 0)
	args := []string{"--variant=minbase", "--include=" + strings.Join(recipe.packages, ","), recipe.suite, rootfs, mirror}
	err = runDebootstrap(ctx, debootstrap, args, p)
	if uerr := unmountUnder(rootfs); err == nil {
		err = uerr
	}
	if err != nil {
		return nil, fmt.Errorf("bootstrap %s: %w", distro, err)
	}
	p.Logf("debootstrap done in %s", time.Since(started).Round(time.Second))
	if recipe.defaultUser != "" {
		if err := addLoginUser(rootfs, recipe.defaultUser); err != nil {
			return nil, fmt.Errorf("bootstrap %s: %w", distro, err)
		}
	}
	if err := tidyBootstrappedRoot(rootfs); err != nil {
		return nil, fmt.Errorf("bootstrap %s: %w", distro, err)
	}

	size, err := rootSize(rootfs)
	if err != nil {
		return nil, fmt.Errorf("bootstrap %s: %w", distro, err)
	}
	p.Step("pack root", size)
	layerPath := filepath.Join(work, "layer.tar.gz")
	if err := packRoot(ctx, rootfs, layerPath, p); err != nil {
		return nil, fmt.Errorf("bootstrap %s: %w", distro, err)
	}
	// The packed layer is all we need now; free the disk before unpacking.
	if err := removeWorkDir(rootfs); err != nil {
		return nil, fmt.Errorf("bootstrap %s: %w", distro, err)
	}
	layer, err := tarball.LayerFromFile(layerPath, tarball.WithMediaType(types.OCILayer))
	if err != nil {
		return nil, fmt.Errorf("bootstrap %s: %w", distro, err)
	}
	img, err := builtinImageFromLayer(layer, v1.Config{
		Env: []string{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "LANG=C.UTF-8"},
		Cmd: []string{"/bin/bash"},
		Labels: map[string]string{
			"dev.nimbus.image.distro": distro,
			"dev.nimbus.image.mirror": mirror,
		},
	}, "debootstrap "+strings.Join(args[:3], " "), time.Now().UTC().Truncate(time.Second))
	if err != nil {
		return nil, fmt.Errorf("bootstrap %s: %w", distro, err)
	}
	out, err := s.add(ctx, img, []string{recipe.name}, p)
	if err != nil {
		return nil, fmt.Errorf("bootstrap %s: %w", distro, err)
	}
	p.Logf("bootstrapped %s in %s: %s unpacked, %s stored", recipe.name, time.Since(started).Round(time.Second), humanBytes(out.RootSize), humanBytes(out.Size))
	return out, nil
}

// runDebootstrap runs debootstrap, reporting the first line of each phase
// ("Retrieving", "Unpacking", "Configuring", ...) rather than every package,
// every warning and error, and
// quoting the end of its output when it fails.
func runDebootstrap(ctx context.Context, bin string, args []string, p Progress) error {
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Env = append(os.Environ(), "DEBIAN_FRONTEND=noninteractive", "LC_ALL=C")
	// debootstrap is a shell script with children (dpkg, chroot): cancel
	// kills the whole process group, not just the script.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	out, err := cmd.StdoutPipe()
	if err != nil {
		return err
	}
	cmd.Stderr = cmd.Stdout // one stream, in order
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start debootstrap: %w", err)
	}
	var tail []string
	seenPhase := map[string]bool{}
	sc := bufio.NewScanner(out)
	for sc.Scan() {
		line := sc.Text()
		tail = append(tail, line)
		if len(tail) > 20 {
			tail = tail[1:]
		}
		fields := strings.Fields(line)
		switch {
		case len(fields) >= 2 && fields[0] == "I:" && !seenPhase[fields[1]]:
			seenPhase[fields[1]] = true
			p.Logf("%s", line)
		case len(fields) >= 1 && (fields[0] == "E:" || fields[0] == "W:"):
			p.Logf("%s", line)
		}
	}
	// Drain whatever the scanner could not (an over-long line) so Wait returns.
	io.Copy(io.Discard, out)
	if err := cmd.Wait(); err != nil {
		return fmt.Errorf("debootstrap failed: %w; last output:\n%s", err, strings.Join(tail, "\n"))
	}
	return nil
}

// tidyBootstrappedRoot removes what should not be in an image: downloaded
// packages and index files (apt fetches fresh ones), and SSH host keys,
// which must differ per instance.
func tidyBootstrappedRoot(root string) error {
	patterns := []string{
		"var/cache/apt/archives/*.deb",
		"var/cache/apt/*.bin",
		"var/lib/apt/lists/*_*",
		"etc/ssh/ssh_host_*",
		"var/log/*.log",
	}
	for _, pat := range patterns {
		matches, err := filepath.Glob(filepath.Join(root, pat))
		if err != nil {
			return err
		}
		for _, m := range matches {
			if err := os.RemoveAll(m); err != nil {
				return fmt.Errorf("tidy root: %w", err)
			}
		}
	}
	if err := os.WriteFile(filepath.Join(root, "etc/hostname"), []byte("localhost\n"), 0o644); err != nil {
		return fmt.Errorf("tidy root: %w", err)
	}
	if err := os.Truncate(filepath.Join(root, "etc/machine-id"), 0); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("tidy root: %w", err)
	}
	return nil
}

// packRoot writes root as a gzip-compressed layer at dst. BestSpeed: the
// layer only travels to this machine's disk.
func packRoot(ctx context.Context, root, dst string, p Progress) error {
	return packTree(ctx, root, dst, false, p)
}

// packTree is packRoot, translating overlayfs whiteouts and opaque
// directories into OCI ones when overlayUpper says root is an overlayfs
// upper directory.
func packTree(ctx context.Context, root, dst string, overlayUpper bool, p Progress) error {
	f, err := os.Create(dst)
	if err != nil {
		return fmt.Errorf("pack root: %w", err)
	}
	defer f.Close()
	bw := bufio.NewWriterSize(f, 1<<20)
	zw, err := gzip.NewWriterLevel(bw, gzip.BestSpeed)
	if err != nil {
		return fmt.Errorf("pack root: %w", err)
	}
	if err := writeTreeTar(ctx, &progressWriter{w: zw, p: p}, root, overlayUpper); err != nil {
		return err
	}
	if err := zw.Close(); err != nil {
		return fmt.Errorf("pack root: %w", err)
	}
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("pack root: %w", err)
	}
	return f.Close()
}

// progressWriter reports bytes written to a Progress.
type progressWriter struct {
	w io.Writer
	p Progress
}

func (pw *progressWriter) Write(b []byte) (int, error) {
	n, err := pw.w.Write(b)
	pw.p.Add(int64(n))
	return n, err
}

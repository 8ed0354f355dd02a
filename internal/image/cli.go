package image

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"text/tabwriter"
	"time"
)

const imageUsage = `Usage: nimbus image COMMAND [ARGS]

Manage the images EC2 instances, Batch jobs and Lambda functions run from.

Commands:
  import FILE [--name NAME]   store a docker-save archive or OCI layout (tar, tar.gz or directory)
  pull REF                    fetch an image from a registry (plain HTTP for loopback registries)
  bootstrap DISTRO            build a distribution image with debootstrap (` + "debian-12" + `)
  busybox                     build busybox:latest from the host's busybox-static
  list                        list images
  tag SOURCE NAME             give an image another name
  rm NAME...                  remove names and the data no image needs any more

Run 'nimbus image COMMAND --help' for a command's options.
`

// Command runs `nimbus image ARGS...` against the store under dataDir.
func Command(ctx context.Context, dataDir string, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		fmt.Fprint(stdout, imageUsage)
		return nil
	}
	cmds := map[string]func(context.Context, string, []string, io.Writer, io.Writer) error{
		"import":    cmdImport,
		"pull":      cmdPull,
		"bootstrap": cmdBootstrap,
		"busybox":   cmdBusybox,
		"list":      cmdList,
		"ls":        cmdList,
		"tag":       cmdTag,
		"rm":        cmdRemove,
	}
	run, ok := cmds[args[0]]
	if !ok {
		fmt.Fprint(stderr, imageUsage)
		return fmt.Errorf("nimbus image: unknown command %q", args[0])
	}
	err := run(ctx, dataDir, args[1:], stdout, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return nil
	}
	return err
}

// newFlags makes a subcommand's flag set; --help prints usage to stdout.
func newFlags(name, usage string, stdout io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet("nimbus image "+name, flag.ContinueOnError)
	fs.SetOutput(stdout)
	fs.Usage = func() {
		fmt.Fprintf(stdout, "Usage: nimbus image %s\n", usage)
		fs.PrintDefaults()
	}
	return fs
}

// parseInterspersed parses flags wherever they appear among the arguments,
// so "import FILE --name NAME" works as well as "import --name NAME FILE".
func parseInterspersed(fs *flag.FlagSet, args []string) ([]string, error) {
	var positional []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		args = fs.Args()
		if len(args) == 0 {
			return positional, nil
		}
		positional = append(positional, args[0])
		args = args[1:]
	}
}

// finishProgress ends a terminal progress bar so the next line starts clean.
func finishProgress(p Progress) {
	if b, ok := p.(*barProgress); ok {
		b.Finish()
	}
}

func cmdImport(ctx context.Context, dataDir string, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("import", "import FILE [--name NAME]\n\nStore the image in a docker-save archive or an OCI image layout (tar, tar.gz or directory).", stdout)
	nameFlag := fs.String("name", "", "name to store the image under (default: the archive's own tag)")
	pos, err := parseInterspersed(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		fs.Usage()
		return errors.New("nimbus image import: need exactly one FILE")
	}
	s, err := Open(dataDir)
	if err != nil {
		return err
	}
	p := NewProgress(stdout)
	img, err := s.Import(ctx, pos[0], *nameFlag, p)
	finishProgress(p)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "imported %s %s\n", strings.Join(img.Names, ", "), img.Digest)
	return nil
}

func cmdPull(ctx context.Context, dataDir string, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("pull", "pull REF\n\nFetch an image from an OCI registry, e.g. 127.0.0.1:5000/team/app:v1.", stdout)
	pos, err := parseInterspersed(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		fs.Usage()
		return errors.New("nimbus image pull: need exactly one REF")
	}
	s, err := Open(dataDir)
	if err != nil {
		return err
	}
	p := NewProgress(stdout)
	img, err := s.Pull(ctx, pos[0], p)
	finishProgress(p)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "pulled %s %s\n", strings.Join(img.Names, ", "), img.Digest)
	return nil
}

func cmdBootstrap(ctx context.Context, dataDir string, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("bootstrap", "bootstrap DISTRO\n\nBuild a distribution image with debootstrap from the host's Debian mirror (about 90 s).\nDistributions: "+strings.Join(BootstrapDistros(), ", "), stdout)
	mirror := fs.String("mirror", "", "Debian archive to install from (default: from the host's apt sources)")
	pos, err := parseInterspersed(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		fs.Usage()
		return errors.New("nimbus image bootstrap: need exactly one DISTRO")
	}
	if _, err := exec.LookPath("debootstrap"); err != nil {
		// Installing a package is for a person at the command line to
		// trigger, never something the library does behind a caller's back.
		fmt.Fprintln(stdout, "debootstrap is missing: installing Debian's debootstrap package with apt-get")
		if err := aptInstall(ctx, "debootstrap", stdout, stderr); err != nil {
			return fmt.Errorf("nimbus image bootstrap: install debootstrap: %w", err)
		}
	}
	var opts []Option
	if *mirror != "" {
		opts = append(opts, WithDebianMirror(*mirror))
	}
	s, err := Open(dataDir, opts...)
	if err != nil {
		return err
	}
	p := NewProgress(stdout)
	img, err := s.Bootstrap(ctx, pos[0], p)
	finishProgress(p)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "built %s %s\n", strings.Join(img.Names, ", "), img.Digest)
	return nil
}

// aptInstall installs a Debian package, refreshing the package lists once
// when apt does not know it yet.
func aptInstall(ctx context.Context, pkg string, stdout, stderr io.Writer) error {
	install := func() error {
		cmd := exec.CommandContext(ctx, "apt-get", "install", "-y", "-q", pkg)
		cmd.Env = append(os.Environ(), "DEBIAN_FRONTEND=noninteractive")
		cmd.Stdout, cmd.Stderr = stdout, stderr
		return cmd.Run()
	}
	if err := install(); err == nil {
		return nil
	}
	update := exec.CommandContext(ctx, "apt-get", "update", "-q")
	update.Stdout, update.Stderr = stdout, stderr
	if err := update.Run(); err != nil {
		return fmt.Errorf("apt-get update: %w", err)
	}
	return install()
}

func cmdBusybox(ctx context.Context, dataDir string, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("busybox", "busybox\n\nBuild busybox:latest from the host's busybox-static binary.", stdout)
	if _, err := parseInterspersed(fs, args); err != nil {
		return err
	}
	s, err := Open(dataDir)
	if err != nil {
		return err
	}
	img, err := s.EnsureBusybox(ctx)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "built %s %s\n", strings.Join(img.Names, ", "), img.Digest)
	return nil
}

func cmdList(ctx context.Context, dataDir string, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("list", "list\n\nList images: one line per name; SIZE is the unpacked root.", stdout)
	if _, err := parseInterspersed(fs, args); err != nil {
		return err
	}
	s, err := Open(dataDir)
	if err != nil {
		return err
	}
	images, err := s.List(ctx)
	if err != nil {
		return err
	}
	tw := tabwriter.NewWriter(stdout, 0, 4, 3, ' ', 0)
	fmt.Fprintln(tw, "NAME\tDIGEST\tSIZE\tCREATED")
	for _, img := range images {
		for _, n := range img.Names {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", n, shortDigest(img.Digest), humanBytes(img.RootSize), createdString(img.Created))
		}
	}
	return tw.Flush()
}

func cmdTag(ctx context.Context, dataDir string, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("tag", "tag SOURCE NAME\n\nGive the image SOURCE (a name or digest) the name NAME.", stdout)
	pos, err := parseInterspersed(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 2 {
		fs.Usage()
		return errors.New("nimbus image tag: need SOURCE and NAME")
	}
	s, err := Open(dataDir)
	if err != nil {
		return err
	}
	img, err := s.Tag(ctx, pos[0], pos[1])
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "tagged %s as %s\n", img.Digest, pos[1])
	return nil
}

func cmdRemove(ctx context.Context, dataDir string, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("rm", "rm NAME...\n\nRemove image names (a digest removes every name of that image), then the blobs and roots no image needs.", stdout)
	pos, err := parseInterspersed(fs, args)
	if err != nil {
		return err
	}
	if len(pos) == 0 {
		fs.Usage()
		return errors.New("nimbus image rm: need at least one NAME")
	}
	s, err := Open(dataDir)
	if err != nil {
		return err
	}
	for _, ref := range pos {
		res, err := s.Remove(ctx, ref)
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "removed %s", ref)
		if res.BlobsRemoved > 0 || res.RootsRemoved > 0 {
			fmt.Fprintf(stdout, " (freed %s in %d blobs, %d roots)", humanBytes(res.BytesFreed), res.BlobsRemoved, res.RootsRemoved)
		}
		fmt.Fprintln(stdout)
		for _, r := range res.RootsInUse {
			fmt.Fprintf(stderr, "warning: root %s is still mounted by a sandbox; it will be removed by a later collection\n", r)
		}
	}
	return nil
}

func shortDigest(d string) string {
	if len(d) > len("sha256:")+12 {
		return d[:len("sha256:")+12]
	}
	return d
}

func createdString(t time.Time) string {
	if t.IsZero() || t.Unix() == 0 {
		return "-" // built-in images carry a fixed epoch, not a real date
	}
	return t.UTC().Format("2006-01-02 15:04")
}

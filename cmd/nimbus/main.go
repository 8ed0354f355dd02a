// Command nimbus is AWS compute (EC2, Batch, Lambda) in one binary. main only
// parses flags, builds the configuration and wires the parts together.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"runtime/debug"
	"syscall"
	"time"

	"github.com/nimbus-dev/nimbus/internal/config"
	"github.com/nimbus-dev/nimbus/internal/hostcheck"
	imagestore "github.com/nimbus-dev/nimbus/internal/image"
	"github.com/nimbus-dev/nimbus/internal/lambdart"
	"github.com/nimbus-dev/nimbus/internal/sandbox/oci"
	"github.com/nimbus-dev/nimbus/internal/server"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

const usage = `nimbus: AWS compute (EC2, Batch, Lambda) on your own machine.

Point the AWS CLI or any SDK at it:
  AWS_ENDPOINT_URL=http://127.0.0.1:4566 AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test \
  AWS_REGION=us-east-1 aws sts get-caller-identity

Usage:
  nimbus [serve] [flags]   start the server (the default)
  nimbus doctor            tell what this host can and cannot do, and which sandbox driver nimbus uses
  nimbus image ...         manage the image store: import, pull, bootstrap, list, rm
  nimbus version           print the version
  nimbus help [command]    show help

Run 'nimbus serve --help' for the server's flags.
`

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	cmd := "serve"
	if len(args) > 0 && len(args[0]) > 0 && args[0][0] != '-' {
		cmd, args = args[0], args[1:]
	} else if len(args) > 0 && (args[0] == "-h" || args[0] == "-help" || args[0] == "--help") {
		cmd = "help"
	}
	switch cmd {
	case "__shim":
		// The sandbox shim: nimbus re-executes itself to hold a sandbox's
		// output and exit status (see internal/sandbox/oci).
		return oci.ShimMain(args)
	case "serve":
		return serve(args, stdout, stderr)
	case "version":
		fmt.Fprintln(stdout, versionString())
		return 0
	case "doctor":
		return doctor(args, stdout, stderr)
	case "image":
		return image(args, stdout, stderr)
	case "help":
		if len(args) > 0 && args[0][0] != '-' {
			return run([]string{args[0], "--help"}, stdout, stderr)
		}
		fmt.Fprint(stdout, usage)
		return 0
	}
	fmt.Fprintf(stderr, "nimbus: unknown command %q\n\n%s", cmd, usage)
	return 2
}

func versionString() string {
	v := version
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, s := range bi.Settings {
			if s.Key == "vcs.revision" && len(s.Value) >= 12 && v == "dev" {
				v += "+" + s.Value[:12]
			}
		}
		return fmt.Sprintf("nimbus %s (%s)", v, bi.GoVersion)
	}
	return "nimbus " + v
}

func serve(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("nimbus serve", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var cfg config.Config
	cfg.Bind(fs)
	fs.Usage = func() {
		fmt.Fprint(stderr, "Usage: nimbus serve [flags]\n\nStart nimbus: every AWS service on one address. Flags (each also an environment variable):\n\n")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if err := cfg.Finish(); err != nil {
		fmt.Fprintln(stderr, "nimbus:", err)
		return 2
	}
	log := newLogger(stderr, cfg.LogFormat, cfg.LogLevel)
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	srv, err := server.New(ctx, &cfg, version, log)
	if err != nil {
		log.Error("cannot start", "error", err)
		return 1
	}
	l, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		log.Error("cannot listen", "address", cfg.Listen, "error", err)
		return 1
	}
	if err := srv.Serve(ctx, l); err != nil {
		log.Error("server failed", "error", err)
		return 1
	}
	return 0
}

func newLogger(w io.Writer, format, level string) *slog.Logger {
	var lv slog.Level
	if err := lv.UnmarshalText([]byte(level)); err != nil {
		lv = slog.LevelInfo
	}
	opts := &slog.HandlerOptions{Level: lv}
	if format == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}

func doctor(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("nimbus doctor", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var cfg config.Config
	cfg.Bind(fs)
	fs.Usage = func() {
		fmt.Fprint(stderr, "Usage: nimbus doctor [serve flags]\n\nTell what this host can and cannot do (root, runc, crun, cgroups, CNI plugins,\nnftables, overlayfs, loop devices, KVM, GPUs), which sandbox driver nimbus will use,\nand how the server flags given would configure it.\n")
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	report := hostcheck.Probe(ctx)
	if err := report.Write(stdout); err != nil {
		fmt.Fprintln(stderr, "nimbus doctor:", err)
		return 1
	}
	fmt.Fprintln(stdout)
	writeLambdaRuntimes(ctx, stdout)
	fmt.Fprintln(stdout)
	if err := cfg.Finish(); err != nil {
		fmt.Fprintln(stdout, "server configuration: refused:", err)
		return 1
	}
	mode := "strict: SigV4 verified on every request, IAM enforced for non-root principals"
	if cfg.Auth == config.AuthAny {
		mode = "any: every access key is the root of account " + cfg.AccountID + " (loopback only); IAM not enforced"
	}
	fmt.Fprintf(stdout, "auth mode:   %s\nlisten:      %s\naccount id:  %s\ndata:        %s\n", mode, cfg.Listen, cfg.AccountID, cfg.DataDir)
	return 0
}

// lambdaRuntimeProbes are the Lambda runtimes doctor asks the host about:
// those AWS supports that nimbus runs with the host's interpreters.
var lambdaRuntimeProbes = []string{"python3.9", "python3.10", "python3.11", "python3.12", "python3.13",
	"nodejs18.x", "nodejs20.x", "nodejs22.x", "ruby3.3", "java17", "java21", "java25", "provided.al2023"}

// writeLambdaRuntimes says which Lambda runtimes functions can use here.
func writeLambdaRuntimes(ctx context.Context, w io.Writer) {
	var have []string
	for _, name := range lambdaRuntimeProbes {
		rt, err := lambdart.RuntimeFor(ctx, name)
		if err != nil {
			continue
		}
		if rt.Interpreter != "" {
			have = append(have, fmt.Sprintf("%s (%s %s)", name, rt.Interpreter, rt.HostVersion))
		} else {
			have = append(have, name+" (the function's own bootstrap)")
		}
	}
	fmt.Fprintln(w, "lambda runtimes:")
	for _, h := range have {
		fmt.Fprintln(w, "  ok ", h)
	}
	fmt.Fprintln(w, "  -- other python3.x and nodejs*.x need that interpreter version on the host, javaN a JDK N; ruby3.x runs on the host's Ruby 3; java8, java11 and dotnet are not shipped yet")
}

func image(args []string, stdout, stderr io.Writer) int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	dataDir := os.Getenv("NIMBUS_DATA")
	if dataDir == "" {
		dataDir = config.DefaultDataDir()
	}
	// --data may come first: nimbus image --data DIR list
	if len(args) >= 2 && (args[0] == "--data" || args[0] == "-data") {
		dataDir, args = args[1], args[2:]
	}
	if err := imagestore.Command(ctx, dataDir, args, stdout, stderr); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		fmt.Fprintln(stderr, "nimbus image:", err)
		return 1
	}
	return 0
}

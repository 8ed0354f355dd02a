package oci

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// runtime runs one OCI runtime binary (runc or crun) against a state root of
// nimbus's own, so we never see or touch other users' containers.
type runtime struct {
	name string // "runc" or "crun"
	path string
	root string
}

// errContainerNotFound is what both runtimes' "does not exist" errors become.
var errContainerNotFound = errors.New("container does not exist")

func (r runtime) run(ctx context.Context, args ...string) ([]byte, error) {
	cmd := exec.CommandContext(ctx, r.path, append([]string{"--root", r.root}, args...)...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		msg := strings.TrimSpace(stderr.String())
		if strings.Contains(msg, "does not exist") || strings.Contains(msg, "not found") {
			return out, fmt.Errorf("%s %s: %w", r.name, args[0], errContainerNotFound)
		}
		return out, fmt.Errorf("%s %s: %w: %s", r.name, args[0], err, msg)
	}
	return out, nil
}

func (r runtime) start(ctx context.Context, id string) error {
	_, err := r.run(ctx, "start", id)
	return err
}

func (r runtime) kill(ctx context.Context, id string, signal int) error {
	_, err := r.run(ctx, "kill", id, fmt.Sprint(signal))
	return err
}

// deleteForce removes the container, killing it first; gone is not an error.
func (r runtime) deleteForce(ctx context.Context, id string) error {
	_, err := r.run(ctx, "delete", "--force", id)
	if errors.Is(err, errContainerNotFound) {
		return nil
	}
	return err
}

func (r runtime) state(ctx context.Context, id string) (*specs.State, error) {
	out, err := r.run(ctx, "state", id)
	if err != nil {
		return nil, err
	}
	var st specs.State
	if err := json.Unmarshal(out, &st); err != nil {
		return nil, fmt.Errorf("%s state %s: %w", r.name, id, err)
	}
	return &st, nil
}

// listedContainer is one entry of `runc list --format json` / `crun list --format json`.
type listedContainer struct {
	ID          string            `json:"id"`
	Pid         int               `json:"pid"`
	Status      string            `json:"status"`
	Bundle      string            `json:"bundle"`
	Annotations map[string]string `json:"annotations"`
}

func (r runtime) list(ctx context.Context) ([]listedContainer, error) {
	out, err := r.run(ctx, "list", "--format", "json")
	if err != nil {
		return nil, err
	}
	var cs []listedContainer
	if len(bytes.TrimSpace(out)) == 0 || bytes.Equal(bytes.TrimSpace(out), []byte("null")) {
		return nil, nil
	}
	if err := json.Unmarshal(out, &cs); err != nil {
		return nil, fmt.Errorf("%s list: %w", r.name, err)
	}
	return cs, nil
}

// probeRuntime checks that the runtime can create a container on this host:
// `create` sets up namespaces and cgroups (where crun refuses hybrid hosts)
// and stops before running anything, so an empty root is enough.
func probeRuntime(ctx context.Context, rt runtime, mode CgroupMode) error {
	dir, err := os.MkdirTemp("", "nimbus-probe-")
	if err != nil {
		return fmt.Errorf("probe %s: %w", rt.name, err)
	}
	defer os.RemoveAll(dir)
	rt.root = filepath.Join(dir, "state")
	rootfs := filepath.Join(dir, "rootfs")
	if err := os.Mkdir(rootfs, 0o755); err != nil {
		return fmt.Errorf("probe %s: %w", rt.name, err)
	}
	// Runtimes check the program exists at create; it is never run.
	if err := os.WriteFile(filepath.Join(rootfs, "probe"), nil, 0o755); err != nil {
		return fmt.Errorf("probe %s: %w", rt.name, err)
	}
	id := fmt.Sprintf("nimbus-probe-%d", os.Getpid())
	s := &specs.Spec{
		Version: ociVersion,
		Root:    &specs.Root{Path: rootfs},
		Process: &specs.Process{Args: []string{"/probe"}, Cwd: "/"},
		Mounts:  []specs.Mount{{Destination: "/proc", Type: "proc", Source: "proc"}},
		Linux: &specs.Linux{
			CgroupsPath: sandboxCgroupsPath(id),
			Namespaces:  []specs.LinuxNamespace{{Type: specs.PIDNamespace}, {Type: specs.MountNamespace}},
		},
	}
	b, err := json.Marshal(s)
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, "config.json"), b, 0o600); err != nil {
		return fmt.Errorf("probe %s: %w", rt.name, err)
	}
	defer rt.deleteForce(context.WithoutCancel(ctx), id)
	// The container's init inherits the runtime's stdio, so output goes to a
	// file: a pipe would stay open until the container is deleted.
	outPath := filepath.Join(dir, "out")
	out, err := os.Create(outPath)
	if err != nil {
		return fmt.Errorf("probe %s: %w", rt.name, err)
	}
	defer out.Close()
	cmd := exec.CommandContext(ctx, rt.path, "--root", rt.root, "create", "--bundle", dir, id)
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Run(); err != nil {
		msg, _ := os.ReadFile(outPath)
		return fmt.Errorf("%s cannot create a container on this %s-cgroup host: %s", rt.name, mode, strings.TrimSpace(string(msg)))
	}
	return nil
}

// TryRuntime checks that the runtime binary name (runc or crun, found in
// PATH) can create a container on this host, by creating and deleting one
// with an empty root. It takes a few tens of milliseconds; doctor's
// optional deep check uses it.
func TryRuntime(ctx context.Context, name string) error {
	path, err := exec.LookPath(name)
	if err != nil {
		return fmt.Errorf("%s not found: %w", name, err)
	}
	return probeRuntime(ctx, runtime{name: name, path: path}, DetectCgroupMode())
}

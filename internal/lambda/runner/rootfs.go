package runner

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"

	"github.com/nimbus-dev/nimbus/internal/lambdart"
	"github.com/nimbus-dev/nimbus/internal/substrate"
)

// Paths inside every sandbox, as in Lambda.
const (
	taskRoot   = "/var/task"
	runtimeDir = "/var/runtime"
)

// sandboxUser is who the runtime runs as: Lambda's sbx_user1051.
const sandboxUser = "993:990"

// hostRoot is the root every zip-packaged sandbox starts from: a tiny
// directory built once under DataDir, over which the host's /usr (and the
// /lib* directories that are not symlinks into it) and a few /etc files are
// bind-mounted read-only, so the host's interpreters run unchanged and
// nothing is copied per sandbox. A bind is one mount call inside runc's
// start (microseconds, lost in the noise of a 150-300 ms runc start here);
// a copied /usr per runtime would cost hundreds of MB and seconds to build,
// and would fall behind the host's security updates.
type hostRoot struct {
	dir    string
	mounts []substrate.Mount // read-only binds every sandbox gets

	mu       sync.Mutex
	runtimes map[string]string // runtime name -> host directory of its bootstrap files
}

// hostEtc are the host's /etc entries a runtime needs: the dynamic linker's
// cache, TLS roots and Debian's alternatives symlinks (node, python3 may
// resolve through them).
var hostEtc = []string{"/etc/ld.so.cache", "/etc/ssl", "/etc/ca-certificates", "/etc/alternatives"}

// rootFiles are written into the root's /etc.
var rootFiles = map[string]string{
	"etc/passwd":        "root:x:0:0:root:/root:/sbin/nologin\nsbx_user1051:x:993:990::/home/sbx_user1051:/sbin/nologin\n",
	"etc/group":         "root:x:0:\nsbx_user1051:x:990:\n",
	"etc/hosts":         "127.0.0.1 localhost\n::1 localhost\n",
	"etc/nsswitch.conf": "passwd: files\ngroup: files\nhosts: files dns\n",
}

func buildHostRoot(dataDir string) (*hostRoot, error) {
	r := &hostRoot{dir: filepath.Join(dataDir, "lambda", "root"), runtimes: map[string]string{}}
	for _, d := range []string{"usr", "etc", "var/task", "var/runtime", "tmp", "opt", "proc", "dev", "sys", "root", "home/sbx_user1051"} {
		if err := os.MkdirAll(filepath.Join(r.dir, d), 0o755); err != nil {
			return nil, fmt.Errorf("build sandbox root: %w", err)
		}
	}
	// runc gives a tmpfs the mode of the directory it covers: /tmp must be
	// writable by the sandbox user.
	if err := os.Chmod(filepath.Join(r.dir, "tmp"), 0o777|os.ModeSticky); err != nil {
		return nil, fmt.Errorf("build sandbox root: %w", err)
	}
	r.mounts = append(r.mounts, substrate.Mount{Type: substrate.MountBind, Source: "/usr", Destination: "/usr", ReadOnly: true})
	// Merged-/usr hosts (Debian 12) have /bin, /lib... as symlinks into
	// /usr: the root gets the same links. Others get the directories bound.
	for _, name := range []string{"bin", "sbin", "lib", "lib32", "lib64", "libx32"} {
		host := "/" + name
		fi, err := os.Lstat(host)
		if errors.Is(err, os.ErrNotExist) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("build sandbox root: %w", err)
		}
		in := filepath.Join(r.dir, name)
		if fi.Mode()&os.ModeSymlink != 0 {
			target, err := os.Readlink(host)
			if err != nil {
				return nil, fmt.Errorf("build sandbox root: %w", err)
			}
			if err := replaceSymlink(target, in); err != nil {
				return nil, err
			}
			continue
		}
		if err := os.MkdirAll(in, 0o755); err != nil {
			return nil, fmt.Errorf("build sandbox root: %w", err)
		}
		r.mounts = append(r.mounts, substrate.Mount{Type: substrate.MountBind, Source: host, Destination: host, ReadOnly: true})
	}
	for _, host := range hostEtc {
		fi, err := os.Stat(host)
		if err != nil {
			continue // not every host has every one
		}
		in := filepath.Join(r.dir, host)
		if fi.IsDir() {
			err = os.MkdirAll(in, 0o755)
		} else {
			err = writeIfMissing(in, "")
		}
		if err != nil {
			return nil, fmt.Errorf("build sandbox root: %w", err)
		}
		r.mounts = append(r.mounts, substrate.Mount{Type: substrate.MountBind, Source: host, Destination: host, ReadOnly: true})
	}
	// Mount points of the Runtime API proxy and its socket.
	for _, f := range []string{proxyBinary, proxySocket} {
		if err := writeIfMissing(filepath.Join(r.dir, f), ""); err != nil {
			return nil, fmt.Errorf("build sandbox root: %w", err)
		}
	}
	// Mount point of a warm spare's control directory.
	if err := os.MkdirAll(filepath.Join(r.dir, spareControl), 0o755); err != nil {
		return nil, fmt.Errorf("build sandbox root: %w", err)
	}
	if err := os.MkdirAll(r.socketDir(), 0o755); err != nil {
		return nil, fmt.Errorf("build sandbox root: %w", err)
	}
	for name, content := range rootFiles {
		if err := os.WriteFile(filepath.Join(r.dir, name), []byte(content), 0o644); err != nil {
			return nil, fmt.Errorf("build sandbox root: %w", err)
		}
	}
	return r, nil
}

func replaceSymlink(target, path string) error {
	if cur, err := os.Readlink(path); err == nil && cur == target {
		return nil
	}
	_ = os.RemoveAll(path)
	if err := os.Symlink(target, path); err != nil {
		return fmt.Errorf("build sandbox root: %w", err)
	}
	return nil
}

func writeIfMissing(path, content string) error {
	if _, err := os.Lstat(path); err == nil {
		return nil
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	return os.WriteFile(path, []byte(content), 0o644)
}

// runtimeMounts are the mounts a runtime adds to the root: its bootstrap
// files at /var/runtime, and the interpreter's installation when it lives
// outside /usr (a build under /opt or a home directory).
func (r *hostRoot) runtimeMounts(rt lambdart.Runtime) ([]substrate.Mount, error) {
	var out []substrate.Mount
	if len(rt.Files()) > 0 {
		dir, err := r.runtimeFiles(rt)
		if err != nil {
			return nil, err
		}
		out = append(out, substrate.Mount{Type: substrate.MountBind, Source: dir, Destination: runtimeDir, ReadOnly: true})
	}
	if rt.Interpreter != "" && !strings.HasPrefix(rt.Interpreter, "/usr/") {
		// bin/python3 -> the installation prefix above bin.
		prefix := filepath.Dir(filepath.Dir(rt.Interpreter))
		if prefix == "/" || prefix == "." {
			return nil, fmt.Errorf("runtime %s: interpreter %s has no installation directory to share", rt.Name, rt.Interpreter)
		}
		if err := os.MkdirAll(filepath.Join(r.dir, prefix), 0o755); err != nil {
			return nil, fmt.Errorf("runtime %s: %w", rt.Name, err)
		}
		out = append(out, substrate.Mount{Type: substrate.MountBind, Source: prefix, Destination: prefix, ReadOnly: true})
	}
	// Directories the runtime reads through symlinks (Debian's JDKs keep
	// their security configuration in /etc/java-N-openjdk), unless every
	// sandbox has them already.
	for _, dir := range rt.HostPaths {
		if slices.Contains(hostEtc, dir) || dir == "/usr" || strings.HasPrefix(dir, "/usr/") {
			continue
		}
		if err := os.MkdirAll(filepath.Join(r.dir, dir), 0o755); err != nil {
			return nil, fmt.Errorf("runtime %s: %w", rt.Name, err)
		}
		out = append(out, substrate.Mount{Type: substrate.MountBind, Source: dir, Destination: dir, ReadOnly: true})
	}
	return out, nil
}

// runtimeFiles writes the runtime's bootstrap files once per Pool, under
// DataDir, and returns their directory.
func (r *hostRoot) runtimeFiles(rt lambdart.Runtime) (string, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if dir, ok := r.runtimes[rt.Name]; ok {
		return dir, nil
	}
	dir := filepath.Join(filepath.Dir(r.dir), "runtimes", rt.Name)
	if err := rt.WriteFiles(dir); err != nil {
		return "", err
	}
	r.runtimes[rt.Name] = dir
	return dir, nil
}

// spareDirs holds the control directories of warm spares; only root may
// enter it (a spare's start script holds its function's credentials).
func (r *hostRoot) spareDirs() string { return filepath.Join(filepath.Dir(r.dir), "spares") }

// spareDir is one spare's control directory.
func (r *hostRoot) spareDir(hexID string) string { return filepath.Join(r.spareDirs(), hexID) }

// resetSpareDirs removes the control directories a previous run left (their
// sandboxes are gone with it).
func (r *hostRoot) resetSpareDirs() error {
	if err := os.RemoveAll(r.spareDirs()); err != nil {
		return fmt.Errorf("remove old spare directories: %w", err)
	}
	if err := os.MkdirAll(r.spareDirs(), 0o700); err != nil {
		return fmt.Errorf("spare directories: %w", err)
	}
	return nil
}

// socketDir holds the Unix sockets of proxied sandboxes' Runtime APIs.
func (r *hostRoot) socketDir() string { return filepath.Join(filepath.Dir(r.dir), "rapi") }

// socketPath is the Runtime API socket of one sandbox.
func (r *hostRoot) socketPath(hexID string) string {
	return filepath.Join(r.socketDir(), hexID+".sock")
}

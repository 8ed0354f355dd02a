// Package sandboxtest is the contract test suite every sandbox.Driver must
// pass, plus helpers to build a tiny root filesystem from the host's
// busybox-static for tests.
package sandboxtest

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// busyboxApplets are linked in bin/ of a BusyboxRoot.
var busyboxApplets = []string{"sh", "true", "false", "sleep", "cat", "echo", "ls", "id", "pwd", "env", "hostname", "head", "dd", "mount", "grep", "kill", "touch", "mkdir", "rm", "ps", "ip", "wc", "yes", "tr", "tail", "ulimit"}

// BusyboxPath finds a statically linked busybox on the host, or skips the
// test saying how to get one.
func BusyboxPath(t testing.TB) string {
	t.Helper()
	for _, p := range []string{"/bin/busybox", "/usr/bin/busybox"} {
		if _, err := os.Stat(p); err == nil {
			out, err := exec.Command("file", "-L", p).Output()
			if err == nil && !strings.Contains(string(out), "statically linked") {
				continue
			}
			return p
		}
	}
	t.Skip("no static busybox on this host: apt-get install busybox-static")
	return ""
}

// BusyboxRoot makes a root filesystem in a temporary directory: bin/busybox
// with its applets, /etc/passwd with root and nobody, and empty /tmp, /proc,
// /dev and /sys for the runtime's mounts.
func BusyboxRoot(t testing.TB) string {
	t.Helper()
	src := BusyboxPath(t)
	root := filepath.Join(t.TempDir(), "root")
	for _, d := range []string{"bin", "etc", "tmp", "proc", "dev", "sys", "root", "data"} {
		if err := os.MkdirAll(filepath.Join(root, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	os.Chmod(filepath.Join(root, "tmp"), 0o1777)
	b, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(root, "bin", "busybox"), b, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, a := range busyboxApplets {
		if err := os.Symlink("busybox", filepath.Join(root, "bin", a)); err != nil {
			t.Fatal(err)
		}
	}
	passwd := "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\n"
	group := "root:x:0:\nnogroup:x:65534:\n"
	if err := os.WriteFile(filepath.Join(root, "etc", "passwd"), []byte(passwd), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(root, "etc", "group"), []byte(group), 0o644); err != nil {
		t.Fatal(err)
	}
	return root
}

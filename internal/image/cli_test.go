package image

import (
	"bytes"
	"context"
	"strings"
	"testing"
)

func runCLI(t *testing.T, dataDir string, args ...string) (string, error) {
	t.Helper()
	var out, errOut bytes.Buffer
	err := Command(context.Background(), dataDir, args, &out, &errOut)
	return out.String() + errOut.String(), err
}

func TestCommandImportListRemove(t *testing.T) {
	data := t.TempDir()
	archive := writeDockerArchive(t, ociImage(t, gzipLayer(t, layerTar(t, fileEntry("f", strings.Repeat("f", 3000))))), "cli/app:v1")

	out, err := runCLI(t, data, "import", archive, "--name", "cli/app:renamed")
	if err != nil {
		t.Fatalf("import: %v\n%s", err, out)
	}
	if !strings.Contains(out, "imported cli/app:renamed sha256:") {
		t.Errorf("import output:\n%s", out)
	}
	if out, err = runCLI(t, data, "tag", "cli/app:renamed", "second"); err != nil {
		t.Fatalf("tag: %v\n%s", err, out)
	}
	out, err = runCLI(t, data, "list")
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 3 || !strings.HasPrefix(lines[0], "NAME") || !strings.Contains(lines[0], "DIGEST") || !strings.Contains(lines[0], "CREATED") {
		t.Fatalf("list output:\n%s", out)
	}
	if !strings.HasPrefix(lines[1], "cli/app:renamed") || !strings.Contains(lines[1], "2.9 KiB") || !strings.Contains(lines[1], "2024-03-01 12:00") {
		t.Errorf("list row: %q", lines[1])
	}
	if !strings.HasPrefix(lines[2], "second:latest") {
		t.Errorf("list row: %q", lines[2])
	}
	if out, err = runCLI(t, data, "rm", "cli/app:renamed", "second"); err != nil {
		t.Fatalf("rm: %v\n%s", err, out)
	}
	if !strings.Contains(out, "removed second (freed") {
		t.Errorf("rm output:\n%s", out)
	}
	if out, _ = runCLI(t, data, "list"); strings.Count(out, "\n") != 1 {
		t.Errorf("list after rm:\n%s", out)
	}
	if _, err := runCLI(t, data, "rm", "second"); err == nil {
		t.Error("removing a missing image succeeded")
	}
}

func TestCommandHelpAndErrors(t *testing.T) {
	data := t.TempDir()
	out, err := runCLI(t, data, "--help")
	if err != nil || !strings.Contains(out, "import FILE") || !strings.Contains(out, "bootstrap DISTRO") {
		t.Errorf("image --help: %v\n%s", err, out)
	}
	for _, sub := range []string{"import", "pull", "bootstrap", "list", "rm", "tag", "busybox"} {
		out, err := runCLI(t, data, sub, "--help")
		if err != nil || !strings.Contains(out, "Usage: nimbus image "+sub) {
			t.Errorf("%s --help: %v\n%s", sub, err, out)
		}
	}
	if out, err := runCLI(t, data, "import", "--name", "x"); err == nil {
		t.Errorf("import without FILE succeeded:\n%s", out)
	}
	if _, err := runCLI(t, data, "frobnicate"); err == nil || !strings.Contains(err.Error(), "frobnicate") {
		t.Errorf("unknown command: %v", err)
	}
	if _, err := runCLI(t, data, "bootstrap", "plan9"); err == nil || !strings.Contains(err.Error(), "debian-12") {
		t.Errorf("bootstrap of an unknown distro: %v", err)
	}
}

func TestCommandBusybox(t *testing.T) {
	requireBusybox(t)
	data := t.TempDir()
	if out, err := runCLI(t, data, "busybox"); err != nil || !strings.Contains(out, "built busybox:latest") {
		t.Fatalf("busybox: %v\n%s", err, out)
	}
	out, err := runCLI(t, data, "list")
	if err != nil || !strings.Contains(out, "busybox:latest") || !strings.HasSuffix(strings.TrimSpace(out), " -") {
		t.Errorf("list: %v\n%s", err, out)
	}
}

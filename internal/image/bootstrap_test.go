package image

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestBootstrapDebian runs a real debootstrap (a minute or two, a few
// hundred MB from the host's mirror), so only when NIMBUS_TEST_BOOTSTRAP=1.
func TestBootstrapDebian(t *testing.T) {
	if os.Getenv("NIMBUS_TEST_BOOTSTRAP") != "1" {
		t.Skip("set NIMBUS_TEST_BOOTSTRAP=1 to run a real debootstrap")
	}
	if _, err := exec.LookPath("debootstrap"); err != nil {
		t.Skip("needs Debian's debootstrap package")
	}
	if os.Geteuid() != 0 {
		t.Skip("debootstrap needs root")
	}
	data := os.Getenv("NIMBUS_TEST_BOOTSTRAP_DIR") // to keep the result for a look
	if data == "" {
		data = t.TempDir()
	}
	s, err := Open(data)
	if err != nil {
		t.Fatal(err)
	}
	var log bytes.Buffer
	started := time.Now()
	img, err := s.Bootstrap(context.Background(), "debian-12", NewProgress(&log))
	t.Logf("progress:\n%s", log.String())
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("bootstrap took %s: root %s, stored %s, digest %s", time.Since(started).Round(time.Second), humanBytes(img.RootSize), humanBytes(img.Size), img.Digest)
	osRelease, err := os.ReadFile(filepath.Join(img.RootDir, "etc/os-release"))
	if err != nil || !strings.Contains(string(osRelease), `VERSION_ID="12"`) {
		t.Errorf("etc/os-release: %v\n%s", err, osRelease)
	}
	for _, p := range []string{"usr/sbin/sshd", "usr/bin/sudo", "usr/bin/python3", "sbin/ip", "bin/ps", "etc/ssl/certs/ca-certificates.crt"} {
		if _, err := os.Stat(filepath.Join(img.RootDir, p)); err != nil {
			t.Errorf("%s missing: %v", p, err)
		}
	}
	if keys, _ := filepath.Glob(filepath.Join(img.RootDir, "etc/ssh/ssh_host_*")); len(keys) != 0 {
		t.Errorf("ssh host keys baked into the image: %v", keys)
	}
	if img.Names[0] != "debian-12:latest" || img.Layers != 1 {
		t.Errorf("names %v layers %d", img.Names, img.Layers)
	}
}

func TestBootstrapWithoutDebootstrapNamesPackage(t *testing.T) {
	if _, err := exec.LookPath("debootstrap"); err == nil {
		t.Setenv("PATH", t.TempDir()) // hide it
	}
	_, err := openTestStore(t).Bootstrap(context.Background(), "debian-12", nil)
	if err == nil || !strings.Contains(err.Error(), "apt-get install debootstrap") {
		t.Fatalf("err = %v, want one naming the debootstrap package", err)
	}
}

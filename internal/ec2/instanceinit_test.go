package ec2

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/nimbus-dev/nimbus/internal/sandbox"
	"github.com/nimbus-dev/nimbus/internal/sandbox/fake"
)

// TestInitScriptParses checks the init script with every POSIX shell at
// hand: busybox sh (the busybox AMI) and dash or bash (Debian's /bin/sh).
func TestInitScriptParses(t *testing.T) {
	shells := map[string][]string{
		"busybox": {"busybox", "sh", "-n", "-c", initScript},
		"dash":    {"dash", "-n", "-c", initScript},
		"bash":    {"bash", "--posix", "-n", "-c", initScript},
	}
	ran := 0
	for name, argv := range shells {
		if _, err := exec.LookPath(argv[0]); err != nil {
			continue
		}
		ran++
		if out, err := exec.Command(argv[0], argv[1:]...).CombinedOutput(); err != nil {
			t.Errorf("%s rejects the init script: %v\n%s", name, err, out)
		}
	}
	if ran == 0 {
		t.Skip("no busybox, dash or bash to parse the init script with")
	}
}

func TestWriteBootDir(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "boot")
	cfg := bootConfig{InstanceID: "i-0123456789abcdef0", Hostname: "ip-10-213-0-9", AuthorizedKeys: "ssh-ed25519 AAAA k",
		DefaultUser: "admin", UserData: []byte("#!/bin/sh\necho hi\n")}
	if err := writeBootDir(dir, cfg); err != nil {
		t.Fatal(err)
	}
	want := map[string]string{bootFileInstanceID: "i-0123456789abcdef0\n", bootFileHostname: "ip-10-213-0-9\n",
		bootFileKeys: "ssh-ed25519 AAAA k\n", bootFileDefaultUser: "admin", bootFileUserData: "#!/bin/sh\necho hi\n"}
	for name, content := range want {
		got, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil || string(got) != content {
			t.Errorf("%s = %q, %v; want %q", name, got, err, content)
		}
	}
	// A second boot without keys or user data leaves none of the first's.
	if err := writeBootDir(dir, bootConfig{InstanceID: cfg.InstanceID}); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{bootFileKeys, bootFileUserData} {
		if got, _ := os.ReadFile(filepath.Join(dir, name)); len(got) != 0 {
			t.Errorf("%s kept %q", name, got)
		}
	}
}

func TestInitCommand(t *testing.T) {
	real := initCommand("oci/runc", bootConfig{InstanceID: "i-1"})
	if len(real) != 3 || real[0] != "/bin/sh" || real[2] != initScript {
		t.Errorf("oci command = %q", real)
	}
	scripted := initCommand(fake.DriverName, bootConfig{InstanceID: "i-1", UserData: []byte("x")})
	b := fake.ParseCommand(sandbox.Spec{Command: scripted})
	if b.Duration != fake.Forever || len(b.Stdout) < 2 || !strings.Contains(strings.Join(b.Stdout, "\n"), "instance i-1 booting") {
		t.Errorf("fake behaviour = %+v", b)
	}
}

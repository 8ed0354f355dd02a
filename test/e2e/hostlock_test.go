package e2e

import (
	"os/exec"
	"strings"
	"testing"
)

// The sandbox network and its firewall are host-wide: a second nimbus with
// networked sandboxes refuses to start rather than rebuild (and so wipe)
// the first one's firewall.
func TestSecondNetworkedNimbusRefused(t *testing.T) {
	requireRealSandboxes(t)
	startRealNimbus(t, "")
	out, err := exec.Command(nimbusBin, "serve", "--listen", freeAddr(t), "--data", t.TempDir(), "--driver", "oci").CombinedOutput()
	if err == nil || !strings.Contains(string(out), "another nimbus (pid") {
		t.Fatalf("second nimbus: %v\n%s", err, out)
	}
	// One without networked sandboxes may run beside it.
	n := startNimbus(t, "", "--driver", "process")
	if n.cmd.ProcessState != nil {
		t.Fatalf("a process-driver nimbus beside it did not start:\n%s", n.Log())
	}
}

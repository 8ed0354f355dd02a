package substrate

import (
	"os"
	"testing"

	"github.com/nimbus-dev/nimbus/internal/sandbox/oci"
)

// TestMain lets the test binary serve as the sandbox shim, as the nimbus
// binary does, and as the child process the crash tests kill.
func TestMain(m *testing.M) {
	if len(os.Args) > 1 && os.Args[1] == oci.ShimCommand {
		os.Exit(oci.ShimMain(os.Args[2:]))
	}
	if cfg := os.Getenv(crashHelperEnv); cfg != "" {
		os.Exit(crashHelperMain(cfg))
	}
	os.Exit(m.Run())
}

package batch

import (
	"os"
	"testing"

	"github.com/nimbus-dev/nimbus/internal/sandbox/oci"
)

// TestMain lets the test binary serve as the oci driver's sandbox shim, as
// the nimbus binary does.
func TestMain(m *testing.M) {
	if len(os.Args) > 1 && os.Args[1] == oci.ShimCommand {
		os.Exit(oci.ShimMain(os.Args[2:]))
	}
	os.Exit(m.Run())
}

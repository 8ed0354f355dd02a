// Command nimbus-shim is the sandbox shim alone: the part of nimbus that
// holds one sandbox's output and exit status (internal/sandbox/oci). The
// full binary can act as the shim too (`nimbus __shim DIR`), but every
// sandbox start then pays for loading and initialising all of nimbus
// (about 30 ms here); this binary links only the shim and starts in a few.
// `make build` embeds it in nimbus, which installs it under its data
// directory and runs it instead of itself.
package main

import (
	"fmt"
	"os"

	"github.com/nimbus-dev/nimbus/internal/sandbox/oci"
)

func main() {
	if len(os.Args) < 2 || os.Args[1] != oci.ShimCommand {
		fmt.Fprintf(os.Stderr, "usage: nimbus-shim %s STATE_DIR (started by nimbus, not by people)\n", oci.ShimCommand)
		os.Exit(2)
	}
	os.Exit(oci.ShimMain(os.Args[2:]))
}

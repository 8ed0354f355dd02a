//go:build nimbus_embedshim

package oci

import _ "embed"

// The shim binary `make build` builds first (cmd/nimbus-shim).
//
//go:embed shimbin/nimbus-shim
var embeddedShimBinary []byte

func init() { embeddedShim = embeddedShimBinary }

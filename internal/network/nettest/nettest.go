// Package nettest helps tests outside package network that build real,
// test-private networks: it skips where the host cannot, and names bridges,
// subnets, nftables tables and ports so parallel tests never collide.
package nettest

import (
	"crypto/rand"
	"encoding/hex"
	"math/big"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/nimbus-dev/nimbus/internal/network"
)

// RequireHost skips t unless it runs as root with the named binaries on PATH
// and the CNI bridge, host-local and loopback plugins installed.
func RequireHost(t testing.TB, why string, bins ...string) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root: " + why)
	}
	for _, bin := range bins {
		if _, err := exec.LookPath(bin); err != nil {
			t.Skipf("needs %s on PATH (Debian: busybox-static, nftables, e2fsprogs, runc, util-linux)", bin)
		}
	}
	for _, plugin := range []string{"bridge", "host-local", "loopback"} {
		found := false
		for _, dir := range network.DefaultPluginDirs {
			if _, err := os.Stat(filepath.Join(dir, plugin)); err == nil {
				found = true
			}
		}
		if !found {
			t.Skipf("needs the CNI %s plugin in one of %v (apt-get install containernetworking-plugins)", plugin, network.DefaultPluginDirs)
		}
	}
}

// RandomHex is n random bytes in hex.
func RandomHex(t testing.TB, n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(b)
}

// RandomInt is a random number in [0, limit).
func RandomInt(t testing.TB, limit int64) int64 {
	v, err := rand.Int(rand.Reader, big.NewInt(limit))
	if err != nil {
		t.Fatal(err)
	}
	return v.Int64()
}

// Private returns options for one test-private network named prefix plus a
// random suffix, on a random /24 in 10.firstOctet.0.0 to
// 10.(firstOctet+span-1).255.0, so packages that test at the same time use
// disjoint ranges. StateDir and NetNSDir are left to the caller. The
// attachment pool is off (PoolSize NoPool): its spares hold a veth, a lease
// and a netns file with no sandbox, which leak checks that look at the
// bridge, the leases or the netns directory would count; a test of the pool
// sets PoolSize.
func Private(t testing.TB, prefix string, firstOctet, span int) network.Options {
	name := prefix + RandomHex(t, 3)
	subnet := netip.PrefixFrom(netip.AddrFrom4([4]byte{10, byte(int64(firstOctet) + RandomInt(t, int64(span))), byte(RandomInt(t, 256)), 0}), 24)
	return network.Options{
		TableName:    name,
		MetadataPort: int(20000 + RandomInt(t, 20000)),
		Networks:     []network.Network{{Name: name, Subnet: subnet}},
		PoolSize:     network.NoPool,
	}
}

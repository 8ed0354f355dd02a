package capability

import (
	"testing"

	"golang.org/x/sys/unix"
)

// TestEffectiveMatchesCapget checks the /proc reading against the
// kernel's own answer through capget(2), for every capability
// (both 32-bit words of the mask).
func TestEffectiveMatchesCapget(t *testing.T) {
	hdr := unix.CapUserHeader{Version: unix.LINUX_CAPABILITY_VERSION_3}
	var data [2]unix.CapUserData
	if err := unix.Capget(&hdr, &data[0]); err != nil {
		t.Fatalf("capget: %v", err)
	}
	for c := 0; c <= unix.CAP_LAST_CAP; c++ {
		want := data[c/32].Effective&(1<<uint(c%32)) != 0
		if got := Effective(c); got != want {
			t.Errorf("Effective(%d) = %v, capget says %v", c, got, want)
		}
	}
}

// Package capability answers which Linux capabilities this process holds.
// It is its own package so that hostcheck (the doctor report) and the oci
// driver can both ask without either importing the other.
package capability

import (
	"fmt"
	"os"
	"strings"
)

// Effective reports whether capability (a unix.CAP_* number) is in this
// process's effective set, as /proc/self/status shows it. An unreadable
// status counts as not holding it.
func Effective(capability int) bool {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return false
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "CapEff:"); ok {
			var mask uint64
			if _, err := fmt.Sscanf(strings.TrimSpace(v), "%x", &mask); err != nil {
				return false
			}
			return mask&(1<<uint(capability)) != 0
		}
	}
	return false
}

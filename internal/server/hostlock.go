package server

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"

	"github.com/nimbus-dev/nimbus/internal/config"
)

// hostNetworkLock is held by the one nimbus on a host that runs networked
// sandboxes. The sandbox network (the bridge, its gateway addresses, the
// metadata and Runtime API ports, the nftables table) is host-wide: a
// second nimbus would rebuild the table from its own state and wipe the
// first one's firewalls. So a second one refuses to start instead.
const hostNetworkLock = "/run/nimbus/network.lock"

// lockHostNetwork takes the host's network lock when this nimbus may run
// networked sandboxes (root, with the oci or auto driver). The lock lives
// as long as the returned file stays open.
func lockHostNetwork(cfg *config.Config) (*os.File, error) {
	if os.Geteuid() != 0 || (cfg.Driver != "auto" && cfg.Driver != "oci" && cfg.Driver != "") {
		return nil, nil
	}
	if err := os.MkdirAll(filepath.Dir(hostNetworkLock), 0o755); err != nil {
		return nil, fmt.Errorf("host network lock: %w", err)
	}
	f, err := os.OpenFile(hostNetworkLock, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, fmt.Errorf("host network lock: %w", err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		owner := make([]byte, 64)
		n, _ := f.ReadAt(owner, 0)
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			pid := strings.TrimSpace(string(owner[:n]))
			return nil, fmt.Errorf("another nimbus (pid %s) runs sandboxes with networking on this host; "+
				"its network and firewalls are host-wide: stop it first, or start this one with --driver process", pid)
		}
		return nil, fmt.Errorf("host network lock: %w", err)
	}
	f.Truncate(0)
	f.WriteAt([]byte(strconv.Itoa(os.Getpid())+"\n"), 0)
	return f, nil
}

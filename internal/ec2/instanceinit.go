package ec2

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/nimbus-dev/nimbus/internal/sandbox/fake"
)

// An instance's sandbox runs nimbus's init: a POSIX sh script (busybox sh
// is enough) that plays cloud-init's part. Its inputs are files the
// controller writes to the instance's boot directory, bind-mounted read-only
// at bootMount: the script itself stays the same for every instance, and
// user data never passes through an environment variable or argv.
//
// What it does, in order, printing to the console as it goes:
//   - installs authorized_keys for root and for the image's default user;
//   - writes /etc/hostname;
//   - where the image has /usr/sbin/sshd: makes the ed25519 and ECDSA host
//     keys (milliseconds), starts sshd, then in the background makes the
//     RSA key (ssh-keygen -A; up to a second or more) and prints the
//     fingerprints. sshd offers the RSA key from the next boot on; every
//     current client negotiates ed25519 or ECDSA first;
//   - runs the user data once per instance if it is a #! script, or the
//     script rendered from it if it is #cloud-config (cloudconfig.go), with
//     a semaphore under /var/lib/cloud/instances/<id>/sem in the persistent
//     root, so a stop and start or a reboot does not run it again;
//   - then waits; SIGTERM (the substrate's stop) ends it, and with it the
//     sandbox (tini is PID 1).
const bootMount = "/run/nimbus"

// Files in the boot directory.
const (
	bootFileInstanceID  = "instance-id"
	bootFileHostname    = "hostname"
	bootFileKeys        = "authorized_keys"
	bootFileDefaultUser = "default-user"
	bootFileUserData    = "user-data"
)

const initScript = `B=` + bootMount + `
ID=$(cat $B/instance-id)
up() { cut -d' ' -f1 /proc/uptime 2>/dev/null; }
now() { date -u '+%a, %d %b %Y %H:%M:%S +0000'; }
echo "Cloud-init v. nimbus running 'init' at $(now). Up $(up) seconds."
echo "nimbus-init: instance $ID booting"
if [ -s $B/hostname ]; then
	cat $B/hostname > /etc/hostname 2>/dev/null
fi
install_keys() {
	mkdir -p "$1/.ssh" && cp $B/authorized_keys "$1/.ssh/authorized_keys" &&
		chmod 700 "$1/.ssh" && chmod 600 "$1/.ssh/authorized_keys" &&
		{ [ -z "$2" ] || chown -R "$2" "$1/.ssh"; }
}
if [ -s $B/authorized_keys ]; then
	install_keys /root "" && echo "nimbus-init: authorized_keys installed for root"
	U=$(cat $B/default-user 2>/dev/null)
	if [ -n "$U" ]; then
		H=$(awk -F: -v u="$U" '$1 == u { print $6 }' /etc/passwd 2>/dev/null)
		[ -n "$H" ] && install_keys "$H" "$U" && echo "nimbus-init: authorized_keys installed for $U"
	fi
fi
if [ -x /usr/sbin/sshd ]; then
	mkdir -p /run/sshd && chmod 0755 /run/sshd
	if command -v ssh-keygen >/dev/null 2>&1; then
		for t in ed25519 ecdsa; do
			[ -f /etc/ssh/ssh_host_${t}_key ] || ssh-keygen -q -t $t -N '' -f /etc/ssh/ssh_host_${t}_key >/dev/null 2>&1
		done
	fi
	if /usr/sbin/sshd; then echo "nimbus-init: sshd started"; else echo "nimbus-init: sshd failed to start"; fi
	{
		command -v ssh-keygen >/dev/null 2>&1 && ssh-keygen -A >/dev/null 2>&1
		echo "-----BEGIN SSH HOST KEY FINGERPRINTS-----"
		for k in /etc/ssh/ssh_host_*_key.pub; do [ -f "$k" ] && ssh-keygen -lf "$k"; done
		echo "-----END SSH HOST KEY FINGERPRINTS-----"
	} &
fi
echo "Cloud-init v. nimbus running 'modules:final' at $(now). Up $(up) seconds."
D=/var/lib/cloud/instances/$ID
if [ -s $B/user-data ] && [ ! -e $D/sem/config_scripts_user ]; then
	mkdir -p $D/sem $D/scripts
	: > $D/sem/config_scripts_user
	if [ "$(head -c 2 $B/user-data)" = "#!" ]; then
		cp $B/user-data $D/scripts/part-001 && chmod 700 $D/scripts/part-001
		$D/scripts/part-001
		rc=$?
		[ $rc -eq 0 ] || echo "nimbus-init: user data script exited with status $rc"
	elif [ -s $B/cloud-config.sh ]; then
		B=$B sh $B/cloud-config.sh
	else
		echo "nimbus-init: user data is neither a #! script nor #cloud-config; skipped"
	fi
fi
echo "Cloud-init v. nimbus finished at $(now). Datasource DataSourceEc2.  Up $(up) seconds"
trap 'exit 0' TERM INT
while :; do sleep 3600 & wait $!; done
`

// bootConfig is what an instance's init reads.
type bootConfig struct {
	InstanceID     string
	Hostname       string
	AuthorizedKeys string
	DefaultUser    string
	UserData       []byte
}

// writeBootDir writes cfg's files into dir (replacing what a previous boot
// left), for the bind mount at bootMount.
func writeBootDir(dir string, cfg bootConfig) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("boot directory: %w", err)
	}
	files := map[string][]byte{
		bootFileInstanceID:  []byte(cfg.InstanceID + "\n"),
		bootFileHostname:    []byte(cfg.Hostname + "\n"),
		bootFileKeys:        nil,
		bootFileDefaultUser: []byte(cfg.DefaultUser),
		bootFileUserData:    cfg.UserData,
	}
	if cfg.AuthorizedKeys != "" {
		files[bootFileKeys] = []byte(strings.TrimRight(cfg.AuthorizedKeys, "\n") + "\n")
	}
	files[bootFileCloudConfig] = nil
	if isCloudConfig(cfg.UserData) {
		rendered := renderCloudConfig(cfg.UserData, cfg.DefaultUser)
		files[bootFileCloudConfig] = rendered.Script
		for name, data := range rendered.Files {
			files[name] = data
		}
	}
	// write_files data of an earlier boot's user data goes.
	old, err := filepath.Glob(filepath.Join(dir, bootFileWriteFilePrefix+"*"))
	if err != nil {
		return fmt.Errorf("boot directory: %w", err)
	}
	for _, f := range old {
		if _, keep := files[filepath.Base(f)]; !keep {
			if err := os.Remove(f); err != nil {
				return fmt.Errorf("boot directory: %w", err)
			}
		}
	}
	for name, data := range files {
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o600); err != nil {
			return fmt.Errorf("boot file %s: %w", name, err)
		}
	}
	return nil
}

// initCommand is the sandbox command of an instance. The fake driver runs
// nothing, so there it is a scripted sandbox that prints init's first lines
// and runs until stopped.
func initCommand(driver string, cfg bootConfig) []string {
	if driver == fake.DriverName {
		lines := []string{
			"Cloud-init v. nimbus running 'init' at " + time.Now().UTC().Format("Mon, 02 Jan 2006 15:04:05 +0000") + ". Up 0.00 seconds.",
			"nimbus-init: instance " + cfg.InstanceID + " booting",
		}
		if len(cfg.UserData) > 0 {
			lines = append(lines, "nimbus-init: fake driver: user data is not run")
		}
		return fake.Command(fake.Behavior{Duration: fake.Forever, Stdout: lines})
	}
	return []string{"/bin/sh", "-c", initScript}
}

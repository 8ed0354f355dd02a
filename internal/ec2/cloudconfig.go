package ec2

import (
	"bytes"
	"compress/gzip"
	"encoding/base64"
	"fmt"
	"io"
	"path"
	"slices"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

// User data beginning "#cloud-config" is cloud-init's YAML. nimbus reads
// the common keys here, at launch, and renders them into a POSIX sh script
// (plus one data file per write_files entry) in the boot directory, which
// the init script runs once per instance as it runs #! user data. What is
// rendered, in cloud-init's order:
//   - users: "default" (the image's default user) or a map with name,
//     gecos, shell, groups, sudo, homedir, lock_passwd and
//     ssh_authorized_keys; created with useradd, or busybox adduser;
//   - ssh_authorized_keys: added for the default user (root on images
//     without one);
//   - write_files: path, content, encoding (text, b64/base64, gzip/gz,
//     gz+b64/gzip+base64), permissions, owner, append;
//   - packages (with package_update/package_upgrade): installed with
//     apt-get or apk where the image has one and it works; otherwise the
//     console says they were skipped;
//   - runcmd: each entry a shell string or an argv list.
// Other keys are reported on the console as not supported. A document
// that does not parse renders a script that prints why.

// cloudConfigHeader starts cloud-config user data.
const cloudConfigHeader = "#cloud-config"

// Files in the boot directory for cloud-config.
const (
	bootFileCloudConfig     = "cloud-config.sh"
	bootFileWriteFilePrefix = "cloud-config-file-"
)

// isCloudConfig reports whether user data is a cloud-config document.
func isCloudConfig(userData []byte) bool {
	return bytes.HasPrefix(bytes.TrimLeft(userData, "\ufeff"), []byte(cloudConfigHeader))
}

type cloudConfig struct {
	Users             []cloudUser      `yaml:"users"`
	SSHAuthorizedKeys []string         `yaml:"ssh_authorized_keys"`
	WriteFiles        []cloudWriteFile `yaml:"write_files"`
	Packages          []cloudPackage   `yaml:"packages"`
	PackageUpdate     bool             `yaml:"package_update"`
	PackageUpgrade    bool             `yaml:"package_upgrade"`
	RunCmd            []cloudCommand   `yaml:"runcmd"`
}

// cloudUser is a users entry: the string "default" or a user's map.
type cloudUser struct {
	Default           bool
	Name              string       `yaml:"name"`
	Gecos             string       `yaml:"gecos"`
	Shell             string       `yaml:"shell"`
	Homedir           string       `yaml:"homedir"`
	Groups            stringsOrCSV `yaml:"groups"`
	Sudo              stringsOrCSV `yaml:"sudo"`
	LockPasswd        *bool        `yaml:"lock_passwd"`
	SSHAuthorizedKeys []string     `yaml:"ssh_authorized_keys"`
}

func (u *cloudUser) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind == yaml.ScalarNode {
		if n.Value != "default" {
			return fmt.Errorf("line %d: a users entry that is a string must be \"default\", got %q", n.Line, n.Value)
		}
		u.Default = true
		return nil
	}
	type plain cloudUser
	return n.Decode((*plain)(u))
}

// stringsOrCSV is a list given as a YAML list or a comma-separated string
// (groups), or a single string (a sudo rule).
type stringsOrCSV []string

func (s *stringsOrCSV) UnmarshalYAML(n *yaml.Node) error {
	switch n.Kind {
	case yaml.ScalarNode:
		if n.Tag == "!!bool" {
			return nil // sudo: false
		}
		for _, part := range strings.Split(n.Value, ",") {
			if p := strings.TrimSpace(part); p != "" {
				*s = append(*s, p)
			}
		}
		return nil
	case yaml.SequenceNode:
		var list []string
		if err := n.Decode(&list); err != nil {
			return err
		}
		*s = list
		return nil
	}
	return fmt.Errorf("line %d: want a string or a list of strings", n.Line)
}

type cloudWriteFile struct {
	Path        string `yaml:"path"`
	Content     string `yaml:"content"`
	Encoding    string `yaml:"encoding"`
	Permissions string `yaml:"permissions"`
	Owner       string `yaml:"owner"`
	Append      bool   `yaml:"append"`
}

// cloudPackage is a packages entry: a name or [name, version].
type cloudPackage struct {
	Name, Version string
}

func (p *cloudPackage) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind == yaml.ScalarNode {
		p.Name = n.Value
		return nil
	}
	var pair []string
	if err := n.Decode(&pair); err != nil || len(pair) == 0 || len(pair) > 2 {
		return fmt.Errorf("line %d: a packages entry is a name or [name, version]", n.Line)
	}
	p.Name = pair[0]
	if len(pair) == 2 {
		p.Version = pair[1]
	}
	return nil
}

// cloudCommand is a runcmd entry: a shell string or an argv list.
type cloudCommand struct {
	Shell string
	Argv  []string
}

func (c *cloudCommand) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind == yaml.ScalarNode {
		c.Shell = n.Value
		return nil
	}
	return n.Decode(&c.Argv)
}

// renderedCloudConfig is the script and write_files data for the boot
// directory.
type renderedCloudConfig struct {
	Script []byte
	Files  map[string][]byte // boot-directory file name → content
}

// renderCloudConfig turns cloud-config user data into the init's script;
// defaultUser is the image's default user ("" for root only).
func renderCloudConfig(userData []byte, defaultUser string) renderedCloudConfig {
	out := renderedCloudConfig{Files: map[string][]byte{}}
	var cfg cloudConfig
	var unknown []string
	err := yaml.Unmarshal(userData, &cfg)
	if err == nil {
		var keys map[string]yaml.Node
		if yaml.Unmarshal(userData, &keys) == nil {
			for k := range keys {
				switch k {
				case "users", "ssh_authorized_keys", "write_files", "packages", "package_update", "package_upgrade", "runcmd":
				default:
					unknown = append(unknown, k)
				}
			}
		}
	}
	var b strings.Builder
	say := func(format string, args ...any) {
		fmt.Fprintf(&b, "echo %s\n", shellQuote("nimbus-init: cloud-config: "+fmt.Sprintf(format, args...)))
	}
	if err != nil {
		say("cannot parse the user data: %v", err)
		out.Script = []byte(b.String())
		return out
	}
	if len(unknown) > 0 {
		slices.Sort(unknown)
		say("not supported, skipped: %s", strings.Join(unknown, ", "))
	}
	b.WriteString(cloudConfigHelpers)
	for _, u := range cfg.Users {
		if u.Default {
			continue // the image's default user exists already
		}
		if u.Name == "" {
			say("a users entry has no name; skipped")
			continue
		}
		fmt.Fprintf(&b, "cc_user %s %s %s %s %s\n", shellQuote(u.Name), shellQuote(u.Shell), shellQuote(u.Homedir),
			shellQuote(u.Gecos), shellQuote(strings.Join(u.Groups, ",")))
		for _, rule := range u.Sudo {
			fmt.Fprintf(&b, "cc_sudo %s %s\n", shellQuote(u.Name), shellQuote(rule))
		}
		for _, k := range u.SSHAuthorizedKeys {
			fmt.Fprintf(&b, "cc_key %s %s\n", shellQuote(u.Name), shellQuote(k))
		}
	}
	keyUser := defaultUser
	if keyUser == "" {
		keyUser = "root"
	}
	for _, k := range cfg.SSHAuthorizedKeys {
		fmt.Fprintf(&b, "cc_key %s %s\n", shellQuote(keyUser), shellQuote(k))
	}
	for i, f := range cfg.WriteFiles {
		if f.Path == "" || !path.IsAbs(f.Path) {
			say("write_files entry %d has no absolute path; skipped", i+1)
			continue
		}
		content, err := decodeWriteFile(f)
		if err != nil {
			say("write_files %s: %v; skipped", f.Path, err)
			continue
		}
		perms := f.Permissions
		if perms == "" {
			perms = "0644"
		}
		if _, err := strconv.ParseUint(perms, 8, 32); err != nil {
			say("write_files %s: permissions %q are not octal; skipped", f.Path, perms)
			continue
		}
		owner := f.Owner
		if owner == "" {
			owner = "root:root"
		}
		name := bootFileWriteFilePrefix + strconv.Itoa(i)
		out.Files[name] = content
		op := "cc_write"
		if f.Append {
			op = "cc_append"
		}
		fmt.Fprintf(&b, "%s %s %s %s %s\n", op, shellQuote(name), shellQuote(f.Path), shellQuote(perms), shellQuote(owner))
	}
	if len(cfg.Packages) > 0 || cfg.PackageUpdate || cfg.PackageUpgrade {
		var pkgs []string
		for _, p := range cfg.Packages {
			if p.Version != "" {
				pkgs = append(pkgs, shellQuote(p.Name+"="+p.Version))
			} else {
				pkgs = append(pkgs, shellQuote(p.Name))
			}
		}
		fmt.Fprintf(&b, "cc_packages %d %d %s\n", boolDigit(cfg.PackageUpdate), boolDigit(cfg.PackageUpgrade), strings.Join(pkgs, " "))
	}
	for _, c := range cfg.RunCmd {
		if c.Argv != nil {
			quoted := make([]string, len(c.Argv))
			for i, a := range c.Argv {
				quoted[i] = shellQuote(a)
			}
			fmt.Fprintf(&b, "cc_run %s\n", shellQuote(strings.Join(quoted, " ")))
		} else if c.Shell != "" {
			fmt.Fprintf(&b, "cc_run %s\n", shellQuote(c.Shell))
		}
	}
	out.Script = []byte(b.String())
	return out
}

// cloudConfigHelpers are the script's shell functions; $B is the boot
// directory (set by the init script).
const cloudConfigHelpers = `cc_say() { echo "nimbus-init: cloud-config: $*"; }
# cc_has and cc_bb find an applet as a command or inside busybox, whose
# images often lack the links.
cc_has() { command -v "$1" >/dev/null 2>&1 || busybox "$1" --help >/dev/null 2>&1; }
cc_bb() { if command -v "$1" >/dev/null 2>&1; then "$@"; else busybox "$@"; fi; }
cc_home() { awk -F: -v u="$1" '$1 == u { print $6 }' /etc/passwd 2>/dev/null; }
cc_user() {
	if ! grep -q "^$1:" /etc/passwd 2>/dev/null; then
		sh=${2:-/bin/sh}
		if command -v useradd >/dev/null 2>&1; then
			useradd -m -s "$sh" ${3:+-d "$3"} ${4:+-c "$4"} "$1" && cc_say "user $1 created"
		elif cc_has adduser; then
			cc_bb adduser -D -s "$sh" ${3:+-h "$3"} ${4:+-g "$4"} "$1" && cc_say "user $1 created"
		else
			# No tool at all (Debian's busybox has no adduser applet): the
			# entries themselves, with the next free ID from 1000.
			id=$(awk -F: 'BEGIN { n = 1000 } $3 >= n && $3 < 60000 { n = $3 + 1 } END { print n }' /etc/passwd /etc/group 2>/dev/null)
			home=${3:-/home/$1}
			echo "$1:x:$id:$id:$4:$home:$sh" >> /etc/passwd && echo "$1:x:$id:" >> /etc/group &&
				{ [ ! -f /etc/shadow ] || echo "$1:!:0:0:99999:7:::" >> /etc/shadow; } &&
				mkdir -p "$home" && chown "$id:$id" "$home" && cc_say "user $1 created"
		fi
	fi
	if [ -n "$5" ]; then
		old_ifs=$IFS; IFS=,
		for g in $5; do
			grep -q "^$g:" /etc/group 2>/dev/null || { command -v groupadd >/dev/null 2>&1 && groupadd "$g" || cc_bb addgroup "$g"; } >/dev/null 2>&1
			{ command -v usermod >/dev/null 2>&1 && usermod -aG "$g" "$1" || cc_bb addgroup "$1" "$g"; } >/dev/null 2>&1
		done
		IFS=$old_ifs
	fi
}
cc_sudo() {
	[ -d /etc/sudoers.d ] || { cc_say "no /etc/sudoers.d: sudo rule for $1 skipped"; return; }
	echo "$1 $2" >> /etc/sudoers.d/90-cloud-init-users && chmod 0440 /etc/sudoers.d/90-cloud-init-users
}
cc_key() {
	h=$(cc_home "$1")
	[ -n "$h" ] || { cc_say "no user $1: key skipped"; return; }
	mkdir -p "$h/.ssh" && chmod 700 "$h/.ssh" && echo "$2" >> "$h/.ssh/authorized_keys" &&
		chmod 600 "$h/.ssh/authorized_keys" && chown -R "$1" "$h/.ssh" 2>/dev/null
	cc_say "authorized key added for $1"
}
cc_write() {
	mkdir -p "$(dirname "$2")" && cp "$B/$1" "$2" && chmod "$3" "$2" && { chown "$4" "$2" 2>/dev/null || true; } &&
		cc_say "wrote $2"
}
cc_append() {
	mkdir -p "$(dirname "$2")" && cat "$B/$1" >> "$2" && chmod "$3" "$2" && { chown "$4" "$2" 2>/dev/null || true; } &&
		cc_say "appended to $2"
}
cc_packages() {
	up=$1 upgrade=$2; shift 2
	if command -v apt-get >/dev/null 2>&1; then
		export DEBIAN_FRONTEND=noninteractive
		if [ "$up" = 1 ] || [ "$upgrade" = 1 ] || [ $# -gt 0 ]; then
			apt-get update -q || cc_say "apt-get update failed"
		fi
		if [ "$upgrade" = 1 ]; then
			apt-get upgrade -y -q || cc_say "apt-get upgrade failed"
		fi
		if [ $# -gt 0 ]; then
			if apt-get install -y -q "$@"; then cc_say "packages installed: $*"; else cc_say "apt-get install failed: $*"; fi
		fi
	elif command -v apk >/dev/null 2>&1; then
		if [ $# -gt 0 ]; then
			if apk add "$@"; then cc_say "packages installed: $*"; else cc_say "apk add failed: $*"; fi
		fi
	else
		cc_say "the image has no package manager: packages skipped: $*"
	fi
}
cc_run() {
	sh -c "$1"
	rc=$?
	[ $rc -eq 0 ] || cc_say "runcmd exited with status $rc: $1"
}
`

func decodeWriteFile(f cloudWriteFile) ([]byte, error) {
	data := []byte(f.Content)
	switch strings.ToLower(f.Encoding) {
	case "", "text/plain":
		return data, nil
	case "b64", "base64":
		return base64.StdEncoding.DecodeString(strings.TrimSpace(f.Content))
	case "gz", "gzip":
		return gunzip(data)
	case "gz+b64", "gzip+base64", "gz+base64", "gzip+b64":
		raw, err := base64.StdEncoding.DecodeString(strings.TrimSpace(f.Content))
		if err != nil {
			return nil, err
		}
		return gunzip(raw)
	}
	return nil, fmt.Errorf("encoding %q is not supported", f.Encoding)
}

func gunzip(data []byte) ([]byte, error) {
	r, err := gzip.NewReader(bytes.NewReader(data))
	if err != nil {
		return nil, err
	}
	defer r.Close()
	return io.ReadAll(io.LimitReader(r, 4*maxUserData))
}

// shellQuote quotes s for sh: single quotes, with each ' written as '\”.
func shellQuote(s string) string {
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

func boolDigit(b bool) int {
	if b {
		return 1
	}
	return 0
}

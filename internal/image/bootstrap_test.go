package image

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestBootstrapDebian runs a real debootstrap (a minute or two, a few
// hundred MB from the host's mirror), so only when NIMBUS_TEST_BOOTSTRAP=1.
func TestBootstrapDebian(t *testing.T) {
	if os.Getenv("NIMBUS_TEST_BOOTSTRAP") != "1" {
		t.Skip("set NIMBUS_TEST_BOOTSTRAP=1 to run a real debootstrap")
	}
	if _, err := exec.LookPath("debootstrap"); err != nil {
		t.Skip("needs Debian's debootstrap package")
	}
	if os.Geteuid() != 0 {
		t.Skip("debootstrap needs root")
	}
	data := os.Getenv("NIMBUS_TEST_BOOTSTRAP_DIR") // to keep the result for a look
	if data == "" {
		data = t.TempDir()
	}
	s, err := Open(data)
	if err != nil {
		t.Fatal(err)
	}
	var log bytes.Buffer
	started := time.Now()
	img, err := s.Bootstrap(context.Background(), "debian-12", NewProgress(&log))
	t.Logf("progress:\n%s", log.String())
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("bootstrap took %s: root %s, stored %s, digest %s", time.Since(started).Round(time.Second), humanBytes(img.RootSize), humanBytes(img.Size), img.Digest)
	osRelease, err := os.ReadFile(filepath.Join(img.RootDir, "etc/os-release"))
	if err != nil || !strings.Contains(string(osRelease), `VERSION_ID="12"`) {
		t.Errorf("etc/os-release: %v\n%s", err, osRelease)
	}
	for _, p := range []string{"usr/sbin/sshd", "usr/bin/sudo", "usr/bin/python3", "sbin/ip", "bin/ps", "etc/ssl/certs/ca-certificates.crt"} {
		if _, err := os.Stat(filepath.Join(img.RootDir, p)); err != nil {
			t.Errorf("%s missing: %v", p, err)
		}
	}
	passwd, err := os.ReadFile(filepath.Join(img.RootDir, "etc/passwd"))
	if err != nil || !strings.Contains(string(passwd), "\nadmin:x:") || !strings.Contains(string(passwd), ":/home/admin:/bin/bash\n") {
		t.Errorf("no admin login user in etc/passwd: %v\n%s", err, passwd)
	}
	if rule, err := os.ReadFile(filepath.Join(img.RootDir, "etc/sudoers.d/90-cloud-init-users")); err != nil || string(rule) != "admin ALL=(ALL) NOPASSWD:ALL\n" {
		t.Errorf("admin's sudo rule = %q, %v", rule, err)
	}
	if keys, _ := filepath.Glob(filepath.Join(img.RootDir, "etc/ssh/ssh_host_*")); len(keys) != 0 {
		t.Errorf("ssh host keys baked into the image: %v", keys)
	}
	if img.Names[0] != "debian-12:latest" || img.Layers != 1 {
		t.Errorf("names %v layers %d", img.Names, img.Layers)
	}
}

func TestBootstrapWithoutDebootstrapNamesPackage(t *testing.T) {
	if _, err := exec.LookPath("debootstrap"); err == nil {
		t.Setenv("PATH", t.TempDir()) // hide it
	}
	_, err := openTestStore(t).Bootstrap(context.Background(), "debian-12", nil)
	if err == nil || !strings.Contains(err.Error(), "apt-get install debootstrap") {
		t.Fatalf("err = %v, want one naming the debootstrap package", err)
	}
}

// fakeDebootstrap stands in for debootstrap: it records its arguments and
// makes a small root with the litter the real one leaves.
const fakeDebootstrap = `#!/bin/sh
echo "$@" > "$ARGS_FILE"
target=$4
echo "I: Retrieving InRelease"
echo "I: Retrieving base-files 12"
echo "I: Validating base-files 12"
echo "I: Retrieving bash 5"
mkdir -p "$target/etc/ssh" "$target/var/cache/apt/archives" "$target/usr/bin" "$target/var/lib/apt/lists/partial"
echo 'VERSION_ID="12"' > "$target/etc/os-release"
echo key > "$target/etc/ssh/ssh_host_ed25519_key"
echo sshd > "$target/etc/ssh/sshd_config"
echo deb > "$target/var/cache/apt/archives/bash_5_amd64.deb"
echo list > "$target/var/lib/apt/lists/deb.debian.org_debian_dists_bookworm_InRelease"
echo '#!/bin/sh' > "$target/usr/bin/sh"
chmod 755 "$target/usr/bin/sh"
ln -s usr/bin "$target/bin"
echo machine > "$target/etc/machine-id"
printf 'root:x:0:0:root:/root:/bin/bash\nnobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n' > "$target/etc/passwd"
printf 'root:*:19000:0:99999:7:::\n' > "$target/etc/shadow"
printf 'root:x:0:\nadm:x:4:\nsudo:x:27:\n' > "$target/etc/group"
printf 'root:*::\nadm:*::\nsudo:*::\n' > "$target/etc/gshadow"
mkdir -p "$target/etc/skel" && echo 'alias ll="ls -l"' > "$target/etc/skel/.bashrc"
echo "I: Base system installed successfully."
`

func TestBootstrapPipelineWithFakeDebootstrap(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("Bootstrap requires root")
	}
	bin := t.TempDir()
	if err := os.WriteFile(filepath.Join(bin, "debootstrap"), []byte(fakeDebootstrap), 0o755); err != nil {
		t.Fatal(err)
	}
	argsFile := filepath.Join(t.TempDir(), "args")
	t.Setenv("ARGS_FILE", argsFile)
	t.Setenv("PATH", bin+":"+os.Getenv("PATH"))

	s, err := Open(t.TempDir(), WithDebianMirror("http://mirror.example/debian"))
	if err != nil {
		t.Fatal(err)
	}
	var log bytes.Buffer
	img, err := s.Bootstrap(context.Background(), "debian-12", NewProgress(&log))
	if err != nil {
		t.Fatalf("%v\n%s", err, log.String())
	}
	args, _ := os.ReadFile(argsFile)
	want := "--variant=minbase --include=openssh-server,sudo,python3,ca-certificates,iproute2,procps bookworm "
	if !strings.HasPrefix(string(args), want) || !strings.HasSuffix(strings.TrimSpace(string(args)), " http://mirror.example/debian") {
		t.Errorf("debootstrap args = %q", args)
	}
	if strings.Count(log.String(), "I: Retrieving") != 1 || !strings.Contains(log.String(), "I: Validating") {
		t.Errorf("phases not reported once each:\n%s", log.String())
	}
	root := img.RootDir
	if data, err := os.ReadFile(filepath.Join(root, "etc/os-release")); err != nil || !strings.Contains(string(data), "12") {
		t.Errorf("os-release: %q %v", data, err)
	}
	if data, err := os.ReadFile(filepath.Join(root, "bin/sh")); err != nil || !strings.HasPrefix(string(data), "#!") {
		t.Errorf("bin/sh through the bin -> usr/bin link: %v", err)
	}
	for _, gone := range []string{"etc/ssh/ssh_host_ed25519_key", "var/cache/apt/archives/bash_5_amd64.deb", "var/lib/apt/lists/deb.debian.org_debian_dists_bookworm_InRelease"} {
		if _, err := os.Stat(filepath.Join(root, gone)); err == nil {
			t.Errorf("%s was not tidied away", gone)
		}
	}
	// The login user of AWS's Debian AMIs.
	files := map[string]string{}
	for _, f := range []string{"etc/passwd", "etc/shadow", "etc/group", "etc/gshadow", "etc/sudoers.d/90-cloud-init-users", "home/admin/.bashrc"} {
		data, err := os.ReadFile(filepath.Join(root, f))
		if err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		files[f] = string(data)
	}
	for f, want := range map[string]string{
		"etc/passwd":                        "\nadmin:x:1000:1000:Debian:/home/admin:/bin/bash\n",
		"etc/group":                         "adm:x:4:admin\nsudo:x:27:admin\nadmin:x:1000:\n",
		"etc/gshadow":                       "adm:*::admin\nsudo:*::admin\nadmin:!::\n",
		"etc/sudoers.d/90-cloud-init-users": "admin ALL=(ALL) NOPASSWD:ALL\n",
		"home/admin/.bashrc":                `alias ll="ls -l"` + "\n",
	} {
		if !strings.Contains(files[f], want) {
			t.Errorf("%s = %q, want it to hold %q", f, files[f], want)
		}
	}
	if !strings.Contains(files["etc/shadow"], "\nadmin:!:") {
		t.Errorf("etc/shadow = %q; want admin with a locked password", files["etc/shadow"])
	}
	if fi, err := os.Stat(filepath.Join(root, "home/admin")); err != nil || fi.Mode().Perm() != 0o700 || fi.Sys().(*syscall.Stat_t).Uid != 1000 {
		t.Errorf("home/admin: %v, %v", fi, err)
	}
	if _, err := os.Stat(filepath.Join(root, "var/lib/apt/lists/partial")); err != nil {
		t.Errorf("apt's partial dir should stay: %v", err)
	}
	if data, _ := os.ReadFile(filepath.Join(root, "etc/machine-id")); len(data) != 0 {
		t.Errorf("machine-id = %q, want empty so each instance gets its own", data)
	}
	if img.Names[0] != "debian-12:latest" || img.Layers != 1 || img.Config.Labels["dev.nimbus.image.mirror"] != "http://mirror.example/debian" {
		t.Errorf("image = %+v", img)
	}
	if got := dirEntries(t, s.tmpDir()); len(got) != 0 {
		t.Errorf("bootstrap left work behind: %v", got)
	}
}

func TestBootstrapReportsDebootstrapFailure(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("Bootstrap requires root")
	}
	bin := t.TempDir()
	script := "#!/bin/sh\necho 'I: Retrieving InRelease'\necho 'E: Failed getting release file http://mirror.example/debian/dists/bookworm/InRelease'\nexit 1\n"
	if err := os.WriteFile(filepath.Join(bin, "debootstrap"), []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Setenv("PATH", bin+":"+os.Getenv("PATH"))
	s, err := Open(t.TempDir(), WithDebianMirror("http://mirror.example/debian"))
	if err != nil {
		t.Fatal(err)
	}
	_, err = s.Bootstrap(context.Background(), "debian-12", nil)
	if err == nil || !strings.Contains(err.Error(), "Failed getting release file") {
		t.Fatalf("err = %v, want debootstrap's own message", err)
	}
	if got := dirEntries(t, s.tmpDir()); len(got) != 0 {
		t.Errorf("failed bootstrap left work behind: %v", got)
	}
}

func TestBootstrapDistrosListsDebian(t *testing.T) {
	if got := BootstrapDistros(); len(got) != 1 || got[0] != "debian-12" {
		t.Errorf("BootstrapDistros() = %q, want [debian-12]", got)
	}
}

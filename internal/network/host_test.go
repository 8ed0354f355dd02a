package network

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"math/big"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// Helpers for tests that change the host: each test gets its own bridge,
// subnet, nftables table and state directory, and tears all of it down in
// t.Cleanup, so parallel runs never collide and a failure leaks nothing.

func requireHost(t testing.TB) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root: creates network namespaces, bridges and nftables rules")
	}
	for _, bin := range []string{"nsenter", "busybox", "nft"} {
		if _, err := exec.LookPath(bin); err != nil {
			t.Skipf("needs %s on PATH (busybox: apt-get install busybox-static)", bin)
		}
	}
	for _, plugin := range []string{"bridge", "host-local", "loopback"} {
		found := false
		for _, dir := range DefaultPluginDirs {
			if _, err := os.Stat(filepath.Join(dir, plugin)); err == nil {
				found = true
			}
		}
		if !found {
			t.Skipf("needs the CNI %s plugin in one of %v (apt-get install containernetworking-plugins)", plugin, DefaultPluginDirs)
		}
	}
}

func randomHex(t testing.TB, n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(b)
}

func randomInt(t testing.TB, max int64) int64 {
	v, err := rand.Int(rand.Reader, big.NewInt(max))
	if err != nil {
		t.Fatal(err)
	}
	return v.Int64()
}

// testOptions are options for a fresh, test-private setup.
func testOptions(t testing.TB) Options {
	suffix := randomHex(t, 3)
	name := "nbt" + suffix
	subnet := netip.PrefixFrom(netip.AddrFrom4([4]byte{10, byte(230 + randomInt(t, 20)), byte(randomInt(t, 256)), 0}), 24)
	// A private namespace directory, so a test can check that Teardown
	// unmounts it while other tests run in parallel. Should a test end
	// before a manager's Teardown (a child manager that failed), the mount
	// still goes before TempDir's removal; this runs after the leak check.
	netnsDir := filepath.Join(t.TempDir(), "netns")
	t.Cleanup(func() { releaseSharedDir(netnsDir) })
	return Options{
		StateDir:     t.TempDir(),
		NetNSDir:     netnsDir,
		TableName:    name,
		MetadataPort: int(20000 + randomInt(t, 20000)),
		Networks:     []Network{{Name: name, Subnet: subnet}},
	}
}

func newTestManager(t testing.TB, opts Options) *Manager {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	m, err := NewManager(ctx, opts)
	if err != nil {
		t.Fatalf("NewManager: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if err := m.Teardown(ctx); err != nil {
			t.Errorf("teardown: %v", err)
		}
		if isMountPoint(t, m.opts.NetNSDir) {
			t.Errorf("teardown left netns dir %s mounted", m.opts.NetNSDir)
		}
	})
	return m
}

// isMountPoint reports whether something is mounted at path, by
// /proc/self/mountinfo, whose fifth field is the mount point with spaces,
// tabs, newlines and backslashes written as octal escapes.
func isMountPoint(t testing.TB, path string) bool {
	t.Helper()
	b, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		t.Fatal(err)
	}
	unescape := strings.NewReplacer(`\040`, " ", `\011`, "\t", `\012`, "\n", `\134`, `\`)
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(line)
		if len(f) > 4 && unescape.Replace(f[4]) == path {
			return true
		}
	}
	return false
}

func testNetwork(t testing.TB, m *Manager) Network {
	n, err := m.Network(m.opts.Networks[0].Name)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// inNetNS runs busybox applet args inside the namespace at path.
func inNetNS(ctx context.Context, path string, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, "nsenter", append([]string{"--net=" + path, "busybox"}, args...)...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		return string(out), fmt.Errorf("%s in %s: %w: %s", strings.Join(args, " "), path, err, out)
	}
	return string(out), nil
}

func onHost(ctx context.Context, name string, args ...string) (string, error) {
	out, err := exec.CommandContext(ctx, name, args...).CombinedOutput()
	if err != nil {
		return string(out), fmt.Errorf("%s %s: %w: %s", name, strings.Join(args, " "), err, out)
	}
	return string(out), nil
}

// startHTTPD serves a file naming the sandbox on port 8080 inside it.
func startHTTPD(t *testing.T, netns, id string) {
	t.Helper()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "index.html"), []byte("hello from "+id+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("nsenter", "--net="+netns, "busybox", "httpd", "-f", "-p", "8080", "-h", dir)
	if err := cmd.Start(); err != nil {
		t.Fatalf("start httpd in %s: %v", id, err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
	})
}

// fetch GETs http://addr:8080/ from inside netns ("" = from the host),
// giving up after a second. (busybox 1.35's wget -T crashes, hence the
// context timeout.)
func fetch(ctx context.Context, netns string, addr string) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, time.Second)
	defer cancel()
	args := []string{"wget", "-q", "-O", "-", "http://" + addr + ":8080/"}
	if netns == "" {
		return onHost(ctx, "busybox", args...)
	}
	return inNetNS(ctx, netns, args...)
}

// eventually retries f until it succeeds or the deadline passes.
func eventually(t *testing.T, within time.Duration, what string, f func() error) {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		err := f()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: still failing after %s: %v", what, within, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// assertNothingLeft checks the host for every trace of an attachment.
func assertNothingLeft(t *testing.T, m *Manager, a Attachment) {
	t.Helper()
	ctx := context.Background()
	if _, err := os.Stat(a.NetNSPath); !os.IsNotExist(err) {
		t.Errorf("netns file %s still exists (stat err %v)", a.NetNSPath, err)
	}
	mounts, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(mounts), a.NetNSPath+" ") {
		t.Errorf("netns %s is still mounted", a.NetNSPath)
	}
	if a.HostVeth != "" {
		if _, err := os.Stat("/sys/class/net/" + a.HostVeth); !os.IsNotExist(err) {
			t.Errorf("host veth %s still exists", a.HostVeth)
		}
	}
	if a.IP.IsValid() {
		lease := filepath.Join(m.opts.StateDir, "ipam", a.Network, a.IP.String())
		if _, err := os.Stat(lease); !os.IsNotExist(err) {
			t.Errorf("lease %s still exists", lease)
		}
	}
	for _, family := range []string{"inet", "bridge"} {
		out, err := onHost(ctx, "nft", "list", "table", family, m.opts.TableName)
		if err != nil {
			t.Errorf("list nftables table %s %s: %v", family, m.opts.TableName, err)
			continue
		}
		if strings.Contains(out, a.SandboxID) || (a.HostVeth != "" && strings.Contains(out, a.HostVeth)) {
			t.Errorf("nftables table %s %s still mentions %s:\n%s", family, m.opts.TableName, a.SandboxID, out)
		}
	}
	if out, err := onHost(ctx, "iptables", "-t", "nat", "-S"); err == nil && strings.Contains(out, a.SandboxID) {
		t.Errorf("iptables nat rules still mention %s:\n%s", a.SandboxID, out)
	}
	if _, err := m.Attachment(a.SandboxID); err == nil {
		t.Errorf("manager still lists %s", a.SandboxID)
	}
}

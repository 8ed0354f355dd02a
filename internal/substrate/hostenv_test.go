package substrate

import (
	"bytes"
	"context"
	"fmt"
	"github.com/nimbus-dev/nimbus/internal/network/nettest"
	"io"
	"net/http"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/nimbus-dev/nimbus/internal/network"
	"github.com/nimbus-dev/nimbus/internal/store"
	"github.com/nimbus-dev/nimbus/internal/store/sqlitestore"
)

// Helpers for tests that run real sandboxes: each test gets its own data
// directory, store file, bridge, subnet, nftables table and netns directory,
// so tests of other packages running at the same time never collide.

func requireOCIHost(t testing.TB) {
	t.Helper()
	nettest.RequireHost(t, "runs runc, creates network namespaces, bridges and nftables rules", "runc", "nft", "busybox", "mkfs.ext4")
}

// ociEnv is one test's private host setup; it outlives the Hosts opened on
// it, as a data directory outlives a nimbus process.
type ociEnv struct {
	DataDir string
	DBPath  string
	NetName string
	Net     network.Options
	Runtime string
	Fsync   bool // commit the store as production does (benchmarks)
	last    *Host
	store   store.Store // the store of last
}

// shutdown closes the last Host and its store, as a nimbus exiting does;
// sandboxes keep running.
func (env *ociEnv) shutdown() {
	if env.last != nil {
		env.last.Close()
		env.store.Close()
		env.last, env.store = nil, nil
	}
}

func newOCIEnv(t testing.TB) *ociEnv {
	t.Helper()
	requireOCIHost(t)
	netOpts := nettest.Private(t, "nbs", 200, 25)
	name := netOpts.TableName
	suffix := strings.TrimPrefix(name, "nbs")
	netOpts.NetNSDir = filepath.Join("/run/nimbus", "substrate-test-"+suffix, "netns")
	dir := t.TempDir()
	env := &ociEnv{
		DataDir: filepath.Join(dir, "data"),
		DBPath:  filepath.Join(dir, "nimbus.db"),
		NetName: name,
		Runtime: "runc",
		Net:     netOpts,
	}
	t.Cleanup(func() { env.cleanup(t) })
	return env
}

func (env *ociEnv) options(st store.Store) Options {
	return Options{DataDir: env.DataDir, Store: st, Driver: DriverOCI, Runtime: env.Runtime, Network: env.Net}
}

// open opens the store and a Host over env; both close at the test's end
// unless closed before.
func (env *ociEnv) open(t testing.TB) *Host {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var storeOpts []sqlitestore.Option
	if !env.Fsync {
		storeOpts = append(storeOpts, sqlitestore.WithoutFsync())
	}
	st, err := sqlitestore.Open(ctx, env.DBPath, storeOpts...)
	if err != nil {
		t.Fatalf("open store: %v", err)
	}
	h, err := Open(ctx, env.options(st))
	if err != nil {
		st.Close()
		t.Fatalf("Open: %v", err)
	}
	if h.Network() == nil {
		st.Close()
		t.Fatalf("networking unavailable: %s", h.Info().NetworkReason)
	}
	env.last, env.store = h, st
	t.Cleanup(func() {
		h.Close()
		st.Close()
	})
	return h
}

// cleanup deletes whatever a failed test left and tears the test network down.
func (env *ociEnv) cleanup(t testing.TB) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	h := env.last
	if h == nil || h.isClosed() {
		st, err := sqlitestore.Open(ctx, env.DBPath, sqlitestore.WithoutFsync())
		if err != nil {
			t.Errorf("cleanup: open store: %v", err)
			return
		}
		defer st.Close()
		if h, err = Open(ctx, env.options(st)); err != nil {
			t.Errorf("cleanup: open host: %v", err)
			return
		}
		defer h.Close()
	}
	if err := h.Reset(ctx, nil); err != nil {
		t.Errorf("cleanup: reset: %v", err)
	}
	if m := h.Network(); m != nil {
		if err := m.Teardown(ctx); err != nil {
			t.Errorf("cleanup: network teardown: %v", err)
		}
	}
	// network.Manager.Teardown leaves the netns directory's own bind mount.
	unix.Unmount(env.Net.NetNSDir, unix.MNT_DETACH)
	if err := os.RemoveAll(filepath.Dir(env.Net.NetNSDir)); err != nil {
		t.Errorf("cleanup: %v", err)
	}
}

// trace is what a sandbox held on the host, noted while it ran, so the leak
// check knows what to look for.
type trace struct {
	ID       string
	IP       string
	HostVeth string
}

func traceOf(t testing.TB, h *Host, sb *Sandbox) trace {
	t.Helper()
	tr := trace{ID: sb.ID}
	if sb.IP.IsValid() {
		tr.IP = sb.IP.String()
		a, err := h.Network().Attachment(sb.ID)
		if err != nil {
			t.Fatalf("attachment of %s: %v", sb.ID, err)
		}
		tr.HostVeth = a.HostVeth
		if tr.HostVeth == "" {
			t.Fatalf("attachment of %s names no host veth", sb.ID)
		}
		if _, err := os.Stat(filepath.Join("/sys/class/net", tr.HostVeth)); err != nil {
			t.Fatalf("veth %s of a running sandbox is missing: %v", tr.HostVeth, err)
		}
	}
	return tr
}

// requireNoLeaks checks the host for everything a sandbox can hold: mounts,
// netns files, veths, nftables rules, IP leases, cgroups, runtime state,
// shims and loop devices.
func (env *ociEnv) requireNoLeaks(t testing.TB, traces ...trace) {
	t.Helper()
	for _, p := range leaks(t, env, traces) {
		t.Errorf("leak: %s", p)
	}
}

func leaks(t testing.TB, env *ociEnv, traces []trace) []string {
	var found []string
	mountinfo, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		t.Fatal(err)
	}
	netnsDir := filepath.Dir(env.Net.NetNSDir)
	for _, line := range strings.Split(string(mountinfo), "\n") {
		f := strings.Fields(line)
		// The netns directory itself is a shared bind mount the network
		// manager keeps for its life; only namespaces inside it belong to
		// sandboxes.
		if len(f) > 4 && f[4] != env.Net.NetNSDir && (strings.HasPrefix(f[4], env.DataDir) || strings.HasPrefix(f[4], netnsDir)) {
			found = append(found, "mount "+f[4])
		}
	}
	if ents, err := os.ReadDir(env.Net.NetNSDir); err == nil && len(ents) > 0 {
		found = append(found, fmt.Sprintf("%d netns files in %s", len(ents), env.Net.NetNSDir))
	}
	loops, _ := filepath.Glob("/sys/block/loop*/loop/backing_file")
	for _, l := range loops {
		if b, err := os.ReadFile(l); err == nil && strings.HasPrefix(string(b), env.DataDir) {
			found = append(found, "loop device "+l+" -> "+strings.TrimSpace(string(b)))
		}
	}
	if procs, err := filepath.Glob("/proc/[0-9]*/cmdline"); err == nil {
		for _, p := range procs {
			if b, err := os.ReadFile(p); err == nil && bytes.Contains(b, []byte(env.DataDir)) {
				found = append(found, "process "+p+": "+strings.ReplaceAll(string(b), "\x00", " "))
			}
		}
	}
	// Whatever the sandbox was, once none is left no veth hangs on the test
	// bridge, no address lease is held and no rule names a sandbox address.
	bridge := env.Net.Networks[0].Name
	if ports, err := os.ReadDir(filepath.Join("/sys/class/net", bridge, "brif")); err == nil && len(ports) > 0 {
		for _, p := range ports {
			found = append(found, "veth "+p.Name()+" on bridge "+bridge)
		}
	}
	filepath.WalkDir(filepath.Join(env.DataDir, "network"), func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return nil
		}
		if _, perr := netip.ParseAddr(d.Name()); perr == nil {
			found = append(found, "IP lease "+p)
		}
		return nil
	})
	nft, _ := exec.Command("nft", "list", "table", "inet", env.Net.TableName).CombinedOutput()
	subnet := env.Net.Networks[0].Subnet
	for _, word := range strings.FieldsFunc(string(nft), func(r rune) bool { return r == ' ' || r == '\n' || r == '\t' || r == ',' || r == '{' || r == '}' }) {
		if a, err := netip.ParseAddr(word); err == nil && subnet.Contains(a) && a != subnet.Addr().Next() {
			found = append(found, "nftables rule naming sandbox address "+word)
		}
	}
	cgroups, _ := filepath.Glob("/sys/fs/cgroup/*/nimbus")
	for _, tr := range traces {
		if tr.HostVeth != "" {
			if _, err := os.Stat(filepath.Join("/sys/class/net", tr.HostVeth)); err == nil {
				found = append(found, "veth "+tr.HostVeth)
			}
			if bytes.Contains(nft, []byte(tr.HostVeth)) {
				found = append(found, "nftables rule naming "+tr.HostVeth)
			}
		}
		if tr.IP != "" {
			if bytes.Contains(nft, []byte(tr.IP+" ")) || bytes.Contains(nft, []byte(tr.IP+"\n")) {
				found = append(found, "nftables rule naming "+tr.IP)
			}
		}
		for _, cg := range append(cgroups, "/sys/fs/cgroup/nimbus") {
			if _, err := os.Stat(filepath.Join(cg, tr.ID)); err == nil {
				found = append(found, "cgroup "+filepath.Join(cg, tr.ID))
			}
		}
		for _, rt := range []string{"runc", "crun"} {
			if _, err := os.Stat(filepath.Join(env.DataDir, "oci", rt, tr.ID)); err == nil {
				found = append(found, rt+" state of "+tr.ID)
			}
		}
		if _, err := os.Stat(filepath.Join(env.DataDir, "oci", "sandboxes", tr.ID)); err == nil {
			found = append(found, "sandbox state dir of "+tr.ID)
		}
	}
	return found
}

// fetch GETs http://ip:8080/ from the host.
func fetch(ctx context.Context, ip netip.Addr) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+netip.AddrPortFrom(ip, 8080).String()+"/", nil)
	if err != nil {
		return "", err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		return string(b), fmt.Errorf("status %s", resp.Status)
	}
	return string(b), err
}

// eventually retries f until it succeeds or within passes.
func eventually(t testing.TB, within time.Duration, what string, f func() error) {
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

func mustPrefix(s string) netip.Prefix { return netip.MustParsePrefix(s) }

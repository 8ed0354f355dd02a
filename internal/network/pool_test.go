package network

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// warmPool starts network's pool by attaching (and detaching) a throwaway
// sandbox, waits for the pool to fill and returns its spares.
func warmPool(t *testing.T, m *Manager, network string) []Attachment {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	id := "sb-warm-" + randomHex(t, 3)
	if _, err := m.Attach(ctx, id, network, AttachOptions{}); err != nil {
		t.Fatalf("warm-up Attach: %v", err)
	}
	if err := m.Detach(ctx, id); err != nil {
		t.Fatalf("warm-up Detach: %v", err)
	}
	return waitForSpares(t, m, network, m.poolSize)
}

// waitForSpares waits until network's pool holds want spares and returns them.
func waitForSpares(t *testing.T, m *Manager, network string, want int) []Attachment {
	t.Helper()
	eventually(t, 20*time.Second, fmt.Sprintf("pool of %s holds %d spares", network, want), func() error {
		if got := m.ReadySpares(network); got != want {
			return fmt.Errorf("%d ready", got)
		}
		return nil
	})
	return readySpares(m, network)
}

func readySpares(m *Manager, network string) []Attachment {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []Attachment
	if p := m.pools[network]; p != nil {
		for _, r := range p.ready {
			out = append(out, r.Attachment)
		}
	}
	return out
}

func spareByNetNS(spares []Attachment, netns string) (Attachment, bool) {
	for _, s := range spares {
		if s.NetNSPath == netns {
			return s, true
		}
	}
	return Attachment{}, false
}

// An Attach with no requested address takes a prepared spare: its
// namespace, veth and address, with nothing made on the way, and the pool
// refills behind it. The claimed attachment is a full one: the metadata
// server knows it by address, its firewall works, and Detach leaves nothing.
func TestPoolClaim(t *testing.T) {
	requireHost(t)
	t.Parallel()
	m := newTestManager(t, testOptions(t))
	n := testNetwork(t, m)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	srv := echoCallerServer(t, m)
	if err := srv.ListenAll(ctx); err != nil {
		t.Fatal(err)
	}

	spares := warmPool(t, m, n.Name)
	for _, s := range spares {
		if !s.Complete || !isNetNS(s.NetNSPath) || !strings.HasPrefix(filepath.Base(s.NetNSPath), spareIDPrefix) {
			t.Fatalf("spare %+v is not a complete attachment with its own pinned namespace", s)
		}
		if _, ok := m.SandboxByAddr(n.Gateway, s.IP); ok {
			t.Errorf("SandboxByAddr finds the spare holding %s", s.IP)
		}
	}

	id := "sb-claim-" + randomHex(t, 3)
	na, err := m.Attach(ctx, id, n.Name, AttachOptions{})
	if err != nil {
		t.Fatalf("Attach: %v", err)
	}
	spare, ok := spareByNetNS(spares, na.NetNSPath)
	if !ok {
		t.Fatalf("Attach made namespace %s; want one of the prepared spares %v", na.NetNSPath, spares)
	}
	a, err := m.Attachment(id)
	if err != nil {
		t.Fatal(err)
	}
	if a.IP != spare.IP || a.HostVeth != spare.HostVeth || na.IP != spare.IP.String() || na.Gateway != n.Gateway.String() || !a.Complete {
		t.Errorf("claimed attachment %+v (driver gets %+v), want the spare's address and veth %+v", a, na, spare)
	}
	if _, err := os.Stat(m.recordPath(id)); err != nil {
		t.Errorf("the claim wrote no record under the sandbox's ID: %v", err)
	}
	if _, err := os.Stat(m.recordPath(spare.SandboxID)); !os.IsNotExist(err) {
		t.Errorf("the claimed spare's record is still there (stat err %v)", err)
	}
	if atts, _ := m.List(ctx); len(atts) != 1 || atts[0].SandboxID != id {
		t.Errorf("List = %+v, want only %s (spares are not listed)", atts, id)
	}

	// The pool makes up for the claim in the background.
	refilled := waitForSpares(t, m, n.Name, m.poolSize)
	if _, ok := spareByNetNS(refilled, na.NetNSPath); ok {
		t.Errorf("the claimed namespace %s is back in the pool", na.NetNSPath)
	}

	if got, ok := m.SandboxByAddr(n.Gateway, a.IP); !ok || got.SandboxID != id {
		t.Errorf("SandboxByAddr(%s) = %+v, %v; want %s", a.IP, got, ok, id)
	}
	got, err := inNetNS(ctx, na.NetNSPath, "wget", "-q", "-O", "-", "http://169.254.169.254/latest/meta-data/instance-id")
	if err != nil || got != id {
		t.Errorf("metadata from the claimed sandbox: %q, %v; want %q", got, err, id)
	}

	// Firewall rules apply to the claimed attachment like to any other.
	startHTTPD(t, na.NetNSPath, id)
	eventually(t, 5*time.Second, "unfiltered HTTP from the host", func() error {
		_, err := fetch(ctx, "", na.IP)
		return err
	})
	if err := m.SetRules(ctx, id, []Rule{}, nil); err != nil {
		t.Fatalf("SetRules: %v", err)
	}
	if _, err := fetch(ctx, "", na.IP); err == nil {
		t.Error("HTTP from the host passed with ingress denied")
	}
	if err := m.SetRules(ctx, id, []Rule{{Protocol: ProtocolTCP, FromPort: 8080, ToPort: 8080, CIDR: netip.MustParsePrefix("0.0.0.0/0")}}, nil); err != nil {
		t.Fatalf("SetRules: %v", err)
	}
	if _, err := fetch(ctx, "", na.IP); err != nil {
		t.Errorf("HTTP from the host with 8080 allowed: %v", err)
	}

	if err := m.Detach(ctx, id); err != nil {
		t.Fatalf("Detach: %v", err)
	}
	a.SandboxID = id
	assertNothingLeft(t, m, a)
}

// Spares are claimed once each, even by a burst of attaches, and the ones
// the burst misses take the slow path.
func TestPoolConcurrentClaims(t *testing.T) {
	requireHost(t)
	t.Parallel()
	m := newTestManager(t, testOptions(t))
	n := testNetwork(t, m)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	spares := warmPool(t, m, n.Name)

	const count = 5
	prefix := "sb-burst-" + randomHex(t, 3)
	type result struct {
		netns string
		err   error
	}
	results := make(chan result, count)
	for i := range count {
		go func() {
			na, err := m.Attach(ctx, fmt.Sprintf("%s-%d", prefix, i), n.Name, AttachOptions{})
			if err != nil {
				results <- result{err: err}
				return
			}
			results <- result{netns: na.NetNSPath}
		}()
	}
	claimed := 0
	var paths []string
	for range count {
		r := <-results
		if r.err != nil {
			t.Fatalf("Attach: %v", r.err)
		}
		if _, ok := spareByNetNS(spares, r.netns); ok {
			claimed++
		}
		paths = append(paths, r.netns)
	}
	slices.Sort(paths)
	if len(slices.Compact(paths)) != count || claimed != len(spares) {
		t.Errorf("namespaces %v: %d claimed spares, want %d distinct with all %d spares claimed", paths, claimed, count, len(spares))
	}
	atts, err := m.List(ctx)
	if err != nil {
		t.Fatal(err)
	}
	ips := make(map[netip.Addr]bool)
	for _, a := range atts {
		ips[a.IP] = true
	}
	if len(atts) != count || len(ips) != count {
		t.Errorf("%d attachments with %d distinct addresses, want %d", len(atts), len(ips), count)
	}
	for _, a := range atts {
		if err := m.Detach(ctx, a.SandboxID); err != nil {
			t.Fatal(err)
		}
		assertNothingLeft(t, m, a)
	}
}

// An attach asking for an address takes the slow path, and gets the
// address even when a spare held it.
func TestPoolBypassedForRequestedIP(t *testing.T) {
	requireHost(t)
	t.Parallel()
	m := newTestManager(t, testOptions(t))
	n := testNetwork(t, m)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	spares := warmPool(t, m, n.Name)

	free := n.Subnet.Addr().As4()
	free[3] = 200
	id := "sb-ip-" + randomHex(t, 3)
	na, err := m.Attach(ctx, id, n.Name, AttachOptions{IP: netip.AddrFrom4(free)})
	if err != nil {
		t.Fatal(err)
	}
	if na.NetNSPath != filepath.Join(m.opts.NetNSDir, id) || na.IP != netip.AddrFrom4(free).String() {
		t.Errorf("Attach with an IP got %+v, want a namespace of its own with %s", na, netip.AddrFrom4(free))
	}
	if got := readySpares(m, n.Name); len(got) != len(spares) {
		t.Errorf("an IP-requested attach changed the pool: %d spares, want %d", len(got), len(spares))
	}

	victim := spares[0]
	taker := "sb-ip-" + randomHex(t, 3)
	na, err = m.Attach(ctx, taker, n.Name, AttachOptions{IP: victim.IP})
	if err != nil {
		t.Fatalf("Attach asking for the address of spare %s: %v", victim.SandboxID, err)
	}
	if na.IP != victim.IP.String() || na.NetNSPath != filepath.Join(m.opts.NetNSDir, taker) {
		t.Errorf("Attach asking for %s got %+v", victim.IP, na)
	}
	if isNetNS(victim.NetNSPath) {
		t.Errorf("the evicted spare's namespace %s is still there", victim.NetNSPath)
	}
	if _, err := os.Stat("/sys/class/net/" + victim.HostVeth); !os.IsNotExist(err) {
		t.Errorf("the evicted spare's veth %s is still there", victim.HostVeth)
	}
}

// Deleting a network removes its pool; spares never make it look in use.
func TestPoolDrainedByDeleteNetwork(t *testing.T) {
	requireHost(t)
	t.Parallel()
	m := newTestManager(t, testOptions(t))
	first := testNetwork(t, m)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	b := first.Subnet.Addr().As4()
	b[2] ^= 0x80
	second := Network{Name: first.Name + "d", Subnet: netip.PrefixFrom(netip.AddrFrom4(b), 24)}
	if err := m.DefineNetwork(ctx, second); err != nil {
		t.Fatal(err)
	}
	id := "sb-del-" + randomHex(t, 3)
	if _, err := m.Attach(ctx, id, second.Name, AttachOptions{}); err != nil {
		t.Fatal(err)
	}
	spares := waitForSpares(t, m, second.Name, m.poolSize)
	if err := m.DeleteNetwork(ctx, second.Name); !errors.Is(err, ErrInUse) {
		t.Errorf("DeleteNetwork with a sandbox on it = %v, want ErrInUse", err)
	}
	if got := m.ReadySpares(second.Name); got != len(spares) {
		t.Errorf("a refused DeleteNetwork left %d spares, want %d", got, len(spares))
	}
	if err := m.Detach(ctx, id); err != nil {
		t.Fatal(err)
	}
	if err := m.DeleteNetwork(ctx, second.Name); err != nil {
		t.Fatalf("DeleteNetwork with only spares on it: %v", err)
	}
	for _, s := range spares {
		assertSpareGone(t, m, s)
	}
	if m.ReadySpares(second.Name) != 0 || len(m.spareIDs()) != 0 {
		t.Errorf("spares left after DeleteNetwork: %v", m.spareIDs())
	}
	if _, err := os.Stat("/sys/class/net/" + second.Name); !os.IsNotExist(err) {
		t.Errorf("bridge of the deleted network is still there")
	}
}

// With the pool off every attach takes the slow path and nothing is prepared.
func TestPoolDisabled(t *testing.T) {
	requireHost(t)
	t.Parallel()
	opts := testOptions(t)
	opts.PoolSize = NoPool
	m := newTestManager(t, opts)
	n := testNetwork(t, m)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	for i := range 2 {
		id := fmt.Sprintf("sb-nopool-%d-%s", i, randomHex(t, 3))
		na, err := m.Attach(ctx, id, n.Name, AttachOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if na.NetNSPath != filepath.Join(m.opts.NetNSDir, id) {
			t.Errorf("attach %d with the pool off got namespace %s", i, na.NetNSPath)
		}
	}
	time.Sleep(200 * time.Millisecond) // room for a refill that should not happen
	if ids := m.spareIDs(); len(ids) != 0 || m.ReadySpares(n.Name) != 0 {
		t.Errorf("spares %v with the pool off", ids)
	}
	ents, err := os.ReadDir(m.opts.NetNSDir)
	if err != nil || len(ents) != 2 {
		t.Errorf("netns dir holds %d entries (%v), want the 2 sandboxes'", len(ents), err)
	}
}

func (m *Manager) spareIDs() []string {
	m.mu.Lock()
	defer m.mu.Unlock()
	var ids []string
	for id := range m.spares {
		ids = append(ids, id)
	}
	return ids
}

// assertSpareGone checks the host for every trace of a spare.
func assertSpareGone(t *testing.T, m *Manager, s Attachment) {
	t.Helper()
	if _, err := os.Stat(s.NetNSPath); !os.IsNotExist(err) {
		t.Errorf("spare netns %s still exists", s.NetNSPath)
	}
	if _, err := os.Stat("/sys/class/net/" + s.HostVeth); !os.IsNotExist(err) {
		t.Errorf("spare veth %s still exists", s.HostVeth)
	}
	lease := filepath.Join(m.opts.StateDir, "ipam", s.Network, s.IP.String())
	if _, err := os.Stat(lease); !os.IsNotExist(err) {
		t.Errorf("spare lease %s still exists", lease)
	}
	if _, err := os.Stat(m.recordPath(s.SandboxID)); !os.IsNotExist(err) {
		t.Errorf("spare record of %s still exists", s.SandboxID)
	}
	out, err := onHost(context.Background(), "nft", "list", "table", "bridge", m.opts.TableName)
	if err == nil && strings.Contains(out, s.HostVeth) {
		t.Errorf("anti-spoofing rules still name spare veth %s", s.HostVeth)
	}
}

// A nimbus killed with a full pool, and even in the middle of a claim,
// leaves nothing the next one does not remove or adopt: spares are removed
// (namespace, veth, lease, record, rules), a half-finished claim counts as
// the sandbox's attachment.
func TestPoolRestartRemovesSpares(t *testing.T) {
	requireHost(t)
	t.Parallel()
	opts := testOptions(t)
	id := "sb-pcrash-" + randomHex(t, 3)
	report := startChild(t, childSpec{Options: opts, SandboxID: id, WaitForSpares: true})
	if len(report.Spares) != DefaultPoolSize {
		t.Fatalf("child reported spares %+v, want %d", report.Spares, DefaultPoolSize)
	}
	for _, s := range report.Spares {
		if !isNetNS(s.NetNSPath) {
			t.Fatalf("spare netns %s did not outlive its creator", s.NetNSPath)
		}
	}

	// The child died between writing the claiming sandbox's record and
	// removing the spare's, as claimSpareLocked could.
	claimedSpare, leftSpare := report.Spares[0], report.Spares[1]
	b, err := os.ReadFile((&Manager{opts: opts}).recordPath(claimedSpare.SandboxID))
	if err != nil {
		t.Fatal(err)
	}
	var claim record
	if err := json.Unmarshal(b, &claim); err != nil {
		t.Fatal(err)
	}
	half := "sb-halfclaim-" + randomHex(t, 3)
	claim.Spare = false
	claim.CNIContainerID = claimedSpare.SandboxID
	claim.Attachment.SandboxID = half
	if err := (&Manager{opts: opts}).writeRecord(&claim); err != nil {
		t.Fatal(err)
	}

	m := newTestManager(t, opts)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	assertSpareGone(t, m, leftSpare)
	if ids := m.spareIDs(); len(ids) != 0 {
		t.Errorf("restarted manager holds spares %v before any attach", ids)
	}
	if _, err := os.Stat(m.recordPath(claimedSpare.SandboxID)); !os.IsNotExist(err) {
		t.Errorf("the claimed spare's record survived the restart (stat err %v)", err)
	}
	got, err := m.Attachment(half)
	if err != nil || got.NetNSPath != claimedSpare.NetNSPath || got.IP != claimedSpare.IP || !isNetNS(got.NetNSPath) {
		t.Fatalf("half-claimed attachment %+v, %v; want the spare's namespace %s and address %s", got, err, claimedSpare.NetNSPath, claimedSpare.IP)
	}
	if _, err := m.Attachment(id); err != nil {
		t.Errorf("restarted manager lost sandbox %s: %v", id, err)
	}

	detached, err := m.CleanupStale(ctx, func(string) bool { return false })
	if err != nil {
		t.Fatalf("CleanupStale: %v", err)
	}
	slices.Sort(detached)
	if want := []string{half, id}; !slices.Equal(detached, slices.Sorted(slices.Values(want))) {
		t.Errorf("CleanupStale detached %v, want %v", detached, want)
	}
	assertNothingLeft(t, m, got)
	assertNothingLeft(t, m, report.Sandbox)
	ents, err := os.ReadDir(opts.NetNSDir)
	if err != nil || len(ents) != 0 {
		t.Errorf("netns dir after cleanup: %d entries, %v", len(ents), err)
	}
	leases, _ := os.ReadDir(filepath.Join(opts.StateDir, "ipam", report.Sandbox.Network))
	for _, l := range leases {
		if _, err := netip.ParseAddr(l.Name()); err == nil {
			t.Errorf("lease %s left after cleanup", l.Name())
		}
	}
}

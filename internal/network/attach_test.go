package network

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestAttachDetach(t *testing.T) {
	requireHost(t)
	t.Parallel()
	m := newTestManager(t, testOptions(t))
	n := testNetwork(t, m)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()

	id := "sb-" + randomHex(t, 4)
	na, err := m.Attach(ctx, id, n.Name, AttachOptions{})
	if err != nil {
		t.Fatalf("Attach: %v", err)
	}
	a, err := m.Attachment(id)
	if err != nil {
		t.Fatal(err)
	}
	if !isNetNS(na.NetNSPath) || na.NetNSPath != filepath.Join(m.opts.NetNSDir, id) {
		t.Errorf("netns %s is not a pinned namespace under %s", na.NetNSPath, m.opts.NetNSDir)
	}
	ip := netip.MustParseAddr(na.IP)
	if !n.Subnet.Contains(ip) || na.Gateway != n.Gateway.String() {
		t.Errorf("got ip %s gateway %s, want an address of %s and gateway %s", na.IP, na.Gateway, n.Subnet, n.Gateway)
	}
	if _, err := os.Stat(filepath.Join(m.opts.StateDir, "ipam", n.Name, na.IP)); err != nil {
		t.Errorf("no host-local lease in the state dir: %v", err)
	}
	if _, err := os.Stat("/sys/class/net/" + a.HostVeth); a.HostVeth == "" || err != nil {
		t.Errorf("host veth %q not on the host: %v", a.HostVeth, err)
	}
	if _, err := inNetNS(ctx, na.NetNSPath, "ping", "-c", "1", "-W", "2", na.Gateway); err != nil {
		t.Errorf("sandbox cannot reach its gateway: %v", err)
	}
	if _, err := onHost(ctx, "busybox", "ping", "-c", "1", "-W", "2", na.IP); err != nil {
		t.Errorf("host cannot reach the sandbox: %v", err)
	}
	if _, err := inNetNS(ctx, na.NetNSPath, "ping", "-c", "1", "-W", "2", "127.0.0.1"); err != nil {
		t.Errorf("loopback is down in the sandbox: %v", err)
	}

	if _, err := m.Attach(ctx, id, n.Name, AttachOptions{}); !errors.Is(err, ErrAlreadyExists) {
		t.Errorf("second Attach of %s = %v, want ErrAlreadyExists", id, err)
	}

	if err := m.Detach(ctx, id); err != nil {
		t.Fatalf("Detach: %v", err)
	}
	assertNothingLeft(t, m, a)
	if err := m.Detach(ctx, id); err != nil {
		t.Errorf("second Detach = %v, want nil", err)
	}
}

func TestAttachStaticIP(t *testing.T) {
	requireHost(t)
	t.Parallel()
	m := newTestManager(t, testOptions(t))
	n := testNetwork(t, m)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()

	want := n.Subnet.Addr().Next().Next().Next().Next().Next() // .5
	first := "sb-" + randomHex(t, 4)
	na, err := m.Attach(ctx, first, n.Name, AttachOptions{IP: want})
	if err != nil {
		t.Fatalf("Attach with IP %s: %v", want, err)
	}
	if na.IP != want.String() {
		t.Errorf("got IP %s, want %s", na.IP, want)
	}

	// The address is taken: the second attach fails and leaves nothing.
	second := "sb-" + randomHex(t, 4)
	if _, err := m.Attach(ctx, second, n.Name, AttachOptions{IP: want}); err == nil {
		t.Fatalf("second Attach with the taken IP %s succeeded", want)
	}
	assertNothingLeft(t, m, Attachment{SandboxID: second, Network: n.Name, NetNSPath: filepath.Join(m.opts.NetNSDir, second)})
	if _, err := os.Stat(filepath.Join(m.opts.StateDir, "ipam", n.Name, want.String())); err != nil {
		t.Errorf("the failed attach released the first sandbox's lease: %v", err)
	}

	outside := netip.MustParseAddr("192.0.2.9")
	if _, err := m.Attach(ctx, "sb-"+randomHex(t, 4), n.Name, AttachOptions{IP: outside}); !errors.Is(err, ErrInvalid) {
		t.Errorf("Attach with IP outside the subnet = %v, want ErrInvalid", err)
	}
	if _, err := m.Attach(ctx, "sb-x", "no-such-network", AttachOptions{}); !errors.Is(err, ErrNotFound) {
		t.Errorf("Attach to an unknown network = %v, want ErrNotFound", err)
	}
}

// Concurrent attaches get distinct addresses and all detach cleanly.
func TestConcurrentAttach(t *testing.T) {
	requireHost(t)
	t.Parallel()
	m := newTestManager(t, testOptions(t))
	n := testNetwork(t, m)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	const count = 6
	prefix := "sb-par-" + randomHex(t, 3)
	errs := make(chan error, count)
	for i := range count {
		go func() {
			_, err := m.Attach(ctx, fmt.Sprintf("%s-%d", prefix, i), n.Name, AttachOptions{})
			errs <- err
		}()
	}
	for range count {
		if err := <-errs; err != nil {
			t.Errorf("concurrent Attach: %v", err)
		}
	}
	atts, err := m.List(ctx)
	if err != nil {
		t.Fatal(err)
	}
	seen := make(map[netip.Addr]string)
	for _, a := range atts {
		if other, dup := seen[a.IP]; dup {
			t.Errorf("%s and %s both got %s", a.SandboxID, other, a.IP)
		}
		seen[a.IP] = a.SandboxID
	}
	if len(seen) != count {
		t.Errorf("got %d attachments, want %d", len(seen), count)
	}
	for _, a := range atts {
		go func() { errs <- m.Detach(ctx, a.SandboxID) }()
	}
	for range atts {
		if err := <-errs; err != nil {
			t.Errorf("concurrent Detach: %v", err)
		}
	}
	for _, a := range atts {
		assertNothingLeft(t, m, a)
	}
}

func TestDefineAndDeleteNetwork(t *testing.T) {
	requireHost(t)
	t.Parallel()
	opts := testOptions(t)
	m := newTestManager(t, opts)
	first := testNetwork(t, m)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()

	overlapping := Network{Name: first.Name + "o", Subnet: netip.PrefixFrom(first.Subnet.Addr(), 25)}
	if err := m.DefineNetwork(ctx, overlapping); !errors.Is(err, ErrInvalid) {
		t.Errorf("DefineNetwork with an overlapping subnet = %v, want ErrInvalid", err)
	}
	sameBridge := Network{Name: first.Name + "b", Bridge: first.Bridge, Subnet: netip.MustParsePrefix("192.0.2.0/24")}
	if err := m.DefineNetwork(ctx, sameBridge); !errors.Is(err, ErrAlreadyExists) {
		t.Errorf("DefineNetwork with a taken bridge = %v, want ErrAlreadyExists", err)
	}

	b := first.Subnet.Addr().As4()
	b[2] ^= 0x80 // another /24, far from the first
	second := Network{Name: first.Name + "s", Subnet: netip.PrefixFrom(netip.AddrFrom4(b), 24)}
	if err := m.DefineNetwork(ctx, second); err != nil {
		t.Fatalf("DefineNetwork: %v", err)
	}
	id := "sb-net-" + randomHex(t, 3)
	na, err := m.Attach(ctx, id, second.Name, AttachOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if !second.Subnet.Contains(netip.MustParseAddr(na.IP)) {
		t.Errorf("sandbox on %s got %s", second.Subnet, na.IP)
	}
	if _, err := os.Stat("/sys/class/net/" + second.Name); err != nil {
		t.Errorf("bridge %s missing after attach: %v", second.Name, err)
	}
	if err := m.DeleteNetwork(ctx, second.Name); !errors.Is(err, ErrInUse) {
		t.Errorf("DeleteNetwork in use = %v, want ErrInUse", err)
	}
	if err := m.Detach(ctx, id); err != nil {
		t.Fatal(err)
	}
	if err := m.DeleteNetwork(ctx, second.Name); err != nil {
		t.Fatalf("DeleteNetwork: %v", err)
	}
	if _, err := os.Stat("/sys/class/net/" + second.Name); !os.IsNotExist(err) {
		t.Errorf("bridge %s survived DeleteNetwork (stat err %v)", second.Name, err)
	}
	out, err := onHost(ctx, "nft", "list", "table", "inet", opts.TableName)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(out, second.Name) || !strings.Contains(out, first.Name) {
		t.Errorf("after DeleteNetwork the table should name %s but not %s:\n%s", first.Name, second.Name, out)
	}
}

// A namespace file the manager did not make is left alone.
func TestAttachRefusesForeignNetNS(t *testing.T) {
	requireHost(t)
	t.Parallel()
	m := newTestManager(t, testOptions(t))
	id := "sb-foreign-" + randomHex(t, 3)
	foreign := filepath.Join(m.opts.NetNSDir, id)
	if err := os.WriteFile(foreign, nil, 0o444); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.Remove(foreign) })
	if _, err := m.Attach(context.Background(), id, testNetwork(t, m).Name, AttachOptions{}); !errors.Is(err, ErrAlreadyExists) {
		t.Errorf("Attach over a foreign netns file = %v, want ErrAlreadyExists", err)
	}
	if _, err := os.Stat(foreign); err != nil {
		t.Errorf("the foreign file was removed: %v", err)
	}
	if _, err := m.Attachment(id); !errors.Is(err, ErrNotFound) {
		t.Errorf("a refused attach left a record: %v", err)
	}
}

package network

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"
)

func TestMetadataIdentifiesSandbox(t *testing.T) {
	requireHost(t)
	t.Parallel()
	m := newTestManager(t, testOptions(t))
	n := testNetwork(t, m)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()

	srv := NewMetadataServer(m, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		caller, ok := SandboxFromContext(r.Context())
		if !ok {
			http.Error(w, "no caller", http.StatusInternalServerError)
			return
		}
		if r.URL.Path != "/latest/meta-data/instance-id" {
			http.NotFound(w, r)
			return
		}
		fmt.Fprint(w, caller.SandboxID)
	}))
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := srv.Close(ctx); err != nil {
			t.Errorf("close metadata server: %v", err)
		}
	})
	// Before any attachment: the gateway address is not on the host yet.
	if err := srv.ListenAll(ctx); err != nil {
		t.Fatalf("ListenAll: %v", err)
	}

	ids := []string{"sb-m1-" + randomHex(t, 3), "sb-m2-" + randomHex(t, 3)}
	for _, id := range ids {
		na, err := m.Attach(ctx, id, n.Name, AttachOptions{})
		if err != nil {
			t.Fatal(err)
		}
		// Security groups do not apply to the metadata endpoint.
		if id == ids[1] {
			if err := m.SetRules(ctx, id, []Rule{}, []Rule{}); err != nil {
				t.Fatal(err)
			}
		}
		got, err := inNetNS(ctx, na.NetNSPath, "wget", "-q", "-O", "-", "http://169.254.169.254/latest/meta-data/instance-id")
		if err != nil {
			t.Fatalf("metadata from %s: %v", id, err)
		}
		if got != id {
			t.Errorf("sandbox %s got instance-id %q", id, got)
		}
	}

	// The host is no sandbox: it reaches the listener but is refused.
	resp, err := http.Get("http://" + n.Gateway.String() + ":" + strconv.Itoa(m.opts.MetadataPort) + "/latest/meta-data/instance-id")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusForbidden || !strings.Contains(string(body), "no sandbox") {
		t.Errorf("host request got %d %q, want 403", resp.StatusCode, body)
	}
}

// A sandbox that takes another's address gets nothing from the metadata
// endpoint: the bridge drops frames whose source is not the sender's own.
func TestSpoofedSourceRejected(t *testing.T) {
	requireHost(t)
	if _, err := exec.LookPath("ip"); err != nil {
		t.Skip("needs ip (iproute2) to re-address a sandbox")
	}
	t.Parallel()
	m := newTestManager(t, testOptions(t))
	n := testNetwork(t, m)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()

	srv := echoCallerServer(t, m)
	if err := srv.Listen(ctx, n.Name); err != nil {
		t.Fatal(err)
	}
	attacker, victim := "sb-evil-"+randomHex(t, 3), "sb-victim-"+randomHex(t, 3)
	a, err := m.Attach(ctx, attacker, n.Name, AttachOptions{})
	if err != nil {
		t.Fatal(err)
	}
	v, err := m.Attach(ctx, victim, n.Name, AttachOptions{})
	if err != nil {
		t.Fatal(err)
	}
	// The victim goes quiet (its interface is gone, so nothing else
	// answers for its address) and the attacker takes its address.
	ipIn := func(netns string, args ...string) {
		t.Helper()
		if out, err := exec.CommandContext(ctx, "nsenter", append([]string{"--net=" + netns, "ip"}, args...)...).CombinedOutput(); err != nil {
			t.Fatalf("ip %v: %v: %s", args, err, out)
		}
	}
	ipIn(v.NetNSPath, "link", "del", "eth0")
	ipIn(a.NetNSPath, "addr", "flush", "dev", "eth0")
	ipIn(a.NetNSPath, "addr", "add", v.IP+"/"+strconv.Itoa(n.Subnet.Bits()), "dev", "eth0")
	ipIn(a.NetNSPath, "route", "add", "default", "via", n.Gateway.String())

	probe, cancelProbe := context.WithTimeout(ctx, 2*time.Second)
	defer cancelProbe()
	got, err := inNetNS(probe, a.NetNSPath, "wget", "-q", "-O", "-", "http://169.254.169.254/latest/meta-data/instance-id")
	if err == nil || strings.Contains(got, victim) {
		t.Errorf("sandbox %s posing as %s got %q (err %v), want no answer", attacker, v.IP, got, err)
	}
}

// A second server on another gateway port (the Lambda Runtime API) is
// reachable from a sandbox whose egress is denied once AllowGatewayPort
// names it; a gateway port nobody allowed is not.
func TestGatewayPortThroughDeniedEgress(t *testing.T) {
	requireHost(t)
	t.Parallel()
	m := newTestManager(t, testOptions(t))
	n := testNetwork(t, m)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	allowed, blocked := m.opts.MetadataPort+1, m.opts.MetadataPort+2
	for _, port := range []int{allowed, blocked} {
		srv := echoCallerServer(t, m, WithGatewayPort(port))
		if err := srv.Listen(ctx, n.Name); err != nil {
			t.Fatal(err)
		}
	}
	if err := m.AllowGatewayPort(ctx, uint16(allowed)); err != nil {
		t.Fatal(err)
	}
	id := "sb-gw-" + randomHex(t, 3)
	na, err := m.Attach(ctx, id, n.Name, AttachOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if err := m.SetRules(ctx, id, []Rule{}, []Rule{}); err != nil {
		t.Fatal(err)
	}
	url := func(port int) string { return "http://" + n.Gateway.String() + ":" + strconv.Itoa(port) + "/" }
	fetch := func(port int) (string, error) {
		probe, cancel := context.WithTimeout(ctx, 3*time.Second)
		defer cancel()
		return inNetNS(probe, na.NetNSPath, "wget", "-q", "-O", "-", url(port))
	}
	if got, err := fetch(allowed); err != nil || got != id {
		t.Errorf("allowed gateway port: %q, %v; want %s", got, err, id)
	}
	// Dropped, so wget hangs until the probe's deadline kills it.
	if got, err := fetch(blocked); err == nil || !strings.Contains(err.Error(), "killed") {
		t.Errorf("gateway port nobody allowed: %q, %v; want no answer", got, err)
	}
}

// echoCallerServer is a metadata server that answers every request with
// the calling sandbox's ID; the test closes it.
func echoCallerServer(t *testing.T, m *Manager, opts ...MetadataServerOption) *MetadataServer {
	t.Helper()
	srv := NewMetadataServer(m, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		caller, _ := SandboxFromContext(r.Context())
		fmt.Fprint(w, caller.SandboxID)
	}), opts...)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		srv.Close(ctx)
	})
	return srv
}

package imds

import (
	"context"
	"fmt"
	"github.com/nimbus-dev/nimbus/internal/network/nettest"
	"net/netip"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/nimbus-dev/nimbus/internal/network"
)

// requireNetworkHost skips unless this host can build a test bridge and
// network namespaces, as network.Manager needs.
func requireNetworkHost(t *testing.T) {
	t.Helper()
	nettest.RequireHost(t, "creates a bridge, network namespaces and nftables rules", "nsenter", "busybox", "nft")
}

// inNetNS runs a command inside the network namespace at path.
func inNetNS(ctx context.Context, path string, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, "nsenter", append([]string{"--net=" + path}, args...)...).CombinedOutput()
	if err != nil {
		return string(out), fmt.Errorf("%s: %w: %s", strings.Join(args, " "), err, out)
	}
	return string(out), nil
}

// testNetwork is a private test bridge with the handler served on it.
type testNetwork struct {
	m      *network.Manager
	name   string
	lookup *fakeLookup
}

func newTestNetwork(t *testing.T, ctx context.Context) *testNetwork {
	t.Helper()
	// 10.250.0.0/16-10.254.0.0/16: apart from the default network and from
	// the network and substrate packages' own tests.
	opts := nettest.Private(t, "nbi", 250, 5)
	opts.StateDir, opts.NetNSDir = t.TempDir(), t.TempDir()
	name := opts.TableName
	m, err := network.NewManager(ctx, opts)
	if err != nil {
		t.Fatalf("network manager: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if err := m.Teardown(ctx); err != nil {
			t.Errorf("network teardown: %v", err)
		}
	})

	lookup := &fakeLookup{instances: map[string]*Instance{}}
	srv := network.NewMetadataServer(m, New(lookup))
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := srv.Close(ctx); err != nil {
			t.Errorf("close metadata server: %v", err)
		}
	})
	if err := srv.Listen(ctx, name); err != nil {
		t.Fatalf("metadata listen: %v", err)
	}
	return &testNetwork{m: m, name: name, lookup: lookup}
}

// box is a sandbox namespace on the test network and its instance.
type box struct {
	id, netns string
	in        *Instance
}

func (n *testNetwork) attach(t *testing.T, ctx context.Context, opts MetadataOptions) box {
	t.Helper()
	id := "sb-imds-" + nettest.RandomHex(t, 4)
	a, err := n.m.Attach(ctx, id, n.name, network.AttachOptions{})
	if err != nil {
		t.Fatalf("attach %s: %v", id, err)
	}
	in := sampleInstance()
	in.InstanceID = fmt.Sprintf("i-%017x", nettest.RandomInt(t, 1<<60))
	in.PrivateIP = netip.MustParseAddr(a.IP)
	in.Options = opts
	n.lookup.mu.Lock()
	n.lookup.instances[id] = in
	n.lookup.mu.Unlock()
	return box{id: id, netns: a.NetNSPath, in: in}
}

// TestThroughNetworkLayer serves the handler through network.MetadataServer
// on a private test bridge and asks 169.254.169.254 from inside two
// sandbox namespaces, as code in an instance would.
func TestThroughNetworkLayer(t *testing.T) {
	requireNetworkHost(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	n := newTestNetwork(t, ctx)
	optional := n.attach(t, ctx, MetadataOptions{HTTPTokens: HTTPTokensOptional})
	required := n.attach(t, ctx, MetadataOptions{HTTPTokens: HTTPTokensRequired})

	wget := func(b box, path string, headers ...string) (string, error) {
		args := []string{"busybox", "wget", "-q", "-O", "-"}
		for _, h := range headers {
			args = append(args, "--header", h)
		}
		return inNetNS(ctx, b.netns, append(args, "http://169.254.169.254"+path)...)
	}

	// IMDSv1 from the optional instance: each sandbox sees its own instance.
	for path, want := range map[string]string{
		"/latest/meta-data/instance-id": optional.in.InstanceID,
		"/latest/meta-data/local-ipv4":  optional.in.PrivateIP.String(),
		"/latest/user-data":             string(optional.in.UserData),
	} {
		got, err := wget(optional, path)
		if err != nil || got != want {
			t.Errorf("GET %s from %s: %q, %v; want %q", path, optional.id, got, err, want)
		}
	}
	// Tokens required: IMDSv1 is refused.
	if got, err := wget(required, "/latest/meta-data/instance-id"); err == nil || !strings.Contains(got, "401") {
		t.Errorf("IMDSv1 GET with tokens required: %q, %v; want 401", got, err)
	}

	curl, err := exec.LookPath("curl")
	if err != nil {
		t.Skip("the IMDSv2 PUT needs curl (busybox wget cannot PUT); token flow covered by TestTokenFlow through httptest only")
	}
	putToken := func(b box) string {
		t.Helper()
		out, err := inNetNS(ctx, b.netns, curl, "-sS", "--fail", "-X", "PUT",
			"-H", HeaderTokenTTL+": 60", "http://169.254.169.254/latest/api/token")
		if err != nil || out == "" {
			t.Fatalf("PUT token from %s: %q, %v", b.id, out, err)
		}
		return out
	}
	token := putToken(required)
	got, err := wget(required, "/latest/meta-data/instance-id", HeaderToken+": "+token)
	if err != nil || got != required.in.InstanceID {
		t.Errorf("IMDSv2 GET: %q, %v; want %q", got, err, required.in.InstanceID)
	}
	// The token is bound to the instance that asked for it.
	if got, err := wget(optional, "/latest/meta-data/instance-id", HeaderToken+": "+token); err == nil || !strings.Contains(got, "401") {
		t.Errorf("another instance's token: %q, %v; want 401", got, err)
	}
	// A proxied PUT is refused.
	out, err := inNetNS(ctx, optional.netns, curl, "-sS", "-o", "/dev/null", "-w", "%{http_code}", "-X", "PUT",
		"-H", HeaderTokenTTL+": 60", "-H", "X-Forwarded-For: 192.0.2.1", "http://169.254.169.254/latest/api/token")
	if err != nil || out != "403" {
		t.Errorf("PUT with X-Forwarded-For: %q, %v; want 403", out, err)
	}
}

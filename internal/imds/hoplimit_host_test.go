package imds

import (
	"context"
	"github.com/nimbus-dev/nimbus/internal/network/nettest"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestHopLimitThroughNestedNamespace shows HttpPutResponseHopLimit working
// as on EC2: a "container" one routing hop behind the instance (its own
// namespace, NATed by the instance) gets no token with the default limit of
// 1, because the response's TTL runs out in the instance's forwarding path,
// and gets one with a limit of 2. IMDSv1 GETs are not limited.
func TestHopLimitThroughNestedNamespace(t *testing.T) {
	requireNetworkHost(t)
	for _, bin := range []string{"ip", "curl"} {
		if _, err := exec.LookPath(bin); err != nil {
			t.Skipf("needs %s to build and probe a nested namespace", bin)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	n := newTestNetwork(t, ctx)
	instance := n.attach(t, ctx, MetadataOptions{HTTPPutResponseHopLimit: 1})

	// The nested namespace: inner (192.168.77.2) routes via the instance
	// (192.168.77.1), which forwards and masquerades out of eth0.
	inner := "nbi-inner-" + nettest.RandomHex(t, 3)
	run := func(args ...string) {
		t.Helper()
		if out, err := exec.CommandContext(ctx, args[0], args[1:]...).CombinedOutput(); err != nil {
			t.Fatalf("%s: %v: %s", strings.Join(args, " "), err, out)
		}
	}
	run("ip", "netns", "add", inner)
	t.Cleanup(func() { exec.Command("ip", "netns", "del", inner).Run() })
	innerNetNS := "/run/netns/" + inner
	inInstance := func(args ...string) { run(append([]string{"nsenter", "--net=" + instance.netns}, args...)...) }
	inInner := func(args ...string) { run(append([]string{"nsenter", "--net=" + innerNetNS}, args...)...) }
	inInstance("ip", "link", "add", "vin0", "type", "veth", "peer", "name", "vout0", "netns", inner)
	inInstance("ip", "addr", "add", "192.168.77.1/30", "dev", "vin0")
	inInstance("ip", "link", "set", "vin0", "up")
	inInstance("sh", "-c", "echo 1 > /proc/sys/net/ipv4/ip_forward")
	inInstance("nft", "add table ip nbinat; add chain ip nbinat post { type nat hook postrouting priority 100; }; add rule ip nbinat post oifname eth0 masquerade")
	inInner("ip", "link", "set", "lo", "up")
	inInner("ip", "addr", "add", "192.168.77.2/30", "dev", "vout0")
	inInner("ip", "link", "set", "vout0", "up")
	inInner("ip", "route", "add", "default", "via", "192.168.77.1")

	// From the nested namespace: IMDSv1 works (GETs carry no hop limit).
	get, err := inNetNS(ctx, innerNetNS, "curl", "-sS", "--max-time", "5", "http://169.254.169.254/latest/meta-data/instance-id")
	if err != nil || get != instance.in.InstanceID {
		t.Fatalf("IMDSv1 GET from the nested namespace: %q, %v", get, err)
	}
	putToken := func(netns string) (string, error) {
		return inNetNS(ctx, netns, "curl", "-sS", "--fail", "--max-time", "2", "-X", "PUT",
			"-H", HeaderTokenTTL+": 60", "http://169.254.169.254/latest/api/token")
	}
	for _, hops := range []int{1, 2} {
		t.Run(strconv.Itoa(hops), func(t *testing.T) {
			n.lookup.mu.Lock()
			instance.in.Options.HTTPPutResponseHopLimit = hops
			n.lookup.mu.Unlock()
			// The instance itself is zero hops away: always served.
			if token, err := putToken(instance.netns); err != nil || token == "" {
				t.Errorf("PUT token from the instance: %q, %v", token, err)
			}
			token, err := putToken(innerNetNS)
			if hops == 1 && err == nil {
				t.Errorf("nested namespace got a token %q with hop limit 1", token)
			}
			if hops == 2 && (err != nil || token == "") {
				t.Errorf("nested namespace with hop limit 2: %q, %v", token, err)
			}
		})
	}
}

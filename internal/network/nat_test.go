package network

import (
	"context"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// A sandbox's traffic leaving its network is masqueraded: a server on a
// second network sees the host's address there, not the sandbox's.
func TestEgressNAT(t *testing.T) {
	requireHost(t)
	t.Parallel()
	opts := testOptions(t)
	// The second network is the next /24.
	b := opts.Networks[0].Subnet.Addr().As4()
	b[2]++
	other := Network{Name: opts.Networks[0].Name + "x", Subnet: netip.PrefixFrom(netip.AddrFrom4(b), 24)}
	opts.Networks = append(opts.Networks, other)
	m := newTestManager(t, opts)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()

	client, err := m.Attach(ctx, "sb-nat-c-"+randomHex(t, 3), opts.Networks[0].Name, AttachOptions{})
	if err != nil {
		t.Fatal(err)
	}
	server, err := m.Attach(ctx, "sb-nat-s-"+randomHex(t, 3), other.Name, AttachOptions{})
	if err != nil {
		t.Fatal(err)
	}
	// busybox httpd runs this CGI script, which answers with the peer address.
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "cgi-bin"), 0o755); err != nil {
		t.Fatal(err)
	}
	script := "#!/bin/sh\necho 'Content-Type: text/plain'\necho\necho \"$REMOTE_ADDR\"\n"
	if err := os.WriteFile(filepath.Join(dir, "cgi-bin", "peer"), []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("nsenter", "--net="+server.NetNSPath, "busybox", "httpd", "-f", "-p", "8080", "-h", dir)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })

	var peer string
	eventually(t, 5*time.Second, "cross-network HTTP", func() error {
		out, err := inNetNS(ctx, client.NetNSPath, "wget", "-q", "-O", "-", "http://"+server.IP+":8080/cgi-bin/peer")
		// httpd listens on IPv6 and reports IPv4 peers as [::ffff:a.b.c.d].
		peer = strings.TrimSuffix(strings.TrimPrefix(strings.TrimSpace(out), "[::ffff:"), "]")
		return err
	})
	if peer != server.Gateway {
		t.Errorf("server saw the client as %q, want the host's address on its network %s (client is %s)", peer, server.Gateway, client.IP)
	}
}

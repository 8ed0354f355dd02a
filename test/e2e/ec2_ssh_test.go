package e2e

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
)

// The Debian image is built once with debootstrap (a minute or more) into a
// nimbus data directory kept as a cache, and each test's fresh data
// directory gets the cache's image store by hard links: the store writes
// every file to a temporary name and renames it, and never modifies an
// unpacked root, so sharing the inodes is safe.
const (
	imageCacheEnv     = "NIMBUS_E2E_IMAGE_CACHE"
	defaultImageCache = "/var/cache/nimbus-e2e"
	debianStoreName   = "debian-12:latest"
	debianUser        = "admin" // the login user of AWS's Debian AMIs
	sshPath           = "/usr/bin/ssh"
)

// requireSSHPrereqs skips unless the host can run real instances, build the
// Debian image and run the OpenSSH client.
func requireSSHPrereqs(t *testing.T) {
	t.Helper()
	requireRealSandboxes(t)
	if _, err := exec.LookPath("debootstrap"); err != nil {
		t.Skip("the Debian AMI needs debootstrap (apt-get install debootstrap; make test installs it)")
	}
	if _, err := os.Stat(sshPath); err != nil {
		t.Skipf("SSH to an instance needs the OpenSSH client at %s (apt-get install openssh-client; make test installs it)", sshPath)
	}
}

// debianImageCache returns a nimbus data directory whose image store holds
// debian-12:latest, bootstrapping it the first time. A lock file keeps two
// test processes from building it at once, and the image is built in a
// sibling directory renamed into place only when complete, so an
// interrupted build is never mistaken for a cache.
func debianImageCache(t *testing.T) string {
	t.Helper()
	dir := os.Getenv(imageCacheEnv)
	if dir == "" {
		dir = defaultImageCache
	}
	dir = filepath.Clean(dir)
	if err := os.MkdirAll(filepath.Dir(dir), 0o755); err != nil {
		t.Fatalf("image cache %s: %v", dir, err)
	}
	lock, err := os.OpenFile(dir+".lock", os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		t.Fatalf("image cache lock: %v", err)
	}
	defer lock.Close()
	if err := syscall.Flock(int(lock.Fd()), syscall.LOCK_EX); err != nil {
		t.Fatalf("image cache lock: %v", err)
	}
	defer syscall.Flock(int(lock.Fd()), syscall.LOCK_UN)

	if _, err := os.Stat(dir); err == nil {
		listed, err := imageList(dir)
		switch {
		case err != nil || !strings.Contains(listed, debianStoreName):
			t.Logf("image cache %s has no %s (%v); rebuilding it", dir, debianStoreName, err)
		case !cachedRootHasUser(dir, debianUser):
			t.Logf("image cache %s predates the %s user of the Debian AMI; rebuilding it", dir, debianUser)
		default:
			return dir
		}
	}
	building := dir + ".building"
	if err := os.RemoveAll(building); err != nil {
		t.Fatalf("clear %s: %v", building, err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Minute)
	defer cancel()
	started := time.Now()
	cmd := exec.CommandContext(ctx, nimbusBin, "image", "--data", building, "bootstrap", "debian-12")
	out, err := cmd.CombinedOutput()
	if err != nil {
		os.RemoveAll(building)
		t.Fatalf("nimbus image bootstrap debian-12 (cache %s): %v\n%s", dir, err, out)
	}
	if err := os.RemoveAll(dir); err != nil {
		t.Fatalf("replace image cache: %v", err)
	}
	if err := os.Rename(building, dir); err != nil {
		t.Fatalf("install image cache: %v", err)
	}
	t.Logf("bootstrapped debian-12 into the image cache %s in %s (later runs reuse it)", dir, time.Since(started).Round(time.Second))
	return dir
}

// cachedRootHasUser reports whether an unpacked root in the cache's image
// store has user in its /etc/passwd.
func cachedRootHasUser(dir, user string) bool {
	files, _ := filepath.Glob(filepath.Join(dir, "images", "roots", "*", "etc", "passwd"))
	for _, f := range files {
		raw, err := os.ReadFile(f)
		if err == nil && strings.Contains("\n"+string(raw), "\n"+user+":") {
			return true
		}
	}
	return false
}

// imageList runs `nimbus image list` on a data directory.
func imageList(dataDir string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	out, err := exec.CommandContext(ctx, nimbusBin, "image", "--data", dataDir, "list").CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("nimbus image list: %w: %s", err, out)
	}
	return string(out), nil
}

// seedImages gives the fresh data directory dataDir the cache's image
// store: hard links where both are on one file system, a copy otherwise.
// The store's own `nimbus image import` of the cache's OCI layout would
// copy the layer and unpack the root again; links only add directory entries.
func seedImages(t *testing.T, cacheDir, dataDir string) {
	t.Helper()
	started := time.Now()
	src, dst := filepath.Join(cacheDir, "images"), filepath.Join(dataDir, "images")
	if out, err := exec.Command("cp", "-al", src, dst).CombinedOutput(); err != nil {
		t.Logf("hard-linking the image cache failed (%v: %s); copying it", err, bytes.TrimSpace(out))
		os.RemoveAll(dst)
		if out, err := exec.Command("cp", "-a", src, dst).CombinedOutput(); err != nil {
			t.Fatalf("copy the image cache %s to %s: %v: %s", src, dst, err, out)
		}
	}
	// The store's lock files are flock(2)ed: linked, they would make this
	// store contend with the cache and with every other store seeded from it.
	locks, _ := filepath.Glob(filepath.Join(dst, "*.lock"))
	for _, l := range locks {
		if err := os.Remove(l); err != nil {
			t.Fatal(err)
		}
	}
	t.Logf("image store seeded from %s in %s", cacheDir, time.Since(started).Round(time.Millisecond))
}

// debianAMI finds the built-in Debian 12 AMI.
func debianAMI(t *testing.T, client *ec2.Client) string {
	t.Helper()
	out, err := client.DescribeImages(context.Background(), &ec2.DescribeImagesInput{Owners: []string{"amazon"},
		Filters: []ec2types.Filter{filter("name", "debian-12-*")}})
	if err != nil {
		t.Fatal(err)
	}
	if len(out.Images) != 1 {
		t.Fatalf("DescribeImages name=debian-12-* found %d images, want the built-in one: %+v", len(out.Images), out.Images)
	}
	return aws.ToString(out.Images[0].ImageId)
}

// sshResult is one OpenSSH client run.
type sshResult struct {
	out     string
	err     error
	elapsed time.Duration
}

// runSSH runs command on user@ip with the OpenSSH client, non-interactively,
// trusting the instance's fresh host key, giving up on connecting after
// connectTimeout seconds.
func runSSH(keyFile, user, ip string, connectTimeout int, command string) sshResult {
	// The bound covers a connection that opens but then stalls.
	ctx, cancel := context.WithTimeout(context.Background(), time.Duration(connectTimeout+15)*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, sshPath, "-F", "/dev/null", "-i", keyFile, "-o", "IdentitiesOnly=yes",
		"-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null", "-o", "BatchMode=yes",
		"-o", "PasswordAuthentication=no", "-o", "LogLevel=ERROR", "-o", fmt.Sprintf("ConnectTimeout=%d", connectTimeout),
		user+"@"+ip, command)
	cmd.Env = []string{"PATH=/usr/bin:/bin", "HOME=" + filepath.Dir(keyFile)}
	started := time.Now()
	out, err := cmd.CombinedOutput()
	return sshResult{out: string(out), err: err, elapsed: time.Since(started)}
}

// hostAddrTowards is the source address the host's routing picks for
// packets to ip: what an instance's security group sees the host as.
func hostAddrTowards(t *testing.T, ip string) string {
	t.Helper()
	c, err := net.Dial("udp4", net.JoinHostPort(ip, "22")) // connect only: sends nothing
	if err != nil {
		t.Fatalf("route to %s: %v", ip, err)
	}
	defer c.Close()
	return c.LocalAddr().(*net.UDPAddr).IP.String()
}

// otherNimbusServers lists the command lines of `nimbus serve` processes
// on the host besides n.
func otherNimbusServers(n *Nimbus) []string {
	var out []string
	dirs, _ := filepath.Glob("/proc/[0-9]*")
	for _, d := range dirs {
		raw, err := os.ReadFile(filepath.Join(d, "cmdline"))
		if err != nil || filepath.Base(d) == fmt.Sprint(n.cmd.Process.Pid) {
			continue
		}
		args := strings.Split(strings.TrimRight(string(raw), "\x00"), "\x00")
		if len(args) > 1 && strings.Contains(filepath.Base(args[0]), "nimbus") && args[1] == "serve" {
			out = append(out, strings.Join(args, " "))
		}
	}
	return out
}

// nimbusNFTTable is the host's nftables table inet nimbus, as nft prints it.
func nimbusNFTTable() string {
	out, err := exec.Command("nft", "list", "table", "inet", "nimbus").CombinedOutput()
	if err != nil {
		return fmt.Sprintf("nft: %v: %s", err, out)
	}
	return string(out)
}

// sshPermission is TCP 22 from one CIDR.
func sshPermission(cidr string) []ec2types.IpPermission {
	return []ec2types.IpPermission{{IpProtocol: aws.String("tcp"), FromPort: aws.Int32(22), ToPort: aws.Int32(22),
		IpRanges: []ec2types.IpRange{{CidrIp: aws.String(cidr), Description: aws.String("ssh from the host")}}}}
}

// TestEC2SSHDebian is the flagship: the OpenSSH client on the host logs
// into a Debian 12 instance with its key pair's private key at the
// instance's private IP while the instance's security group allows TCP 22
// from the host, is refused within a second of the rule being revoked, and
// gets in again once the rule is back.
func TestEC2SSHDebian(t *testing.T) {
	requireSSHPrereqs(t)
	cache := debianImageCache(t)
	dataDir := t.TempDir()
	seedImages(t, cache, dataDir)
	n := startRealNimbus(t, dataDir)
	ctx := context.Background()
	client := instancesClient(n)
	ami := debianAMI(t, client)

	key, err := client.CreateKeyPair(ctx, &ec2.CreateKeyPairInput{KeyName: aws.String("e2e-ssh"), KeyType: ec2types.KeyTypeEd25519})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(aws.ToString(key.KeyMaterial), "BEGIN OPENSSH PRIVATE KEY") {
		t.Fatalf("ed25519 key material is not an OpenSSH private key: %.40q", aws.ToString(key.KeyMaterial))
	}
	keyFile := filepath.Join(t.TempDir(), "e2e-ssh.pem")
	// KeyMaterial ends without a newline, as AWS's does; OpenSSH refuses a
	// key file without one ("error in libcrypto"), so it is written as
	// `aws ec2 create-key-pair --query KeyMaterial --output text > key.pem`
	// writes it, with the newline.
	if err := os.WriteFile(keyFile, []byte(aws.ToString(key.KeyMaterial)+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	sg, err := client.CreateSecurityGroup(ctx, &ec2.CreateSecurityGroupInput{GroupName: aws.String("e2e-ssh"),
		Description: aws.String("ssh from the host")})
	if err != nil {
		t.Fatal(err)
	}
	groupID := aws.ToString(sg.GroupId)

	launched := time.Now()
	run, err := client.RunInstances(ctx, &ec2.RunInstancesInput{ImageId: aws.String(ami), InstanceType: ec2types.InstanceTypeT3Micro,
		MinCount: aws.Int32(1), MaxCount: aws.Int32(1), KeyName: aws.String("e2e-ssh"), SecurityGroupIds: []string{groupID}})
	if err != nil {
		t.Fatal(err)
	}
	id := aws.ToString(run.Instances[0].InstanceId)
	terminated := false
	t.Cleanup(func() {
		if !terminated {
			client.TerminateInstances(context.Background(), &ec2.TerminateInstancesInput{InstanceIds: []string{id}})
		}
	})
	// The console says what init did (keys, sshd) when SSH does not work.
	// The firewall lives in the host's nftables table inet nimbus, which
	// every nimbus on the host rebuilds whole: another one starting or
	// stopping meanwhile is the first suspect when a rule seems ignored.
	fail := func(format string, args ...any) {
		t.Helper()
		table := nimbusNFTTable()
		if !strings.Contains(table, "chain in-"+id+" ") {
			format += "\n(the instance's chain in-" + id + " is missing from table inet nimbus: was it rebuilt by another nimbus on this host?)"
		}
		t.Fatalf(format+"\n--- console of %s:\n%s\n--- other nimbus servers on this host: %q\n--- nft list table inet nimbus:\n%s",
			append(args, id, consoleText(t, client, id), otherNimbusServers(n), table)...)
	}
	waitRunning(t, client, id)
	toRunning := time.Since(launched)
	inst := describeOne(t, client, id)
	ip := aws.ToString(inst.PrivateIpAddress)
	if ip == "" || aws.ToString(inst.KeyName) != "e2e-ssh" || len(inst.SecurityGroups) != 1 || aws.ToString(inst.SecurityGroups[0].GroupId) != groupID {
		t.Fatalf("running instance: ip %q key %q groups %+v", ip, aws.ToString(inst.KeyName), inst.SecurityGroups)
	}
	// Ingress denies what no rule allows: the SYN is dropped, so the dial
	// times out (a closed port would answer with a reset at once).
	if c, err := net.DialTimeout("tcp", net.JoinHostPort(ip, "22"), time.Second); err == nil {
		c.Close()
		fail("port 22 of %s accepted a connection before any ingress rule allowed it", ip)
	} else if ne, ok := err.(net.Error); !ok || !ne.Timeout() {
		fail("port 22 of %s before any rule: %v; want the SYN dropped (a timeout)", ip, err)
	}
	// The rule names exactly the host's own address on the instance's
	// network; it is known once the instance's network exists.
	hostCIDR := hostAddrTowards(t, ip) + "/32"
	if _, err := client.AuthorizeSecurityGroupIngress(ctx, &ec2.AuthorizeSecurityGroupIngressInput{GroupId: aws.String(groupID),
		IpPermissions: sshPermission(hostCIDR)}); err != nil {
		t.Fatal(err)
	}

	// The login user of AWS's Debian AMIs, with passwordless sudo.
	const user = debianUser
	const probe = "echo hello; cat /etc/os-release; echo sudo-uid=$(sudo -n id -u)"
	var last sshResult
	for deadline := time.Now().Add(60 * time.Second); ; {
		last = runSSH(keyFile, user, ip, 2, probe)
		if last.err == nil {
			break
		}
		if time.Now().After(deadline) {
			fail("ssh %s@%s (from %s) never answered within 60s: %v: %s", user, ip, hostCIDR, last.err, last.out)
		}
		time.Sleep(50 * time.Millisecond)
	}
	toSSH := time.Since(launched)
	t.Logf("RunInstances to running %s, to ssh %s@%s answering %s (host %s)", toRunning.Round(time.Millisecond), user, ip,
		toSSH.Round(time.Millisecond), hostCIDR)
	if !strings.HasPrefix(last.out, "hello\n") || !strings.Contains(last.out, "ID=debian") || !strings.Contains(last.out, `VERSION_ID="12"`) {
		fail("ssh answered, but not as Debian 12: %q", last.out)
	}
	if !strings.Contains(last.out, "sudo-uid=0\n") {
		fail("%s has no passwordless sudo: %q", user, last.out)
	}

	// Revoked: a new connection is refused within a second of the revoke
	// answering (an attempt started then fails), and stays refused.
	if _, err := client.RevokeSecurityGroupIngress(ctx, &ec2.RevokeSecurityGroupIngressInput{GroupId: aws.String(groupID),
		IpPermissions: sshPermission(hostCIDR)}); err != nil {
		t.Fatal(err)
	}
	revoked := time.Now()
	var refused sshResult
	refusedAfter := time.Duration(-1)
	for time.Since(revoked) <= time.Second {
		started := time.Since(revoked)
		res := runSSH(keyFile, user, ip, 1, "echo hello")
		if res.err != nil {
			if strings.Contains(res.out, "hello") {
				fail("ssh failed yet printed hello after the revoke: %v: %q", res.err, res.out)
			}
			refused, refusedAfter = res, started
			break
		}
	}
	if refusedAfter < 0 {
		fail("ssh still got in for a second after the rule was revoked")
	}
	t.Logf("revoked: an ssh started %s after the revoke was refused after %s: %s", refusedAfter.Round(time.Millisecond),
		refused.elapsed.Round(time.Millisecond), strings.TrimSpace(refused.out))
	// And it stays refused: every new connection gives up at its timeout.
	for i := 0; i < 3; i++ {
		at := time.Since(revoked)
		if res := runSSH(keyFile, user, ip, 1, "echo hello"); res.err == nil || res.elapsed > 3*time.Second {
			fail("ssh %s after the revoke = %v after %s: %q; want refused at its 1s connect timeout", at.Round(time.Millisecond),
				res.err, res.elapsed, res.out)
		}
	}
	rules, err := client.DescribeSecurityGroupRules(ctx, &ec2.DescribeSecurityGroupRulesInput{Filters: []ec2types.Filter{filter("group-id", groupID)}})
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range rules.SecurityGroupRules {
		if !aws.ToBool(r.IsEgress) {
			t.Errorf("ingress rule left after the revoke: %+v", r)
		}
	}

	// Authorized again: in again.
	if _, err := client.AuthorizeSecurityGroupIngress(ctx, &ec2.AuthorizeSecurityGroupIngressInput{GroupId: aws.String(groupID),
		IpPermissions: sshPermission(hostCIDR)}); err != nil {
		t.Fatal(err)
	}
	reauthorized := time.Now()
	for deadline := reauthorized.Add(10 * time.Second); ; {
		last = runSSH(keyFile, user, ip, 1, "echo hello again")
		if last.err == nil {
			break
		}
		if time.Now().After(deadline) {
			fail("ssh did not get back in within 10s of re-authorizing: %v: %s", last.err, last.out)
		}
	}
	if strings.TrimSpace(last.out) != "hello again" {
		fail("ssh after re-authorizing answered %q", last.out)
	}
	t.Logf("re-authorized: in again after %s", time.Since(reauthorized).Round(time.Millisecond))

	if _, err := client.TerminateInstances(ctx, &ec2.TerminateInstancesInput{InstanceIds: []string{id}}); err != nil {
		t.Fatal(err)
	}
	terminated = true
	waitTerminated(t, client, id)
	if res := runSSH(keyFile, user, ip, 1, "echo hello"); res.err == nil {
		t.Errorf("ssh to the terminated instance's address got in: %q", res.out)
	}
	if _, err := client.DeleteSecurityGroup(ctx, &ec2.DeleteSecurityGroupInput{GroupId: aws.String(groupID)}); err != nil {
		t.Errorf("delete the group once its instance is terminated: %v", err)
	}
}

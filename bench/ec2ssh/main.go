// Command ec2ssh measures EC2's launch figures end to end against a real
// nimbus binary on runc: RunInstances of a t3.micro from the built-in
// Debian 12 AMI to state running, to sshd accepting TCP on port 22, and to
// the OpenSSH client's first command answering, through aws-sdk-go-v2
// with SigV4 over loopback, one launch at a time.
//
// The Debian image comes from the cache test/e2e's TestEC2SSHDebian builds
// (NIMBUS_E2E_IMAGE_CACHE, default /var/cache/nimbus-e2e), hard-linked into
// a fresh data directory; run that test once first.
//
//	go run ./bench/ec2ssh -bin bin/nimbus -launches 10
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
)

const keyName = "bench-ssh"

func main() {
	bin := flag.String("bin", os.Getenv("NIMBUS_BIN"), "nimbus binary")
	cacheDefault := os.Getenv("NIMBUS_E2E_IMAGE_CACHE")
	if cacheDefault == "" {
		cacheDefault = "/var/cache/nimbus-e2e"
	}
	cache := flag.String("cache", cacheDefault, "nimbus data directory whose image store holds debian-12:latest")
	launches := flag.Int("launches", 10, "measured launches (after one warm-up)")
	logLevel := flag.String("log-level", "warn", "nimbus log level")
	flag.Parse()
	if *bin == "" {
		fail(errors.New("-bin (or NIMBUS_BIN) is required"))
	}
	if os.Geteuid() != 0 {
		fmt.Println("ec2ssh bench: skipped: real sandboxes need root")
		return
	}
	if _, err := os.Stat("/usr/bin/ssh"); err != nil {
		fmt.Println("ec2ssh bench: skipped: no OpenSSH client at /usr/bin/ssh")
		return
	}
	if _, err := os.Stat(filepath.Join(*cache, "images", "index.json")); err != nil {
		fmt.Printf("ec2ssh bench: skipped: no image cache at %s (run test/e2e's TestEC2SSHDebian once to build it)\n", *cache)
		return
	}
	if err := run(*bin, *cache, *logLevel, *launches); err != nil {
		fail(err)
	}
}

// run starts nimbus over a fresh data directory seeded from cache, measures
// the launches and stops nimbus (resetting it first, so no instance
// outlives the run) whatever happened.
func run(bin, cache, logLevel string, launches int) error {
	dir, err := os.MkdirTemp("", "nimbus-bench-ec2ssh")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	dataDir := filepath.Join(dir, "data")
	if err := os.MkdirAll(dataDir, 0o755); err != nil {
		return err
	}
	if out, err := exec.Command("cp", "-al", filepath.Join(cache, "images"), filepath.Join(dataDir, "images")).CombinedOutput(); err != nil {
		return fmt.Errorf("hard-link the image cache: %w: %s", err, out)
	}
	// Linked lock files would make this store contend with the cache's.
	locks, _ := filepath.Glob(filepath.Join(dataDir, "images", "*.lock"))
	for _, l := range locks {
		os.Remove(l)
	}

	addr := freeAddr()
	cmd := exec.Command(bin, "serve", "--listen", addr, "--data", dataDir, "--log-level", logLevel, "--driver", "oci")
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Start(); err != nil {
		return err
	}
	// The goroutine's only job is to report nimbus's exit; the deferred
	// stop below waits for it.
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	defer func() {
		if resp, err := http.Post("http://"+addr+"/_nimbus/reset", "application/json", nil); err == nil {
			resp.Body.Close()
		}
		cmd.Process.Signal(os.Interrupt)
		<-exited
	}()
	if err := waitHealthy("http://"+addr, exited); err != nil {
		return err
	}
	b, err := setUp(context.Background(), "http://"+addr, dir)
	if err != nil {
		return err
	}

	// The warm-up launch finds the host's address on the instances'
	// network, which the group then allows before the measured launches.
	warm, err := b.launch(context.Background())
	if err != nil {
		return fmt.Errorf("warm-up launch: %w", err)
	}
	fmt.Printf("warm-up: running %s, port 22 %s, ssh %s (host %s, ssh only once the rule existed)\n",
		ms(warm.running), ms(warm.port), ms(warm.ssh), b.hostCIDR)

	var running, port, login []time.Duration
	for i := 0; i < launches; i++ {
		m, err := b.launch(context.Background())
		if err != nil {
			return fmt.Errorf("launch %d: %w", i+1, err)
		}
		running, port, login = append(running, m.running), append(port, m.port), append(login, m.ssh)
	}
	fmt.Printf("RunInstances (t3.micro, debian-12, %d launches, one at a time):\n", launches)
	report("to running", running)
	report("to sshd accepting TCP 22", port)
	report("to ssh command answered", login)
	return nil
}

// bench holds what every launch shares.
type bench struct {
	client   *ec2.Client
	ami      string
	groupID  string
	keyFile  string
	hostCIDR string // "" until the warm-up launch finds it
}

// setUp finds the Debian AMI and makes the key pair and the group.
func setUp(ctx context.Context, url, dir string) (*bench, error) {
	client := ec2.NewFromConfig(aws.Config{Region: "us-east-1", BaseEndpoint: aws.String(url),
		Credentials: credentials.NewStaticCredentialsProvider("test", "test", ""), RetryMaxAttempts: 3})
	images, err := client.DescribeImages(ctx, &ec2.DescribeImagesInput{Owners: []string{"amazon"},
		Filters: []ec2types.Filter{{Name: aws.String("name"), Values: []string{"debian-12-*"}}}})
	if err != nil {
		return nil, fmt.Errorf("describe images: %w", err)
	}
	if len(images.Images) != 1 {
		return nil, fmt.Errorf("want one debian-12-* AMI, found %d", len(images.Images))
	}
	key, err := client.CreateKeyPair(ctx, &ec2.CreateKeyPairInput{KeyName: aws.String(keyName), KeyType: ec2types.KeyTypeEd25519})
	if err != nil {
		return nil, fmt.Errorf("create key pair: %w", err)
	}
	// OpenSSH wants the newline KeyMaterial ends without.
	keyFile := filepath.Join(dir, keyName+".pem")
	if err := os.WriteFile(keyFile, []byte(aws.ToString(key.KeyMaterial)+"\n"), 0o600); err != nil {
		return nil, err
	}
	sg, err := client.CreateSecurityGroup(ctx, &ec2.CreateSecurityGroupInput{GroupName: aws.String(keyName), Description: aws.String("bench ssh")})
	if err != nil {
		return nil, fmt.Errorf("create security group: %w", err)
	}
	return &bench{client: client, ami: aws.ToString(images.Images[0].ImageId), groupID: aws.ToString(sg.GroupId), keyFile: keyFile}, nil
}

// launchTimes is one launch's figures, from RunInstances being sent.
type launchTimes struct{ running, port, ssh time.Duration }

// launch runs one instance, times it to running, to port 22 accepting and
// to an SSH command answering, then terminates it and waits until it is
// gone, so launches do not overlap.
func (b *bench) launch(ctx context.Context) (launchTimes, error) {
	var m launchTimes
	started := time.Now()
	run, err := b.client.RunInstances(ctx, &ec2.RunInstancesInput{ImageId: aws.String(b.ami), InstanceType: ec2types.InstanceTypeT3Micro,
		MinCount: aws.Int32(1), MaxCount: aws.Int32(1), KeyName: aws.String(keyName), SecurityGroupIds: []string{b.groupID}})
	if err != nil {
		return m, fmt.Errorf("run instances: %w", err)
	}
	id := aws.ToString(run.Instances[0].InstanceId)
	defer func() {
		b.client.TerminateInstances(ctx, &ec2.TerminateInstancesInput{InstanceIds: []string{id}})
		ec2.NewInstanceTerminatedWaiter(b.client, func(o *ec2.InstanceTerminatedWaiterOptions) {
			o.MinDelay, o.MaxDelay = 50*time.Millisecond, 200*time.Millisecond
		}).Wait(ctx, &ec2.DescribeInstancesInput{InstanceIds: []string{id}}, time.Minute)
	}()
	ip, err := b.waitRunning(ctx, id, started.Add(time.Minute))
	if err != nil {
		return m, err
	}
	m.running = time.Since(started)
	if b.hostCIDR == "" {
		c, err := net.Dial("udp4", net.JoinHostPort(ip, "22"))
		if err != nil {
			return m, fmt.Errorf("route to %s: %w", ip, err)
		}
		b.hostCIDR = c.LocalAddr().(*net.UDPAddr).IP.String() + "/32"
		c.Close()
		if _, err := b.client.AuthorizeSecurityGroupIngress(ctx, &ec2.AuthorizeSecurityGroupIngressInput{GroupId: aws.String(b.groupID),
			IpPermissions: []ec2types.IpPermission{{IpProtocol: aws.String("tcp"), FromPort: aws.Int32(22), ToPort: aws.Int32(22),
				IpRanges: []ec2types.IpRange{{CidrIp: aws.String(b.hostCIDR)}}}}}); err != nil {
			return m, fmt.Errorf("authorize ssh: %w", err)
		}
	}
	deadline := started.Add(time.Minute)
	for {
		c, err := net.DialTimeout("tcp", net.JoinHostPort(ip, "22"), time.Second)
		if err == nil {
			c.Close()
			break
		}
		if time.Now().After(deadline) {
			return m, fmt.Errorf("%s port 22 never accepted: %w", ip, err)
		}
		time.Sleep(5 * time.Millisecond)
	}
	m.port = time.Since(started)
	for {
		out, err := exec.CommandContext(ctx, "/usr/bin/ssh", "-F", "/dev/null", "-i", b.keyFile, "-o", "IdentitiesOnly=yes",
			"-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null", "-o", "BatchMode=yes",
			"-o", "LogLevel=ERROR", "-o", "ConnectTimeout=2", "root@"+ip, "echo ok").CombinedOutput()
		if err == nil && string(out) == "ok\n" {
			break
		}
		if time.Now().After(deadline) {
			return m, fmt.Errorf("ssh root@%s never answered: %v: %s", ip, err, out)
		}
		time.Sleep(5 * time.Millisecond)
	}
	m.ssh = time.Since(started)
	return m, nil
}

// waitRunning polls DescribeInstances every 5 ms (the SDK's waiter polls
// too coarsely for a figure) and returns the instance's private IP.
func (b *bench) waitRunning(ctx context.Context, id string, deadline time.Time) (string, error) {
	for {
		out, err := b.client.DescribeInstances(ctx, &ec2.DescribeInstancesInput{InstanceIds: []string{id}})
		if err != nil {
			return "", fmt.Errorf("describe %s: %w", id, err)
		}
		inst := out.Reservations[0].Instances[0]
		switch inst.State.Name {
		case ec2types.InstanceStateNameRunning:
			return aws.ToString(inst.PrivateIpAddress), nil
		case ec2types.InstanceStateNamePending:
		default:
			return "", fmt.Errorf("%s went %s: %s", id, inst.State.Name, aws.ToString(inst.StateTransitionReason))
		}
		if time.Now().After(deadline) {
			return "", fmt.Errorf("%s not running after a minute", id)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// report prints p50, p99 and max; with few samples p99 is the largest.
func report(what string, ds []time.Duration) {
	sort.Slice(ds, func(i, j int) bool { return ds[i] < ds[j] })
	pct := func(p float64) time.Duration { return ds[int(p*float64(len(ds)-1)+0.5)] }
	fmt.Printf("  %-28s p50 %8s  p99 %8s  min %8s  max %8s\n", what, ms(pct(0.50)), ms(pct(0.99)), ms(ds[0]), ms(ds[len(ds)-1]))
}

func ms(d time.Duration) string { return fmt.Sprintf("%.0fms", float64(d)/float64(time.Millisecond)) }

func freeAddr() string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		fail(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// waitHealthy waits for nimbus to answer its health endpoint, or to exit
// (another nimbus on the host holding the metadata address, say).
func waitHealthy(url string, exited chan error) error {
	for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		select {
		case err := <-exited:
			exited <- err // for the deferred stop
			return fmt.Errorf("nimbus exited before it was healthy: %v", err)
		default:
		}
		if resp, err := http.Get(url + "/_nimbus/health"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
	}
	return errors.New("nimbus did not become healthy in 20s")
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "ec2ssh bench:", err)
	os.Exit(1)
}

// Package e2e drives a real nimbus binary with the real AWS CLI and
// aws-sdk-go-v2, as a user would.
package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
)

var nimbusBin string

func TestMain(m *testing.M) {
	nimbusBin = os.Getenv("NIMBUS_BIN")
	if nimbusBin == "" {
		dir, err := os.MkdirTemp("", "nimbus-e2e-bin")
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		nimbusBin = filepath.Join(dir, "nimbus")
		build := exec.Command("go", "build", "-o", nimbusBin, "github.com/nimbus-dev/nimbus/cmd/nimbus")
		build.Stdout, build.Stderr = os.Stderr, os.Stderr
		if err := build.Run(); err != nil {
			fmt.Fprintln(os.Stderr, "build nimbus:", err)
			os.Exit(1)
		}
		code := m.Run()
		os.RemoveAll(dir)
		os.Exit(code)
	}
	os.Exit(m.Run())
}

// Nimbus is one running nimbus process.
type Nimbus struct {
	URL     string
	Addr    string
	DataDir string
	Args    []string
	cmd     *exec.Cmd
	log     *bytes.Buffer
	t       *testing.T
}

// freeAddr returns a loopback address with a port nobody listens on.
func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// startNimbus starts the binary on a free loopback port with a fresh data
// directory (or dataDir, to restart over existing state) and waits until it
// answers its health endpoint.
func startNimbus(t *testing.T, dataDir string, args ...string) *Nimbus {
	t.Helper()
	if dataDir == "" {
		dataDir = t.TempDir()
	}
	addr := freeAddr(t)
	n := &Nimbus{URL: "http://" + addr, Addr: addr, DataDir: dataDir, Args: args, log: &bytes.Buffer{}, t: t}
	full := append([]string{"serve", "--listen", addr, "--data", dataDir, "--log-level", "debug"}, args...)
	n.cmd = exec.Command(nimbusBin, full...)
	n.cmd.Stdout, n.cmd.Stderr = n.log, n.log
	n.cmd.Env = append(os.Environ(), "NIMBUS_DRIVER=fake")
	if err := n.cmd.Start(); err != nil {
		t.Fatalf("start nimbus: %v", err)
	}
	t.Cleanup(func() {
		n.Stop()
		if t.Failed() {
			t.Logf("nimbus log:\n%s", n.log.String())
		}
	})
	deadline := time.Now().Add(15 * time.Second)
	for time.Now().Before(deadline) {
		resp, err := http.Get(n.URL + "/_nimbus/health")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return n
			}
		}
		if n.cmd.ProcessState != nil {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("nimbus did not become healthy; log:\n%s", n.log.String())
	return nil
}

// Stop sends SIGTERM and waits for a graceful exit.
func (n *Nimbus) Stop() int {
	if n.cmd.ProcessState != nil {
		return n.cmd.ProcessState.ExitCode()
	}
	n.cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan struct{})
	go func() { n.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(20 * time.Second):
		n.cmd.Process.Kill()
		<-done
	}
	return n.cmd.ProcessState.ExitCode()
}

// Kill sends SIGKILL: no chance to flush or close anything.
func (n *Nimbus) Kill() {
	n.cmd.Process.Kill()
	n.cmd.Wait()
}

// Log returns what nimbus has logged so far.
func (n *Nimbus) Log() string { return n.log.String() }

// awsConfig is an aws-sdk-go-v2 configuration pointing at n.
func (n *Nimbus) awsConfig(region, key, secret string) aws.Config {
	return aws.Config{
		Region:       region,
		Credentials:  credentials.NewStaticCredentialsProvider(key, secret, ""),
		BaseEndpoint: aws.String(n.URL),
		// The SDK's default of 3 attempts: its retryer absorbs a race inside
		// the SDK itself (it closes a request body that Go's transport still
		// reads after a very fast answer, which kills the connection while the
		// response is read; aws-sdk-go-v2#2737). See docs/PROTOCOLS.md.
		RetryMaxAttempts: 3,
	}
}

// cfg is the default configuration: root keys test/test in us-east-1.
func (n *Nimbus) cfg() aws.Config { return n.awsConfig("us-east-1", "test", "test") }

// awsCLIPath is Debian's AWS CLI v2. An older v1 from pip may come first on
// PATH, so the tests name the Debian one.
const awsCLIPath = "/usr/bin/aws"

// cli runs the AWS CLI against n and decodes its JSON output into out (when
// not nil). It returns stderr for error checks; a non-zero exit is returned
// as an error.
func (n *Nimbus) cli(t *testing.T, out any, args ...string) (string, error) {
	t.Helper()
	if _, err := os.Stat(awsCLIPath); err != nil {
		t.Skip("Debian's AWS CLI (/usr/bin/aws, package awscli) is not installed; make test installs it")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	full := append([]string{"--endpoint-url", n.URL, "--output", "json"}, args...)
	cmd := exec.CommandContext(ctx, awsCLIPath, full...)
	home := t.TempDir()
	cmd.Env = []string{
		"PATH=/usr/bin:/bin", "HOME=" + home,
		"AWS_ACCESS_KEY_ID=test", "AWS_SECRET_ACCESS_KEY=test", "AWS_DEFAULT_REGION=us-east-1",
		"AWS_CONFIG_FILE=" + filepath.Join(home, "config"), "AWS_SHARED_CREDENTIALS_FILE=" + filepath.Join(home, "credentials"),
		"AWS_PAGER=", "AWS_MAX_ATTEMPTS=1",
	}
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	if err != nil {
		return stderr.String(), fmt.Errorf("aws %s: %w: %s", strings.Join(args, " "), err, stderr.String())
	}
	if out != nil {
		if err := json.Unmarshal(stdout.Bytes(), out); err != nil {
			t.Fatalf("aws %s: decode %q: %v", strings.Join(args, " "), stdout.String(), err)
		}
	}
	return stderr.String(), nil
}

// staticSession is a credentials provider for temporary credentials.
func staticSession(key, secret, token string) aws.CredentialsProvider {
	return credentials.NewStaticCredentialsProvider(key, secret, token)
}

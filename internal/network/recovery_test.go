package network

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"
)

// The recovery test re-executes the test binary as a child nimbus that
// attaches a sandbox, sets its rules, reports, and waits to be killed.
const childEnv = "NIMBUS_NETWORK_TEST_CHILD"

func TestMain(m *testing.M) {
	if spec := os.Getenv(childEnv); spec != "" {
		if err := runChild(spec); err != nil {
			fmt.Fprintln(os.Stderr, "child:", err)
			os.Exit(1)
		}
		select {} // killed by the parent
	}
	os.Exit(m.Run())
}

type childSpec struct {
	Options   Options
	SandboxID string
	// WaitForSpares makes the child report only once its pool is full.
	WaitForSpares bool
}

// childReport is what the child prints: its sandbox's attachment and,
// with WaitForSpares, its ready spares.
type childReport struct {
	Sandbox Attachment
	Spares  []Attachment
}

func runChild(spec string) error {
	var cs childSpec
	if err := json.Unmarshal([]byte(spec), &cs); err != nil {
		return err
	}
	ctx := context.Background()
	m, err := NewManager(ctx, cs.Options)
	if err != nil {
		return err
	}
	if _, err := m.Attach(ctx, cs.SandboxID, cs.Options.Networks[0].Name, AttachOptions{}); err != nil {
		return err
	}
	if err := m.SetRules(ctx, cs.SandboxID, []Rule{{Protocol: ProtocolTCP, FromPort: 22, ToPort: 22, CIDR: netip.MustParsePrefix("0.0.0.0/0")}}, nil); err != nil {
		return err
	}
	a, err := m.Attachment(cs.SandboxID)
	if err != nil {
		return err
	}
	report := childReport{Sandbox: a}
	if cs.WaitForSpares {
		deadline := time.Now().Add(30 * time.Second)
		for m.ReadySpares(a.Network) < m.poolSize {
			if time.Now().After(deadline) {
				return fmt.Errorf("pool of %s never filled", a.Network)
			}
			time.Sleep(20 * time.Millisecond)
		}
		report.Spares = readySpares(m, a.Network)
	}
	return json.NewEncoder(os.Stdout).Encode(report)
}

// startChild runs a child nimbus, waits for its report and kills it, as a
// crash would.
func startChild(t *testing.T, cs childSpec) childReport {
	t.Helper()
	spec, err := json.Marshal(cs)
	if err != nil {
		t.Fatal(err)
	}
	child := exec.Command(os.Args[0], "-test.run=^$")
	child.Env = append(os.Environ(), childEnv+"="+string(spec))
	child.Stderr = os.Stderr
	stdout, err := child.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := child.Start(); err != nil {
		t.Fatal(err)
	}
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil {
		child.Process.Kill()
		child.Wait()
		t.Fatalf("child did not report its attachment: %v", err)
	}
	if err := child.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	child.Wait()
	var report childReport
	if err := json.Unmarshal([]byte(line), &report); err != nil {
		t.Fatalf("decode child report %q: %v", line, err)
	}
	return report
}

func TestRecoveryAfterKill(t *testing.T) {
	requireHost(t)
	t.Parallel()
	opts := testOptions(t)
	id := "sb-crash-" + randomHex(t, 3)
	before := startChild(t, childSpec{Options: opts, SandboxID: id}).Sandbox

	// The dead nimbus's attachment is still on the host.
	if !isNetNS(before.NetNSPath) {
		t.Fatalf("netns %s did not outlive its creator", before.NetNSPath)
	}

	m := newTestManager(t, opts)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	got, err := m.Attachment(id)
	if err != nil {
		t.Fatalf("restarted manager does not know %s: %v", id, err)
	}
	if got.IP != before.IP || got.HostVeth != before.HostVeth || !got.Complete || got.Firewall == nil {
		t.Errorf("recovered attachment %+v, want %+v", got, before)
	}
	out, err := onHost(ctx, "nft", "list", "table", "inet", opts.TableName)
	if err != nil || !strings.Contains(out, "in-"+id) {
		t.Errorf("restarted manager lost the rules of %s: %v\n%s", id, err, out)
	}

	detached, err := m.CleanupStale(ctx, func(string) bool { return false })
	if err != nil {
		t.Fatalf("CleanupStale: %v", err)
	}
	if len(detached) != 1 || detached[0] != id {
		t.Errorf("CleanupStale detached %v, want [%s]", detached, id)
	}
	assertNothingLeft(t, m, got)
}

// An Attach interrupted after its record was written but before the
// namespace was made still leaves something CleanupStale can undo.
func TestCleanupIncompleteAttachment(t *testing.T) {
	requireHost(t)
	t.Parallel()
	opts := testOptions(t)
	m := newTestManager(t, opts)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	n := testNetwork(t, m)
	id := "sb-half-" + randomHex(t, 3)
	conf, err := bridgeConfList(n, m.opts.StateDir+"/ipam")
	if err != nil {
		t.Fatal(err)
	}
	rec := &record{Attachment: Attachment{SandboxID: id, Network: n.Name, NetNSPath: m.opts.NetNSDir + "/" + id, IfName: "eth0"}, NetworkDef: n, CNIConfList: conf}
	if err := m.writeRecord(rec); err != nil {
		t.Fatal(err)
	}
	if err := createNetNS(rec.Attachment.NetNSPath); err != nil {
		t.Fatal(err)
	}

	restarted := newTestManager(t, opts)
	detached, err := restarted.CleanupStale(ctx, func(string) bool { return true })
	if err != nil {
		t.Fatalf("CleanupStale: %v", err)
	}
	if len(detached) != 1 || detached[0] != id {
		t.Errorf("CleanupStale detached %v, want the incomplete %s", detached, id)
	}
	assertNothingLeft(t, restarted, rec.Attachment)
}

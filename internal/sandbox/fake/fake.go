// Package fake is an in-memory sandbox driver for testing the layers above
// the substrate. Nothing runs: each sandbox follows a Behavior (exit code,
// duration, output, OOM) chosen by a script, so outcomes are deterministic.
// Output lines are written to the Spec's log file in the real sandboxlog
// format, so log shipping can be tested too.
//
// Drivers built on the same Host share sandboxes, which is how a test
// simulates nimbus restarting while its sandboxes keep running.
package fake

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/nimbus-dev/nimbus/internal/sandbox"
	"github.com/nimbus-dev/nimbus/internal/sandboxlog"
)

// DriverName is the Handle.Driver of fake sandboxes.
const DriverName = "fake"

const stateVersion = 1

// Behavior is what a fake sandbox does once started.
type Behavior struct {
	Stdout, Stderr []string
	// Duration is how long it runs; zero exits at once, Forever never.
	Duration   time.Duration
	ExitCode   int
	OOMKilled  bool // ends as an OOM kill (SIGKILL) after Duration
	IgnoreTERM bool // SIGTERM does nothing, so Stop must escalate
	StartError error
	Stats      sandbox.Stats // what Stats reports while it runs
}

// Forever is a Duration for sandboxes that run until stopped.
const Forever time.Duration = -1

// Script chooses a sandbox's Behavior from its Spec.
type Script func(sandbox.Spec) Behavior

// Host holds the sandboxes that "run on the machine": they outlive a Driver.
type Host struct {
	mu        sync.Mutex
	sandboxes map[string]*fakeSandbox
	nextPid   int
}

// NewHost returns an empty host.
func NewHost() *Host { return &Host{sandboxes: map[string]*fakeSandbox{}, nextPid: 1000} }

type fakeSandbox struct {
	spec     sandbox.Spec
	behavior Behavior
	state    sandbox.State
	pid      int
	started  time.Time
	status   *sandbox.ExitStatus
	done     chan struct{}
	timer    *time.Timer
}

// Driver is the fake driver.
type Driver struct {
	host   *Host
	script Script
}

// Option configures New.
type Option func(*Driver)

// WithHost shares sandboxes with other drivers on h.
func WithHost(h *Host) Option { return func(d *Driver) { d.host = h } }

// WithScript sets how sandboxes behave; the default is ParseCommand.
func WithScript(s Script) Option { return func(d *Driver) { d.script = s } }

// New returns a fake driver.
func New(opts ...Option) *Driver {
	d := &Driver{script: ParseCommand}
	for _, o := range opts {
		o(d)
	}
	if d.host == nil {
		d.host = NewHost()
	}
	return d
}

// Command renders b as a command ParseCommand understands:
// ["fake", "exit=3", "sleep=100ms", "stdout=line", "stderr=line", "oom", "ignore-term"].
func Command(b Behavior) []string {
	cmd := []string{"fake", "exit=" + strconv.Itoa(b.ExitCode)}
	if b.Duration == Forever {
		cmd = append(cmd, "sleep=forever")
	} else if b.Duration > 0 {
		cmd = append(cmd, "sleep="+b.Duration.String())
	}
	for _, l := range b.Stdout {
		cmd = append(cmd, "stdout="+l)
	}
	for _, l := range b.Stderr {
		cmd = append(cmd, "stderr="+l)
	}
	if b.OOMKilled {
		cmd = append(cmd, "oom")
	}
	if b.IgnoreTERM {
		cmd = append(cmd, "ignore-term")
	}
	return cmd
}

// ParseCommand is the default Script: a command made by Command gives its
// Behavior; any other command exits 0 at once.
func ParseCommand(spec sandbox.Spec) Behavior {
	var b Behavior
	if len(spec.Command) == 0 || spec.Command[0] != "fake" {
		return b
	}
	for _, arg := range spec.Command[1:] {
		key, val, _ := strings.Cut(arg, "=")
		switch key {
		case "exit":
			b.ExitCode, _ = strconv.Atoi(val)
		case "sleep":
			if val == "forever" {
				b.Duration = Forever
			} else {
				b.Duration, _ = time.ParseDuration(val)
			}
		case "stdout":
			b.Stdout = append(b.Stdout, val)
		case "stderr":
			b.Stderr = append(b.Stderr, val)
		case "oom":
			b.OOMKilled = true
		case "ignore-term":
			b.IgnoreTERM = true
		}
	}
	return b
}

// Name is "fake".
func (d *Driver) Name() string { return DriverName }

var idPattern = regexp.MustCompile(`^[a-z0-9][a-z0-9-]{0,63}$`)

// Create records the sandbox.
func (d *Driver) Create(ctx context.Context, spec sandbox.Spec) (*sandbox.Handle, error) {
	switch {
	case !idPattern.MatchString(spec.ID):
		return nil, fmt.Errorf("%w: id %q", sandbox.ErrInvalidSpec, spec.ID)
	case len(spec.Command) == 0:
		return nil, fmt.Errorf("%w: empty command", sandbox.ErrInvalidSpec)
	case spec.Log.Path == "":
		return nil, fmt.Errorf("%w: no log path", sandbox.ErrInvalidSpec)
	}
	d.host.mu.Lock()
	defer d.host.mu.Unlock()
	if _, ok := d.host.sandboxes[spec.ID]; ok {
		return nil, fmt.Errorf("create sandbox %s: %w", spec.ID, sandbox.ErrAlreadyExists)
	}
	d.host.sandboxes[spec.ID] = &fakeSandbox{spec: spec, behavior: d.script(spec), state: sandbox.StateCreated, done: make(chan struct{})}
	return &sandbox.Handle{ID: spec.ID, Driver: DriverName, Version: stateVersion, DriverState: []byte("{}")}, nil
}

func (d *Driver) lookup(h *sandbox.Handle) (*fakeSandbox, error) {
	if h == nil || h.Driver != DriverName {
		return nil, fmt.Errorf("%w: not a fake handle", sandbox.ErrNotFound)
	}
	sb, ok := d.host.sandboxes[h.ID]
	if !ok {
		return nil, fmt.Errorf("sandbox %s: %w", h.ID, sandbox.ErrNotFound)
	}
	return sb, nil
}

// Start writes the behaviour's output to the log and starts its clock.
func (d *Driver) Start(ctx context.Context, h *sandbox.Handle) error {
	d.host.mu.Lock()
	defer d.host.mu.Unlock()
	sb, err := d.lookup(h)
	if err != nil {
		return err
	}
	if sb.state != sandbox.StateCreated {
		return fmt.Errorf("start sandbox %s: %w", h.ID, sandbox.ErrNotRunning)
	}
	if sb.behavior.StartError != nil {
		return fmt.Errorf("start sandbox %s: %w", h.ID, sb.behavior.StartError)
	}
	if err := writeLog(sb.spec.Log.Path, sb.behavior); err != nil {
		return fmt.Errorf("start sandbox %s: %w", h.ID, err)
	}
	d.host.nextPid++
	sb.pid, sb.started, sb.state = d.host.nextPid, time.Now(), sandbox.StateRunning
	switch {
	case sb.behavior.Duration == 0:
		d.host.finishLocked(sb, sb.behavior.ExitCode, 0)
	case sb.behavior.Duration > 0:
		sb.timer = time.AfterFunc(sb.behavior.Duration, func() {
			d.host.mu.Lock()
			defer d.host.mu.Unlock()
			d.host.finishLocked(sb, sb.behavior.ExitCode, 0)
		})
	}
	return nil
}

func writeLog(path string, b Behavior) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	f, err := sandboxlog.OpenFile(path)
	if err != nil {
		return err
	}
	defer f.Close()
	w := sandboxlog.NewWriter(f, nil)
	for _, l := range b.Stdout {
		if err := w.WriteRecord(sandboxlog.Stdout, []byte(l), false); err != nil {
			return err
		}
	}
	for _, l := range b.Stderr {
		if err := w.WriteRecord(sandboxlog.Stderr, []byte(l), false); err != nil {
			return err
		}
	}
	return nil
}

// finishLocked ends a running sandbox; an OOM behaviour turns any natural
// end into an OOM kill.
func (h *Host) finishLocked(sb *fakeSandbox, code, signal int) {
	if sb.state == sandbox.StateExited {
		return
	}
	if sb.timer != nil {
		sb.timer.Stop()
	}
	st := &sandbox.ExitStatus{ExitCode: code, Signal: signal, StartedAt: sb.started, FinishedAt: time.Now()}
	if sb.behavior.OOMKilled && signal == 0 {
		st.ExitCode, st.Signal, st.OOMKilled = 137, 9, true
	}
	sb.status, sb.state = st, sandbox.StateExited
	close(sb.done)
}

// Kill delivers signal: SIGKILL always ends it; other signals end it unless
// it ignores SIGTERM.
func (d *Driver) Kill(ctx context.Context, h *sandbox.Handle, signal int) error {
	d.host.mu.Lock()
	defer d.host.mu.Unlock()
	sb, err := d.lookup(h)
	if err != nil {
		return err
	}
	if sb.state == sandbox.StateExited {
		return fmt.Errorf("kill sandbox %s: %w", h.ID, sandbox.ErrNotRunning)
	}
	if signal == 15 && sb.behavior.IgnoreTERM {
		return nil
	}
	d.host.finishLocked(sb, 128+signal, signal)
	return nil
}

// Stop sends SIGTERM, then SIGKILL after grace.
func (d *Driver) Stop(ctx context.Context, h *sandbox.Handle, grace time.Duration) error {
	if err := d.Kill(ctx, h, 15); err != nil {
		if errors.Is(err, sandbox.ErrNotRunning) {
			return nil
		}
		return err
	}
	graceCtx, cancel := context.WithTimeout(ctx, grace)
	defer cancel()
	if _, err := d.Wait(graceCtx, h); err == nil {
		return nil
	}
	if err := d.Kill(ctx, h, 9); err != nil && !errors.Is(err, sandbox.ErrNotRunning) {
		return err
	}
	_, err := d.Wait(ctx, h)
	return err
}

// Wait blocks until the sandbox ends or ctx does.
func (d *Driver) Wait(ctx context.Context, h *sandbox.Handle) (*sandbox.ExitStatus, error) {
	d.host.mu.Lock()
	sb, err := d.lookup(h)
	d.host.mu.Unlock()
	if err != nil {
		return nil, err
	}
	select {
	case <-sb.done:
		d.host.mu.Lock()
		defer d.host.mu.Unlock()
		st := *sb.status
		return &st, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// Delete forgets the sandbox, killing it if it runs.
func (d *Driver) Delete(ctx context.Context, h *sandbox.Handle) error {
	d.host.mu.Lock()
	defer d.host.mu.Unlock()
	sb, err := d.lookup(h)
	if err != nil {
		return nil // deleting a deleted sandbox is not an error
	}
	if sb.state == sandbox.StateRunning || sb.state == sandbox.StateCreated {
		d.host.finishLocked(sb, 137, 9)
	}
	delete(d.host.sandboxes, h.ID)
	return nil
}

// Stats reports the behaviour's fixed figures.
func (d *Driver) Stats(ctx context.Context, h *sandbox.Handle) (*sandbox.Stats, error) {
	d.host.mu.Lock()
	defer d.host.mu.Unlock()
	sb, err := d.lookup(h)
	if err != nil {
		return nil, err
	}
	st := sb.behavior.Stats
	return &st, nil
}

// List reports every sandbox on the host.
func (d *Driver) List(ctx context.Context) ([]sandbox.Info, error) {
	d.host.mu.Lock()
	defer d.host.mu.Unlock()
	infos := make([]sandbox.Info, 0, len(d.host.sandboxes))
	for id, sb := range d.host.sandboxes {
		infos = append(infos, sandbox.Info{
			Handle: sandbox.Handle{ID: id, Driver: DriverName, Version: stateVersion, DriverState: []byte("{}")},
			Labels: sb.spec.Labels, State: sb.state, Pid: sb.pid,
		})
	}
	return infos, nil
}

// Adopt succeeds for sandboxes still on the host.
func (d *Driver) Adopt(ctx context.Context, h *sandbox.Handle) error {
	d.host.mu.Lock()
	defer d.host.mu.Unlock()
	_, err := d.lookup(h)
	return err
}

var _ sandbox.Driver = (*Driver)(nil)

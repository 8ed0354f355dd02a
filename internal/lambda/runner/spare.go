package runner

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"github.com/nimbus-dev/nimbus/internal/lambdart"
	"github.com/nimbus-dev/nimbus/internal/network"
	"github.com/nimbus-dev/nimbus/internal/sandbox"
	"github.com/nimbus-dev/nimbus/internal/substrate"
)

// Warm spares: sandboxes started ahead of any invocation, a few per shape
// (runtime, memory size, /tmp size) that cold-started recently, so the next
// cold starts of that shape skip making a sandbox. Making one is most of a
// cold start here: network attach, runc create and start, about 115-160 ms
// of the 160-260 ms a cold start took. A spare has everything that does
// not depend on the function already in place: root, runtime files,
// limits, network, firewall; and its first process blocks reading a FIFO,
// the gate. A claim injects the function's code at /var/task (a mount made
// only inside that sandbox, see substrate.Host.InjectMount), writes the
// runtime's environment into the spare's control directory, and opens the
// gate.
//
// For Python, Node.js and Ruby the process at the gate is the runtime's
// own bootstrap, interpreter started and modules loaded (lambdart's
// SpareControlEnv), which takes the function's environment and goes on:
// interpreter start-up, most of their init, leaves the cold start too. A
// function that sets a variable the interpreter reads only at start-up
// (PYTHONPATH, NODE_OPTIONS, RUBYOPT, LD_LIBRARY_PATH...) gets a new
// sandbox instead. For provided runtimes and Java the process at the gate
// is /bin/sh, which execs the function's bootstrap (or the JVM, whose heap
// follows the function's memory) with exactly the environment a new
// sandbox would give it.
//
// A spare serves one function once, like any sandbox: it is never handed
// to a second function, so nothing crosses between functions or accounts.

// Defaults and bounds of spares.
const (
	// DefaultSparesPerShape is Options.SparesPerShape when zero: two, so
	// that a cold start soon after another still finds one while the
	// first's replacement starts.
	DefaultSparesPerShape = 2
	// maxSpares bounds the spares of all shapes together; each holds an
	// address, a cgroup, a shim and (Python, Node.js) an interpreter.
	maxSpares = 6
	// spareReadyTimeout bounds how long a new spare may take to reach its
	// launcher's wait.
	spareReadyTimeout = 30 * time.Second
	// spareYieldMax bounds how long a spare waits for cold starts in flight
	// before it starts anyway.
	spareYieldMax = 2 * time.Second
)

// Paths of a spare's control directory, inside the sandbox and in it.
const (
	spareControl   = "/.nimbus/spare"
	spareGate      = "gate"       // FIFO the first process blocks on
	spareStart     = "start"      // shell: the runtime's environment and command
	spareStartJSON = "start.json" // a preloaded bootstrap's environment
)

// spareLauncher is the spare's first process: it waits for a line on the
// gate (EOF, when the spare is destroyed unclaimed, ends it), then runs the
// start script, which execs the runtime.
const spareLauncher = "read -r _ < " + spareControl + "/" + spareGate + " && . " + spareControl + "/" + spareStart

// LabelSpare marks a Lambda sandbox started as a warm spare.
const LabelSpare = "nimbus.lambda.spare"

// spareShape is what a spare is made for: the parts of a sandbox that are
// fixed when it starts.
type spareShape struct {
	runtime     string
	memoryMB    int
	ephemeralMB int
}

func shapeOf(fn *Function) spareShape {
	return spareShape{runtime: fn.Runtime, memoryMB: fn.MemoryMB, ephemeralMB: max(fn.EphemeralMB, 512)}
}

// spare is one ready sandbox.
type spare struct {
	hexID   string
	id      string
	shape   spareShape
	control string   // host directory bound at spareControl
	gate    *os.File // write end of the launcher's FIFO
	logPath string
	created time.Time
	// preloaded: the first process is the runtime's bootstrap, which reads
	// start.json; else /bin/sh, which sources start.
	preloaded bool
}

// spares is the Pool's spares, guarded by Pool.mu.
type spares struct {
	ready    map[spareShape][]*spare
	starting map[spareShape]int
	waiters  map[spareShape][]chan *spare // cold starts waiting for a starting spare, first first
	count    int                          // ready and starting, all shapes
}

// sparesEnabled reports whether cold starts use spares: zip functions on
// the oci driver with sandbox networking (the default path).
func (p *Pool) sparesEnabled() bool {
	return p.opts.SparesPerShape >= 0 && p.gateway != nil && !p.proxied() &&
		strings.HasPrefix(p.driver, substrate.DriverOCI)
}

// spareFits reports whether a spare of fn's shape can serve fn: it cannot
// when fn sets a variable its preloaded interpreter read at start-up.
func (p *Pool) spareFits(ctx context.Context, fn *Function) bool {
	if fn.ImageURI != "" || !p.sparesEnabled() {
		return false
	}
	rt, err := p.opts.Runtimes.RuntimeFor(ctx, fn.Runtime)
	if err != nil {
		return false // the cold start reports it
	}
	if !rt.Preloads() {
		return true
	}
	defaults := lambdaDefaults()
	for k, v := range fn.Environment {
		if rt.ReadsAtStartup(k) && defaults[k] != v {
			return false
		}
	}
	return true
}

// takeSpare removes and returns a ready spare of fn's shape. With none
// ready but one starting that no other cold start waits for, it waits for
// that one: started earlier, it is ready before a new sandbox would be (and
// a new one would compete with it for the CPU). Else, or if the spare
// fails, nil: the caller makes a sandbox.
func (p *Pool) takeSpare(ctx context.Context, fn *Function) *spare {
	if !p.spareFits(ctx, fn) {
		return nil
	}
	shape := shapeOf(fn)
	p.mu.Lock()
	if list := p.spares.ready[shape]; len(list) > 0 {
		sp := list[len(list)-1]
		p.spares.ready[shape] = list[:len(list)-1]
		p.spares.count--
		p.mu.Unlock()
		return sp
	}
	if p.spares.starting[shape] <= len(p.spares.waiters[shape]) {
		p.mu.Unlock()
		return nil
	}
	handoff := make(chan *spare, 1)
	p.spares.waiters[shape] = append(p.spares.waiters[shape], handoff)
	p.mu.Unlock()
	// A cold start waiting for the spare must not hold it back.
	p.coldStarts.Add(-1)
	defer p.coldStarts.Add(1)
	select {
	case sp := <-handoff:
		return sp
	case <-ctx.Done():
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if i := slices.Index(p.spares.waiters[shape], handoff); i >= 0 {
		p.spares.waiters[shape] = slices.Delete(p.spares.waiters[shape], i, i+1)
		return nil
	}
	// Handed over as the caller left: keep it for the next.
	if sp := <-handoff; sp != nil {
		p.spares.ready[shape] = append(p.spares.ready[shape], sp)
		p.spares.count++
	}
	return nil
}

// spareDone hands a spare that finished starting (nil: it failed) to the
// first cold start waiting for one, or keeps it ready; the caller holds
// p.mu and has counted it out of starting.
func (p *Pool) spareDoneLocked(shape spareShape, sp *spare) {
	waiters := p.spares.waiters[shape]
	if sp == nil {
		// Fewer spares will come than cold starts wait: the last waiter
		// makes a sandbox of its own.
		if n := len(waiters); n > p.spares.starting[shape] {
			waiters[n-1] <- nil
			p.spares.waiters[shape] = waiters[:n-1]
		}
		return
	}
	if len(waiters) > 0 {
		p.spares.count--
		waiters[0] <- sp
		p.spares.waiters[shape] = waiters[1:]
		return
	}
	p.spares.ready[shape] = append(p.spares.ready[shape], sp)
}

// refillSpares starts spares of fn's shape in the background, one at a
// time (each competes with the invocations for the CPU), until the shape
// has SparesPerShape or the Pool maxSpares.
func (p *Pool) refillSpares(ctx context.Context, fn *Function) {
	if !p.spareFits(ctx, fn) {
		return
	}
	shape := shapeOf(fn)
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.spares.starting[shape] > 0 || !p.wantSpareLocked(shape) {
		return
	}
	p.spares.starting[shape]++
	p.spares.count++
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		for {
			p.yieldToColdStarts()
			sp, err := p.startSpare(p.ctx, shape)
			p.mu.Lock()
			p.spares.starting[shape]--
			if err != nil || p.closed {
				p.spares.count--
				p.spareDoneLocked(shape, nil)
				p.mu.Unlock()
				if err != nil && p.ctx.Err() == nil {
					p.log.Warn("lambda runner: start a warm spare", "runtime", shape.runtime, "memoryMB", shape.memoryMB, "err", err)
				}
				if sp != nil {
					p.removeSpare(sp)
				}
				return
			}
			p.spareDoneLocked(shape, sp)
			if !p.wantSpareLocked(shape) {
				p.mu.Unlock()
				return
			}
			p.spares.starting[shape]++
			p.spares.count++
			p.mu.Unlock()
		}
	}()
}

// yieldToColdStarts waits, up to a bound, until no cold start is in
// flight: making a spare (runc, CNI plugins, an interpreter's start) takes
// CPU that, on a small host, the cold starts in flight would miss.
func (p *Pool) yieldToColdStarts() {
	deadline := time.Now().Add(spareYieldMax)
	for p.coldStarts.Load() > 0 && time.Now().Before(deadline) {
		select {
		case <-p.ctx.Done():
			return
		case <-time.After(5 * time.Millisecond):
		}
	}
}

// wantSpareLocked reports whether another spare of shape should start; the
// caller holds p.mu.
func (p *Pool) wantSpareLocked(shape spareShape) bool {
	have := len(p.spares.ready[shape]) + p.spares.starting[shape]
	return !p.closed && have < p.opts.SparesPerShape && p.spares.count < maxSpares
}

// startSpare makes a spare of shape and returns once its launcher waits.
// On error the sandbox is gone, or returned for the caller to remove.
func (p *Pool) startSpare(ctx context.Context, shape spareShape) (*spare, error) {
	rt, err := p.opts.Runtimes.RuntimeFor(ctx, shape.runtime)
	if err != nil {
		return nil, fmt.Errorf("runtime %s: %w", shape.runtime, err)
	}
	mounts, err := p.root.runtimeMounts(rt)
	if err != nil {
		return nil, err
	}
	hexID := newEnvironmentID()
	sp := &spare{hexID: hexID, id: "lambda-" + hexID, shape: shape, control: p.root.spareDir(hexID), created: p.now(),
		preloaded: rt.Preloads()}
	if err := makeSpareControl(sp.control); err != nil {
		return nil, err
	}
	rs := substrate.RunSpec{
		ID:           sp.id,
		Owner:        substrate.Owner{Kind: OwnerKind},
		Labels:       map[string]string{LabelSpare: "true"},
		RootDir:      p.root.dir,
		ReadOnlyRoot: true,
		User:         sandboxUser,
		Hostname:     "169.254.0.1",
		MilliCPU:     milliCPU(shape.memoryMB),
		MemoryBytes:  int64(shape.memoryMB) << 20,
		PidsLimit:    1024,
		Network:      p.netName,
		Command:      []string{"/bin/sh", "-c", spareLauncher},
		WorkDir:      "/",
		Env:          []string{"PATH=/usr/bin:/bin"},
		Mounts: append(append(append([]substrate.Mount(nil), p.root.mounts...), mounts...),
			substrate.Mount{Type: substrate.MountTmpfs, Destination: "/tmp", SizeBytes: int64(shape.ephemeralMB) << 20},
			substrate.Mount{Type: substrate.MountBind, Source: sp.control, Destination: spareControl, ReadOnly: true}),
	}
	if sp.preloaded {
		// The interpreter starts as a function's would: Lambda's defaults
		// are all it reads at start-up (see spareFits).
		rs.Command = rt.Command(runtimeDir, taskRoot)
		rs.Env = []string{lambdart.SpareControlEnv + "=" + spareControl}
		for k, v := range lambdaDefaults() {
			rs.Env = append(rs.Env, k+"="+v)
		}
	}
	sb, err := p.host.Run(ctx, rs)
	if err != nil {
		os.RemoveAll(sp.control)
		return nil, err
	}
	sp.logPath = sb.LogPath
	// No egress at all, as every Lambda sandbox (see coldStart).
	if err := p.host.SetFirewall(ctx, sp.id, nil, []network.Rule{}); err != nil {
		return sp, err
	}
	if sp.gate, err = openGate(ctx, filepath.Join(sp.control, spareGate), func() bool {
		s, err := p.host.Get(ctx, sp.id)
		return err == nil && s.Exit == nil
	}); err != nil {
		return sp, err
	}
	return sp, nil
}

// makeSpareControl makes a spare's control directory with its gate FIFO,
// readable by the sandbox user only.
func makeSpareControl(dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("spare control directory: %w", err)
	}
	gate := filepath.Join(dir, spareGate)
	if err := unix.Mkfifo(gate, 0o600); err != nil {
		return fmt.Errorf("spare gate: %w", err)
	}
	uid, gid := sandboxIDs()
	if err := os.Chown(gate, uid, gid); err != nil {
		return fmt.Errorf("spare gate: %w", err)
	}
	return nil
}

// openGate opens the FIFO for writing once the launcher has opened it for
// reading (until then a non-blocking open fails with ENXIO), polling while
// alive says the sandbox still runs.
func openGate(ctx context.Context, path string, alive func() bool) (*os.File, error) {
	deadline := time.Now().Add(spareReadyTimeout)
	for wait := time.Millisecond; ; wait = min(2*wait, 20*time.Millisecond) {
		fd, err := unix.Open(path, unix.O_WRONLY|unix.O_NONBLOCK|unix.O_CLOEXEC, 0)
		if err == nil {
			return os.NewFile(uintptr(fd), path), nil
		}
		if !errors.Is(err, unix.ENXIO) {
			return nil, fmt.Errorf("open spare gate: %w", err)
		}
		if time.Now().After(deadline) || !alive() {
			return nil, errors.New("spare launcher never reached its gate")
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(wait):
		}
	}
}

// claimSpare gives sp to env: the function's code at /var/task, its labels,
// its runtime's environment and command, then wakes the launcher. On error
// the caller removes the spare.
func (p *Pool) claimSpare(ctx context.Context, fn *Function, env *environment, sp *spare, apiAddr string) error {
	rt, err := p.opts.Runtimes.RuntimeFor(ctx, fn.Runtime)
	if err != nil {
		return fmt.Errorf("runtime %s: %w", fn.Runtime, err)
	}
	if fn.CodeDir == "" {
		return fmt.Errorf("function %s has neither code nor an image", fn.Name)
	}
	var creds *Credentials
	if fn.Credentials != nil {
		if creds, err = fn.Credentials(ctx); err != nil {
			return fmt.Errorf("execution role credentials: %w", err)
		}
	}
	if err := p.host.InjectMount(ctx, sp.id, fn.CodeDir, taskRoot, sandbox.InjectOptions{ReadOnly: true}); err != nil {
		return err
	}
	vars := environ(fn, rt, apiAddr, env.stream, creds, p.awsEndpoint(false))
	start, content := filepath.Join(sp.control, spareStart), []byte(startScript(vars, rt.Command(runtimeDir, taskRoot)))
	if sp.preloaded {
		start = filepath.Join(sp.control, spareStartJSON)
		if content, err = startJSON(vars); err != nil {
			return err
		}
	}
	if err := os.WriteFile(start, content, 0o400); err != nil {
		return fmt.Errorf("spare start file: %w", err)
	}
	uid, gid := sandboxIDs()
	if err := os.Chown(start, uid, gid); err != nil {
		return fmt.Errorf("spare start file: %w", err)
	}
	if err := p.host.Label(ctx, sp.id, map[string]string{
		LabelFunction: fn.Name, LabelVersion: fn.Version, LabelRevision: fn.Revision,
	}); err != nil {
		return err
	}
	_, err = sp.gate.Write([]byte("\n"))
	sp.gate.Close()
	sp.gate = nil
	if err != nil {
		return fmt.Errorf("wake spare launcher: %w", err)
	}
	return nil
}

// startScript is the shell the launcher sources: it enters /var/task (the
// launcher's working directory predates the code's mount) and execs the
// runtime with exactly env.
func startScript(env, argv []string) string {
	var b strings.Builder
	b.WriteString("cd " + taskRoot + " && exec /usr/bin/env -i --")
	for _, kv := range env {
		b.WriteString(" " + shellQuote(kv))
	}
	for _, a := range argv {
		b.WriteString(" " + shellQuote(a))
	}
	b.WriteString("\n")
	return b.String()
}

// startJSON is a preloaded bootstrap's start.json: {"env": {KEY: VALUE}}.
func startJSON(env []string) ([]byte, error) {
	m := make(map[string]string, len(env))
	for _, kv := range env {
		k, v, _ := strings.Cut(kv, "=")
		m[k] = v
	}
	b, err := json.Marshal(struct {
		Env map[string]string `json:"env"`
	}{m})
	if err != nil {
		return nil, fmt.Errorf("spare start file: %w", err)
	}
	return b, nil
}

// shellQuote quotes s as one POSIX shell word.
func shellQuote(s string) string {
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// removeSpare deletes an unclaimed (or failed) spare's sandbox and control
// directory, now.
func (p *Pool) removeSpare(sp *spare) {
	if sp.gate != nil {
		sp.gate.Close() // the launcher reads EOF and exits
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(p.ctx), time.Minute)
	defer cancel()
	if err := p.host.Delete(ctx, sp.id); err != nil && !errors.Is(err, substrate.ErrNotFound) {
		p.log.Error("lambda runner: delete spare", "sandbox", sp.id, "err", err)
	}
	if err := os.RemoveAll(sp.control); err != nil {
		p.log.Warn("lambda runner: remove spare control directory", "dir", sp.control, "err", err)
	}
}

// destroySpare removes a spare in the background, counted in teardowns
// (inline once Close no longer waits for them).
func (p *Pool) destroySpare(sp *spare) {
	p.mu.Lock()
	if p.stopped {
		p.mu.Unlock()
		p.removeSpare(sp)
		return
	}
	p.teardowns.Add(1)
	p.mu.Unlock()
	go func() {
		defer p.teardowns.Done()
		p.removeSpare(sp)
	}()
}

// drainSpares removes and returns every ready spare, or (old) only those
// made before cutoff; the caller holds p.mu.
func (p *Pool) drainSparesLocked(cutoff time.Time) []*spare {
	var out []*spare
	for shape, list := range p.spares.ready {
		kept := list[:0]
		for _, sp := range list {
			if cutoff.IsZero() || sp.created.Before(cutoff) {
				out = append(out, sp)
				continue
			}
			kept = append(kept, sp)
		}
		p.spares.ready[shape] = kept
	}
	p.spares.count -= len(out)
	return out
}

// sandboxIDs is sandboxUser as numbers.
func sandboxIDs() (uid, gid int) {
	var u, g int
	fmt.Sscanf(sandboxUser, "%d:%d", &u, &g)
	return u, g
}

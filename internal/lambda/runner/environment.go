package runner

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/nimbus-dev/nimbus/internal/lambdart"
	"github.com/nimbus-dev/nimbus/internal/network"
	"github.com/nimbus-dev/nimbus/internal/sandbox"
	"github.com/nimbus-dev/nimbus/internal/substrate"
)

// errClosed is returned by Invoke once Close has begun.
var errClosed = errors.New("lambda runner: closed")

// environment is one sandbox running one runtime: Lambda's execution
// environment. It serves one invocation at a time.
type environment struct {
	id       string // substrate sandbox ID: "lambda-" and the 32 hex digits of the log stream
	stream   string // log stream name
	key      versionKey
	revision string
	memoryMB int
	version  string

	sess     *lambdart.Session
	listener *lambdart.Listener // loopback or Unix socket Runtime API; nil on a network
	proxied  bool               // the runtime runs under the in-sandbox proxy
	control  string             // a claimed spare's control directory, removed with it
	log      *sandboxLog        // nil until the sandbox runs

	started  time.Time     // when the cold start began
	running  time.Time     // when the substrate had started the runtime
	initDur  time.Duration // from running until the runtime first asked for an invocation
	initErr  error         // why the init failed; the first invocation reports it
	lastUsed time.Time     // guarded by Pool.mu

	broken   atomic.Bool // failed or being destroyed: never reused
	teardown sync.Once
}

// usable reports whether the environment can take another invocation.
func (e *environment) usable() bool {
	if e.broken.Load() {
		return false
	}
	select {
	case <-e.sess.Done():
		return false
	default:
		return true
	}
}

// newEnvironmentID returns the 32 hex digits Lambda's log stream names end
// with.
func newEnvironmentID() string {
	b := make([]byte, 16)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// coldStart starts a sandbox for fn, or claims a warm spare of its shape,
// and waits for its runtime's init. A failed init is not a Go error: it
// returns the environment (already being destroyed) with its session ended,
// and the caller answers the invocation with the failure.
func (p *Pool) coldStart(ctx context.Context, fn *Function) (*environment, error) {
	p.coldStarts.Add(1)
	defer p.coldStarts.Add(-1)
	sp := p.takeSpare(ctx, fn)
	// Whatever this cold start uses, the next of its shape finds a spare.
	defer p.refillSpares(ctx, fn)
	hexID := newEnvironmentID()
	if sp != nil {
		hexID = sp.hexID
	}
	_, vk := keysOf(fn)
	env := &environment{
		id: "lambda-" + hexID, key: vk, revision: fn.Revision, memoryMB: fn.MemoryMB, version: fn.Version,
		started: p.now(),
	}
	env.stream = p.now().UTC().Format("2006/01/02") + "/[" + fn.Version + "]" + hexID
	logGroup := fn.LogGroup
	if logGroup == "" {
		logGroup = "/aws/lambda/" + fn.Name
	}
	env.sess = lambdart.NewSession(lambdart.WithStartTime(env.started), lambdart.WithLogger(p.log))

	var logPath string
	if sp != nil {
		p.mux.Add(env.id, env.sess)
		if err := p.claimSpare(ctx, fn, env, sp, p.apiAddr); err != nil {
			p.unroute(env)
			p.destroySpare(sp)
			if ctx.Err() != nil {
				return nil, fmt.Errorf("cold start %s: %w", fn.Name, ctx.Err())
			}
			// The spare failed (it died, say): make a sandbox instead.
			p.log.Warn("lambda runner: claim a warm spare", "sandbox", sp.id, "err", err)
			return p.coldStart(ctx, fn)
		}
		logPath, env.control = sp.logPath, sp.control
		env.running = p.now()
	} else {
		var err error
		if logPath, err = p.startSandbox(ctx, fn, env); err != nil {
			return nil, err
		}
	}
	var err error
	env.log, err = openSandboxLog(logPath, LogDestination{Account: fn.Account, Region: fn.Region, Group: logGroup, Stream: env.stream}, p.now)
	if err != nil {
		p.destroyNow(env, "log failed")
		return nil, fmt.Errorf("cold start %s: %w", fn.Name, err)
	}
	p.ship.add(env.log)
	if !p.adopt(env) {
		p.destroyNow(env, "nimbus closing during cold start")
		return nil, errClosed
	}
	p.watchExit(env)
	ictx, cancel := context.WithTimeout(ctx, initTimeout)
	defer cancel()
	err = env.sess.WaitReady(ictx)
	// Lambda's Init Duration is the runtime's own init, not the making of
	// its sandbox: it counts from when Run returned (the runtime started
	// just before) to the runtime's first request for an invocation.
	env.initDur = p.now().Sub(env.running)
	if d, ok := env.sess.InitDuration(); ok {
		env.initDur = max(d-env.running.Sub(env.started), 0)
	}
	switch {
	case err == nil:
		return env, nil
	case ctx.Err() != nil:
		p.forget(env)
		p.destroy(env, "caller left during init")
		return nil, fmt.Errorf("cold start %s: %w", fn.Name, ctx.Err())
	}
	// Init failed (or outran initTimeout): the caller reports it.
	env.initErr = err
	env.broken.Store(true)
	return env, nil
}

// startSandbox makes env's sandbox through the substrate and returns its
// log path.
func (p *Pool) startSandbox(ctx context.Context, fn *Function, env *environment) (string, error) {
	hexID := strings.TrimPrefix(env.id, "lambda-")
	apiAddr := p.apiAddr
	switch {
	case p.proxied() && fn.ImageURI == "":
		env.proxied = true
		l, err := lambdart.ListenUnix(ctx, p.root.socketPath(hexID), env.sess)
		if err != nil {
			return "", fmt.Errorf("cold start %s: %w", fn.Name, err)
		}
		env.listener, apiAddr = l, proxyListen
	case p.gateway == nil && p.proxied():
		return "", fmt.Errorf("cold start %s: PackageType Image functions need sandbox networking, which this host lacks: %s",
			fn.Name, p.host.Info().NetworkReason)
	case p.gateway == nil:
		l, err := lambdart.ListenLoopback(ctx, env.sess)
		if err != nil {
			return "", fmt.Errorf("cold start %s: %w", fn.Name, err)
		}
		env.listener, apiAddr = l, l.Addr()
	default:
		p.mux.Add(env.id, env.sess)
	}
	spec, err := p.runSpec(ctx, fn, env, apiAddr)
	if err != nil {
		p.unroute(env)
		return "", fmt.Errorf("cold start %s: %w", fn.Name, err)
	}
	if env.proxied {
		spec.Network = ""
		spec.Command = append([]string{proxyBinary, ProxyCommand, proxySocket, proxyListen}, spec.Command...)
		spec.Mounts = append(spec.Mounts,
			substrate.Mount{Type: substrate.MountBind, Source: p.opts.RuntimeAPIProxy, Destination: proxyBinary, ReadOnly: true},
			substrate.Mount{Type: substrate.MountBind, Source: env.listener.Addr(), Destination: proxySocket, ReadOnly: true})
	}
	sb, err := p.host.Run(ctx, spec)
	if err != nil {
		p.unroute(env)
		return "", fmt.Errorf("cold start %s: %w", fn.Name, err)
	}
	env.running = p.now()
	if spec.Network != "" {
		// No egress at all: the Runtime API's gateway port stays open
		// (AllowGatewayPort), every other host port and the outside do not.
		if err := p.host.SetFirewall(ctx, env.id, nil, []network.Rule{}); err != nil {
			p.destroyNow(env, "firewall failed")
			return "", fmt.Errorf("cold start %s: %w", fn.Name, err)
		}
	}
	return sb.LogPath, nil
}

// unroute stops serving an environment's Runtime API.
func (p *Pool) unroute(env *environment) {
	env.sess.Close()
	if env.listener != nil {
		cctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		if err := env.listener.Close(cctx); err != nil {
			p.log.Warn("lambda runner: close runtime API listener", "sandbox", env.id, "err", err)
		}
	} else {
		p.mux.Remove(env.id)
	}
}

// watchExit tells the session when the sandbox's runtime ends; adopt
// counted the goroutine in p.wg.
func (p *Pool) watchExit(env *environment) {
	go func() {
		defer p.wg.Done()
		st, err := p.host.Wait(p.ctx, env.id)
		switch {
		case p.ctx.Err() != nil:
			return
		case err != nil:
			env.sess.Exited(fmt.Errorf("exit status lost: %w", err))
		default:
			env.sess.Exited(exitCause(st, env.proxied))
		}
	}()
}

// exitCause words a sandbox's end as Go's os/exec does, which is what
// Lambda reports: "exit status 1", "signal: killed" (also for a memory
// kill, as Lambda reports one).
// Under the proxy, a runtime ended by a signal shows as exit code 128 plus
// the signal (the proxy, PID 1, cannot die of it in turn).
func exitCause(st *sandbox.ExitStatus, proxied bool) error {
	switch {
	case st.OOMKilled:
		return errors.New("signal: killed")
	case st.Signal != 0:
		return fmt.Errorf("signal: %s", syscall.Signal(st.Signal))
	case proxied && st.ExitCode > 128 && st.ExitCode < 128+65:
		return fmt.Errorf("signal: %s", syscall.Signal(st.ExitCode-128))
	case st.ExitCode != 0:
		return fmt.Errorf("exit status %d", st.ExitCode)
	}
	return nil
}

// destroy deletes the environment's sandbox in the background; the caller
// has already removed it from its pool.
func (p *Pool) destroy(env *environment, why string) {
	env.broken.Store(true)
	env.sess.Close() // an invocation in flight fails now, not after the delete
	env.teardown.Do(func() {
		p.mu.Lock()
		if p.stopped {
			// Close is past waiting for teardowns: do it here.
			p.mu.Unlock()
			p.remove(env, why)
			return
		}
		p.teardowns.Add(1)
		p.mu.Unlock()
		go func() {
			defer p.teardowns.Done()
			p.remove(env, why)
		}()
	})
}

// destroyNow deletes the environment's sandbox before returning.
func (p *Pool) destroyNow(env *environment, why string) {
	env.broken.Store(true)
	env.teardown.Do(func() { p.remove(env, why) })
}

func (p *Pool) remove(env *environment, why string) {
	p.log.Debug("lambda runner: removing sandbox", "sandbox", env.id, "why", why)
	p.unroute(env)
	ctx, cancel := context.WithTimeout(context.WithoutCancel(p.ctx), time.Minute)
	defer cancel()
	if env.log != nil {
		p.ship.remove(ctx, env.log)
	}
	if err := p.host.Delete(ctx, env.id); err != nil && !errors.Is(err, substrate.ErrNotFound) {
		p.log.Error("lambda runner: delete sandbox", "sandbox", env.id, "err", err)
	}
	if env.log != nil {
		env.log.close()
		os.Remove(shipMarkPath(env.log.path)) // shipped and gone with its log
	}
	if env.control != "" {
		if err := os.RemoveAll(env.control); err != nil {
			p.log.Warn("lambda runner: remove spare control directory", "dir", env.control, "err", err)
		}
	}
}

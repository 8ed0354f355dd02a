package runner

import (
	"context"
	"time"
)

// functionKey names a function across its versions: reserved concurrency
// is counted per function.
type functionKey struct{ account, region, name string }

// partitionKey names an account in a region: the unreserved pool is shared
// there.
type partitionKey struct{ account, region string }

// versionKey names one function version: warm sandboxes are shared within
// it only.
type versionKey struct {
	functionKey
	version string
}

func keysOf(fn *Function) (functionKey, versionKey) {
	fk := functionKey{fn.Account, fn.Region, fn.Name}
	return fk, versionKey{fk, fn.Version}
}

// versionPool is the sandboxes of one function version.
type versionPool struct {
	revision string                // the newest revision invoked; older sandboxes are retired
	idle     []*environment        // most recently used last
	all      map[*environment]bool // idle and busy
}

// drain removes and returns every sandbox of the pool.
func (vp *versionPool) drain() []*environment {
	var out []*environment
	for env := range vp.all {
		out = append(out, env)
	}
	vp.all, vp.idle = map[*environment]bool{}, nil
	return out
}

// ticket is one admitted invocation's share of the concurrency limits.
type ticket struct {
	fk         functionKey
	part       partitionKey
	unreserved bool
}

// admit counts an invocation against fn's concurrency limits, or refuses
// it with a *ThrottleError. It then takes an idle sandbox of fn's revision
// (nil: cold start) and returns the sandboxes of older revisions that are
// idle, for the caller to destroy.
func (p *Pool) admit(fn *Function) (t ticket, warm *environment, stale []*environment, err error) {
	fk, vk := keysOf(fn)
	t = ticket{fk: fk, part: partitionKey{fn.Account, fn.Region}, unreserved: fn.Reserved == nil}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return t, nil, nil, errClosed
	}
	switch {
	case fn.Reserved != nil && p.inflight[fk] >= *fn.Reserved:
		return t, nil, nil, &ThrottleError{Reason: ReasonReservedLimit}
	case fn.Reserved == nil && p.unreserved[t.part] >= fn.UnreservedPool:
		return t, nil, nil, &ThrottleError{Reason: ReasonAccountLimit}
	}
	p.inflight[fk]++
	if t.unreserved {
		p.unreserved[t.part]++
	}
	vp := p.versions[vk]
	if vp == nil {
		vp = &versionPool{revision: fn.Revision, all: map[*environment]bool{}}
		p.versions[vk] = vp
	}
	if vp.revision != fn.Revision {
		vp.revision = fn.Revision
		for _, env := range vp.idle {
			delete(vp.all, env)
			stale = append(stale, env)
		}
		vp.idle = nil
	}
	for len(vp.idle) > 0 {
		env := vp.idle[len(vp.idle)-1]
		vp.idle = vp.idle[:len(vp.idle)-1]
		if env.usable() {
			return t, env, stale, nil
		}
		delete(vp.all, env) // died while idle
		stale = append(stale, env)
	}
	return t, nil, stale, nil
}

// release gives back an invocation's share of the limits.
func (p *Pool) release(t ticket) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.inflight[t.fk]--; p.inflight[t.fk] <= 0 {
		delete(p.inflight, t.fk)
	}
	if t.unreserved {
		if p.unreserved[t.part]--; p.unreserved[t.part] <= 0 {
			delete(p.unreserved, t.part)
		}
	}
}

// adopt registers a new sandbox as busy in its pool and counts its exit
// watcher in p.wg (under p.mu, so never after Close began waiting). It is
// refused (false) once the Pool is closing. A sandbox whose function was
// retired, or whose revision was replaced, while it started is not
// registered: it serves the invocation that started it, then park refuses
// it.
func (p *Pool) adopt(env *environment) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return false
	}
	p.wg.Add(1)
	if vp := p.versions[env.key]; vp != nil && vp.revision == env.revision {
		vp.all[env] = true
	}
	return true
}

// park puts a sandbox whose invocation ended back in its pool's idle list,
// or reports (false) that it must be destroyed: it failed, its revision is
// no longer current, or its function was retired.
func (p *Pool) park(env *environment) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	vp := p.versions[env.key]
	if vp == nil || !vp.all[env] {
		return false
	}
	if p.closed || vp.revision != env.revision || !env.usable() {
		delete(vp.all, env)
		return false
	}
	env.lastUsed = p.now()
	vp.idle = append(vp.idle, env)
	return true
}

// forget removes a sandbox that will be destroyed from its pool.
func (p *Pool) forget(env *environment) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if vp := p.versions[env.key]; vp != nil {
		delete(vp.all, env)
		for i, e := range vp.idle {
			if e == env {
				vp.idle = append(vp.idle[:i], vp.idle[i+1:]...)
				break
			}
		}
	}
}

// Retire removes every sandbox of the function (all versions): idle ones
// now, busy ones when their invocation ends. It waits for none.
func (p *Pool) Retire(ctx context.Context, account, region, name string) error {
	fk := functionKey{account, region, name}
	var gone []*environment
	p.mu.Lock()
	for vk, vp := range p.versions {
		if vk.functionKey != fk {
			continue
		}
		gone = append(gone, vp.idle...)
		vp.idle = nil
		// Busy sandboxes find their pool gone in park and are destroyed.
		delete(p.versions, vk)
	}
	p.mu.Unlock()
	for _, env := range gone {
		p.destroy(env, "function retired")
	}
	return ctx.Err()
}

// reap destroys sandboxes idle for longer than KeepAlive, until ctx ends.
func (p *Pool) reap(ctx context.Context) {
	every := p.opts.KeepAlive / 4
	every = max(min(every, 30*time.Second), 10*time.Millisecond)
	tick := time.NewTicker(every)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		for _, env := range p.expired() {
			p.destroy(env, "idle past keep-alive")
		}
		p.mu.Lock()
		old := p.drainSparesLocked(p.now().Add(-p.opts.KeepAlive))
		p.mu.Unlock()
		for _, sp := range old {
			p.destroySpare(sp)
		}
	}
}

// expired removes and returns the idle sandboxes past KeepAlive and those
// that died while idle.
func (p *Pool) expired() []*environment {
	cutoff := p.now().Add(-p.opts.KeepAlive)
	var out []*environment
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, vp := range p.versions {
		kept := vp.idle[:0]
		for _, env := range vp.idle {
			if env.lastUsed.Before(cutoff) || !env.usable() {
				delete(vp.all, env)
				out = append(out, env)
				continue
			}
			kept = append(kept, env)
		}
		vp.idle = kept
	}
	return out
}

// Stats is what the Pool holds now, for metrics and tests.
type Stats struct {
	Sandboxes int // idle and busy
	Idle      int
	InFlight  int
}

// Stats counts the sandboxes of one function version (all versions when
// version is empty).
func (p *Pool) Stats(account, region, name, version string) Stats {
	fk := functionKey{account, region, name}
	var s Stats
	p.mu.Lock()
	defer p.mu.Unlock()
	for vk, vp := range p.versions {
		if vk.functionKey != fk || (version != "" && vk.version != version) {
			continue
		}
		s.Sandboxes += len(vp.all)
		s.Idle += len(vp.idle)
	}
	s.InFlight = p.inflight[fk]
	return s
}

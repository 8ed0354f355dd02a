package runner

import (
	"github.com/nimbus-dev/nimbus/internal/lambdart"
)

// RuntimePreparer is an optional ability of an Invoker: make a runtime's
// files ready before its first cold start needs them. Java's bootstrap is
// compiled by the host's javac once per data directory, which takes
// seconds; doing it when the function is created keeps that out of its
// first invocation.
type RuntimePreparer interface {
	PrepareRuntime(runtime string)
}

// PrepareRuntime writes (for Java: compiles) the named runtime's bootstrap
// files in the background. A cold start that comes first waits for the
// same work instead of repeating it. Errors are logged: the cold start
// meets and reports them again.
func (p *Pool) PrepareRuntime(runtime string) {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return
	}
	p.wg.Add(1)
	p.mu.Unlock()
	go func() {
		defer p.wg.Done()
		rt, err := lambdart.RuntimeFor(p.ctx, runtime)
		if err != nil || len(rt.Files()) == 0 {
			return // not runnable here (CreateFunction said so) or nothing to write
		}
		if _, err := p.root.runtimeFiles(rt); err != nil {
			p.log.Warn("lambda runner: prepare runtime", "runtime", runtime, "err", err)
		}
	}()
}

package lambdart

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"sync"
	"time"
)

// Listener serves one http.Handler (a Session, or a Mux) on a port of its
// own; Close stops it and waits for its goroutine.
type Listener struct {
	ln  net.Listener
	srv *http.Server
	wg  sync.WaitGroup
	err error // from Serve, read after wg.Wait
}

// ListenLoopback serves h on 127.0.0.1 at a free port: the
// AWS_LAMBDA_RUNTIME_API of a host-process sandbox is then l.Addr().
func ListenLoopback(ctx context.Context, h http.Handler) (*Listener, error) {
	return Listen(ctx, "127.0.0.1:0", h)
}

// Listen serves h on addr.
func Listen(ctx context.Context, addr string, h http.Handler) (*Listener, error) {
	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, "tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("runtime API listen on %s: %w", addr, err)
	}
	return serve(ln, h), nil
}

// ListenUnix serves h on a Unix socket at path, which anyone may connect
// to (a sandbox's runtime runs as another user); Close removes it. A proxy
// inside a sandbox without a network forwards the runtime's TCP
// connections there.
func ListenUnix(ctx context.Context, path string, h http.Handler) (*Listener, error) {
	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, "unix", path)
	if err != nil {
		return nil, fmt.Errorf("runtime API listen on %s: %w", path, err)
	}
	if err := os.Chmod(path, 0o666); err != nil {
		ln.Close()
		return nil, fmt.Errorf("runtime API listen on %s: %w", path, err)
	}
	return serve(ln, h), nil
}

func serve(ln net.Listener, h http.Handler) *Listener {
	l := &Listener{ln: ln, srv: &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}}
	l.wg.Add(1)
	go func() {
		defer l.wg.Done()
		if err := l.srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
			l.err = err
		}
	}()
	return l
}

// Addr is the host:port the listener serves, the value for
// AWS_LAMBDA_RUNTIME_API.
func (l *Listener) Addr() string { return l.ln.Addr().String() }

// Close stops accepting, waits for in-flight requests until ctx ends (a
// runtime blocked in /next holds its request open: close its Session
// first), then closes what is left.
func (l *Listener) Close(ctx context.Context) error {
	err := l.srv.Shutdown(ctx)
	if err != nil {
		err = errors.Join(err, l.srv.Close())
	}
	l.wg.Wait()
	if err != nil || l.err != nil {
		return fmt.Errorf("close runtime API listener %s: %w", l.Addr(), errors.Join(err, l.err))
	}
	return nil
}

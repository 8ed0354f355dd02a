package network

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"strconv"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// Caller is the sandbox a metadata request came from.
type Caller struct {
	SandboxID string
	Network   string
	IP        netip.Addr
}

type callerKey struct{}

// SandboxFromContext returns the sandbox that made a request served by a
// MetadataServer.
func SandboxFromContext(ctx context.Context) (Caller, bool) {
	c, ok := ctx.Value(callerKey{}).(Caller)
	return c, ok
}

// MetadataServer serves one http.Handler on every network's gateway at the
// manager's MetadataPort, where the DNAT rule sends 169.254.169.254:80. The
// handler learns the calling sandbox from the request context; requests
// whose source address is no sandbox get 403 and never reach it.
type MetadataServer struct {
	m       *Manager
	handler http.Handler
	srv     *http.Server
	port    int // on each gateway; the manager's MetadataPort unless WithGatewayPort

	mu        sync.Mutex
	listening map[string]net.Listener // by network name
	wg        sync.WaitGroup
	closed    bool
}

// MetadataServerOption configures a MetadataServer.
type MetadataServerOption func(*MetadataServer)

// WithGatewayPort serves on another gateway port than the manager's
// MetadataPort (the Lambda Runtime API does). Sandboxes whose firewall
// denies egress reach it only once the port is allowed with
// Manager.AllowGatewayPort.
func WithGatewayPort(port int) MetadataServerOption {
	return func(s *MetadataServer) { s.port = port }
}

// NewMetadataServer makes a server; call Listen for each network.
func NewMetadataServer(m *Manager, h http.Handler, opts ...MetadataServerOption) *MetadataServer {
	s := &MetadataServer{m: m, handler: h, port: m.opts.MetadataPort, listening: make(map[string]net.Listener)}
	for _, o := range opts {
		o(s)
	}
	s.srv = &http.Server{
		Handler:           http.HandlerFunc(s.serveHTTP),
		ReadHeaderTimeout: 10 * time.Second,
	}
	return s
}

// Listen starts serving on the gateway of the named network. It binds with
// IP_FREEBIND because the gateway address only appears on the bridge with
// the network's first attachment.
func (s *MetadataServer) Listen(ctx context.Context, networkName string) error {
	n, err := s.m.Network(networkName)
	if err != nil {
		return fmt.Errorf("metadata listen: %w", err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return fmt.Errorf("metadata listen on %s: %w", networkName, http.ErrServerClosed)
	}
	if _, ok := s.listening[n.Name]; ok {
		return nil
	}
	lc := net.ListenConfig{Control: func(network, address string, c syscall.RawConn) error {
		var serr error
		err := c.Control(func(fd uintptr) {
			serr = unix.SetsockoptInt(int(fd), unix.SOL_IP, unix.IP_FREEBIND, 1)
		})
		return errors.Join(err, serr)
	}}
	addr := net.JoinHostPort(n.Gateway.String(), strconv.Itoa(s.port))
	ln, err := lc.Listen(ctx, "tcp4", addr)
	if err != nil {
		return fmt.Errorf("metadata listen on %s: %w", addr, err)
	}
	s.listening[n.Name] = ln
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		if err := s.srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			s.m.log.Error("metadata server stopped", "addr", addr, "err", err)
		}
	}()
	return nil
}

// ListenAll listens on every network the manager has defined now.
func (s *MetadataServer) ListenAll(ctx context.Context) error {
	for _, n := range s.m.Networks() {
		if err := s.Listen(ctx, n.Name); err != nil {
			return err
		}
	}
	return nil
}

// Close stops every listener, waits for in-flight requests until ctx ends,
// and waits for the serving goroutines.
func (s *MetadataServer) Close(ctx context.Context) error {
	s.mu.Lock()
	s.closed = true
	s.mu.Unlock()
	err := s.srv.Shutdown(ctx)
	s.wg.Wait()
	return err
}

func (s *MetadataServer) serveHTTP(w http.ResponseWriter, r *http.Request) {
	local, _ := r.Context().Value(http.LocalAddrContextKey).(net.Addr)
	remote, err := netip.ParseAddrPort(r.RemoteAddr)
	if local == nil || err != nil {
		http.Error(w, "cannot tell the caller's address", http.StatusForbidden)
		return
	}
	localAP, err := netip.ParseAddrPort(local.String())
	if err != nil {
		http.Error(w, "cannot tell the local address", http.StatusForbidden)
		return
	}
	a, ok := s.m.SandboxByAddr(localAP.Addr().Unmap(), remote.Addr().Unmap())
	if !ok {
		http.Error(w, "no sandbox has address "+remote.Addr().String(), http.StatusForbidden)
		return
	}
	caller := Caller{SandboxID: a.SandboxID, Network: a.Network, IP: a.IP}
	s.handler.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), callerKey{}, caller)))
}

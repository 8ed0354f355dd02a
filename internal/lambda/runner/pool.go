package runner

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nimbus-dev/nimbus/internal/lambdart"
	"github.com/nimbus-dev/nimbus/internal/network"
	"github.com/nimbus-dev/nimbus/internal/substrate"
)

// OwnerKind is the substrate owner kind of every Lambda sandbox; the server
// resets sandboxes by it.
const OwnerKind = "lambda-sandbox"

// Defaults of Options.
const (
	DefaultKeepAlive      = 10 * time.Minute
	DefaultRuntimeAPIPort = 9001
	DefaultLogFlush       = 500 * time.Millisecond
	// initTimeout bounds a runtime's init phase, as Lambda's 10 s does for
	// on-demand functions.
	initTimeout = 10 * time.Second
)

// Options configures New.
type Options struct {
	// Host runs the sandboxes. Required.
	Host *substrate.Host
	// DataDir holds the runner's files: the shared read-only root and the
	// runtime bootstraps. Required.
	DataDir string
	Logger  *slog.Logger
	// KeepAlive is how long an idle sandbox stays warm; DefaultKeepAlive
	// when zero.
	KeepAlive time.Duration
	// LogSink also receives every invocation's log lines (CloudWatch Logs);
	// nil keeps them only in the sandbox log files.
	LogSink LogSink
	// LogFlush is how often lines are shipped to LogSink; DefaultLogFlush
	// when zero. Shipping is asynchronous so warm invokes wait for nothing.
	LogFlush time.Duration
	// Network is the substrate network sandboxes join when the Host has
	// networking; the Host's first network when empty.
	Network string
	// RuntimeAPIPort is the gateway port the Runtime API is served on for
	// networked sandboxes; DefaultRuntimeAPIPort when zero.
	RuntimeAPIPort int
	// RuntimeAPIProxy is the path of a binary that runs ProxyMain when
	// given ProxyCommand: the nimbus binary (os.Executable()) once main
	// dispatches ProxyCommand. With it, zip-packaged functions on the oci
	// driver get no network at all (a new sandbox starts faster, see
	// ProxyCommand, but there are no warm spares, see spare.go, which are
	// faster still); without it, and for PackageType Image, sandboxes join
	// Network.
	RuntimeAPIProxy string
	// AWSAPIPort, when set, is where networked sandboxes reach nimbus's
	// own API on the gateway, so a function's SDK reaches nimbus (as a
	// function on AWS reaches AWS): AWS_ENDPOINT_URL names it. AWSAPI is
	// served there unless nil (nimbus then listens on all addresses
	// already). Host-process sandboxes get AWSAPIURL (nimbus's listener).
	AWSAPI     http.Handler
	AWSAPIPort int
	AWSAPIURL  string
	// Runtimes says how the host runs each runtime; lambdart's process-wide
	// catalog when nil.
	Runtimes *lambdart.Catalog
	// Now is the clock; time.Now when nil.
	Now func() time.Time
	// SparesPerShape is how many warm spares (see spare.go) to keep ready
	// per runtime, memory size and /tmp size that cold-started; up to six
	// in all. DefaultSparesPerShape when zero; negative turns spares off.
	SparesPerShape int
}

// Pool runs invocations in warm pools of sandboxes, one pool per function
// version. It implements Invoker.
type Pool struct {
	opts    Options
	host    *substrate.Host
	log     *slog.Logger
	now     func() time.Time
	root    *hostRoot
	mux     *lambdart.Mux
	gateway *network.MetadataServer // nil when sandboxes use loopback listeners
	// awsGateway serves Options.AWSAPI at awsURL to networked sandboxes.
	awsGateway *network.MetadataServer
	awsURL     string
	netName    string
	apiAddr    string // AWS_LAMBDA_RUNTIME_API of networked sandboxes
	driver     string // the Host's sandbox driver
	ship       *shipper

	ctx    context.Context // ends at Close; sandbox goroutines run under it
	cancel context.CancelFunc
	wg     sync.WaitGroup // reaper, shipper, exit watchers
	// teardowns are sandbox deletions in progress; Close waits for them
	// before it stops the shipper, so their last lines ship.
	teardowns sync.WaitGroup

	mu         sync.Mutex
	versions   map[versionKey]*versionPool
	inflight   map[functionKey]int // per function, all versions
	unreserved map[partitionKey]int
	spares     spares
	coldStarts atomic.Int32 // cold starts in flight; spares yield to them
	closed     bool         // Close began: no new invocations or sandboxes
	stopped    bool         // Close waits for teardowns: later ones run inline
}

// New builds a Pool over opts.Host. Lambda sandboxes a previous nimbus left
// are deleted: their runtimes talked to a Runtime API that is gone.
func New(ctx context.Context, opts Options) (*Pool, error) {
	if opts.Host == nil || opts.DataDir == "" {
		return nil, errors.New("lambda runner: Host and DataDir are required")
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.KeepAlive <= 0 {
		opts.KeepAlive = DefaultKeepAlive
	}
	if opts.LogFlush <= 0 {
		opts.LogFlush = DefaultLogFlush
	}
	if opts.RuntimeAPIPort == 0 {
		opts.RuntimeAPIPort = DefaultRuntimeAPIPort
	}
	if opts.Runtimes == nil {
		opts.Runtimes = lambdart.NewCatalog()
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.SparesPerShape == 0 {
		opts.SparesPerShape = DefaultSparesPerShape
	}
	root, err := buildHostRoot(opts.DataDir)
	if err != nil {
		return nil, fmt.Errorf("lambda runner: %w", err)
	}
	p := &Pool{
		opts: opts, host: opts.Host, log: opts.Logger, now: opts.Now, root: root, driver: opts.Host.Driver().Name(),
		versions:   make(map[versionKey]*versionPool),
		inflight:   make(map[functionKey]int),
		unreserved: make(map[partitionKey]int),
		spares:     spares{ready: map[spareShape][]*spare{}, starting: map[spareShape]int{}, waiters: map[spareShape][]chan *spare{}},
	}
	p.mux = lambdart.NewMux()
	// Lines a previous nimbus's sandboxes wrote after its last ship go to
	// the LogSink before those sandboxes (and their logs) are deleted.
	if left, err := p.host.List(ctx, map[string]string{substrate.LabelKind: OwnerKind}); err == nil {
		var paths []string
		for _, sb := range left {
			if sb.LogPath != "" {
				paths = append(paths, sb.LogPath)
			}
		}
		shipLeftovers(ctx, opts.LogSink, paths, p.log)
		defer func() {
			for _, path := range paths {
				os.Remove(shipMarkPath(path))
			}
		}()
	}
	if err := p.host.Reset(ctx, map[string]string{substrate.LabelKind: OwnerKind}); err != nil {
		return nil, fmt.Errorf("lambda runner: delete sandboxes of a previous run: %w", err)
	}
	if err := root.resetSpareDirs(); err != nil {
		return nil, fmt.Errorf("lambda runner: %w", err)
	}
	if err := p.serveGateway(ctx); err != nil {
		return nil, fmt.Errorf("lambda runner: %w", err)
	}
	p.ctx, p.cancel = context.WithCancel(context.WithoutCancel(ctx))
	p.ship = newShipper(opts.LogSink, opts.LogFlush, p.log)
	p.wg.Add(2)
	go func() { defer p.wg.Done(); p.ship.run(p.ctx) }()
	go func() { defer p.wg.Done(); p.reap(p.ctx) }()
	return p, nil
}

// serveGateway serves the Runtime API on the gateway of the sandboxes'
// network where the Host has networking. Without it sandboxes are host
// processes (the process driver) and each gets a loopback listener.
func (p *Pool) serveGateway(ctx context.Context) error {
	mgr := p.host.Network()
	if mgr == nil {
		if p.proxied() {
			return nil // PackageType Image functions fail at their cold start
		}
		if !p.hostProcesses() {
			return fmt.Errorf("the %s driver needs networking (or Options.RuntimeAPIProxy) for sandboxes to reach the Runtime API: %s",
				p.driver, p.host.Info().NetworkReason)
		}
		return nil
	}
	nets := mgr.Networks()
	p.netName = p.opts.Network
	if p.netName == "" {
		if len(nets) == 0 {
			return errors.New("the Host defines no network for Lambda sandboxes")
		}
		p.netName = nets[0].Name
	}
	n, err := mgr.Network(p.netName)
	if err != nil {
		return err
	}
	port := p.opts.RuntimeAPIPort
	if port <= 0 || port > 65535 {
		return fmt.Errorf("runtime API port %d out of range", port)
	}
	if err := mgr.AllowGatewayPort(ctx, uint16(port)); err != nil {
		return err
	}
	p.gateway = network.NewMetadataServer(mgr, p.mux, network.WithGatewayPort(port))
	if err := p.gateway.Listen(ctx, p.netName); err != nil {
		return err
	}
	p.apiAddr = net.JoinHostPort(n.Gateway.String(), strconv.Itoa(port))
	if p.opts.AWSAPIPort > 0 && p.opts.AWSAPIPort <= 65535 {
		if err := mgr.AllowGatewayPort(ctx, uint16(p.opts.AWSAPIPort)); err != nil {
			return err
		}
		// Without a handler nimbus already listens on every address, the
		// gateway's included.
		if p.opts.AWSAPI != nil {
			p.awsGateway = network.NewMetadataServer(mgr, p.opts.AWSAPI, network.WithGatewayPort(p.opts.AWSAPIPort))
			if err := p.awsGateway.Listen(ctx, p.netName); err != nil {
				return fmt.Errorf("serve the AWS API to sandboxes: %w", err)
			}
		}
		p.awsURL = "http://" + net.JoinHostPort(n.Gateway.String(), strconv.Itoa(p.opts.AWSAPIPort))
	}
	return nil
}

// awsEndpoint is the AWS_ENDPOINT_URL a sandbox gets: nimbus on the
// gateway for networked sandboxes, nimbus's listener for host processes,
// none for sandboxes without a network.
func (p *Pool) awsEndpoint(proxied bool) string {
	switch {
	case p.hostProcesses():
		return p.opts.AWSAPIURL
	case proxied:
		return ""
	}
	return p.awsURL
}

// RuntimeAPI is the handler that serves every networked sandbox's Runtime
// API (already served on the gateway by New; exposed for a server that
// wants to serve it elsewhere too).
func (p *Pool) RuntimeAPI() *lambdart.Mux { return p.mux }

// RuntimeAPIAddr is the gateway address networked sandboxes reach the
// Runtime API at; empty when sandboxes use loopback listeners.
func (p *Pool) RuntimeAPIAddr() string { return p.apiAddr }

// Close stops every sandbox the Pool started, waits for its goroutines and
// stops serving the Runtime API. Invocations in flight fail.
func (p *Pool) Close(ctx context.Context) error {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return nil
	}
	p.closed = true
	var all []*environment
	for k, vp := range p.versions {
		all = append(all, vp.drain()...)
		delete(p.versions, k)
	}
	idleSpares := p.drainSparesLocked(time.Time{})
	p.mu.Unlock()
	for _, env := range all {
		p.destroy(env, "nimbus is closing")
	}
	for _, sp := range idleSpares {
		p.destroySpare(sp)
	}
	p.mu.Lock()
	p.stopped = true
	p.mu.Unlock()
	p.teardowns.Wait()
	p.cancel()
	p.wg.Wait()
	var err error
	if p.gateway != nil {
		err = p.gateway.Close(ctx)
	}
	if p.awsGateway != nil {
		err = errors.Join(err, p.awsGateway.Close(ctx))
	}
	return err
}

// proxied reports whether zip-packaged functions reach the Runtime API
// through the in-sandbox proxy rather than a network.
func (p *Pool) proxied() bool {
	return p.opts.RuntimeAPIProxy != "" && !p.hostProcesses()
}

// hostProcesses reports whether sandboxes share the host's network
// namespace (the process driver; the fake one in tests), so a loopback
// listener reaches them.
func (p *Pool) hostProcesses() bool {
	return p.driver == substrate.DriverProcess || p.driver == substrate.DriverFake
}

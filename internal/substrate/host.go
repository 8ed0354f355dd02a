package substrate

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/nimbus-dev/nimbus/internal/hostcheck"
	"github.com/nimbus-dev/nimbus/internal/image"
	"github.com/nimbus-dev/nimbus/internal/network"
	"github.com/nimbus-dev/nimbus/internal/sandbox"
	"github.com/nimbus-dev/nimbus/internal/sandbox/fake"
	"github.com/nimbus-dev/nimbus/internal/sandbox/oci"
	"github.com/nimbus-dev/nimbus/internal/sandbox/process"
	"github.com/nimbus-dev/nimbus/internal/store"
	"github.com/nimbus-dev/nimbus/internal/volume"
)

// Driver choices for Options.Driver.
const (
	DriverAuto    = "auto" // hostcheck.ChooseDriver: oci where it works, else process
	DriverOCI     = oci.DriverName
	DriverProcess = process.DriverName
	DriverFake    = fake.DriverName
)

// Options configures Open.
type Options struct {
	// DataDir holds images/, volumes/, network/, logs/ and the driver's
	// state (oci/ or process/). Required.
	DataDir string
	// Store holds the sandbox records. Required.
	Store store.Store
	// Driver is auto (the default), oci, process or fake.
	Driver string
	// Runtime is the oci driver's runtime: runc, crun or auto (the default
	// when Driver is oci; with Driver auto, the one hostcheck chose).
	Runtime string
	// SandboxDriver, when set, is used instead of building one from Driver
	// (tests share a fake.Host between two Hosts this way).
	SandboxDriver sandbox.Driver
	// Network configures the network manager; StateDir defaults to
	// DataDir/network and Logger to Logger. Only the oci driver gets networks.
	Network network.Options
	// NoNetwork turns networking off even where the host could do it.
	NoNetwork bool
	// ImageOptions are passed to image.Open.
	ImageOptions []image.Option
	Logger       *slog.Logger

	// net, when set by a test, stands in for the network manager.
	net networker
}

// Host runs sandboxes on this machine. It is safe for concurrent use.
type Host struct {
	opts    Options
	log     *slog.Logger
	store   store.Store
	driver  sandbox.Driver
	images  *image.Store
	volumes *volume.Manager
	net     networker // nil when networking is unavailable
	netMgr  *network.Manager
	netWhy  string // why networking is unavailable
	choice  hostcheck.DriverChoice
	logDir  string

	ctx     context.Context // ends at Close; watchers run under it
	cancel  context.CancelFunc
	wg      sync.WaitGroup // exit watchers
	mu      sync.Mutex
	entries map[string]*entry
	closed  bool
}

// networker is what the Host needs of the network manager (a test double
// stands in for it in the fake-driver tests of rollback).
type networker interface {
	Attach(ctx context.Context, sandboxID, networkName string, opts network.AttachOptions) (*sandbox.NetworkAttachment, error)
	Detach(ctx context.Context, sandboxID string) error
	List(ctx context.Context) ([]network.Attachment, error)
	SetRules(ctx context.Context, sandboxID string, ingress, egress []network.Rule) error
	Networks() []network.Network
}

// entry is the in-memory side of one sandbox: the last record written to the
// store, and what waits on it.
type entry struct {
	op  sync.Mutex // serializes Run, Stop and Delete of this sandbox
	rec *record    // guarded by Host.mu; replaced, never mutated
	// exited is closed once rec holds the final status (or the sandbox is
	// deleted); nil until the sandbox runs.
	exited  chan struct{}
	watched bool // a watcher goroutine owns closing exited
}

// Open builds the Host: driver, image store, volume and network managers,
// then recovers the sandboxes a previous nimbus left (see the package doc).
func Open(ctx context.Context, opts Options) (*Host, error) {
	if opts.DataDir == "" || opts.Store == nil {
		return nil, fmt.Errorf("substrate: DataDir and Store are required: %w", ErrInvalid)
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	h := &Host{opts: opts, log: opts.Logger, store: opts.Store, entries: map[string]*entry{},
		logDir: filepath.Join(opts.DataDir, "logs")}
	if err := os.MkdirAll(h.logDir, 0o755); err != nil {
		return nil, fmt.Errorf("substrate: %w", err)
	}
	if err := h.openDriver(ctx); err != nil {
		return nil, err
	}
	imgs, err := image.Open(opts.DataDir, append([]image.Option{image.WithLogger(h.log)}, opts.ImageOptions...)...)
	if err != nil {
		return nil, fmt.Errorf("substrate: image store: %w", err)
	}
	h.images = imgs
	vols, err := volume.NewManager(volume.Options{Dir: filepath.Join(opts.DataDir, "volumes"), Logger: h.log})
	if err != nil {
		return nil, fmt.Errorf("substrate: volumes: %w", err)
	}
	h.volumes = vols
	h.openNetwork(ctx)
	h.ctx, h.cancel = context.WithCancel(context.WithoutCancel(ctx))
	if err := h.recover(ctx); err != nil {
		h.Close()
		return nil, fmt.Errorf("substrate: recover: %w", err)
	}
	return h, nil
}

// openDriver builds the sandbox driver Options.Driver names.
func (h *Host) openDriver(ctx context.Context) error {
	o := h.opts
	if o.SandboxDriver != nil {
		h.driver = o.SandboxDriver
		h.choice = hostcheck.DriverChoice{Name: o.SandboxDriver.Name(), Reason: "given by the caller"}
		return nil
	}
	name := o.Driver
	if name == "" {
		name = DriverAuto
	}
	runtime := o.Runtime
	switch name {
	case DriverAuto:
		h.choice = hostcheck.ChooseDriver(hostcheck.Probe(ctx))
		if runtime == "" {
			runtime = h.choice.Runtime
		}
	case DriverOCI:
		h.choice = hostcheck.DriverChoice{Name: DriverOCI, Reason: "asked for"}
	case DriverProcess, DriverFake:
		h.choice = hostcheck.DriverChoice{Name: name, Reason: "asked for"}
	default:
		return fmt.Errorf("substrate: unknown driver %q (auto, oci, process or fake): %w", name, ErrInvalid)
	}
	switch h.choice.Name {
	case DriverOCI:
		if runtime == "" {
			runtime = oci.RuntimeAuto
		}
		d, err := oci.New(ctx, oci.WithRoot(filepath.Join(o.DataDir, "oci")), oci.WithRuntime(runtime), oci.WithLogger(h.log))
		if err != nil {
			return fmt.Errorf("substrate: %w", err)
		}
		rt, _, why := d.Runtime()
		h.choice.Runtime = rt
		if h.choice.Reason == "asked for" {
			h.choice.Reason = "asked for; " + why
		}
		h.driver = d
	case DriverProcess:
		d, err := process.New(process.WithRoot(filepath.Join(o.DataDir, "process")), process.WithLogger(h.log))
		if err != nil {
			return fmt.Errorf("substrate: %w", err)
		}
		h.driver = d
	case DriverFake:
		h.driver = fake.New()
	default:
		return fmt.Errorf("substrate: hostcheck chose unknown driver %q", h.choice.Name)
	}
	attrs := []any{"driver", h.choice.Name, "runtime", h.choice.Runtime, "reason", h.choice.Reason}
	if h.choice.Name == DriverProcess {
		h.log.Warn("substrate: sandboxes run as plain host processes; isolation is WEAK: "+process.Description, attrs...)
	} else {
		h.log.Info("substrate: sandbox driver chosen", attrs...)
	}
	return nil
}

// openNetwork starts the network manager where the driver can join network
// namespaces and the host allows it; otherwise Run with a network fails
// with ErrNetworkUnavailable and Info says why.
func (h *Host) openNetwork(ctx context.Context) {
	if h.opts.net != nil {
		h.net = h.opts.net
		return
	}
	switch {
	case h.opts.NoNetwork:
		h.netWhy = "turned off (Options.NoNetwork)"
	case !strings.HasPrefix(h.driver.Name(), DriverOCI):
		h.netWhy = fmt.Sprintf("the %s driver cannot join network namespaces", h.driver.Name())
	case os.Geteuid() != 0:
		h.netWhy = "needs root"
	}
	if h.netWhy != "" {
		h.log.Info("substrate: networking unavailable", "reason", h.netWhy)
		return
	}
	no := h.opts.Network
	if no.StateDir == "" {
		no.StateDir = filepath.Join(h.opts.DataDir, "network")
	}
	if no.Logger == nil {
		no.Logger = h.log
	}
	m, err := network.NewManager(ctx, no)
	if err != nil {
		h.netWhy = err.Error()
		h.log.Warn("substrate: networking unavailable", "err", err)
		return
	}
	h.net, h.netMgr = m, m
}

// Images is the image store under DataDir.
func (h *Host) Images() *image.Store { return h.images }

// Volumes is the volume manager under DataDir.
func (h *Host) Volumes() *volume.Manager { return h.volumes }

// Network is the network manager, nil when networking is unavailable (the
// server builds the MetadataServer on it).
func (h *Host) Network() *network.Manager { return h.netMgr }

// Driver is the sandbox driver in use.
func (h *Host) Driver() sandbox.Driver { return h.driver }

// Close stops the Host's goroutines and the network manager's (removing the
// attachment pool's spares). Sandboxes keep running: the next Open
// over the same DataDir and store adopts them.
func (h *Host) Close() error {
	h.mu.Lock()
	if h.closed {
		h.mu.Unlock()
		return nil
	}
	h.closed = true
	h.mu.Unlock()
	h.cancel()
	h.wg.Wait()
	if h.netMgr != nil {
		// Stops the attachment pool's refiller and removes its spares;
		// the sandboxes' attachments stay for the next Open to adopt.
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := h.netMgr.Close(ctx); err != nil {
			return fmt.Errorf("substrate: close: %w", err)
		}
	}
	return nil
}

func (h *Host) isClosed() bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.closed
}

// lookup returns the entry of id.
func (h *Host) lookup(id string) (*entry, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed {
		return nil, ErrClosed
	}
	e, ok := h.entries[id]
	if !ok {
		return nil, fmt.Errorf("sandbox %s: %w", id, ErrNotFound)
	}
	return e, nil
}

// current returns e's latest record.
func (h *Host) current(e *entry) *record {
	h.mu.Lock()
	defer h.mu.Unlock()
	return e.rec
}

// save writes rec to the store, then makes it e's current record.
func (h *Host) save(ctx context.Context, e *entry, rec *record) error {
	err := h.store.Update(ctx, func(tx store.Tx) error {
		_, err := tx.Put(rec.key(), rec, 0)
		return err
	})
	if err != nil {
		return fmt.Errorf("record sandbox %s: %w", rec.ID, err)
	}
	h.mu.Lock()
	e.rec = rec
	h.mu.Unlock()
	return nil
}

// forget removes rec from the store and id from memory.
func (h *Host) forget(ctx context.Context, rec *record) error {
	err := h.store.Update(ctx, func(tx store.Tx) error {
		err := tx.Delete(rec.key(), 0)
		if errors.Is(err, store.ErrNotFound) {
			return nil
		}
		return err
	})
	if err != nil {
		return fmt.Errorf("remove record of sandbox %s: %w", rec.ID, err)
	}
	h.mu.Lock()
	delete(h.entries, rec.ID)
	h.mu.Unlock()
	return nil
}

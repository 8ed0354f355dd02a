package network

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/containernetworking/cni/libcni"
	"github.com/containernetworking/cni/pkg/invoke"
	"github.com/containernetworking/cni/pkg/version"
)

// Options configures a Manager.
type Options struct {
	// StateDir holds attachment records, the CNI result cache and the
	// host-local lease files; normally <nimbus data dir>/network. Required.
	StateDir string
	// NetNSDir is where namespace files are pinned; /run/nimbus/netns by default.
	NetNSDir string
	// PluginDirs are searched for CNI plugins; /usr/lib/cni, /opt/cni/bin and
	// /usr/libexec/cni by default.
	PluginDirs []string
	// TableName is nimbus's nftables table (family inet); "nimbus" by default.
	TableName string
	// MetadataPort is where the MetadataServer listens on each gateway and
	// where 169.254.169.254:80 is sent; 8775 by default.
	MetadataPort int
	// Networks are defined at start; DefaultNetwork() when empty.
	Networks []Network
	// PoolSize is how many prepared attachments (spares) each network that
	// has been attached to keeps ready for Attach (pool.go):
	// DefaultPoolSize when zero, none (the pool off) when NoPool or any
	// other negative number.
	PoolSize int
	Logger   *slog.Logger
}

// Default option values.
const (
	DefaultNetNSDir     = "/run/nimbus/netns"
	DefaultTableName    = "nimbus"
	DefaultMetadataPort = 8775
)

// DefaultPluginDirs are where Debian and upstream install CNI plugins.
var DefaultPluginDirs = []string{"/usr/lib/cni", "/opt/cni/bin", "/usr/libexec/cni"}

// Manager attaches sandboxes to networks. It is safe for concurrent use.
type Manager struct {
	opts Options
	cni  *libcni.CNIConfig
	log  *slog.Logger

	mu       sync.Mutex
	networks map[string]Network
	records  map[string]*record
	busy     map[string]bool // sandboxes and spares with an attach, detach or removal in progress
	// gatewayPorts are TCP ports on each gateway that sandboxes may always
	// reach, beside MetadataPort (AllowGatewayPort).
	gatewayPorts []uint16

	// The attachment pool (pool.go).
	poolSize     int                // spares per network; 0 when the pool is off
	pools        map[string]*pool   // by network name, only networks attached to
	spares       map[string]*record // every spare held, by spare ID: pooled, being prepared or unpooled
	preparing    *preparation       // the spare the refiller is making, if any
	draining     map[string]int     // networks whose pool DeleteNetwork or DefineNetwork is removing
	slowAttaches int                // slow-path Attaches in flight; refill defers to them
	lastAttach   time.Time          // when an Attach last claimed a spare or ended; refill defers to it
	closed       bool               // Close was called: no more pools
	refillKick   chan struct{}      // nil when the pool is off
	refillStop   chan struct{}
	refillDone   chan struct{}
}

// NewManager loads the attachments a previous nimbus left in StateDir (they
// are listed by List and can be detached or cleaned), removes the spares it
// left (a spare holds no sandbox, and a fresh one costs only a refill),
// defines the configured networks, installs the nftables table and starts
// the refiller of the attachment pool, which Close or Teardown stops.
func NewManager(ctx context.Context, opts Options) (_ *Manager, err error) {
	if opts.StateDir == "" {
		return nil, fmt.Errorf("%w: network state dir is required", ErrInvalid)
	}
	if opts.NetNSDir == "" {
		opts.NetNSDir = DefaultNetNSDir
	}
	if len(opts.PluginDirs) == 0 {
		opts.PluginDirs = DefaultPluginDirs
	}
	if opts.TableName == "" {
		opts.TableName = DefaultTableName
	}
	if opts.MetadataPort == 0 {
		opts.MetadataPort = DefaultMetadataPort
	}
	if len(opts.Networks) == 0 {
		opts.Networks = []Network{DefaultNetwork()}
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	for _, dir := range []string{filepath.Join(opts.StateDir, "attachments"), filepath.Join(opts.StateDir, "ipam"), filepath.Join(opts.StateDir, "cni-cache")} {
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return nil, fmt.Errorf("create network state dir: %w", err)
		}
	}
	boundNetNSDir, err := ensureSharedDir(opts.NetNSDir)
	if err != nil {
		return nil, err
	}
	defer func() {
		// A manager that never came up must not leave the mount it made.
		if err != nil && boundNetNSDir {
			if _, uerr := releaseSharedDir(opts.NetNSDir); uerr != nil {
				opts.Logger.Warn("network: undo netns dir mount", "dir", opts.NetNSDir, "err", uerr)
			}
		}
	}()
	if err := enableBridgeFirewalling(); err != nil {
		return nil, err
	}
	m := &Manager{
		opts: opts,
		// An explicit exec: libcni would otherwise set its default lazily on
		// first use, a data race between concurrent attaches.
		cni: libcni.NewCNIConfigWithCacheDir(opts.PluginDirs, filepath.Join(opts.StateDir, "cni-cache"),
			&invoke.DefaultExec{RawExec: &invoke.RawExec{Stderr: os.Stderr}, PluginDecoder: version.PluginDecoder{}}),
		log:      opts.Logger,
		networks: make(map[string]Network),
		busy:     make(map[string]bool),
		records:  make(map[string]*record),
		pools:    make(map[string]*pool),
		spares:   make(map[string]*record),
		draining: make(map[string]int),
		poolSize: max(opts.PoolSize, 0),
	}
	if opts.PoolSize == 0 {
		m.poolSize = DefaultPoolSize
	}
	recs, err := m.loadRecords()
	if err != nil {
		return nil, err
	}
	for id, r := range recs {
		if r.Spare {
			m.spares[id] = r
		} else {
			m.records[id] = r
		}
	}
	for _, n := range opts.Networks {
		n, err := n.withDefaults()
		if err != nil {
			return nil, err
		}
		if err := m.checkClashLocked(n); err != nil {
			return nil, fmt.Errorf("network %s: %w", n.Name, err)
		}
		m.networks[n.Name] = n
	}
	m.mu.Lock()
	err = m.applyFirewallLocked()
	leftover := m.takeSparesLocked("")
	m.mu.Unlock()
	if err != nil {
		return nil, err
	}
	if err := m.removeSpares(ctx, leftover); err != nil {
		// Not fatal: they stay unpooled, and the refiller, CleanupStale,
		// Close and Teardown try again.
		m.log.WarnContext(ctx, "network: remove spares a previous nimbus left", "err", err)
	}
	if m.poolSize > 0 {
		m.refillKick = make(chan struct{}, 1)
		m.refillStop = make(chan struct{})
		m.refillDone = make(chan struct{})
		go m.refill()
	}
	return m, nil
}

// enableBridgeFirewalling makes bridged IPv4 traffic (sandbox to sandbox on
// one bridge) pass the inet forward hook, where security groups are enforced.
func enableBridgeFirewalling() error {
	const knob = "/proc/sys/net/bridge/bridge-nf-call-iptables"
	if _, err := os.Stat(knob); errors.Is(err, os.ErrNotExist) {
		// br_netfilter is a module on most distribution kernels; load it
		// if the kernel has it as one (built in, the knob is already there).
		if out, err := exec.Command("modprobe", "br_netfilter").CombinedOutput(); err != nil {
			return fmt.Errorf("load br_netfilter, needed to firewall sandboxes on one bridge: %v: %s", err, out)
		}
	}
	if err := os.WriteFile(knob, []byte("1"), 0o644); err != nil {
		return fmt.Errorf("enable br_netfilter (%s), needed to firewall sandboxes on one bridge: %w", knob, err)
	}
	return nil
}

// DefineNetwork adds a network (or replaces the definition of one with no
// attachments, removing the spares made to the old one). Its bridge appears
// with the first attachment.
func (m *Manager) DefineNetwork(ctx context.Context, n Network) error {
	n, err := n.withDefaults()
	if err != nil {
		return err
	}
	m.mu.Lock()
	old, ok := m.networks[n.Name]
	redefine := ok && !sameSegment(old, n) && !m.inUseLocked(n.Name)
	m.mu.Unlock()
	if redefine {
		err := m.drainPool(ctx, n.Name)
		defer func() {
			m.mu.Lock()
			m.endDrainLocked(n.Name)
			m.mu.Unlock()
		}()
		if err != nil {
			return fmt.Errorf("redefine network %s: remove its spares: %w", n.Name, err)
		}
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if old, ok := m.networks[n.Name]; ok && old != n && m.inUseLocked(n.Name) {
		return fmt.Errorf("redefine network %s: %w", n.Name, ErrInUse)
	}
	if err := m.checkClashLocked(n); err != nil {
		return fmt.Errorf("define network %s: %w", n.Name, err)
	}
	m.networks[n.Name] = n
	return m.applyFirewallLocked()
}

// checkClashLocked refuses a network sharing a bridge or overlapping a
// subnet with another: all bridges live in the host's routing table, where
// two routes to one range would send traffic to only one of them.
// TODO(issue 10): VPCs with overlapping CIDRs need a router namespace each.
func (m *Manager) checkClashLocked(n Network) error {
	for _, other := range m.networks {
		if other.Name == n.Name {
			continue
		}
		if other.Bridge == n.Bridge {
			return fmt.Errorf("%w: bridge %s belongs to network %s", ErrAlreadyExists, n.Bridge, other.Name)
		}
		if other.Subnet.Overlaps(n.Subnet) {
			return fmt.Errorf("%w: subnet %s overlaps %s of network %s", ErrInvalid, n.Subnet, other.Subnet, other.Name)
		}
	}
	return nil
}

// Network returns a defined network.
func (m *Manager) Network(name string) (Network, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	n, ok := m.networks[name]
	if !ok {
		return Network{}, fmt.Errorf("network %s: %w", name, ErrNotFound)
	}
	return n, nil
}

// Networks lists the defined networks, sorted by name.
func (m *Manager) Networks() []Network {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make([]Network, 0, len(m.networks))
	for _, n := range m.networks {
		out = append(out, n)
	}
	slices.SortFunc(out, func(a, b Network) int { return strings.Compare(a.Name, b.Name) })
	return out
}

// DeleteNetwork removes a network with no attachments: its pool of
// spares (which do not count as attachments), its bridge, its leases
// directory and its metadata rule.
func (m *Manager) DeleteNetwork(ctx context.Context, name string) error {
	m.mu.Lock()
	_, ok := m.networks[name]
	inUse := m.inUseLocked(name)
	m.mu.Unlock()
	if !ok {
		return fmt.Errorf("delete network %s: %w", name, ErrNotFound)
	}
	if inUse {
		return fmt.Errorf("delete network %s: %w", name, ErrInUse)
	}
	err := m.drainPool(ctx, name)
	m.mu.Lock()
	defer m.mu.Unlock()
	defer m.endDrainLocked(name)
	if err != nil {
		return fmt.Errorf("delete network %s: remove its spares: %w", name, err)
	}
	// Checked again: an Attach may have come in while the pool drained.
	n, ok := m.networks[name]
	if !ok {
		return fmt.Errorf("delete network %s: %w", name, ErrNotFound)
	}
	if m.inUseLocked(name) {
		return fmt.Errorf("delete network %s: %w", name, ErrInUse)
	}
	delete(m.networks, name)
	if err := m.applyFirewallLocked(); err != nil {
		return fmt.Errorf("delete network %s: %w", name, err)
	}
	if err := deleteLink(n.Bridge); err != nil {
		return fmt.Errorf("delete network %s: %w", name, err)
	}
	if err := os.RemoveAll(filepath.Join(m.opts.StateDir, "ipam", name)); err != nil {
		return fmt.Errorf("delete network %s leases: %w", name, err)
	}
	return nil
}

func (m *Manager) inUseLocked(network string) bool {
	for _, r := range m.records {
		if r.Attachment.Network == network {
			return true
		}
	}
	return false
}

// knownNetworksLocked is every defined network plus the networks of
// recorded attachments (a network may be gone from the configuration while
// sandboxes from before a restart still sit on it), sorted by name.
func (m *Manager) knownNetworksLocked() []Network {
	byName := make(map[string]Network, len(m.networks))
	for _, r := range m.records {
		byName[r.NetworkDef.Name] = r.NetworkDef
	}
	for name, n := range m.networks {
		byName[name] = n
	}
	out := make([]Network, 0, len(byName))
	for _, n := range byName {
		out = append(out, n)
	}
	slices.SortFunc(out, func(a, b Network) int { return strings.Compare(a.Name, b.Name) })
	return out
}

// List reports every sandbox attachment the manager knows, including ones a
// previous nimbus made and incomplete ones from an interrupted Attach.
// Spares are no sandbox's and not listed (see ReadySpares).
func (m *Manager) List(ctx context.Context) ([]Attachment, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make([]Attachment, 0, len(m.records))
	for _, r := range m.records {
		out = append(out, r.Attachment)
	}
	slices.SortFunc(out, func(a, b Attachment) int { return strings.Compare(a.SandboxID, b.SandboxID) })
	return out, nil
}

// Attachment returns one sandbox's attachment.
func (m *Manager) Attachment(sandboxID string) (Attachment, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	r, ok := m.records[sandboxID]
	if !ok {
		return Attachment{}, fmt.Errorf("attachment of %s: %w", sandboxID, ErrNotFound)
	}
	return r.Attachment, nil
}

// CleanupStale detaches every recorded attachment whose sandbox keep says is
// gone, and every incomplete one; it is run after a restart once the
// controllers know which sandboxes survived. It returns the detached IDs.
// It also removes spares in no pool (ones whose earlier removal failed);
// pooled spares stay.
func (m *Manager) CleanupStale(ctx context.Context, keep func(sandboxID string) bool) ([]string, error) {
	atts, err := m.List(ctx)
	if err != nil {
		return nil, err
	}
	var detached []string
	var errs []error
	m.mu.Lock()
	unpooled := m.unpooledSparesLocked("")
	for _, s := range unpooled {
		m.busy[s.Attachment.SandboxID] = true
	}
	m.mu.Unlock()
	if err := m.removeSpares(ctx, unpooled); err != nil {
		errs = append(errs, err)
	}
	for _, a := range atts {
		if a.Complete && keep(a.SandboxID) {
			continue
		}
		if err := m.Detach(ctx, a.SandboxID); err != nil {
			errs = append(errs, err)
			continue
		}
		detached = append(detached, a.SandboxID)
	}
	return detached, errors.Join(errs...)
}

// Teardown stops the pool's refiller and removes every spare (Close),
// detaches every sandbox, deletes every defined network's bridge,
// removes the nftables tables and unmounts the namespace directory's own
// mount (left in place while anything else is in it or mounted under it):
// the host is left as if nimbus had never run, apart from the (empty) state
// and namespace directories.
func (m *Manager) Teardown(ctx context.Context) error {
	// A spare that cannot be removed now is retried by CleanupStale below.
	closeErr := m.Close(ctx)
	_, err := m.CleanupStale(ctx, func(string) bool { return false })
	if err != nil {
		return fmt.Errorf("teardown: %w", errors.Join(closeErr, err))
	}
	m.mu.Lock()
	names := make([]string, 0, len(m.networks))
	for name := range m.networks {
		names = append(names, name)
	}
	m.mu.Unlock()
	var errs []error
	for _, name := range names {
		if err := m.DeleteNetwork(ctx, name); err != nil {
			errs = append(errs, err)
		}
	}
	if err := m.deleteTables(); err != nil {
		errs = append(errs, err)
	}
	released, err := releaseSharedDir(m.opts.NetNSDir)
	if err != nil {
		errs = append(errs, err)
	} else if !released {
		m.log.WarnContext(ctx, "network: teardown leaves the netns dir mounted: something else is still in it", "dir", m.opts.NetNSDir)
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("teardown: %w", err)
	}
	return nil
}

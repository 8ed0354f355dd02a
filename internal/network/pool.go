package network

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net/netip"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

// The attachment pool keeps a few prepared attachments ("spares") per
// network, so that an Attach that asks for no particular address takes one
// instead of waiting for a namespace, two CNI plugin runs and an nftables
// rebuild (45 ms idle, 100-190 ms under load, on the path of every EC2
// RunInstances, Lambda cold start and Batch job).
//
// A spare is an ordinary attachment record with Spare set, whose ID
// (pool.<hex>) names its netns file, its record file and its CNI container;
// its anti-spoofing rules are in place like any complete attachment's, it has
// no firewall (as a fresh attachment has none). Claiming one only rewrites
// its record under the sandbox's ID, keeping the spare's netns path and CNI
// container ID for the eventual DEL: no host change at all. The record under
// the sandbox's ID is written before the spare's is removed, so a crash
// leaves either a spare (removed by the next NewManager) or the sandbox's
// record (possibly beside the spare's, which loadRecords then drops).
//
// Pools exist only for networks something has attached to, and are refilled
// one spare at a time by a goroutine the Manager owns (stopped by Close and
// Teardown). The refill waits until attaches have been quiet for
// refillQuiet (none in flight on the slow path, no claim): a claimed
// sandbox is starting its container then, and a burst that empties a pool
// goes on without a refill competing for the CPU and the plugins. So that a
// steady stream of attaches cannot starve the pool, the wait ends after
// refillMaxDelay whatever happens.

// DefaultPoolSize is how many spares each attached-to network keeps when
// Options.PoolSize is zero.
const DefaultPoolSize = 2

// NoPool, as Options.PoolSize, turns the pool off: every Attach takes the
// slow path and no spare is ever made.
const NoPool = -1

// spareIDPrefix starts every spare's ID; the dot keeps it from ever being a
// valid sandbox ID (validateSandboxID) while CNI accepts it as a container ID.
const spareIDPrefix = "pool."

// defaultIfName is the interface spares are made with; an Attach asking for
// another name takes the slow path.
const defaultIfName = "eth0"

// spareTimeout bounds preparing or removing one spare in the background.
const spareTimeout = 30 * time.Second

// refillQuiet and refillMaxDelay bound how long the refill defers to
// attaches (see above). A container start (runc) takes about 50 ms here.
const (
	refillQuiet    = 100 * time.Millisecond
	refillMaxDelay = time.Second
)

// pool holds one network's ready spares, oldest first.
type pool struct {
	ready []*record
}

// preparation is the spare the refiller is making now.
type preparation struct {
	network string
	rec     *record
	done    chan struct{} // closed once the spare is pooled or removed
}

// claimSpareLocked gives sandboxID a ready spare of n, or returns nil (and
// makes sure a pool for n exists and is being filled). m.mu must be held.
func (m *Manager) claimSpareLocked(sandboxID string, n Network) (*record, error) {
	p := m.pools[n.Name]
	if p == nil {
		if m.closed || m.draining[n.Name] > 0 {
			return nil, nil
		}
		// The first attach to a network starts its pool.
		m.pools[n.Name] = &pool{}
		m.kickRefill()
		return nil, nil
	}
	defer m.kickRefill()
	for len(p.ready) > 0 {
		spare := p.ready[0]
		p.ready = p.ready[1:]
		if !sameSegment(spare.NetworkDef, n) {
			// Left unpooled: the refiller removes it.
			continue
		}
		claimed := *spare
		claimed.Spare = false
		claimed.CNIContainerID = spare.containerID()
		claimed.NetworkDef = n
		claimed.Attachment.SandboxID = sandboxID
		claimed.Attachment.Network = n.Name
		claimed.Attachment.CreatedAt = time.Now().UTC()
		m.lastAttach = time.Now()
		if err := m.writeRecord(&claimed); err != nil {
			p.ready = slices.Insert(p.ready, 0, spare)
			return nil, err
		}
		delete(m.spares, spare.Attachment.SandboxID)
		m.records[sandboxID] = &claimed
		if err := m.removeRecord(spare.Attachment.SandboxID); err != nil {
			// Harmless: the next loadRecords sees the sandbox's record
			// naming this container and drops the spare's.
			m.log.Warn("network: remove claimed spare's record", "spare", spare.Attachment.SandboxID, "sandbox", sandboxID, "err", err)
		}
		return &claimed, nil
	}
	return nil, nil
}

// sameSegment reports whether a and b give attachments the same CNI
// configuration (name, bridge, subnet, gateway); Isolated and NoEgress are
// nftables matters, read from the current definition.
func sameSegment(a, b Network) bool {
	return a.Name == b.Name && a.Bridge == b.Bridge && a.Subnet == b.Subnet && a.Gateway == b.Gateway
}

// kickRefill wakes the refiller without waiting for it.
func (m *Manager) kickRefill() {
	if m.refillKick == nil {
		return
	}
	select {
	case m.refillKick <- struct{}{}:
	default:
	}
}

// refill is the refiller goroutine: on each kick it removes unpooled spares
// and tops pools up, one spare at a time, until nothing is left to do,
// deferring to attaches as refillDeferral says.
func (m *Manager) refill() {
	defer close(m.refillDone)
	for {
		select {
		case <-m.refillStop:
			return
		case <-m.refillKick:
		}
		kicked := time.Now()
		for {
			if wait := m.refillDeferral(kicked); wait > 0 {
				select {
				case <-m.refillStop:
					return
				case <-m.refillKick: // an attach ended: look again
				case <-time.After(wait):
				}
				continue
			}
			if !m.refillOnce() {
				break
			}
			select {
			case <-m.refillStop:
				return
			default:
			}
		}
	}
}

// refillDeferral is how long the refill, wanted since kicked, should still
// wait: until attaches have been quiet for refillQuiet, but no later than
// refillMaxDelay after kicked.
func (m *Manager) refillDeferral(kicked time.Time) time.Duration {
	m.mu.Lock()
	defer m.mu.Unlock()
	now := time.Now()
	until := m.lastAttach.Add(refillQuiet)
	if m.slowAttaches > 0 {
		// The last one to end kicks the refiller; look again by then at
		// the latest.
		until = now.Add(refillQuiet)
	}
	if latest := kicked.Add(refillMaxDelay); until.After(latest) {
		until = latest
	}
	return max(until.Sub(now), 0)
}

// refillOnce does one piece of refill work and reports whether there may be
// more.
func (m *Manager) refillOnce() bool {
	ctx, cancel := context.WithTimeout(context.Background(), spareTimeout)
	defer cancel()
	m.mu.Lock()
	if m.closed {
		m.mu.Unlock()
		return false
	}
	if stale := m.unpooledSparesLocked(""); len(stale) > 0 {
		spare := stale[0]
		m.busy[spare.Attachment.SandboxID] = true
		m.mu.Unlock()
		err := m.tearDown(ctx, spare)
		m.clearBusy(spare.Attachment.SandboxID)
		if err != nil {
			// Retried on the next kick, by CleanupStale or by Close.
			m.log.Warn("network: remove stale spare", "spare", spare.Attachment.SandboxID, "err", err)
			return false
		}
		return true
	}
	n, ok := m.networkShortOfSparesLocked()
	if !ok {
		m.mu.Unlock()
		return false
	}
	rec, err := m.newSpareRecord(n)
	if err != nil {
		m.mu.Unlock()
		m.log.Warn("network: prepare spare", "network", n.Name, "err", err)
		return false
	}
	prep := &preparation{network: n.Name, rec: rec, done: make(chan struct{})}
	m.preparing = prep
	m.mu.Unlock()
	defer func() {
		m.mu.Lock()
		m.preparing = nil
		m.mu.Unlock()
		close(prep.done)
	}()

	if err := m.prepareSpare(ctx, rec); err != nil {
		m.log.Warn("network: prepare spare", "network", n.Name, "err", err)
		return false
	}
	m.mu.Lock()
	p := m.pools[n.Name]
	cur, defined := m.networks[n.Name]
	if p != nil && defined && sameSegment(cur, n) && !m.closed {
		p.ready = append(p.ready, rec)
		m.mu.Unlock()
		return true
	}
	// The pool was drained or the network redefined meanwhile.
	m.busy[rec.Attachment.SandboxID] = true
	m.mu.Unlock()
	err = m.tearDown(ctx, rec)
	m.clearBusy(rec.Attachment.SandboxID)
	if err != nil {
		m.log.Warn("network: remove spare of a drained pool", "spare", rec.Attachment.SandboxID, "err", err)
		return false
	}
	return true
}

// networkShortOfSparesLocked picks the network (by name, for a stable
// order) whose pool is furthest below its size.
func (m *Manager) networkShortOfSparesLocked() (Network, bool) {
	var best Network
	bestShort := 0
	for name, p := range m.pools {
		n, ok := m.networks[name]
		if !ok || m.draining[name] > 0 {
			continue
		}
		short := m.poolSize - len(p.ready)
		if short > bestShort || (short == bestShort && short > 0 && name < best.Name) {
			best, bestShort = n, short
		}
	}
	return best, bestShort > 0
}

func (m *Manager) newSpareRecord(n Network) (*record, error) {
	var b [6]byte
	if _, err := rand.Read(b[:]); err != nil {
		return nil, fmt.Errorf("spare id: %w", err)
	}
	id := spareIDPrefix + hex.EncodeToString(b[:])
	confList, err := bridgeConfList(n, filepath.Join(m.opts.StateDir, "ipam"))
	if err != nil {
		return nil, err
	}
	return &record{
		Attachment: Attachment{
			SandboxID: id,
			Network:   n.Name,
			NetNSPath: filepath.Join(m.opts.NetNSDir, id),
			IfName:    defaultIfName,
			CreatedAt: time.Now().UTC(),
		},
		NetworkDef:     n,
		CNIConfList:    confList,
		CNIContainerID: id,
		Spare:          true,
	}, nil
}

// prepareSpare does for a spare what Attach does for a sandbox, record
// first; on error nothing is left (or, should the undo fail, an unpooled
// spare that a later refill, CleanupStale or Close removes).
func (m *Manager) prepareSpare(ctx context.Context, rec *record) error {
	id := rec.Attachment.SandboxID
	if err := m.writeRecord(rec); err != nil {
		return fmt.Errorf("spare %s: %w", id, err)
	}
	m.mu.Lock()
	m.spares[id] = rec
	m.busy[id] = true
	m.mu.Unlock()
	defer m.clearBusy(id)

	res, err := m.setUp(ctx, rec)
	if err == nil {
		m.mu.Lock()
		rec.Attachment.IP = res.IP
		rec.Attachment.Gateway = res.Gateway
		rec.Attachment.HostVeth = res.HostVeth
		rec.Attachment.Complete = true
		err = m.applyFirewallLocked()
		if err == nil {
			err = m.writeRecord(rec)
		}
		m.mu.Unlock()
	}
	if err != nil {
		undoCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), spareTimeout)
		defer cancel()
		if uerr := m.tearDown(undoCtx, rec); uerr != nil {
			err = errors.Join(err, fmt.Errorf("undo: %w", uerr))
		}
		return fmt.Errorf("spare %s on %s: %w", id, rec.Attachment.Network, err)
	}
	return nil
}

// unpooledSparesLocked lists the spares (of network, or of every network
// when it is "") that are in no pool, not being prepared and not being
// removed: left by a previous nimbus, by a failed removal, or stale after
// a redefinition. Sorted by ID.
func (m *Manager) unpooledSparesLocked(network string) []*record {
	pooled := make(map[*record]bool)
	for _, p := range m.pools {
		for _, r := range p.ready {
			pooled[r] = true
		}
	}
	var out []*record
	for id, r := range m.spares {
		if pooled[r] || m.busy[id] || (m.preparing != nil && m.preparing.rec == r) {
			continue
		}
		if network == "" || r.Attachment.Network == network {
			out = append(out, r)
		}
	}
	slices.SortFunc(out, compareIDs)
	return out
}

func compareIDs(a, b *record) int {
	return strings.Compare(a.Attachment.SandboxID, b.Attachment.SandboxID)
}

// removeSpares tears down the given spares, which the caller has taken out
// of their pools and marked busy.
func (m *Manager) removeSpares(ctx context.Context, spares []*record) error {
	var errs []error
	for _, s := range spares {
		if err := m.tearDown(ctx, s); err != nil {
			errs = append(errs, fmt.Errorf("remove spare %s: %w", s.Attachment.SandboxID, err))
		}
		m.clearBusy(s.Attachment.SandboxID)
	}
	return errors.Join(errs...)
}

// takeSparesLocked takes every spare of network ("" for all) that nobody
// is working on out of its pool, marked busy, for removeSpares.
func (m *Manager) takeSparesLocked(network string) []*record {
	var out []*record
	for name, p := range m.pools {
		if network == "" || name == network {
			out = append(out, p.ready...)
			p.ready = nil
		}
	}
	out = append(out, m.unpooledSparesLocked(network)...)
	for _, s := range out {
		m.busy[s.Attachment.SandboxID] = true
	}
	return out
}

// drainPool removes network's pool and every spare of it, waiting for one
// being prepared. Until endDrainLocked no Attach claims from or restarts the
// network's pool.
func (m *Manager) drainPool(ctx context.Context, network string) error {
	m.mu.Lock()
	m.draining[network]++
	delete(m.pools, network)
	prep := m.preparing
	m.mu.Unlock()
	if prep != nil && prep.network == network {
		// With the pool gone the refiller removes what it was making.
		select {
		case <-prep.done:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	m.mu.Lock()
	spares := m.takeSparesLocked(network)
	m.mu.Unlock()
	return m.removeSpares(ctx, spares)
}

func (m *Manager) endDrainLocked(network string) {
	if m.draining[network]--; m.draining[network] <= 0 {
		delete(m.draining, network)
	}
}

// evictSpareHolding removes a spare of network that holds ip, so that an
// Attach asking for ip (an EC2 instance starting again) gets it. A spare
// being prepared for the network may take ip too: it is waited for first
// (the caller counts as a slow attach, so the refiller is unlikely to start
// another before the caller's ADD; host-local hands out addresses in turn,
// so one taking ip then is unlikelier still).
func (m *Manager) evictSpareHolding(ctx context.Context, network string, ip netip.Addr) error {
	for {
		m.mu.Lock()
		if prep := m.preparing; prep != nil && prep.network == network {
			m.mu.Unlock()
			select {
			case <-prep.done:
			case <-ctx.Done():
				return ctx.Err()
			}
			continue
		}
		var victim *record
		for id, r := range m.spares {
			if r.Attachment.Network == network && r.Attachment.IP == ip && !m.busy[id] {
				victim = r
			}
		}
		if victim == nil {
			m.mu.Unlock()
			return nil
		}
		if p := m.pools[network]; p != nil {
			p.ready = slices.DeleteFunc(p.ready, func(r *record) bool { return r == victim })
		}
		m.busy[victim.Attachment.SandboxID] = true
		m.mu.Unlock()
		return m.removeSpares(ctx, []*record{victim})
	}
}

// Close stops the refiller and removes every spare, so a nimbus that stops
// leaves on the host only what its sandboxes hold (their attachments stay,
// for the next nimbus to adopt). Attach keeps working after Close, always by
// the slow path. Close may be called more than once.
func (m *Manager) Close(ctx context.Context) error {
	m.mu.Lock()
	first := !m.closed
	m.closed = true
	m.mu.Unlock()
	if first && m.refillStop != nil {
		close(m.refillStop)
		<-m.refillDone
	}
	m.mu.Lock()
	spares := m.takeSparesLocked("")
	m.pools = make(map[string]*pool)
	m.mu.Unlock()
	if err := m.removeSpares(ctx, spares); err != nil {
		return fmt.Errorf("close network manager: %w", err)
	}
	return nil
}

// ReadySpares is how many prepared attachments network's pool holds now.
func (m *Manager) ReadySpares(network string) int {
	m.mu.Lock()
	defer m.mu.Unlock()
	if p := m.pools[network]; p != nil {
		return len(p.ready)
	}
	return 0
}

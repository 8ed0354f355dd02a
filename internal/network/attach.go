package network

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"time"

	"github.com/nimbus-dev/nimbus/internal/sandbox"
)

// AttachOptions tunes one attachment.
type AttachOptions struct {
	// IP asks for this address (an EC2 private IP); the zero value takes the
	// next free one. It must lie in the network's subnet.
	IP netip.Addr
	// IfName is the interface inside the sandbox; eth0 by default.
	IfName string
}

// Attach gives the sandbox a new network namespace on the named network
// ("" is the default network) and returns what the sandbox driver joins.
// Without a requested IP or interface name it takes a prepared attachment
// from the network's pool when one is ready (pool.go), whose namespace file
// is then named for the spare, not for the sandbox.
// On error nothing is left behind (should the undo fail too, an incomplete
// attachment stays listed for Detach or CleanupStale).
func (m *Manager) Attach(ctx context.Context, sandboxID, networkName string, opts AttachOptions) (*sandbox.NetworkAttachment, error) {
	if err := validateSandboxID(sandboxID); err != nil {
		return nil, fmt.Errorf("attach: %w", err)
	}
	if networkName == "" {
		networkName = DefaultNetworkName
	}
	if opts.IfName == "" {
		opts.IfName = defaultIfName
	}
	m.mu.Lock()
	n, ok := m.networks[networkName]
	if !ok {
		m.mu.Unlock()
		return nil, fmt.Errorf("attach %s: network %s: %w", sandboxID, networkName, ErrNotFound)
	}
	if opts.IP.IsValid() && (!n.Subnet.Contains(opts.IP) || opts.IP == n.Gateway) {
		m.mu.Unlock()
		return nil, fmt.Errorf("attach %s: %w: address %s is not a host address of %s", sandboxID, ErrInvalid, opts.IP, n.Subnet)
	}
	if _, exists := m.records[sandboxID]; exists || m.busy[sandboxID] {
		m.mu.Unlock()
		return nil, fmt.Errorf("attach %s: %w", sandboxID, ErrAlreadyExists)
	}
	if m.poolSize > 0 && !opts.IP.IsValid() && opts.IfName == defaultIfName {
		rec, err := m.claimSpareLocked(sandboxID, n)
		if err != nil {
			m.mu.Unlock()
			return nil, fmt.Errorf("attach %s: claim a spare: %w", sandboxID, err)
		}
		if rec != nil {
			m.mu.Unlock()
			m.log.DebugContext(ctx, "sandbox attached from the pool", "sandbox", sandboxID, "network", n.Name, "ip", rec.Attachment.IP, "spare", rec.CNIContainerID)
			return rec.sandboxAttachment(), nil
		}
	}
	m.busy[sandboxID] = true
	m.slowAttaches++
	m.mu.Unlock()
	defer m.endSlowAttach(sandboxID)

	if opts.IP.IsValid() && m.poolSize > 0 {
		if err := m.evictSpareHolding(ctx, n.Name, opts.IP); err != nil {
			return nil, fmt.Errorf("attach %s: free %s from a spare: %w", sandboxID, opts.IP, err)
		}
	}

	netnsPath := filepath.Join(m.opts.NetNSDir, sandboxID)
	if _, err := os.Lstat(netnsPath); err == nil {
		// Not ours to undo if this attach fails: another manager's, or one
		// whose record was lost.
		return nil, fmt.Errorf("attach %s: %w: %s exists", sandboxID, ErrAlreadyExists, netnsPath)
	}
	confList, err := bridgeConfList(n, filepath.Join(m.opts.StateDir, "ipam"))
	if err != nil {
		return nil, fmt.Errorf("attach %s: %w", sandboxID, err)
	}
	rec := &record{
		Attachment: Attachment{
			SandboxID: sandboxID,
			Network:   n.Name,
			NetNSPath: netnsPath,
			IfName:    opts.IfName,
			CreatedAt: time.Now().UTC(),
		},
		NetworkDef:     n,
		CNIConfList:    confList,
		RequestedIP:    opts.IP,
		CNIContainerID: sandboxID,
	}
	// The record goes first: whatever a crash interrupts below, a restarted
	// nimbus finds the record and can undo it.
	if err := m.writeRecord(rec); err != nil {
		return nil, fmt.Errorf("attach %s: %w", sandboxID, err)
	}
	m.mu.Lock()
	m.records[sandboxID] = rec
	m.mu.Unlock()

	res, err := m.setUp(ctx, rec)
	if err != nil {
		// Undo with a fresh context: the caller's may be what failed.
		undoCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
		defer cancel()
		if uerr := m.tearDown(undoCtx, rec); uerr != nil {
			err = errors.Join(err, fmt.Errorf("undo: %w", uerr))
		}
		return nil, fmt.Errorf("attach %s to %s: %w", sandboxID, n.Name, err)
	}

	m.mu.Lock()
	rec.Attachment.IP = res.IP
	rec.Attachment.Gateway = res.Gateway
	rec.Attachment.HostVeth = res.HostVeth
	rec.Attachment.Complete = true
	// The anti-spoofing rules for the new veth go in before the sandbox
	// can use its address.
	err = m.applyFirewallLocked()
	if err == nil {
		err = m.writeRecord(rec)
	}
	m.mu.Unlock()
	if err != nil {
		undoCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
		defer cancel()
		if uerr := m.tearDown(undoCtx, rec); uerr != nil {
			err = errors.Join(err, fmt.Errorf("undo: %w", uerr))
		}
		return nil, fmt.Errorf("attach %s: %w", sandboxID, err)
	}
	m.log.DebugContext(ctx, "sandbox attached", "sandbox", sandboxID, "network", n.Name, "ip", res.IP)
	return rec.sandboxAttachment(), nil
}

// sandboxAttachment is what the sandbox driver joins.
func (r *record) sandboxAttachment() *sandbox.NetworkAttachment {
	return &sandbox.NetworkAttachment{
		NetNSPath: r.Attachment.NetNSPath,
		IP:        r.Attachment.IP.String(),
		Gateway:   r.Attachment.Gateway.String(),
	}
}

// endSlowAttach ends a slow-path Attach; the last one in flight wakes the
// refiller, which defers to it for refillQuiet.
func (m *Manager) endSlowAttach(sandboxID string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.busy, sandboxID)
	m.lastAttach = time.Now()
	if m.slowAttaches--; m.slowAttaches == 0 && !m.closed {
		m.kickRefill()
	}
}

func (m *Manager) setUp(ctx context.Context, rec *record) (*cniResult, error) {
	a := rec.Attachment
	if err := createNetNS(a.NetNSPath); err != nil {
		return nil, err
	}
	return m.cniAdd(ctx, rec.CNIConfList, runtimeConf(rec.containerID(), a.NetNSPath, a.IfName, rec.RequestedIP))
}

// Detach removes the sandbox's firewall rules, veth, address lease and
// namespace. Detaching a sandbox that is not attached is not an error.
func (m *Manager) Detach(ctx context.Context, sandboxID string) error {
	m.mu.Lock()
	rec, ok := m.records[sandboxID]
	if !ok {
		m.mu.Unlock()
		return nil
	}
	if m.busy[sandboxID] {
		m.mu.Unlock()
		return fmt.Errorf("detach %s: %w: attach or detach in progress", sandboxID, ErrInUse)
	}
	m.busy[sandboxID] = true
	m.mu.Unlock()
	defer m.clearBusy(sandboxID)

	if err := m.tearDown(ctx, rec); err != nil {
		return fmt.Errorf("detach %s: %w", sandboxID, err)
	}
	m.log.DebugContext(ctx, "sandbox detached", "sandbox", sandboxID)
	return nil
}

// tearDown undoes setUp in reverse, each step tolerating what is already
// gone, and forgets the record last so a failure can be retried. It serves
// sandboxes' attachments and spares alike.
func (m *Manager) tearDown(ctx context.Context, rec *record) error {
	a := rec.Attachment
	if a.Complete {
		// Its firewall and anti-spoofing rules go first; from here on the
		// attachment counts as incomplete.
		m.mu.Lock()
		rec.Attachment.Complete = false
		err := m.applyFirewallLocked()
		m.mu.Unlock()
		if err != nil {
			return err
		}
	}
	netns := a.NetNSPath
	if !isNetNS(netns) {
		// The plugins then only release the lease.
		netns = ""
	}
	if err := m.cniDel(ctx, rec.CNIConfList, runtimeConf(rec.containerID(), netns, a.IfName, rec.RequestedIP)); err != nil {
		return err
	}
	if err := removeNetNS(a.NetNSPath); err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if err := m.removeRecord(a.SandboxID); err != nil {
		return err
	}
	if rec.Spare {
		delete(m.spares, a.SandboxID)
	} else {
		delete(m.records, a.SandboxID)
	}
	return nil
}

func (m *Manager) clearBusy(sandboxID string) {
	m.mu.Lock()
	delete(m.busy, sandboxID)
	m.mu.Unlock()
}

// SandboxByAddr finds the sandbox holding addr on the network whose
// gateway is gateway (networks may overlap, gateways of one host do not).
// Spares are no sandbox's and never found.
func (m *Manager) SandboxByAddr(gateway, addr netip.Addr) (Attachment, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, r := range m.records {
		if r.Attachment.Complete && r.Attachment.IP == addr && r.NetworkDef.Gateway == gateway {
			return r.Attachment, true
		}
	}
	return Attachment{}, false
}

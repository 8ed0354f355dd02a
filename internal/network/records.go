package network

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// recordVersion is bumped whenever the on-disk attachment record changes
// shape, so that a newer nimbus can recognise an older one's state.
// Version 2 added CNIContainerID and Spare (the attachment pool); a
// version 1 record reads as a version 2 one whose CNI container ID is its
// sandbox ID, which it always was.
const recordVersion = 2

// Attachment is one sandbox's place on a network, as known to the manager.
type Attachment struct {
	SandboxID string
	Network   string
	NetNSPath string
	IfName    string
	IP        netip.Addr // zero while Attach has not finished
	Gateway   netip.Addr
	HostVeth  string // host end of the veth pair
	// Complete is false when Attach was interrupted (a crash): the record
	// exists so that Detach can still remove whatever was made.
	Complete  bool
	CreatedAt time.Time
	// Firewall is nil while the sandbox is unfiltered.
	Firewall *RuleSet `json:",omitempty"`
}

// record is the persisted form of an attachment: the attachment plus what
// is needed to undo it even if the network's definition has changed since.
type record struct {
	Version     int
	Attachment  Attachment
	NetworkDef  Network
	CNIConfList json.RawMessage
	RequestedIP netip.Addr // the static address asked for, if any
	// CNIContainerID is the container ID the CNI plugins know the
	// attachment by (its lease, its cached result), needed again for DEL:
	// the sandbox ID, or the spare's ID for an attachment claimed from the
	// pool. Empty in version 1 records.
	CNIContainerID string `json:",omitempty"`
	// Spare marks a prepared attachment no sandbox holds yet (pool.go); its
	// Attachment.SandboxID is then the spare's own ID, which no sandbox ID
	// can equal.
	Spare bool `json:",omitempty"`
}

// containerID is the CNI container ID of the attachment.
func (r *record) containerID() string {
	if r.CNIContainerID != "" {
		return r.CNIContainerID
	}
	return r.Attachment.SandboxID
}

func (m *Manager) recordPath(sandboxID string) string {
	return filepath.Join(m.opts.StateDir, "attachments", sandboxID+".json")
}

// writeRecord replaces the record atomically (write, fsync, rename) so a
// crash leaves either the old or the new record, never half of one.
func (m *Manager) writeRecord(r *record) error {
	r.Version = recordVersion
	b, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return fmt.Errorf("encode attachment record %s: %w", r.Attachment.SandboxID, err)
	}
	path := m.recordPath(r.Attachment.SandboxID)
	tmp := path + ".tmp"
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return fmt.Errorf("write attachment record: %w", err)
	}
	if _, err := f.Write(b); err != nil {
		f.Close()
		return fmt.Errorf("write attachment record %s: %w", tmp, err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return fmt.Errorf("sync attachment record %s: %w", tmp, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("close attachment record %s: %w", tmp, err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("install attachment record %s: %w", path, err)
	}
	return nil
}

func (m *Manager) removeRecord(sandboxID string) error {
	if err := os.Remove(m.recordPath(sandboxID)); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("remove attachment record %s: %w", sandboxID, err)
	}
	return nil
}

// loadRecords reads every record in the state directory.
func (m *Manager) loadRecords() (map[string]*record, error) {
	dir := filepath.Join(m.opts.StateDir, "attachments")
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("read attachment records: %w", err)
	}
	out := make(map[string]*record)
	for _, e := range entries {
		name := e.Name()
		if strings.HasSuffix(name, ".tmp") {
			os.Remove(filepath.Join(dir, name)) // an interrupted write
			continue
		}
		if !strings.HasSuffix(name, ".json") {
			continue
		}
		b, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			return nil, fmt.Errorf("read attachment record %s: %w", name, err)
		}
		var r record
		if err := json.Unmarshal(b, &r); err != nil {
			return nil, fmt.Errorf("decode attachment record %s: %w", name, err)
		}
		if r.Version < 1 || r.Version > recordVersion {
			return nil, fmt.Errorf("attachment record %s has version %d, this nimbus knows 1 to %d", name, r.Version, recordVersion)
		}
		out[r.Attachment.SandboxID] = &r
	}
	// A claim writes the sandbox's record before it removes the spare's: a
	// crash between the two leaves both, naming one CNI container, and the
	// sandbox's is the one that holds it.
	claimed := make(map[string]bool)
	for _, r := range out {
		if !r.Spare && r.CNIContainerID != "" {
			claimed[r.CNIContainerID] = true
		}
	}
	for id, r := range out {
		if r.Spare && claimed[id] {
			if err := m.removeRecord(id); err != nil {
				return nil, err
			}
			delete(out, id)
		}
	}
	return out, nil
}

package substrate

import (
	"maps"
	"net/netip"
	"time"

	"github.com/nimbus-dev/nimbus/internal/sandbox"
	"github.com/nimbus-dev/nimbus/internal/store"
)

// KindSandbox is the store kind of sandbox records.
const KindSandbox = "substrate:sandbox"

// SystemAccount partitions sandboxes whose owner names no account.
const SystemAccount = "000000000000"

// recordVersion is the schema version of record; bump it when a field changes
// meaning.
const recordVersion = 1

// Labels every sandbox carries, so the driver's List (which survives a lost
// store) says who owns it.
const (
	LabelSandbox  = "nimbus.sandbox" // the sandbox ID; marks sandboxes a Host made
	LabelKind     = "nimbus.kind"    // owner kind: ec2-instance, batch-job, lambda-sandbox...
	LabelAccount  = "nimbus.account"
	LabelRegion   = "nimbus.region"
	LabelResource = "nimbus.resource" // owner resource ID: i-..., job ID, function ARN
)

// phase is where a sandbox is in its life, as recorded before each step.
type phase string

const (
	phaseCreating phase = "creating" // Run in progress; undone by recovery
	phaseRunning  phase = "running"  // Run returned; adopted by recovery
	phaseExited   phase = "exited"   // the command ended; Exit says how
	phaseDeleting phase = "deleting" // Delete in progress; finished by recovery
)

// Owner is who a sandbox belongs to.
type Owner struct {
	Kind       string // e.g. "ec2-instance", "batch-job", "lambda-sandbox"
	Account    string
	Region     string
	ResourceID string
}

// record is the stored state of one sandbox.
type record struct {
	Schema int               `json:"schema"`
	ID     string            `json:"id"`
	Owner  Owner             `json:"owner"`
	Labels map[string]string `json:"labels"`
	Phase  phase             `json:"phase"`
	// Handle is nil until the driver has created the sandbox.
	Handle *sandbox.Handle `json:"handle,omitempty"`
	// Network is the network asked for ("" none); IP is known once attached.
	Network string     `json:"network,omitempty"`
	IP      netip.Addr `json:"ip,omitzero"`
	// BlockVolumes are the block volumes this sandbox attaches (recorded
	// before they are), detached again when it is deleted.
	BlockVolumes []string            `json:"blockVolumes,omitempty"`
	LogPath      string              `json:"logPath"`
	Image        string              `json:"image,omitempty"`
	CreatedAt    time.Time           `json:"createdAt"`
	StartedAt    time.Time           `json:"startedAt,omitzero"`
	Exit         *sandbox.ExitStatus `json:"exit,omitempty"`
	ExitError    string              `json:"exitError,omitempty"`
}

func (r *record) key() store.Key {
	account := r.Owner.Account
	if account == "" {
		account = SystemAccount
	}
	return store.Key{Account: account, Region: r.Owner.Region, Kind: KindSandbox, ID: r.ID}
}

// clone copies r deeply enough that the copy can be changed and written
// without touching r.
func (r *record) clone() *record {
	c := *r
	c.Labels = maps.Clone(r.Labels)
	c.BlockVolumes = append([]string(nil), r.BlockVolumes...)
	if r.Handle != nil {
		h := *r.Handle
		c.Handle = &h
	}
	if r.Exit != nil {
		e := *r.Exit
		c.Exit = &e
	}
	return &c
}

// Sandbox is what callers see of a sandbox.
type Sandbox struct {
	ID      string
	Owner   Owner
	Labels  map[string]string
	State   sandbox.State // created while Run runs, running, exited
	Network string
	IP      netip.Addr // zero without a network
	LogPath string
	Image   string
	Handle  sandbox.Handle
	Created time.Time
	Started time.Time
	// Exit is set once the sandbox has exited and its status is known.
	Exit *sandbox.ExitStatus
	// ExitError says why an exited sandbox's status is unknown.
	ExitError string
}

func (r *record) view() *Sandbox {
	c := r.clone()
	s := &Sandbox{
		ID: c.ID, Owner: c.Owner, Labels: c.Labels, Network: c.Network, IP: c.IP,
		LogPath: c.LogPath, Image: c.Image, Created: c.CreatedAt, Started: c.StartedAt,
		Exit: c.Exit, ExitError: c.ExitError,
	}
	if c.Handle != nil {
		s.Handle = *c.Handle
	}
	switch c.Phase {
	case phaseRunning:
		s.State = sandbox.StateRunning
	case phaseExited:
		s.State = sandbox.StateExited
	default:
		s.State = sandbox.StateCreated
	}
	return s
}

// ownerLabels are the labels that name a sandbox's owner.
func ownerLabels(id string, o Owner, extra map[string]string) map[string]string {
	l := maps.Clone(extra)
	if l == nil {
		l = map[string]string{}
	}
	l[LabelSandbox] = id
	set := func(k, v string) {
		if v != "" {
			l[k] = v
		}
	}
	set(LabelKind, o.Kind)
	set(LabelAccount, o.Account)
	set(LabelRegion, o.Region)
	set(LabelResource, o.ResourceID)
	return l
}

// matches reports whether labels hold every pair of filter.
func matches(labels, filter map[string]string) bool {
	for k, v := range filter {
		if labels[k] != v {
			return false
		}
	}
	return true
}

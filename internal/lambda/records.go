package lambda

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"time"

	"github.com/nimbus-dev/nimbus/internal/store"
)

// Store kinds. One function is one object, holding $LATEST, its published
// versions, aliases, policy, URLs and async settings, so that every change
// to a function is a single-object transaction. Reservations are summed in
// one object per partition so an invoke need not read every function to
// know the unreserved pool. Async events are objects of their own, keyed by
// a sequence so listing them is first in, first out.
const (
	kindFunction     = "lambda:function"
	kindEvent        = "lambda:event"
	kindReservations = "lambda:reservations"

	reservationsID = "reservations"
	latest         = "$LATEST"
	urlIDIndex     = "url-id"
)

// functionRecord is a function and everything attached to it.
type functionRecord struct {
	Name     string
	Latest   versionRecord
	Versions []versionRecord // published, in order
	// LastVersion is the number of the last version published, never
	// reused after a version is deleted.
	LastVersion int
	Aliases     map[string]*aliasRecord
	Reserved    *int
	// Policies holds resource policy statements by qualifier ("" for the
	// unqualified function).
	Policies map[string][]policyStatement
	// URLs holds function URL configs by qualifier ("" unqualified).
	URLs map[string]*urlRecord
	// EventConfigs holds async settings by qualifier ($LATEST for the
	// unqualified function, as Lambda treats it).
	EventConfigs map[string]*eventConfigRecord
	Tags         map[string]string
}

// StoreIndexes makes functions findable by the ID of their URLs.
func (f *functionRecord) StoreIndexes() []store.IndexValue {
	out := make([]store.IndexValue, 0, len(f.URLs))
	for _, u := range f.URLs {
		out = append(out, store.IndexValue{Name: urlIDIndex, Value: u.URLID, Unique: true})
	}
	return out
}

// versionRecord is one version's configuration: $LATEST or a published one.
type versionRecord struct {
	Version     string
	Description string
	PackageType string
	Runtime     string
	Handler     string
	Role        string
	CodeSha256  string // base64, as Lambda shows it
	CodeSize    int64
	CodeHash    string // hex SHA-256: the package's name under the code directory
	ImageURI    string
	ImageConfig *imageConfig `json:",omitempty"`
	MemorySize  int
	Timeout     int
	Ephemeral   int
	Arch        string
	Environment map[string]string
	LogFormat   string
	LogGroup    string
	// RevisionID changes on every change to the version, as Lambda's.
	RevisionID string
	// ConfigRevision changes only with code or configuration, so runner
	// sandboxes outlive changes to the policy.
	ConfigRevision string
	LastModified   time.Time
	// PendingUntil is when a new function becomes Active; UpdatingUntil
	// when an update becomes Successful. States are derived from them at
	// read time, so they need no background work and survive restarts.
	PendingUntil  time.Time
	UpdatingUntil time.Time
}

type imageConfig struct {
	EntryPoint       []string `json:",omitempty"`
	Command          []string `json:",omitempty"`
	WorkingDirectory string   `json:",omitempty"`
}

type aliasRecord struct {
	Name        string
	Version     string
	Description string
	Weights     map[string]float64 `json:",omitempty"`
	RevisionID  string
}

type policyStatement struct {
	Sid       string
	Statement map[string]any
}

type urlRecord struct {
	URLID        string
	AuthType     string
	Cors         *corsConfig `json:",omitempty"`
	InvokeMode   string
	Created      time.Time
	LastModified time.Time
}

type eventConfigRecord struct {
	MaximumRetryAttempts     *int
	MaximumEventAgeInSeconds *int
	DestinationConfig        map[string]any `json:",omitempty"`
	LastModified             time.Time
}

// reservationsRecord is every reservation in one account and region.
type reservationsRecord struct {
	ByFunction map[string]int
}

// asyncEvent is one queued Event invocation.
type asyncEvent struct {
	RequestID  string
	Function   string
	Qualifier  string // as the caller gave it, "" for unqualified
	Version    string // resolved when queued
	InvokedARN string
	Payload    []byte
	Enqueued   time.Time
	NotBefore  time.Time
	Attempts   int // failed attempts so far (function errors)
}

// newRevisionID returns a random UUID, the shape of Lambda's RevisionIds.
func newRevisionID() string {
	var b [16]byte
	rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	h := hex.EncodeToString(b[:])
	return fmt.Sprintf("%s-%s-%s-%s-%s", h[:8], h[8:12], h[12:16], h[16:20], h[20:])
}

// version finds a published version or $LATEST.
func (f *functionRecord) version(v string) *versionRecord {
	if v == latest {
		return &f.Latest
	}
	for i := range f.Versions {
		if f.Versions[i].Version == v {
			return &f.Versions[i]
		}
	}
	return nil
}

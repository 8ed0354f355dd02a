// Package store is nimbus's state layer: every piece of desired and actual
// state (EC2 instances, volumes, key pairs, Lambda functions, Batch jobs, IAM
// users...) lives in a Store as a JSON document under a Key.
//
// # Model
//
// A Key names one object: the account and region that own it (Region "" for
// global resources such as IAM users), its Kind ("ec2:instance",
// "batch:job"...) and its ID. Keys never cross partitions: a Query names its
// account and region unless it explicitly asks for all of them (AllAccounts,
// AllRegions), so a forgotten field cannot leak one tenant's objects to
// another.
//
// Values are stored as JSON (encoding/json); pass a json.RawMessage to
// store bytes already encoded. Every object carries two counters. Version
// is per object: 1 when created, +1 on every write; Put and Delete take it
// back for optimistic concurrency (ifVersion). Revision is store-wide: each
// Update that writes anything commits exactly one new revision, shared by
// all objects it wrote, and Watch events carry it, so a watcher can line
// events up with a snapshot. (An Update that only draws sequence numbers
// commits them without spending a revision.)
//
// # Transactions
//
// View runs fn in a read-only transaction over a consistent snapshot; Update
// runs fn in a serializable read-write transaction and returns only once the
// commit is durable (fsync'd), so a request acknowledged after Update returns
// survives kill -9. If fn returns an error or panics, nothing it wrote is
// kept: the transaction rolls back and Update returns the error (or
// re-panics). A Tx is bound to the ctx given to View/Update, which is why its
// methods take no ctx of their own; it must not be used after fn returns, nor
// shared between goroutines. Do not call Update from inside another Update's
// fn: writes are serialized, so it would wait for itself.
//
// # Secondary indexes
//
// A value that implements Indexer is indexed under each IndexValue it
// returns at the time it is written (instances by private IP, functions by
// ARN). Query.Index and Query.IndexValue look objects up by one such value.
// A Unique index value may be held by only one object of the same kind in
// the same partition; a second writer gets ErrAlreadyExists.
//
// # Watch
//
// Watch delivers an Event for every object written or deleted after the
// call, for the kinds asked for, after the commit, in commit (revision)
// order. Writers never wait for watchers: each watcher has a bounded buffer
// (see the implementation's option), and a watcher that falls that far
// behind has its buffered events dropped and replaced by one Event of type
// Resync carrying the latest revision dropped (a single commit with more
// matching events than the buffer always ends in a Resync). On Resync a
// watcher re-reads the state it cares about with View; later events whose
// Revision is not above the snapshot's Tx.Revision are already reflected in
// it. The channel is closed when ctx ends or the store is closed.
//
// # Errors
//
// Implementations return the sentinels below, wrapped with context; test with
// errors.Is. They are mapped to AWS error codes only at the protocol edge.
//
// # Implementations
//
// sqlitestore is the embedded default (one SQLite file in WAL mode). Every
// implementation must pass storetest.Run.
package store

import (
	"context"
	"encoding/json"
	"fmt"
	"time"
)

// Key names one object.
type Key struct {
	Account string // 12-digit AWS account ID; required
	Region  string // "" for global resources (IAM)
	Kind    string // resource family, e.g. "ec2:instance"; required
	ID      string // unique within account, region and kind; required
}

func (k Key) String() string {
	return fmt.Sprintf("%s/%s/%s/%s", k.Account, k.Region, k.Kind, k.ID)
}

// Validate reports ErrInvalid when a required part of k is empty.
func (k Key) Validate() error {
	if k.Account == "" || k.Kind == "" || k.ID == "" {
		return fmt.Errorf("key %q: account, kind and id are required: %w", k, ErrInvalid)
	}
	return nil
}

// Meta is what the store knows about an object besides its data.
type Meta struct {
	Version  int64     // 1 on create, +1 on every write
	Revision int64     // store revision of the commit that last wrote the object
	Created  time.Time // when the object was first written (kept across Puts)
	Updated  time.Time // when the object was last written
}

// Object is one object as List returns it.
type Object struct {
	Key  Key
	Meta Meta
	Data []byte // JSON; owned by the caller
}

// Decode unmarshals the object's JSON into v.
func (o Object) Decode(v any) error {
	if err := json.Unmarshal(o.Data, v); err != nil {
		return fmt.Errorf("decode %s: %w", o.Key, err)
	}
	return nil
}

// Query selects objects of one kind. Results are ordered by (Account, Region,
// ID), byte-wise.
type Query struct {
	Kind string // required

	Account     string // the account to list; required unless AllAccounts
	Region      string // the region to list ("" = global); ignored with AllRegions
	AllAccounts bool   // list every account (controllers that reconcile everything)
	AllRegions  bool   // list every region of the account(s)

	Prefix string // only IDs starting with Prefix
	// After, for paging within one partition, skips IDs up to and including
	// After. It is refused with AllAccounts or AllRegions, where ID alone is
	// not a position.
	After string
	Limit int // at most Limit objects; 0 = no limit

	// Index and IndexValue, when Index is set, select only objects indexed
	// under that name with exactly that value (see Indexer).
	Index      string
	IndexValue string
}

// Validate reports ErrInvalid for a query that cannot be answered.
func (q Query) Validate() error {
	switch {
	case q.Kind == "":
		return fmt.Errorf("query: kind is required: %w", ErrInvalid)
	case q.Account == "" && !q.AllAccounts:
		return fmt.Errorf("query %s: account is required unless AllAccounts: %w", q.Kind, ErrInvalid)
	case q.After != "" && (q.AllAccounts || q.AllRegions):
		return fmt.Errorf("query %s: After needs a single account and region: %w", q.Kind, ErrInvalid)
	case q.Limit < 0:
		return fmt.Errorf("query %s: negative limit: %w", q.Kind, ErrInvalid)
	}
	return nil
}

// IndexValue is one secondary-index entry of an object.
type IndexValue struct {
	Name   string // e.g. "private-ip"
	Value  string // e.g. "10.0.3.7"
	Unique bool   // at most one object of the kind per partition holds it
}

// Indexer is implemented by values written to the store that want to be
// found by something other than their ID. The entries are replaced on every
// write of the object and removed with it.
type Indexer interface {
	StoreIndexes() []IndexValue
}

// Store is the state store. All methods are safe for concurrent use.
type Store interface {
	// View runs fn in a read-only transaction over a consistent snapshot.
	View(ctx context.Context, fn func(Tx) error) error
	// Update runs fn in a serializable read-write transaction and returns
	// once the commit is durable; if fn fails or panics, nothing is written.
	Update(ctx context.Context, fn func(Tx) error) error
	// Watch streams events for objects of the given kinds (all kinds if none)
	// committed after Watch returns, until ctx ends or the store closes.
	Watch(ctx context.Context, kinds ...string) (<-chan Event, error)
	// Stats describes the store for the health endpoint.
	Stats(ctx context.Context) (Stats, error)
	// Close stops watchers and releases the store; in-flight transactions
	// finish first. Closing again is a no-op.
	Close() error
}

// Tx is one transaction. Write methods return ErrReadOnly inside View.
type Tx interface {
	// Get unmarshals the object's JSON into v (v may be nil to fetch only
	// Meta). ErrNotFound if there is none.
	Get(key Key, v any) (Meta, error)
	// Create writes a new object; ErrAlreadyExists if the key is taken.
	Create(key Key, v any) (Meta, error)
	// Put writes an object. ifVersion 0 writes unconditionally (creating it
	// if need be); otherwise the object must exist (ErrNotFound) at exactly
	// that version (ErrConflict).
	Put(key Key, v any, ifVersion int64) (Meta, error)
	// Delete removes an object: ErrNotFound if there is none, ErrConflict if
	// ifVersion is not 0 and not its version.
	Delete(key Key, ifVersion int64) error
	// List calls fn for each object matching q, in order, streaming rows as
	// they are read. If fn returns ErrStop, List stops and returns nil; any
	// other error stops it and is returned.
	List(q Query, fn func(Object) error) error
	// NextSequence returns the next value (1, 2, ...) of a durable counter.
	// Values are strictly increasing across committed transactions; a value
	// drawn by a transaction that rolls back may be drawn again.
	NextSequence(name string) (int64, error)
	// Revision is the store revision this transaction sees (including its
	// own writes inside Update).
	Revision() (int64, error)
}

// EventType says what happened to an object.
type EventType int

const (
	EventPut    EventType = iota + 1 // created or replaced; Data holds the new JSON
	EventDelete                      // deleted; Data is nil
	EventResync                      // events were dropped: re-read the state
)

func (t EventType) String() string {
	switch t {
	case EventPut:
		return "put"
	case EventDelete:
		return "delete"
	case EventResync:
		return "resync"
	}
	return fmt.Sprintf("EventType(%d)", int(t))
}

// Event is one committed change. For EventResync only Type and Revision are
// set.
type Event struct {
	Type     EventType
	Key      Key
	Version  int64  // the object's version after a put; its last version for a delete
	Revision int64  // the commit's store revision
	Data     []byte // shared by every watcher: read it, never modify it
}

// Stats describes a store for operators.
type Stats struct {
	Backend       string // "sqlite", "postgres"
	Location      string // file path or connection target, never a password
	SizeBytes     int64  // on-disk size, where known
	SchemaVersion int
	Revision      int64 // latest committed store revision
}

package iam

import (
	"context"
	"fmt"
	"sync/atomic"

	"github.com/nimbus-dev/nimbus/internal/store"
)

// changeCounter is IAM's write generation: it grows after every store
// transaction that wrote through this IAM, once the transaction has ended,
// and whenever Run sees someone else's write. Caches of IAM state are
// valid while it is unchanged. Reading it costs an atomic load, where
// asking the store for its revision costs a read transaction (tens of µs).
//
// The order of the two sides is what makes the cache exact: a writer bumps
// the counter after its commit, and a reader reads the counter before it
// opens its snapshot. So a snapshot that missed a write is always labelled
// with a generation older than that write's bump, and once Update has
// returned no request can be served from such a snapshot.
type changeCounter struct{ n atomic.Uint64 }

func (c *changeCounter) current() uint64 { return c.n.Load() }
func (c *changeCounter) bump()           { c.n.Add(1) }

// countingStore is the store as IAM uses it: Update bumps the change
// counter when its transaction wrote anything, so no write path in the
// package (handlers, sessions, reset) can forget to invalidate.
type countingStore struct {
	store.Store
	changes *changeCounter
}

// Update implements store.Store. The counter is bumped even when the
// transaction fails after a write: whether the commit happened is not
// always knowable, and an extra bump only costs a cache miss.
func (s countingStore) Update(ctx context.Context, fn func(store.Tx) error) error {
	t := &countingTx{}
	defer func() {
		if t.wrote {
			s.changes.bump()
		}
	}()
	return s.Store.Update(ctx, func(tx store.Tx) error {
		t.Tx = tx
		return fn(t)
	})
}

// countingTx notes whether a transaction wrote.
type countingTx struct {
	store.Tx
	wrote bool
}

func (t *countingTx) Create(key store.Key, v any) (store.Meta, error) {
	if !isNewSession(key.Kind, 1) {
		t.wrote = true
	}
	return t.Tx.Create(key, v)
}

// isNewSession reports a write that creates an STS session. It changes no
// cached answer: a session is found by its access key, drawn at random as
// it is created, so nothing can have been cached about it before: failed
// lookups are never cached, nor a role session's policies gathered
// without its record (principalPolicies.sessionMissing). Not counting it
// keeps the caches warm while workloads mint credentials (every Lambda
// cold start does).
func isNewSession(kind string, version int64) bool {
	return kind == kindSession && version == 1
}

func (t *countingTx) Put(key store.Key, v any, ifVersion int64) (store.Meta, error) {
	t.wrote = true
	return t.Tx.Put(key, v, ifVersion)
}

func (t *countingTx) Delete(key store.Key, ifVersion int64) error {
	t.wrote = true
	return t.Tx.Delete(key, ifVersion)
}

// Run follows IAM's kinds in the store until ctx ends, so that writes
// which did not go through this IAM (another IAM over the same store in
// this process, or another replica of a store that several nimbus
// processes share) invalidate its caches too. Those are seen as soon as
// the store's Watch delivers them, not synchronously: exact next-request
// visibility holds for writes made through this IAM, which is every IAM
// write a single nimbus makes, with or without Run. The SQLite store
// admits one process only, so today Run is a safety net, not a need.
func (m *IAM) Run(ctx context.Context) error {
	events, err := m.store.Watch(ctx, allKinds...)
	if err != nil {
		return fmt.Errorf("iam: watch the store for changes: %w", err)
	}
	// Writes committed before Watch returned are not delivered.
	m.changes.bump()
	// Every other event, a Resync included, is a change the caches may not
	// hold.
	for ev := range events {
		if ev.Type == store.EventPut && isNewSession(ev.Key.Kind, ev.Version) {
			continue
		}
		m.changes.bump()
	}
	return nil
}

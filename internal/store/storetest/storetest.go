// Package storetest is the contract every store.Store implementation must
// meet. An implementation's tests call Run with a constructor for fresh,
// empty stores, and Benchmarks for the shared benchmarks:
//
//	func TestContract(t *testing.T) { storetest.Run(t, newStore) }
//
// The constructor owns cleanup (t.Cleanup); Run's tests may also Close a
// store themselves, so Close must be idempotent.
package storetest

import (
	"context"
	"errors"
	"testing"

	"github.com/nimbus-dev/nimbus/internal/store"
)

// NewStore returns a fresh, empty store and arranges for its cleanup.
type NewStore func(t testing.TB) store.Store

// Run runs the contract suite against stores made by newStore.
func Run(t *testing.T, newStore NewStore) {
	tests := []struct {
		name string
		fn   func(*testing.T, NewStore)
	}{
		{"CRUD", testCRUD},
		{"InvalidKeys", testInvalidKeys},
		{"Versions", testVersions},
		{"Timestamps", testTimestamps},
		{"Partitioning", testPartitioning},
		{"ListOrder", testListOrder},
		{"ListPrefixAfterLimit", testListPrefixAfterLimit},
		{"ListStop", testListStop},
		{"Indexes", testIndexes},
		{"UniqueIndexes", testUniqueIndexes},
		{"RollbackOnError", testRollbackOnError},
		{"RollbackOnPanic", testRollbackOnPanic},
		{"ReadOnlyView", testReadOnlyView},
		{"SnapshotIsolation", testSnapshotIsolation},
		{"Revisions", testRevisions},
		{"Sequences", testSequences},
		{"Watch", testWatch},
		{"WatchKindsAndCancel", testWatchKindsAndCancel},
		{"ConcurrentUpdates", testConcurrentUpdates},
		{"LargeValue", testLargeValue},
		{"Stats", testStats},
		{"Close", testClose},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) { tc.fn(t, newStore) })
	}
}

// thing is the value the suite stores. Its indexes are declared by the
// fields IP (unique) and Tags (not unique).
type thing struct {
	Name string   `json:"name"`
	N    int      `json:"n"`
	IP   string   `json:"ip,omitempty"`
	Tags []string `json:"tags,omitempty"`
}

func (th thing) StoreIndexes() []store.IndexValue {
	var ix []store.IndexValue
	if th.IP != "" {
		ix = append(ix, store.IndexValue{Name: "ip", Value: th.IP, Unique: true})
	}
	for _, tag := range th.Tags {
		ix = append(ix, store.IndexValue{Name: "tag", Value: tag})
	}
	return ix
}

const (
	acct1 = "111111111111"
	acct2 = "222222222222"
	east  = "us-east-1"
	west  = "us-west-2"
	kindA = "test:a"
	kindB = "test:b"
)

func key(id string) store.Key { return store.Key{Account: acct1, Region: east, Kind: kindA, ID: id} }

func update(t testing.TB, s store.Store, fn func(store.Tx) error) {
	t.Helper()
	if err := s.Update(context.Background(), fn); err != nil {
		t.Fatalf("Update: %v", err)
	}
}

func view(t testing.TB, s store.Store, fn func(store.Tx) error) {
	t.Helper()
	if err := s.View(context.Background(), fn); err != nil {
		t.Fatalf("View: %v", err)
	}
}

func put(t testing.TB, s store.Store, k store.Key, v any) store.Meta {
	t.Helper()
	var m store.Meta
	update(t, s, func(tx store.Tx) error {
		var err error
		m, err = tx.Put(k, v, 0)
		return err
	})
	return m
}

// get returns the object under k, or ok false if there is none.
func get(t testing.TB, s store.Store, k store.Key) (th thing, m store.Meta, ok bool) {
	t.Helper()
	err := s.View(context.Background(), func(tx store.Tx) error {
		var err error
		m, err = tx.Get(k, &th)
		return err
	})
	if errors.Is(err, store.ErrNotFound) {
		return thing{}, store.Meta{}, false
	}
	if err != nil {
		t.Fatalf("get %s: %v", k, err)
	}
	return th, m, true
}

// list returns the IDs q selects, as account/region/id for cross-partition
// queries.
func list(t testing.TB, s store.Store, q store.Query) []string {
	t.Helper()
	var ids []string
	view(t, s, func(tx store.Tx) error {
		return tx.List(q, func(o store.Object) error {
			if o.Key.Kind != q.Kind {
				t.Errorf("List(%s) returned kind %s", q.Kind, o.Key.Kind)
			}
			id := o.Key.ID
			if q.AllAccounts || q.AllRegions {
				id = o.Key.Account + "/" + o.Key.Region + "/" + o.Key.ID
			}
			ids = append(ids, id)
			return nil
		})
	})
	return ids
}

func wantErr(t testing.TB, what string, err, want error) {
	t.Helper()
	if !errors.Is(err, want) {
		t.Fatalf("%s: err = %v, want %v", what, err, want)
	}
}

package storetest

import (
	"errors"
	"fmt"
	"sync"
	"testing"

	"github.com/nimbus-dev/nimbus/internal/store"
)

func testRollbackOnError(t *testing.T, newStore NewStore) {
	s := newStore(t)
	put(t, s, key("keep"), thing{N: 1})
	before := revision(t, s)

	boom := errors.New("boom")
	err := s.Update(t.Context(), func(tx store.Tx) error {
		if _, err := tx.Create(key("new"), thing{N: 1}); err != nil {
			return err
		}
		if _, err := tx.Put(key("keep"), thing{N: 2}, 0); err != nil {
			return err
		}
		if err := tx.Delete(key("keep"), 0); err != nil {
			return err
		}
		return fmt.Errorf("after three writes: %w", boom)
	})
	wantErr(t, "failing Update", err, boom)
	assertUntouched(t, s, before)
}

func testRollbackOnPanic(t *testing.T, newStore NewStore) {
	s := newStore(t)
	put(t, s, key("keep"), thing{N: 1})
	before := revision(t, s)

	func() {
		defer func() {
			if r := recover(); r != "boom" {
				t.Fatalf("recovered %v, want the panic to reach the caller", r)
			}
		}()
		_ = s.Update(t.Context(), func(tx store.Tx) error {
			if _, err := tx.Create(key("new"), thing{N: 1}); err != nil {
				return err
			}
			if _, err := tx.Put(key("keep"), thing{N: 2}, 0); err != nil {
				return err
			}
			panic("boom")
		})
	}()
	assertUntouched(t, s, before)
	// The writer is free again.
	put(t, s, key("after"), thing{N: 3})

	func() {
		defer func() { _ = recover() }()
		_ = s.View(t.Context(), func(tx store.Tx) error { panic("boom") })
	}()
	if _, _, ok := get(t, s, key("after")); !ok {
		t.Fatal("store unusable after a panicking View")
	}
}

// assertUntouched checks the state testRollback* set up is exactly as it
// was at revision before.
func assertUntouched(t *testing.T, s store.Store, before int64) {
	t.Helper()
	if _, _, ok := get(t, s, key("new")); ok {
		t.Error("object created in a rolled-back transaction exists")
	}
	th, m, ok := get(t, s, key("keep"))
	if !ok || th.N != 1 || m.Version != 1 {
		t.Errorf("object written in a rolled-back transaction: %+v %+v found=%v", th, m, ok)
	}
	if after := revision(t, s); after != before {
		t.Errorf("rolled-back transaction moved the revision from %d to %d", before, after)
	}
}

func revision(t testing.TB, s store.Store) int64 {
	t.Helper()
	var rev int64
	view(t, s, func(tx store.Tx) error {
		var err error
		rev, err = tx.Revision()
		return err
	})
	return rev
}

func testReadOnlyView(t *testing.T, newStore NewStore) {
	s := newStore(t)
	put(t, s, key("x"), thing{})
	writes := map[string]func(store.Tx) error{
		"Create": func(tx store.Tx) error { _, err := tx.Create(key("y"), thing{}); return err },
		"Put":    func(tx store.Tx) error { _, err := tx.Put(key("x"), thing{}, 0); return err },
		"Delete": func(tx store.Tx) error { return tx.Delete(key("x"), 0) },
		"NextSequence": func(tx store.Tx) error {
			_, err := tx.NextSequence("s")
			return err
		},
	}
	for name, w := range writes {
		wantErr(t, name+" in View", s.View(t.Context(), w), store.ErrReadOnly)
	}
	if _, m, ok := get(t, s, key("x")); !ok || m.Version != 1 {
		t.Errorf("View wrote: %+v found=%v", m, ok)
	}
}

func testSnapshotIsolation(t *testing.T, newStore NewStore) {
	s := newStore(t)
	put(t, s, key("x"), thing{N: 1})
	view(t, s, func(tx store.Tx) error {
		var th thing
		if _, err := tx.Get(key("x"), &th); err != nil {
			return err
		}
		rev, err := tx.Revision()
		if err != nil {
			return err
		}
		// A write committed while this View is open (from another
		// goroutine, as a request handler would) stays invisible to it.
		done := make(chan error)
		go func() {
			done <- s.Update(t.Context(), func(wtx store.Tx) error {
				if _, err := wtx.Put(key("x"), thing{N: 2}, 0); err != nil {
					return err
				}
				_, err := wtx.Create(key("y"), thing{N: 2})
				return err
			})
		}()
		if err := <-done; err != nil {
			return err
		}
		if _, err := tx.Get(key("x"), &th); err != nil || th.N != 1 {
			t.Errorf("View saw a later commit: %+v, %v", th, err)
		}
		if _, err := tx.Get(key("y"), nil); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("View saw an object created later: %v", err)
		}
		if again, err := tx.Revision(); err != nil || again != rev {
			t.Errorf("revision moved inside a View: %d then %d (%v)", rev, again, err)
		}
		return nil
	})
	if th, _, _ := get(t, s, key("x")); th.N != 2 {
		t.Errorf("a new View misses the commit: %+v", th)
	}
}

func testRevisions(t *testing.T, newStore NewStore) {
	s := newStore(t)
	r0 := revision(t, s)
	var metas []store.Meta
	var inside int64
	update(t, s, func(tx store.Tx) error {
		for _, id := range []string{"a", "b", "c"} {
			m, err := tx.Put(key(id), thing{}, 0)
			if err != nil {
				return err
			}
			metas = append(metas, m)
		}
		var err error
		inside, err = tx.Revision()
		return err
	})
	r1 := revision(t, s)
	if r1 <= r0 {
		t.Fatalf("revision %d after a write, was %d", r1, r0)
	}
	for _, m := range metas {
		if m.Revision != r1 {
			t.Errorf("object written in the commit has revision %d, commit's is %d", m.Revision, r1)
		}
	}
	if inside != r1 {
		t.Errorf("Tx.Revision inside the Update = %d, committed revision %d", inside, r1)
	}

	update(t, s, func(tx store.Tx) error {
		var th thing
		_, err := tx.Get(key("a"), &th)
		return err
	})
	if r := revision(t, s); r != r1 {
		t.Errorf("an Update that wrote nothing moved the revision from %d to %d", r1, r)
	}
	m := put(t, s, key("a"), thing{N: 1})
	if m.Revision <= r1 {
		t.Errorf("next commit's revision %d, not above %d", m.Revision, r1)
	}
	_, got, _ := get(t, s, key("b"))
	if got.Revision != r1 {
		t.Errorf("untouched object's revision changed to %d from %d", got.Revision, r1)
	}
}

func testSequences(t *testing.T, newStore NewStore) {
	s := newStore(t)
	next := func(name string) int64 {
		var v int64
		update(t, s, func(tx store.Tx) error {
			var err error
			v, err = tx.NextSequence(name)
			return err
		})
		return v
	}
	if a1, a2, b1 := next("a"), next("a"), next("b"); a1 != 1 || a2 != 2 || b1 != 1 {
		t.Fatalf("sequences a, a, b = %d, %d, %d; want 1, 2, 1", a1, a2, b1)
	}
	update(t, s, func(tx store.Tx) error {
		for want := int64(3); want <= 5; want++ {
			if v, err := tx.NextSequence("a"); err != nil || v != want {
				t.Fatalf("NextSequence in one transaction = %d, %v; want %d", v, err, want)
			}
		}
		return nil
	})

	// Concurrent draws never hand out a value twice.
	const workers, per = 4, 25
	var (
		mu   sync.Mutex
		seen = map[int64]bool{}
		wg   sync.WaitGroup
	)
	for range workers {
		wg.Go(func() {
			for range per {
				err := s.Update(t.Context(), func(tx store.Tx) error {
					v, err := tx.NextSequence("c")
					if err != nil {
						return err
					}
					mu.Lock()
					defer mu.Unlock()
					if seen[v] {
						t.Errorf("sequence value %d handed out twice", v)
					}
					seen[v] = true
					return nil
				})
				if err != nil {
					t.Error(err)
				}
			}
		})
	}
	wg.Wait()
	if len(seen) != workers*per {
		t.Errorf("%d distinct values from %d draws", len(seen), workers*per)
	}
	if v := next("c"); v != workers*per+1 {
		t.Errorf("next value after %d draws = %d", workers*per, v)
	}
}

package storetest

import (
	"context"
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/nimbus-dev/nimbus/internal/store"
)

// watchTimeout bounds every wait for an event; events arrive within
// microseconds, so hitting it means one is missing.
const watchTimeout = 5 * time.Second

func next(t *testing.T, ch <-chan store.Event) store.Event {
	t.Helper()
	select {
	case ev, ok := <-ch:
		if !ok {
			t.Fatal("watch channel closed early")
		}
		return ev
	case <-time.After(watchTimeout):
		t.Fatal("no event within the timeout")
	}
	panic("unreachable")
}

func testWatch(t *testing.T, newStore NewStore) {
	s := newStore(t)
	put(t, s, key("before"), thing{N: -1}) // committed before Watch: not delivered

	ch, err := s.Watch(t.Context(), kindA)
	if err != nil {
		t.Fatal(err)
	}
	m1 := put(t, s, key("x"), thing{N: 1})
	m2 := put(t, s, key("x"), thing{N: 2})
	put(t, s, store.Key{Account: acct1, Region: east, Kind: kindB, ID: "other"}, thing{}) // other kind
	var m3 store.Meta
	update(t, s, func(tx store.Tx) error {
		if err := tx.Delete(key("x"), 0); err != nil {
			return err
		}
		var err error
		m3, err = tx.Create(key("y"), thing{N: 3})
		return err
	})

	type want struct {
		typ      store.EventType
		id       string
		version  int64
		revision int64
		n        int
	}
	wants := []want{
		{store.EventPut, "x", 1, m1.Revision, 1},
		{store.EventPut, "x", 2, m2.Revision, 2},
		{store.EventDelete, "x", 2, m3.Revision, 0},
		{store.EventPut, "y", 1, m3.Revision, 3},
	}
	for i, w := range wants {
		ev := next(t, ch)
		if ev.Type != w.typ || ev.Key != key(w.id) || ev.Version != w.version || ev.Revision != w.revision {
			t.Fatalf("event %d = {%v %s v%d r%d}, want {%v %s v%d r%d}", i,
				ev.Type, ev.Key, ev.Version, ev.Revision, w.typ, key(w.id), w.version, w.revision)
		}
		if w.typ == store.EventPut {
			var th thing
			if err := json.Unmarshal(ev.Data, &th); err != nil || th.N != w.n {
				t.Fatalf("event %d data %s (%v), want N=%d", i, ev.Data, err, w.n)
			}
		}
	}
	// A transaction that rolls back publishes nothing.
	err = s.Update(t.Context(), func(tx store.Tx) error {
		if _, err := tx.Put(key("z"), thing{N: 9}, 0); err != nil {
			return err
		}
		return errors.New("roll back")
	})
	if err == nil {
		t.Fatal("failing Update returned nil")
	}
	select {
	case ev := <-ch:
		t.Fatalf("unexpected event %+v", ev)
	case <-time.After(50 * time.Millisecond):
	}
}

func testWatchKindsAndCancel(t *testing.T, newStore NewStore) {
	s := newStore(t)
	ctx, cancel := context.WithCancel(t.Context())
	all, err := s.Watch(ctx)
	if err != nil {
		t.Fatal(err)
	}
	onlyB, err := s.Watch(t.Context(), kindB)
	if err != nil {
		t.Fatal(err)
	}
	put(t, s, key("a1"), thing{})
	put(t, s, store.Key{Account: acct2, Region: west, Kind: kindB, ID: "b1"}, thing{})

	if ev := next(t, all); ev.Key.ID != "a1" {
		t.Fatalf("all-kinds watcher: first event %s, want a1", ev.Key)
	}
	if ev := next(t, all); ev.Key.ID != "b1" {
		t.Fatalf("all-kinds watcher: second event %s, want b1", ev.Key)
	}
	if ev := next(t, onlyB); ev.Key.ID != "b1" || ev.Key.Account != acct2 || ev.Key.Region != west {
		t.Fatalf("kind-B watcher got %s, want %s/%s b1", ev.Key, acct2, west)
	}

	cancel()
	deadline := time.After(watchTimeout)
	for {
		select {
		case _, ok := <-all:
			if !ok {
				// Writes after the cancel still work and still reach
				// the other watcher.
				put(t, s, store.Key{Account: acct1, Region: east, Kind: kindB, ID: "b2"}, thing{})
				if ev := next(t, onlyB); ev.Key.ID != "b2" {
					t.Fatalf("kind-B watcher got %s after the cancel, want b2", ev.Key)
				}
				return
			}
		case <-deadline:
			t.Fatal("watch channel not closed after its context was cancelled")
		}
	}
}

package sqlitestore

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/nimbus-dev/nimbus/internal/store"
)

func testKey(id string) store.Key {
	return store.Key{Account: "123456789012", Region: "us-east-1", Kind: "test:w", ID: id}
}

func mustPut(t *testing.T, s *Store, k store.Key, v any) store.Meta {
	t.Helper()
	var m store.Meta
	err := s.Update(t.Context(), func(tx store.Tx) error {
		var err error
		m, err = tx.Put(k, v, 0)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// TestSlowWatcherGetsResync checks the watch policy: a watcher that stops
// reading never blocks writers, and once it falls more than the buffer
// behind it gets a Resync, after which it is followed normally again.
func TestSlowWatcherGetsResync(t *testing.T) {
	s := OpenTemp(t, WithWatchBuffer(4))
	ch, err := s.Watch(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	const writes = 40
	var last store.Meta
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := range writes {
			err := s.Update(t.Context(), func(tx store.Tx) error {
				var err error
				last, err = tx.Put(testKey(fmt.Sprint(i)), i, 0)
				return err
			})
			if err != nil {
				t.Error(err)
				return
			}
		}
	}()
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		t.Fatal("writers blocked by a watcher that does not read")
	}

	var (
		prev     int64
		resyncAt int64
	)
	for prev < last.Revision {
		var ev store.Event
		select {
		case ev = <-ch:
		case <-time.After(5 * time.Second):
			t.Fatalf("stuck at revision %d of %d", prev, last.Revision)
		}
		if ev.Revision <= prev && !(ev.Type == store.EventResync && ev.Revision == prev) {
			t.Fatalf("event %v at revision %d after %d", ev.Type, ev.Revision, prev)
		}
		if ev.Type == store.EventResync {
			resyncAt = ev.Revision
		}
		prev = ev.Revision
	}
	if resyncAt == 0 {
		t.Fatalf("%d unread events with a buffer of 4 brought no Resync", writes)
	}
	var snapshot int64
	err = s.View(t.Context(), func(tx store.Tx) error {
		snapshot, err = tx.Revision()
		return err
	})
	if err != nil || snapshot < resyncAt {
		t.Fatalf("a View after Resync at %d sees revision %d (%v)", resyncAt, snapshot, err)
	}

	m := mustPut(t, s, testKey("after"), 0)
	select {
	case ev := <-ch:
		if ev.Type != store.EventPut || ev.Key != testKey("after") || ev.Revision != m.Revision {
			t.Fatalf("event after catching up = %+v, want the put of %s at %d", ev, testKey("after"), m.Revision)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no event after catching up")
	}
}

func TestClockSetsTimestamps(t *testing.T) {
	now := time.Date(2026, 1, 2, 3, 4, 5, 6, time.UTC)
	s := OpenTemp(t, WithClock(func() time.Time { return now }))
	m := mustPut(t, s, testKey("x"), 1)
	now = now.Add(time.Hour)
	m2 := mustPut(t, s, testKey("x"), 2)
	if !m.Created.Equal(time.Date(2026, 1, 2, 3, 4, 5, 6, time.UTC)) || !m2.Created.Equal(m.Created) || !m2.Updated.Equal(now) {
		t.Fatalf("timestamps %+v then %+v with clock at %v", m, m2, now)
	}
}

// TestUpdateWaitsUnderContext checks that an Update queued behind a long
// one gives up when its context ends.
func TestUpdateWaitsUnderContext(t *testing.T) {
	s := OpenTemp(t)
	release := make(chan struct{})
	started := make(chan struct{})
	go func() {
		_ = s.Update(context.Background(), func(tx store.Tx) error {
			close(started)
			<-release
			return nil
		})
	}()
	<-started
	ctx, cancel := context.WithTimeout(t.Context(), 50*time.Millisecond)
	defer cancel()
	err := s.Update(ctx, func(tx store.Tx) error { return nil })
	close(release)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("queued Update with an expired context: %v", err)
	}
}

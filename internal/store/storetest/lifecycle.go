package storetest

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/nimbus-dev/nimbus/internal/store"
)

// testConcurrentUpdates runs read-modify-write Updates and Views from many
// goroutines: Updates are serializable, so no increment is lost, and every
// View sees a consistent pair of objects written together.
func testConcurrentUpdates(t *testing.T, newStore NewStore) {
	s := newStore(t)
	const writers, perWriter, readers = 8, 20, 4
	put(t, s, key("counter"), thing{N: 0})
	put(t, s, key("mirror"), thing{N: 0})

	stop := make(chan struct{})
	var readerWG, writerWG sync.WaitGroup
	for range readers {
		readerWG.Go(func() {
			for {
				select {
				case <-stop:
					return
				case <-time.After(time.Millisecond): // leave the CPU to the writers
				}
				err := s.View(t.Context(), func(tx store.Tx) error {
					var c, m thing
					if _, err := tx.Get(key("counter"), &c); err != nil {
						return err
					}
					if _, err := tx.Get(key("mirror"), &m); err != nil {
						return err
					}
					if c.N != m.N {
						return fmt.Errorf("torn read: counter %d, mirror %d", c.N, m.N)
					}
					return nil
				})
				if err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	for range writers {
		writerWG.Go(func() {
			for range perWriter {
				err := s.Update(t.Context(), func(tx store.Tx) error {
					var c thing
					m, err := tx.Get(key("counter"), &c)
					if err != nil {
						return err
					}
					c.N++
					if _, err := tx.Put(key("counter"), c, m.Version); err != nil {
						return err
					}
					_, err = tx.Put(key("mirror"), c, 0)
					return err
				})
				if err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	writerWG.Wait()
	close(stop)
	readerWG.Wait()
	th, m, _ := get(t, s, key("counter"))
	if th.N != writers*perWriter || m.Version != writers*perWriter+1 {
		t.Fatalf("counter = %d at version %d, want %d at %d", th.N, m.Version, writers*perWriter, writers*perWriter+1)
	}
}

func testStats(t *testing.T, newStore NewStore) {
	s := newStore(t)
	m := put(t, s, key("x"), thing{})
	st, err := s.Stats(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if st.Backend == "" || st.Location == "" || st.SchemaVersion < 1 || st.Revision != m.Revision {
		t.Fatalf("Stats = %+v; want backend, location, schema version and revision %d", st, m.Revision)
	}
}

func testClose(t *testing.T, newStore NewStore) {
	s := newStore(t)
	put(t, s, key("x"), thing{})
	ch, err := s.Watch(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	select {
	case _, ok := <-ch:
		if ok {
			t.Fatal("event after Close")
		}
	case <-time.After(watchTimeout):
		t.Fatal("watch channel still open after Close")
	}
	wantErr(t, "View after Close", s.View(t.Context(), func(store.Tx) error { return nil }), store.ErrClosed)
	wantErr(t, "Update after Close", s.Update(t.Context(), func(store.Tx) error { return nil }), store.ErrClosed)
	if _, err := s.Watch(t.Context()); err == nil {
		t.Error("Watch after Close succeeded")
	}
	if err := s.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
}

package storetest

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"

	"github.com/nimbus-dev/nimbus/internal/store"
)

func testCRUD(t *testing.T, newStore NewStore) {
	s := newStore(t)
	k := key("i-1")

	if _, _, ok := get(t, s, k); ok {
		t.Fatalf("fresh store has %s", k)
	}
	var created store.Meta
	update(t, s, func(tx store.Tx) error {
		var err error
		created, err = tx.Create(k, thing{Name: "one", N: 1})
		return err
	})
	if created.Version != 1 || created.Revision <= 0 {
		t.Fatalf("Create meta = %+v, want version 1 and a positive revision", created)
	}
	th, m, ok := get(t, s, k)
	if !ok || th.Name != "one" || th.N != 1 {
		t.Fatalf("Get after Create = %+v, %v", th, ok)
	}
	if m.Version != created.Version || m.Revision != created.Revision || !m.Created.Equal(created.Created) {
		t.Fatalf("Get meta %+v differs from Create's %+v", m, created)
	}

	err := s.Update(t.Context(), func(tx store.Tx) error {
		_, err := tx.Create(k, thing{Name: "again"})
		return err
	})
	wantErr(t, "second Create", err, store.ErrAlreadyExists)
	if th, _, _ := get(t, s, k); th.Name != "one" {
		t.Fatalf("failed Create overwrote the object: %+v", th)
	}

	m2 := put(t, s, k, thing{Name: "two", N: 2})
	if m2.Version != 2 || m2.Revision <= created.Revision {
		t.Fatalf("Put meta = %+v after %+v, want version 2 and a later revision", m2, created)
	}
	if th, _, _ := get(t, s, k); th.Name != "two" || th.N != 2 {
		t.Fatalf("Get after Put = %+v", th)
	}

	// Get with a nil value reports only Meta.
	view(t, s, func(tx store.Tx) error {
		m, err := tx.Get(k, nil)
		if err != nil || m.Version != 2 {
			t.Fatalf("Get(nil) = %+v, %v", m, err)
		}
		return nil
	})

	update(t, s, func(tx store.Tx) error { return tx.Delete(k, 0) })
	if _, _, ok := get(t, s, k); ok {
		t.Fatalf("%s survives Delete", k)
	}
	err = s.Update(t.Context(), func(tx store.Tx) error { return tx.Delete(k, 0) })
	wantErr(t, "Delete of a deleted object", err, store.ErrNotFound)

	// A re-created object starts over at version 1.
	m3 := put(t, s, k, thing{Name: "three"})
	if m3.Version != 1 {
		t.Fatalf("re-created object has version %d, want 1", m3.Version)
	}

	// Pre-encoded JSON is stored as is.
	raw := json.RawMessage(`{"name":"raw","n":7}`)
	put(t, s, key("i-raw"), raw)
	view(t, s, func(tx store.Tx) error {
		var got json.RawMessage
		if _, err := tx.Get(key("i-raw"), &got); err != nil {
			return err
		}
		if !bytes.Equal(got, raw) {
			t.Fatalf("raw JSON round trip: got %s, want %s", got, raw)
		}
		return nil
	})
}

func testInvalidKeys(t *testing.T, newStore NewStore) {
	s := newStore(t)
	bad := []store.Key{
		{Region: east, Kind: kindA, ID: "x"},
		{Account: acct1, Region: east, ID: "x"},
		{Account: acct1, Region: east, Kind: kindA},
	}
	for _, k := range bad {
		err := s.Update(t.Context(), func(tx store.Tx) error {
			_, err := tx.Put(k, thing{}, 0)
			return err
		})
		wantErr(t, "Put "+k.String(), err, store.ErrInvalid)
		err = s.View(t.Context(), func(tx store.Tx) error {
			_, err := tx.Get(k, nil)
			return err
		})
		wantErr(t, "Get "+k.String(), err, store.ErrInvalid)
	}
	err := s.View(t.Context(), func(tx store.Tx) error {
		return tx.List(store.Query{Account: acct1, Region: east}, func(store.Object) error { return nil })
	})
	wantErr(t, "List without kind", err, store.ErrInvalid)
}

func testVersions(t *testing.T, newStore NewStore) {
	s := newStore(t)
	k := key("i-v")

	err := s.Update(t.Context(), func(tx store.Tx) error {
		_, err := tx.Put(k, thing{}, 1)
		return err
	})
	wantErr(t, "conditional Put of a missing object", err, store.ErrNotFound)

	put(t, s, k, thing{N: 1}) // version 1
	put(t, s, k, thing{N: 2}) // version 2

	err = s.Update(t.Context(), func(tx store.Tx) error {
		_, err := tx.Put(k, thing{N: 99}, 1)
		return err
	})
	wantErr(t, "Put with a stale version", err, store.ErrConflict)
	if th, m, _ := get(t, s, k); th.N != 2 || m.Version != 2 {
		t.Fatalf("conflicting Put changed the object: %+v %+v", th, m)
	}

	var m store.Meta
	update(t, s, func(tx store.Tx) error {
		var err error
		m, err = tx.Put(k, thing{N: 3}, 2)
		return err
	})
	if m.Version != 3 {
		t.Fatalf("Put with the current version: version %d, want 3", m.Version)
	}

	err = s.Update(t.Context(), func(tx store.Tx) error { return tx.Delete(k, 2) })
	wantErr(t, "Delete with a stale version", err, store.ErrConflict)
	if _, _, ok := get(t, s, k); !ok {
		t.Fatal("conflicting Delete removed the object")
	}
	update(t, s, func(tx store.Tx) error { return tx.Delete(k, 3) })
	if _, _, ok := get(t, s, k); ok {
		t.Fatal("Delete with the current version left the object")
	}

	// Writes inside one transaction see each other.
	update(t, s, func(tx store.Tx) error {
		m1, err := tx.Create(k, thing{N: 1})
		if err != nil {
			return err
		}
		m2, err := tx.Put(k, thing{N: 2}, m1.Version)
		if err != nil {
			return err
		}
		var th thing
		got, err := tx.Get(k, &th)
		if err != nil {
			return err
		}
		if th.N != 2 || got.Version != 2 || m2.Version != 2 {
			t.Fatalf("read-your-writes: %+v %+v %+v", th, got, m2)
		}
		var listed []int64
		err = tx.List(store.Query{Kind: kindA, Account: acct1, Region: east}, func(o store.Object) error {
			listed = append(listed, o.Meta.Version)
			return nil
		})
		if err != nil || len(listed) != 1 || listed[0] != 2 {
			t.Fatalf("List inside the Update = versions %v, %v; want [2]", listed, err)
		}
		return nil
	})
}

func testTimestamps(t *testing.T, newStore NewStore) {
	s := newStore(t)
	k := key("i-t")
	m1 := put(t, s, k, thing{N: 1})
	if m1.Created.IsZero() || !m1.Created.Equal(m1.Updated) {
		t.Fatalf("new object: Created %v, Updated %v; want equal and set", m1.Created, m1.Updated)
	}
	m2 := put(t, s, k, thing{N: 2})
	if !m2.Created.Equal(m1.Created) {
		t.Fatalf("Put changed Created from %v to %v", m1.Created, m2.Created)
	}
	if m2.Updated.Before(m1.Updated) {
		t.Fatalf("Updated went back from %v to %v", m1.Updated, m2.Updated)
	}
	_, got, _ := get(t, s, k)
	if !got.Created.Equal(m1.Created) || !got.Updated.Equal(m2.Updated) {
		t.Fatalf("Get meta %+v, want Created %v Updated %v", got, m1.Created, m2.Updated)
	}
}

func testLargeValue(t *testing.T, newStore NewStore) {
	s := newStore(t)
	big := thing{Name: strings.Repeat("0123456789abcdef", 1<<16)} // 1 MiB
	put(t, s, key("big"), big)
	th, _, ok := get(t, s, key("big"))
	if !ok || th.Name != big.Name {
		t.Fatalf("1 MiB value did not round-trip (found %v, %d bytes)", ok, len(th.Name))
	}
}

package storetest

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/nimbus-dev/nimbus/internal/store"
)

func testPartitioning(t *testing.T, newStore NewStore) {
	s := newStore(t)
	parts := []struct{ account, region string }{
		{acct1, east}, {acct1, west}, {acct1, ""}, {acct2, east},
	}
	// The same kind and ID in every partition, plus one ID of the other kind.
	for i, p := range parts {
		put(t, s, store.Key{Account: p.account, Region: p.region, Kind: kindA, ID: "same"}, thing{N: i})
		put(t, s, store.Key{Account: p.account, Region: p.region, Kind: kindA, ID: fmt.Sprintf("own-%d", i)}, thing{N: i})
	}
	put(t, s, store.Key{Account: acct1, Region: east, Kind: kindB, ID: "same"}, thing{N: 100})

	for i, p := range parts {
		th, _, ok := get(t, s, store.Key{Account: p.account, Region: p.region, Kind: kindA, ID: "same"})
		if !ok || th.N != i {
			t.Errorf("partition %s/%q: got %+v (found %v), want N=%d", p.account, p.region, th, ok, i)
		}
		got := list(t, s, store.Query{Kind: kindA, Account: p.account, Region: p.region})
		want := []string{fmt.Sprintf("own-%d", i), "same"}
		if !slices.Equal(got, want) {
			t.Errorf("List %s/%q = %v, want %v", p.account, p.region, got, want)
		}
	}
	if got := list(t, s, store.Query{Kind: kindB, Account: acct1, Region: east}); !slices.Equal(got, []string{"same"}) {
		t.Errorf("List of kind B = %v", got)
	}
	if got := list(t, s, store.Query{Kind: kindA, Account: "333333333333", Region: east}); len(got) != 0 {
		t.Errorf("List of an empty account = %v", got)
	}

	got := list(t, s, store.Query{Kind: kindA, Account: acct1, AllRegions: true})
	want := []string{
		acct1 + "//own-2", acct1 + "//same",
		acct1 + "/" + east + "/own-0", acct1 + "/" + east + "/same",
		acct1 + "/" + west + "/own-1", acct1 + "/" + west + "/same",
	}
	if !slices.Equal(got, want) {
		t.Errorf("List AllRegions = %v, want %v", got, want)
	}
	got = list(t, s, store.Query{Kind: kindA, AllAccounts: true, Region: east})
	want = []string{
		acct1 + "/" + east + "/own-0", acct1 + "/" + east + "/same",
		acct2 + "/" + east + "/own-3", acct2 + "/" + east + "/same",
	}
	if !slices.Equal(got, want) {
		t.Errorf("List AllAccounts in %s = %v, want %v", east, got, want)
	}
	if got := list(t, s, store.Query{Kind: kindA, AllAccounts: true, AllRegions: true}); len(got) != 2*len(parts) {
		t.Errorf("List everything = %v, want %d objects", got, 2*len(parts))
	}

	// Forgetting the account is an error, not a cross-tenant listing.
	err := s.View(t.Context(), func(tx store.Tx) error {
		return tx.List(store.Query{Kind: kindA, Region: east}, func(store.Object) error { return nil })
	})
	wantErr(t, "List without account", err, store.ErrInvalid)
	err = s.View(t.Context(), func(tx store.Tx) error {
		return tx.List(store.Query{Kind: kindA, AllAccounts: true, After: "x"}, func(store.Object) error { return nil })
	})
	wantErr(t, "List across accounts with After", err, store.ErrInvalid)
}

func testListOrder(t *testing.T, newStore NewStore) {
	s := newStore(t)
	// Byte-wise order: upper case before lower case, "a" before "a-1".
	ids := []string{"b", "a", "B", "a-1", "i-0002", "i-0010", "i-0001", "z", "Z9", "\u00e9t\u00e9"}
	shuffled := slices.Clone(ids)
	rand.Shuffle(len(shuffled), func(i, j int) { shuffled[i], shuffled[j] = shuffled[j], shuffled[i] })
	update(t, s, func(tx store.Tx) error {
		for _, id := range shuffled {
			if _, err := tx.Create(key(id), thing{Name: id}); err != nil {
				return err
			}
		}
		return nil
	})
	want := slices.Clone(ids)
	slices.Sort(want)
	got := list(t, s, store.Query{Kind: kindA, Account: acct1, Region: east})
	if !slices.Equal(got, want) {
		t.Fatalf("List order = %q, want %q", got, want)
	}
	// Listed objects carry their data and meta.
	view(t, s, func(tx store.Tx) error {
		return tx.List(store.Query{Kind: kindA, Account: acct1, Region: east}, func(o store.Object) error {
			var th thing
			if err := o.Decode(&th); err != nil {
				return err
			}
			if th.Name != o.Key.ID || o.Meta.Version != 1 || o.Meta.Revision <= 0 || o.Meta.Created.IsZero() {
				t.Errorf("listed %s: data %+v meta %+v", o.Key, th, o.Meta)
			}
			if o.Key.Account != acct1 || o.Key.Region != east {
				t.Errorf("listed key %s outside the partition", o.Key)
			}
			return nil
		})
	})
}

func testListPrefixAfterLimit(t *testing.T, newStore NewStore) {
	s := newStore(t)
	var all []string
	update(t, s, func(tx store.Tx) error {
		for _, prefix := range []string{"i-", "j-", "i\xff", "vol-"} {
			for n := range 25 {
				id := fmt.Sprintf("%s%03d", prefix, n)
				all = append(all, id)
				if _, err := tx.Create(key(id), thing{N: n}); err != nil {
					return err
				}
			}
		}
		return nil
	})
	slices.Sort(all)
	base := store.Query{Kind: kindA, Account: acct1, Region: east}

	withPrefix := func(p string) []string {
		var out []string
		for _, id := range all {
			if len(id) >= len(p) && id[:len(p)] == p {
				out = append(out, id)
			}
		}
		return out
	}
	for _, p := range []string{"i-", "i", "i\xff", "j-01", "vol-024", "nothing"} {
		q := base
		q.Prefix = p
		if got, want := list(t, s, q), withPrefix(p); !slices.Equal(got, want) {
			t.Errorf("Prefix %q = %q, want %q", p, got, want)
		}
	}

	q := base
	q.After = "j-020"
	got := list(t, s, q)
	i := slices.Index(all, "j-020")
	if want := all[i+1:]; !slices.Equal(got, want) {
		t.Errorf("After j-020 = %q, want %q", got, want)
	}
	q.After = "j-0205" // not an existing ID: positions between j-020 and j-021
	if got := list(t, s, q); len(got) == 0 || got[0] != "j-021" {
		t.Errorf("After a missing ID starts at %q, want j-021", got)
	}

	q = base
	q.Limit = 7
	if got := list(t, s, q); !slices.Equal(got, all[:7]) {
		t.Errorf("Limit 7 = %q, want %q", got, all[:7])
	}

	// Paging with After and Limit visits every object once, in order.
	var paged []string
	q = base
	q.Prefix = "i-"
	q.Limit = 10
	for {
		page := list(t, s, q)
		paged = append(paged, page...)
		if len(page) < q.Limit {
			break
		}
		q.After = page[len(page)-1]
	}
	if want := withPrefix("i-"); !slices.Equal(paged, want) {
		t.Errorf("paging = %q, want %q", paged, want)
	}
}

func testListStop(t *testing.T, newStore NewStore) {
	s := newStore(t)
	update(t, s, func(tx store.Tx) error {
		for n := range 10 {
			if _, err := tx.Create(key(fmt.Sprintf("x%d", n)), thing{N: n}); err != nil {
				return err
			}
		}
		return nil
	})
	q := store.Query{Kind: kindA, Account: acct1, Region: east}
	seen := 0
	view(t, s, func(tx store.Tx) error {
		return tx.List(q, func(store.Object) error {
			seen++
			if seen == 3 {
				return store.ErrStop
			}
			return nil
		})
	})
	if seen != 3 {
		t.Errorf("ErrStop after 3 objects: callback ran %d times", seen)
	}
	boom := errors.New("boom")
	err := s.View(t.Context(), func(tx store.Tx) error {
		return tx.List(q, func(store.Object) error { return boom })
	})
	wantErr(t, "List with a failing callback", err, boom)
}

func testIndexes(t *testing.T, newStore NewStore) {
	s := newStore(t)
	put(t, s, key("i-1"), thing{IP: "10.0.0.1", Tags: []string{"web", "prod"}})
	put(t, s, key("i-2"), thing{IP: "10.0.0.2", Tags: []string{"web"}})
	put(t, s, key("i-3"), thing{IP: "10.0.0.3"})
	other := store.Key{Account: acct2, Region: east, Kind: kindA, ID: "i-9"}
	put(t, s, other, thing{IP: "10.0.0.1", Tags: []string{"web"}})

	lookup := func(name, value string) []string {
		return list(t, s, store.Query{Kind: kindA, Account: acct1, Region: east, Index: name, IndexValue: value})
	}
	if got := lookup("ip", "10.0.0.2"); !slices.Equal(got, []string{"i-2"}) {
		t.Errorf("ip 10.0.0.2 = %v", got)
	}
	if got := lookup("tag", "web"); !slices.Equal(got, []string{"i-1", "i-2"}) {
		t.Errorf("tag web = %v", got)
	}
	if got := lookup("tag", "nope"); len(got) != 0 {
		t.Errorf("tag nope = %v", got)
	}
	got := list(t, s, store.Query{Kind: kindA, AllAccounts: true, AllRegions: true, Index: "ip", IndexValue: "10.0.0.1"})
	if want := []string{acct1 + "/" + east + "/i-1", acct2 + "/" + east + "/i-9"}; !slices.Equal(got, want) {
		t.Errorf("ip 10.0.0.1 across accounts = %v, want %v", got, want)
	}
	q := store.Query{Kind: kindA, Account: acct1, Region: east, Index: "tag", IndexValue: "web", Limit: 1}
	if got := list(t, s, q); !slices.Equal(got, []string{"i-1"}) {
		t.Errorf("tag web limit 1 = %v", got)
	}
	q.Limit, q.After = 0, "i-1"
	if got := list(t, s, q); !slices.Equal(got, []string{"i-2"}) {
		t.Errorf("tag web after i-1 = %v", got)
	}

	// Rewriting an object replaces its entries; deleting it removes them.
	put(t, s, key("i-1"), thing{IP: "10.0.0.11"})
	if got := lookup("ip", "10.0.0.1"); len(got) != 0 {
		t.Errorf("old ip still indexed: %v", got)
	}
	if got := lookup("ip", "10.0.0.11"); !slices.Equal(got, []string{"i-1"}) {
		t.Errorf("new ip = %v", got)
	}
	if got := lookup("tag", "web"); !slices.Equal(got, []string{"i-2"}) {
		t.Errorf("tag web after rewrite = %v", got)
	}
	update(t, s, func(tx store.Tx) error { return tx.Delete(key("i-2"), 0) })
	if got := lookup("tag", "web"); len(got) != 0 {
		t.Errorf("tag web after delete = %v", got)
	}
	// A value without indexes written over an indexed one clears them.
	put(t, s, key("i-3"), map[string]int{"plain": 1})
	if got := lookup("ip", "10.0.0.3"); len(got) != 0 {
		t.Errorf("ip of an object rewritten without indexes = %v", got)
	}
}

func testUniqueIndexes(t *testing.T, newStore NewStore) {
	s := newStore(t)
	put(t, s, key("i-1"), thing{IP: "10.0.0.1"})

	err := s.Update(t.Context(), func(tx store.Tx) error {
		if _, err := tx.Create(key("i-side-effect"), thing{N: 1}); err != nil {
			return err
		}
		_, err := tx.Put(key("i-2"), thing{IP: "10.0.0.1"}, 0)
		return err
	})
	wantErr(t, "second holder of a unique value", err, store.ErrAlreadyExists)
	if _, _, ok := get(t, s, key("i-2")); ok {
		t.Error("object with a taken unique value was written")
	}
	if _, _, ok := get(t, s, key("i-side-effect")); ok {
		t.Error("transaction failing on a unique value kept its other writes")
	}

	// The holder itself may be rewritten with the same value.
	put(t, s, key("i-1"), thing{IP: "10.0.0.1", N: 2})
	// Uniqueness is per partition.
	put(t, s, store.Key{Account: acct2, Region: east, Kind: kindA, ID: "i-2"}, thing{IP: "10.0.0.1"})
	put(t, s, store.Key{Account: acct1, Region: west, Kind: kindA, ID: "i-2"}, thing{IP: "10.0.0.1"})
	// Once released, the value is free again.
	update(t, s, func(tx store.Tx) error { return tx.Delete(key("i-1"), 0) })
	put(t, s, key("i-2"), thing{IP: "10.0.0.1"})
}

package iam

import (
	"context"
	"errors"
	"sort"
	"strconv"
	"strings"

	"github.com/nimbus-dev/nimbus/internal/store"
)

// get reads one record, answering NoSuchEntity with AWS's wording
// ("The user with name X cannot be found.").
func get[T any](tx store.Tx, account, kind, name, what string) (*T, error) {
	v := new(T)
	if _, err := tx.Get(key(account, kind, name), v); err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return nil, noSuchEntity("The %s with name %s cannot be found.", what, name)
		}
		return nil, storeErr(err, "read "+what)
	}
	return v, nil
}

// put writes a record.
func put(tx store.Tx, account, kind, name string, v any) error {
	if _, err := tx.Put(key(account, kind, name), v, 0); err != nil {
		return storeErr(err, "write "+kind)
	}
	return nil
}

// create writes a new record, answering EntityAlreadyExists.
func create(tx store.Tx, account, kind, name, what string, v any) error {
	if _, err := tx.Create(key(account, kind, name), v); err != nil {
		if errors.Is(err, store.ErrAlreadyExists) {
			return alreadyExists("%s with name %s already exists.", what, name)
		}
		return storeErr(err, "create "+what)
	}
	return nil
}

func remove(tx store.Tx, account, kind, name string) error {
	if err := tx.Delete(key(account, kind, name), 0); err != nil && !errors.Is(err, store.ErrNotFound) {
		return storeErr(err, "delete "+kind)
	}
	return nil
}

// list reads every record of a kind in an account, in ID order.
func list[T any](tx store.Tx, account, kind string) ([]*T, error) {
	var out []*T
	err := tx.List(store.Query{Kind: kind, Account: account}, func(o store.Object) error {
		v := new(T)
		if err := o.Decode(v); err != nil {
			return err
		}
		out = append(out, v)
		return nil
	})
	if err != nil {
		return nil, storeErr(err, "list "+kind)
	}
	return out, nil
}

// view and update run fn in a transaction over the caller's account.
func (m *IAM) view(ctx context.Context, fn func(tx store.Tx, account string) error) error {
	acct, err := account(ctx)
	if err != nil {
		return err
	}
	return m.store.View(ctx, func(tx store.Tx) error { return fn(tx, acct) })
}

func (m *IAM) update(ctx context.Context, fn func(tx store.Tx, account string) error) error {
	acct, err := account(ctx)
	if err != nil {
		return err
	}
	return m.store.Update(ctx, func(tx store.Tx) error { return fn(tx, acct) })
}

// page cuts one page out of items for Marker/MaxItems pagination: the
// marker is the offset of the next item.
func page[T any](items []T, marker string, maxItems int64) ([]T, bool, string, error) {
	start := 0
	if marker != "" {
		n, err := strconv.Atoi(marker)
		if err != nil || n < 0 || n > len(items) {
			return nil, false, "", validation("Invalid Marker.")
		}
		start = n
	}
	limit := 100
	if maxItems > 0 {
		if maxItems > 1000 {
			return nil, false, "", validation("1 validation error detected: Value '%d' at 'maxItems' failed to satisfy constraint: Member must have value less than or equal to 1000", maxItems)
		}
		limit = int(maxItems)
	}
	end := start + limit
	if end >= len(items) {
		return items[start:], false, "", nil
	}
	return items[start:end], true, strconv.Itoa(end), nil
}

func withPrefix[T any](items []*T, prefix string, path func(*T) string) []*T {
	if prefix == "" || prefix == "/" {
		return items
	}
	out := items[:0:0]
	for _, it := range items {
		if strings.HasPrefix(path(it), prefix) {
			out = append(out, it)
		}
	}
	return out
}

// mergeTags applies tags over existing ones, keeping keys' order.
func mergeTags(old, add []Tag) ([]Tag, error) {
	out := append([]Tag(nil), old...)
	for _, t := range add {
		if t.Key == "" {
			return nil, validation("1 validation error detected: Value at 'tags.member.key' failed to satisfy constraint: Member must have length greater than or equal to 1")
		}
		replaced := false
		for i := range out {
			if out[i].Key == t.Key {
				out[i].Value, replaced = t.Value, true
			}
		}
		if !replaced {
			out = append(out, t)
		}
	}
	if len(out) > 50 {
		return nil, limitExceeded("The number of tags has reached the maximum limit.")
	}
	return out, nil
}

func dropTags(old []Tag, keys []string) []Tag {
	out := old[:0:0]
	for _, t := range old {
		keep := true
		for _, k := range keys {
			if t.Key == k {
				keep = false
			}
		}
		if keep {
			out = append(out, t)
		}
	}
	return out
}

func sortedKeys(m map[string]string) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func removeString(list []string, s string) ([]string, bool) {
	for i, v := range list {
		if strings.EqualFold(v, s) {
			return append(list[:i:i], list[i+1:]...), true
		}
	}
	return list, false
}

func containsFold(list []string, s string) bool {
	for _, v := range list {
		if strings.EqualFold(v, s) {
			return true
		}
	}
	return false
}

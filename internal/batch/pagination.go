package batch

import (
	"context"
	"encoding/base64"
	"errors"

	"github.com/nimbus-dev/nimbus/internal/awserr"
	"github.com/nimbus-dev/nimbus/internal/store"
)

// paginate returns the page of items starting at token (the opaque
// nextToken of the previous page) with at most maxResults (100 when nil),
// and the token of the next page. Tokens name the next page's first item.
func paginate[T any](items []T, token string, maxResults *int, key func(T) string) ([]T, string, error) {
	limit := 100
	if maxResults != nil {
		if *maxResults < 1 || *maxResults > 1000 {
			return nil, "", errClient("maxResults must be between 1 and 1000")
		}
		limit = *maxResults
	}
	start := 0
	if token != "" {
		raw, err := base64.RawURLEncoding.DecodeString(token)
		if err != nil {
			return nil, "", errClient("Invalid nextToken")
		}
		start = len(items)
		for i, it := range items {
			if key(it) >= string(raw) {
				start = i
				break
			}
		}
	}
	end := min(start+limit, len(items))
	page := items[start:end]
	if page == nil {
		page = []T{}
	}
	next := ""
	if end < len(items) {
		next = base64.RawURLEncoding.EncodeToString([]byte(key(items[end])))
	}
	return page, next, nil
}

// asAPIError passes API errors through and wraps anything else as a
// ServerException.
func asAPIError(err error, what string, args ...any) error {
	if err == nil {
		return nil
	}
	var ae *awserr.Error
	if errors.As(err, &ae) {
		return err
	}
	return errServer(err, what, args...)
}

// describeNamed is the Describe of compute environments and job queues: the
// partition's records of kind, each settled into its current state, those
// refs name (names or ARNs; all when empty), one page in name order.
func describeNamed[T any](ctx context.Context, a *API, kind, what string, refs []string, token string, maxResults *int,
	settle func(*T), nameARN func(*T) (string, string)) ([]*T, string, error) {
	account, region := partition(ctx)
	var all []*T
	err := a.store.View(ctx, func(tx store.Tx) error {
		return tx.List(store.Query{Kind: kind, Account: account, Region: region}, func(o store.Object) error {
			rec := new(T)
			if err := o.Decode(rec); err != nil {
				return err
			}
			settle(rec)
			if name, arn := nameARN(rec); wanted(refs, name, arn) {
				all = append(all, rec)
			}
			return nil
		})
	})
	if err != nil {
		return nil, "", errServer(err, "list "+what)
	}
	return paginate(all, token, maxResults, func(rec *T) string { name, _ := nameARN(rec); return name })
}

// wanted reports whether a resource is among refs (names or ARNs); an empty
// refs wants everything.
func wanted(refs []string, name, arn string) bool {
	if len(refs) == 0 {
		return true
	}
	for _, r := range refs {
		if r == name || r == arn {
			return true
		}
	}
	return false
}

package ec2

import (
	"context"
	"slices"

	"github.com/nimbus-dev/nimbus/internal/awserr"
	"github.com/nimbus-dev/nimbus/internal/store"
)

// listKind reads every object of a kind in one partition, decoded as T and
// sorted by key: the first step of most Describe calls.
func listKind[T any](ctx context.Context, st store.Store, account, region, kind, what string, key func(T) string) ([]T, error) {
	var all []T
	err := st.View(ctx, func(tx store.Tx) error {
		return tx.List(store.Query{Kind: kind, Account: account, Region: region}, func(o store.Object) error {
			var v T
			if err := o.Decode(&v); err != nil {
				return err
			}
			all = append(all, v)
			return nil
		})
	})
	if err != nil {
		return nil, awserr.Internalf(err, "list %s", what)
	}
	sortByKey(all, key)
	return all, nil
}

// describeSelection is how a Describe call narrows a resource list: the IDs
// it names (each must exist), its filters, and its page.
type describeSelection[T any] struct {
	IDs        []string
	Filters    []Filter
	MaxResults int
	NextToken  string
	ID         func(T) string
	Fields     func(T) fields
	Tags       func(T) []Tag
	NotFound   func(id string) error
}

// selectDescribed applies a selection to all, returning one page and the
// token of the next.
func selectDescribed[T any](all []T, sel describeSelection[T]) ([]T, string, error) {
	for _, id := range sel.IDs {
		if !slices.ContainsFunc(all, func(v T) bool { return sel.ID(v) == id }) {
			return nil, "", sel.NotFound(id)
		}
	}
	named := slices.DeleteFunc(all, func(v T) bool {
		return len(sel.IDs) > 0 && !slices.Contains(sel.IDs, sel.ID(v))
	})
	matched, err := matching(named, sel.Filters, sel.Fields, sel.Tags)
	if err != nil {
		return nil, "", err
	}
	return paginate(matched, sel.MaxResults, sel.NextToken, sel.ID)
}

// checkDescribe is what a Describe call checks before it reads anything:
// MaxResults in AWS's 5–1000, each named ID well formed, then DryRun.
func checkDescribe(maxResults int, ids []string, checkID func(string) error, dryRunSet bool) error {
	if err := checkMaxResults(maxResults, 5, 1000); err != nil {
		return err
	}
	for _, id := range ids {
		if err := checkID(id); err != nil {
			return err
		}
	}
	if dryRunSet {
		return dryRun()
	}
	return nil
}

package ec2

import (
	"fmt"
	"sort"
	"strings"

	"github.com/nimbus-dev/nimbus/internal/awserr"
)

// checkMaxResults refuses a MaxResults outside an operation's range; 0 means
// the parameter was not given.
func checkMaxResults(n, lo, hi int) error {
	if n != 0 && (n < lo || n > hi) {
		return invalidParameter("Value ( %d ) for parameter maxResults is invalid. Expecting a value between %d and %d.", n, lo, hi)
	}
	return nil
}

// paginate returns the page of items after the NextToken position, at most
// max long (all when max is 0), and the token of the next page. Tokens are
// the key of the last item returned, so a page stays correct when items
// before it come or go between calls. Items must be sorted by key.
func paginate[T any](items []T, max int, token string, key func(T) string) ([]T, string, error) {
	start := 0
	if token != "" {
		after, err := decodePageToken(token)
		if err != nil {
			return nil, "", err
		}
		start = sort.Search(len(items), func(i int) bool { return key(items[i]) > after })
	}
	page := items[start:]
	if max == 0 || len(page) <= max {
		if page == nil {
			page = []T{}
		}
		return page, "", nil
	}
	page = page[:max]
	return page, encodePageToken(key(page[len(page)-1])), nil
}

func invalidPageToken(token string) error {
	return awserr.New(awserr.Validation, "InvalidPaginationToken", "The pagination token '%s' is invalid.", token)
}

func encodePageToken(after string) string {
	return fmt.Sprintf("%x", "nimbus:"+after)
}

func decodePageToken(token string) (string, error) {
	var raw []byte
	if _, err := fmt.Sscanf(token, "%x", &raw); err != nil || !strings.HasPrefix(string(raw), "nimbus:") || len(token) != 2*len(raw) {
		return "", invalidPageToken(token)
	}
	return strings.TrimPrefix(string(raw), "nimbus:"), nil
}

// sortByKey sorts items by a string key, the order paginate needs.
func sortByKey[T any](items []T, key func(T) string) {
	sort.Slice(items, func(i, j int) bool { return key(items[i]) < key(items[j]) })
}

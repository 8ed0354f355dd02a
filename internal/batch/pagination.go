package batch

import (
	"encoding/base64"
	"errors"

	"github.com/nimbus-dev/nimbus/internal/awserr"
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

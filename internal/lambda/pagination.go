package lambda

import (
	"crypto/sha256"
	"encoding/base64"
)

// paginate returns the page of items that starts at marker (the opaque
// NextMarker of the previous page, "" for the first) and holds at most
// maxItems (def when nil), with the marker of the next page, if any.
// Markers name the key of the next page's first item, so a page never
// repeats or skips an item that was there when the listing started.
func paginate[T any](items []T, marker string, maxItems *int, def int, key func(T) string) ([]T, string, error) {
	limit := def
	if maxItems != nil {
		if *maxItems < 1 {
			return nil, "", errValidation(*maxItems, "maxItems", "Member must have value greater than or equal to 1")
		}
		limit = *maxItems
	}
	start := 0
	if marker != "" {
		raw, err := base64.RawURLEncoding.DecodeString(marker)
		if err != nil {
			return nil, "", errInvalidParameter("Invalid marker: %s", marker)
		}
		start = len(items)
		for i, it := range items {
			if key(it) == string(raw) {
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

// imageDigest stands in for a container image's digest as CodeSha256.
func imageDigest(uri string) string {
	sum := sha256.Sum256([]byte(uri))
	return base64.StdEncoding.EncodeToString(sum[:])
}

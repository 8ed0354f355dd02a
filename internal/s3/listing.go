package s3

import (
	"context"
	"encoding/base64"
	"net/url"
	"strings"

	"github.com/nimbus-dev/nimbus/internal/service"
	"github.com/nimbus-dev/nimbus/internal/store"
)

const defaultMaxKeys = 1000

func (a *API) registerListing(svc *service.Service) {
	svc.Handle("ListObjectsV2", a.listObjectsV2)
	svc.Handle("ListObjects", a.listObjects)
}

// listing is one page of a bucket's keys.
type listing struct {
	contents  []objectRecord
	prefixes  []string
	truncated bool
	last      string // the last key or common prefix on the page
}

// pastPrefix is above every key that starts with a common prefix: keys are
// UTF-8, which never holds the byte 0xff.
const pastPrefix = "\xff"

// listKeys pages through a bucket's keys after marker, rolling keys that
// hold delimiter past prefix into common prefixes (each counts as one
// key), and skipping past each common prefix in the store rather than
// reading every key under it.
func listKeys(tx store.Tx, bucket, prefix, delimiter, marker string, maxKeys int) (listing, error) {
	var page listing
	after := ""
	if marker != "" {
		after = bucket + "/" + marker
		if cp := commonPrefix(marker, prefix, delimiter); cp != "" {
			after = bucket + "/" + cp + pastPrefix
		}
	}
	for {
		skipTo := ""
		err := tx.List(store.Query{Kind: kindObject, Account: globalAccount, Prefix: bucket + "/" + prefix, After: after},
			func(o store.Object) error {
				key := o.Key.ID[len(bucket)+1:]
				if len(page.contents)+len(page.prefixes) >= maxKeys {
					page.truncated = true
					return store.ErrStop
				}
				if cp := commonPrefix(key, prefix, delimiter); cp != "" {
					page.prefixes = append(page.prefixes, cp)
					page.last, skipTo = cp, cp
					return store.ErrStop
				}
				var rec objectRecord
				if err := o.Decode(&rec); err != nil {
					return err
				}
				page.contents = append(page.contents, rec)
				page.last = key
				return nil
			})
		if err != nil {
			return page, errInternal(err, "list objects of %s", bucket)
		}
		if skipTo == "" || page.truncated {
			return page, nil
		}
		after = bucket + "/" + skipTo + pastPrefix
	}
}

// commonPrefix is the common prefix key rolls into: prefix and what follows
// up to and including the first delimiter after it, or "" for none.
func commonPrefix(key, prefix, delimiter string) string {
	if delimiter == "" || !strings.HasPrefix(key, prefix) {
		return ""
	}
	i := strings.Index(key[len(prefix):], delimiter)
	if i < 0 {
		return ""
	}
	return key[:len(prefix)+i+len(delimiter)]
}

// urlEncode is S3's encoding-type=url: the form encoding clients undo with
// unquote_plus, leaving '/' as it is.
func urlEncode(s string) string {
	return strings.ReplaceAll(url.QueryEscape(s), "%2F", "/")
}

func maxKeysOf(in map[string]any) (int, error) {
	n, ok := integer(in, "MaxKeys")
	if !ok {
		return defaultMaxKeys, nil
	}
	if n < 0 {
		return 0, errInvalidArgument("max-keys", fmtSize(n), "Argument maxKeys must be an integer between 0 and 2147483647")
	}
	return int(min(n, defaultMaxKeys)), nil
}

func encodingOf(in map[string]any) (func(string) string, error) {
	switch e := str(in, "EncodingType"); e {
	case "":
		return func(s string) string { return s }, nil
	case "url":
		return urlEncode, nil
	default:
		return nil, errInvalidArgument("encoding-type", e, "Invalid Encoding Method specified in Request")
	}
}

func (a *API) page(ctx context.Context, in map[string]any, marker string) (listing, int, error) {
	maxKeys, err := maxKeysOf(in)
	if err != nil {
		return listing{}, 0, err
	}
	var page listing
	err = a.store.View(ctx, func(tx store.Tx) error {
		if _, err := getBucket(ctx, tx, str(in, "Bucket")); err != nil {
			return err
		}
		page, err = listKeys(tx, str(in, "Bucket"), str(in, "Prefix"), str(in, "Delimiter"), marker, maxKeys)
		return err
	})
	return page, maxKeys, err
}

func contentsDoc(page *listing, enc func(string) string, owner bool) ([]any, []any) {
	contents := make([]any, 0, len(page.contents))
	for i := range page.contents {
		r := &page.contents[i]
		c := map[string]any{"Key": enc(r.Key), "LastModified": r.LastModified, "ETag": r.ETag, "Size": r.Size, "StorageClass": "STANDARD"}
		if owner {
			c["Owner"] = map[string]any{"ID": r.Owner, "DisplayName": r.Owner}
		}
		contents = append(contents, c)
	}
	prefixes := make([]any, 0, len(page.prefixes))
	for _, p := range page.prefixes {
		prefixes = append(prefixes, map[string]any{"Prefix": enc(p)})
	}
	return contents, prefixes
}

func (a *API) listObjectsV2(ctx context.Context, in map[string]any) (any, error) {
	enc, err := encodingOf(in)
	if err != nil {
		return nil, err
	}
	marker := str(in, "StartAfter")
	token := str(in, "ContinuationToken")
	if token != "" {
		raw, err := base64.RawURLEncoding.DecodeString(token)
		if err != nil {
			return nil, errInvalidArgument("continuation-token", token, "The continuation token provided is incorrect")
		}
		marker = string(raw)
	}
	page, maxKeys, err := a.page(ctx, in, marker)
	if err != nil {
		return nil, err
	}
	contents, prefixes := contentsDoc(&page, enc, boolean(in, "FetchOwner"))
	out := map[string]any{
		"Name": str(in, "Bucket"), "Prefix": enc(str(in, "Prefix")), "MaxKeys": int64(maxKeys),
		"KeyCount": int64(len(contents) + len(prefixes)), "IsTruncated": page.truncated,
		"Contents": contents, "CommonPrefixes": prefixes,
	}
	if d := str(in, "Delimiter"); d != "" {
		out["Delimiter"] = enc(d)
	}
	if e := str(in, "EncodingType"); e != "" {
		out["EncodingType"] = e
	}
	if s := str(in, "StartAfter"); s != "" {
		out["StartAfter"] = enc(s)
	}
	if token != "" {
		out["ContinuationToken"] = token
	}
	if page.truncated {
		out["NextContinuationToken"] = base64.RawURLEncoding.EncodeToString([]byte(page.last))
	}
	return out, nil
}

func (a *API) listObjects(ctx context.Context, in map[string]any) (any, error) {
	enc, err := encodingOf(in)
	if err != nil {
		return nil, err
	}
	page, maxKeys, err := a.page(ctx, in, str(in, "Marker"))
	if err != nil {
		return nil, err
	}
	// ListObjects (v1) always names the owner.
	contents, prefixes := contentsDoc(&page, enc, true)
	out := map[string]any{
		"Name": str(in, "Bucket"), "Prefix": enc(str(in, "Prefix")), "Marker": enc(str(in, "Marker")),
		"MaxKeys": int64(maxKeys), "IsTruncated": page.truncated, "Contents": contents, "CommonPrefixes": prefixes,
	}
	if d := str(in, "Delimiter"); d != "" {
		out["Delimiter"] = enc(d)
		if page.truncated {
			// S3 gives NextMarker only with a delimiter; without one the
			// client continues from the last key.
			out["NextMarker"] = enc(page.last)
		}
	}
	if e := str(in, "EncodingType"); e != "" {
		out["EncodingType"] = e
	}
	return out, nil
}

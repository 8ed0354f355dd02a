package s3

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"unicode/utf8"

	"github.com/nimbus-dev/nimbus/internal/service"
	"github.com/nimbus-dev/nimbus/internal/store"
)

const (
	maxObjectTags = 10
	maxBucketTags = 50
)

func (a *API) registerTagging(svc *service.Service) {
	svc.Handle("PutObjectTagging", a.putObjectTagging)
	svc.Handle("GetObjectTagging", a.getObjectTagging)
	svc.Handle("DeleteObjectTagging", a.deleteObjectTagging)
	svc.Handle("PutBucketTagging", a.putBucketTagging)
	svc.Handle("GetBucketTagging", a.getBucketTagging)
	svc.Handle("DeleteBucketTagging", a.deleteBucketTagging)
}

func errInvalidTag(format string, args ...any) error {
	return s3Error(http.StatusBadRequest, "InvalidTag", format, args...)
}

// checkTags applies S3's tag rules: a limit per resource, unique keys,
// keys of 1 to 128 characters and values of up to 256.
func checkTags(tags []tag, limit int, what string) error {
	if len(tags) > limit {
		return errInvalidTag("%s tags cannot be greater than %d", what, limit)
	}
	seen := map[string]bool{}
	for _, t := range tags {
		if seen[t.Key] {
			return errInvalidTag("Cannot provide multiple Tags with the same key")
		}
		seen[t.Key] = true
		if n := utf8.RuneCountInString(t.Key); n == 0 || n > 128 {
			return errInvalidTag("The TagKey you have provided is invalid")
		}
		if utf8.RuneCountInString(t.Value) > 256 {
			return errInvalidTag("The TagValue you have provided is invalid")
		}
	}
	return nil
}

// parseTaggingHeader reads x-amz-tagging: a URL query string of tags.
func parseTaggingHeader(v string) ([]tag, error) {
	if v == "" {
		return nil, nil
	}
	q, err := url.ParseQuery(v)
	if err != nil {
		return nil, errInvalidArgument("x-amz-tagging", v, "The header 'x-amz-tagging' shall be encoded as UTF-8 then URLEncoded URL query parameters without tag name duplicates.")
	}
	var tags []tag
	for k, vs := range q {
		if len(vs) > 1 {
			return nil, errInvalidTag("Cannot provide multiple Tags with the same key")
		}
		tags = append(tags, tag{Key: k, Value: vs[0]})
	}
	return tags, checkTags(tags, maxObjectTags, "Object")
}

func tagsFromDoc(in map[string]any) []tag {
	var tags []tag
	for _, t := range list(structure(in, "Tagging"), "TagSet") {
		tags = append(tags, tag{Key: str(t, "Key"), Value: str(t, "Value")})
	}
	return tags
}

func tagSetDoc(tags []tag) []any {
	out := make([]any, 0, len(tags))
	for _, t := range tags {
		out = append(out, map[string]any{"Key": t.Key, "Value": t.Value})
	}
	return out
}

// updateObject rewrites an object's record in place (tags), leaving its
// bytes and version alone.
func (a *API) updateObject(ctx context.Context, bucket, key string, fn func(*objectRecord)) error {
	return a.store.Update(ctx, func(tx store.Tx) error {
		rec, err := getRecord(ctx, tx, bucket, key)
		if err != nil {
			return err
		}
		fn(&rec)
		if _, err := tx.Put(objectKey(bucket, key), rec, 0); err != nil {
			return errInternal(err, "write object")
		}
		return nil
	})
}

func (a *API) putObjectTagging(ctx context.Context, in map[string]any) (any, error) {
	tags := tagsFromDoc(in)
	if err := checkTags(tags, maxObjectTags, "Object"); err != nil {
		return nil, err
	}
	err := a.updateObject(ctx, str(in, "Bucket"), str(in, "Key"), func(r *objectRecord) { r.Tags = tags })
	if err != nil {
		return nil, err
	}
	return map[string]any{}, nil
}

func (a *API) getObjectTagging(ctx context.Context, in map[string]any) (any, error) {
	var rec objectRecord
	err := a.store.View(ctx, func(tx store.Tx) error {
		var err error
		rec, err = getRecord(ctx, tx, str(in, "Bucket"), str(in, "Key"))
		return err
	})
	if err != nil {
		return nil, err
	}
	return map[string]any{"TagSet": tagSetDoc(rec.Tags)}, nil
}

func (a *API) deleteObjectTagging(ctx context.Context, in map[string]any) (any, error) {
	err := a.updateObject(ctx, str(in, "Bucket"), str(in, "Key"), func(r *objectRecord) { r.Tags = nil })
	if err != nil {
		return nil, err
	}
	return map[string]any{}, nil
}

// updateBucket rewrites a bucket's record.
func (a *API) updateBucket(ctx context.Context, name string, fn func(*bucketRecord) error) error {
	return a.store.Update(ctx, func(tx store.Tx) error {
		b, err := getBucket(ctx, tx, name)
		if err != nil {
			return err
		}
		if err := fn(&b); err != nil {
			return err
		}
		if _, err := tx.Put(bucketKey(name), b, 0); err != nil {
			return errInternal(err, "write bucket")
		}
		return nil
	})
}

func (a *API) putBucketTagging(ctx context.Context, in map[string]any) (any, error) {
	tags := tagsFromDoc(in)
	if err := checkTags(tags, maxBucketTags, "Bucket"); err != nil {
		return nil, err
	}
	if err := a.updateBucket(ctx, str(in, "Bucket"), func(b *bucketRecord) error { b.Tags = tags; return nil }); err != nil {
		return nil, err
	}
	return map[string]any{}, nil
}

func (a *API) getBucketTagging(ctx context.Context, in map[string]any) (any, error) {
	name := str(in, "Bucket")
	b, err := a.viewBucket(ctx, name)
	if err != nil {
		return nil, err
	}
	if len(b.Tags) == 0 {
		e := s3Error(http.StatusNotFound, "NoSuchTagSet", "The TagSet does not exist")
		e.Fields = map[string]string{"BucketName": name}
		return nil, e
	}
	return map[string]any{"TagSet": tagSetDoc(b.Tags)}, nil
}

func (a *API) deleteBucketTagging(ctx context.Context, in map[string]any) (any, error) {
	err := a.updateBucket(ctx, str(in, "Bucket"), func(b *bucketRecord) error { b.Tags = nil; return nil })
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return nil, err
	}
	return map[string]any{}, nil
}

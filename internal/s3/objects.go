package s3

import (
	"context"
	"errors"
	"io"
	"net/http"
	"os"
	"time"

	"github.com/nimbus-dev/nimbus/internal/service"
	"github.com/nimbus-dev/nimbus/internal/store"
)

const (
	maxKeyLength  = 1024
	maxObjectSize = 5 << 30 // one PutObject; larger objects take a multipart upload
)

func (a *API) registerObjects(svc *service.Service) {
	svc.Handle("PutObject", a.putObject)
	svc.Handle("GetObject", a.getObject)
	svc.Handle("HeadObject", a.headObject)
	svc.Handle("DeleteObject", a.deleteObject)
	svc.Handle("DeleteObjects", a.deleteObjects)
	svc.Handle("CopyObject", a.copyObject)
}

// storedHeaders are the standard headers S3 keeps with an object and
// answers on GET and HEAD, by model member name.
var storedHeaders = []string{"CacheControl", "ContentDisposition", "ContentEncoding", "ContentLanguage", "WebsiteRedirectLocation"}

func headersOf(in map[string]any) map[string]string {
	var out map[string]string
	for _, m := range storedHeaders {
		if v := str(in, m); v != "" {
			if out == nil {
				out = map[string]string{}
			}
			out[m] = v
		}
	}
	if t, ok := timestamp(in, "Expires"); ok {
		if out == nil {
			out = map[string]string{}
		}
		out["Expires"] = t.UTC().Format(http.TimeFormat)
	}
	return out
}

func checkKey(key string) error {
	if len(key) > maxKeyLength {
		e := s3Error(http.StatusBadRequest, "KeyTooLongError", "Your key is too long")
		e.Fields = map[string]string{"MaxSizeAllowed": fmtSize(maxKeyLength), "Size": fmtSize(int64(len(key)))}
		return e
	}
	return nil
}

func (a *API) putObject(ctx context.Context, in map[string]any) (any, error) {
	bucket, key := str(in, "Bucket"), str(in, "Key")
	if err := checkKey(key); err != nil {
		return nil, err
	}
	// Refuse a missing bucket before reading what may be gigabytes.
	if _, err := a.viewBucket(ctx, bucket); err != nil {
		return nil, err
	}
	wantMD5, err := contentMD5(in)
	if err != nil {
		return nil, err
	}
	if n, ok := integer(in, "ContentLength"); ok && n > maxObjectSize {
		e := s3Error(http.StatusBadRequest, "EntityTooLarge", "Your proposed upload exceeds the maximum allowed size")
		e.Fields = map[string]string{"ProposedSize": fmtSize(n), "MaxSizeAllowed": fmtSize(maxObjectSize)}
		return nil, e
	}
	tags, err := parseTaggingHeader(str(in, "Tagging"))
	if err != nil {
		return nil, err
	}
	src := body(in)
	w, err := a.blobs.write(src)
	if err != nil {
		return nil, bodyError(err)
	}
	if err := checkMD5(wantMD5, w.md5); err != nil {
		a.blobs.remove(w.name)
		return nil, err
	}
	rec := objectRecord{
		Key: key, Size: w.size, ETag: quotedETag(w.md5), LastModified: now(),
		ContentType: contentTypeOf(in), Headers: headersOf(in), Metadata: metadata(in),
		Checksums: checksumsOf(in, src), Tags: tags, Owner: caller(ctx), File: w.name,
	}
	if err := a.commitObject(ctx, bucket, &rec, "ObjectCreated:Put"); err != nil {
		return nil, err
	}
	out := map[string]any{"ETag": rec.ETag}
	checksumDoc(out, rec.Checksums)
	return out, nil
}

func contentTypeOf(in map[string]any) string {
	if ct := str(in, "ContentType"); ct != "" {
		return ct
	}
	return "binary/octet-stream" // what S3 stores when a PUT names none
}

// commitObject makes rec, whose blob is already durable, the object's
// current version, queues the notifications it matches in the same
// transaction, and removes the blob it replaced. On failure rec's blob is
// removed.
func (a *API) commitObject(ctx context.Context, bucket string, rec *objectRecord, event string) error {
	var replaced string
	queued := false
	err := a.store.Update(ctx, func(tx store.Tx) error {
		b, err := getBucket(ctx, tx, bucket)
		if err != nil {
			return err
		}
		var old objectRecord
		if _, err := tx.Get(objectKey(bucket, rec.Key), &old); err == nil {
			replaced = old.File
		} else if !errors.Is(err, store.ErrNotFound) {
			return errInternal(err, "read object")
		}
		if _, err := tx.Put(objectKey(bucket, rec.Key), rec, 0); err != nil {
			return errInternal(err, "write object")
		}
		queued, err = a.queueEvents(ctx, tx, &b, event, rec)
		return err
	})
	if err != nil {
		replaced = ""
		a.blobs.remove(rec.File)
		return err
	}
	a.blobs.remove(replaced)
	if queued {
		a.signalOutbox()
	}
	return nil
}

// getRecord reads an object of a bucket the caller owns.
func getRecord(ctx context.Context, tx store.Tx, bucket, key string) (objectRecord, error) {
	var rec objectRecord
	if _, err := getBucket(ctx, tx, bucket); err != nil {
		return rec, err
	}
	if _, err := tx.Get(objectKey(bucket, key), &rec); err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return rec, errNoSuchKey(key)
		}
		return rec, errInternal(err, "read object")
	}
	return rec, nil
}

// openObject reads an object's record and opens its blob. A write may
// replace the object and remove the blob between the two; reading the
// record again then finds the new one.
func (a *API) openObject(ctx context.Context, bucket, key string) (objectRecord, *os.File, error) {
	for attempt := 0; ; attempt++ {
		var rec objectRecord
		err := a.store.View(ctx, func(tx store.Tx) error {
			var err error
			rec, err = getRecord(ctx, tx, bucket, key)
			return err
		})
		if err != nil {
			return rec, nil, err
		}
		f, err := a.blobs.open(rec.File)
		if err == nil {
			return rec, f, nil
		}
		if !errors.Is(err, os.ErrNotExist) || attempt == 3 {
			return rec, nil, errInternal(err, "open object %s/%s", bucket, key)
		}
	}
}

// objectHeaders is what GET and HEAD answer about an object.
func objectHeaders(rec *objectRecord, checksums bool) map[string]any {
	out := map[string]any{
		"ETag": rec.ETag, "LastModified": rec.LastModified, "ContentLength": rec.Size,
		"ContentType": rec.ContentType, "AcceptRanges": "bytes",
	}
	if m := metadataDoc(rec.Metadata); m != nil {
		out["Metadata"] = m
	}
	for k, v := range rec.Headers {
		if k == "Expires" {
			if t, err := time.Parse(http.TimeFormat, v); err == nil {
				out[k] = t
			}
			continue
		}
		out[k] = v
	}
	if len(rec.Tags) > 0 {
		out["TagCount"] = int64(len(rec.Tags))
	}
	if rec.Parts > 0 {
		out["PartsCount"] = int64(rec.Parts)
	}
	if checksums {
		checksumDoc(out, rec.Checksums)
	}
	return out
}

// responseOverrides applies GetObject's response-* query parameters.
func responseOverrides(in, out map[string]any) {
	for member, header := range map[string]string{
		"ResponseCacheControl": "CacheControl", "ResponseContentDisposition": "ContentDisposition",
		"ResponseContentEncoding": "ContentEncoding", "ResponseContentLanguage": "ContentLanguage",
		"ResponseContentType": "ContentType",
	} {
		if v := str(in, member); v != "" {
			out[header] = v
		}
	}
	if t, ok := timestamp(in, "ResponseExpires"); ok {
		out["Expires"] = t
	}
}

func (a *API) getObject(ctx context.Context, in map[string]any) (any, error) {
	bucket, key := str(in, "Bucket"), str(in, "Key")
	rec, f, err := a.openObject(ctx, bucket, key)
	if err != nil {
		return nil, err
	}
	ok := false
	defer func() {
		if !ok {
			f.Close()
		}
	}()
	if err := checkConditions(in, &rec); err != nil {
		return nil, err
	}
	rng, err := parseRange(str(in, "Range"), rec.Size)
	if err != nil {
		return nil, err
	}
	// Checksums describe the whole object: a range answers none.
	out := objectHeaders(&rec, rng == nil && str(in, "ChecksumMode") == "ENABLED")
	responseOverrides(in, out)
	var r io.Reader = f
	if rng != nil {
		out["ContentLength"] = rng.length()
		out["ContentRange"] = rng.contentRange(rec.Size)
		r = io.NewSectionReader(f, rng.first, rng.length())
	}
	out["Body"] = readCloser{Reader: r, Closer: f}
	ok = true
	return out, nil
}

type readCloser struct {
	io.Reader
	io.Closer
}

func (a *API) headObject(ctx context.Context, in map[string]any) (any, error) {
	bucket, key := str(in, "Bucket"), str(in, "Key")
	var rec objectRecord
	err := a.store.View(ctx, func(tx store.Tx) error {
		var err error
		rec, err = getRecord(ctx, tx, bucket, key)
		return err
	})
	if err != nil {
		return nil, err
	}
	if err := checkConditions(in, &rec); err != nil {
		return nil, err
	}
	rng, err := parseRange(str(in, "Range"), rec.Size)
	if err != nil {
		return nil, err
	}
	out := objectHeaders(&rec, rng == nil && str(in, "ChecksumMode") == "ENABLED")
	if rng != nil {
		out["ContentLength"] = rng.length()
		out["ContentRange"] = rng.contentRange(rec.Size)
	}
	return out, nil
}

// deleteObject succeeds whether or not the key exists, as S3 does.
func (a *API) deleteObject(ctx context.Context, in map[string]any) (any, error) {
	bucket, key := str(in, "Bucket"), str(in, "Key")
	if _, err := a.removeObjects(ctx, bucket, []string{key}); err != nil {
		return nil, err
	}
	return map[string]any{}, nil
}

// removeObjects deletes keys in one transaction, queueing an
// ObjectRemoved:Delete notification for each key that existed, and
// returns the keys it deleted.
func (a *API) removeObjects(ctx context.Context, bucket string, keys []string) ([]string, error) {
	var files, deleted []string
	queued := false
	err := a.store.Update(ctx, func(tx store.Tx) error {
		files, deleted, queued = nil, nil, false
		b, err := getBucket(ctx, tx, bucket)
		if err != nil {
			return err
		}
		for _, key := range keys {
			var rec objectRecord
			if _, err := tx.Get(objectKey(bucket, key), &rec); errors.Is(err, store.ErrNotFound) {
				continue
			} else if err != nil {
				return errInternal(err, "read object")
			}
			if err := tx.Delete(objectKey(bucket, key), 0); err != nil {
				return errInternal(err, "delete object")
			}
			files = append(files, rec.File)
			deleted = append(deleted, key)
			q, err := a.queueEvents(ctx, tx, &b, "ObjectRemoved:Delete", &objectRecord{Key: key})
			if err != nil {
				return err
			}
			queued = queued || q
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	a.blobs.remove(files...)
	if queued {
		a.signalOutbox()
	}
	return deleted, nil
}

// maxDeleteKeys is DeleteObjects' limit per request.
const maxDeleteKeys = 1000

func (a *API) deleteObjects(ctx context.Context, in map[string]any) (any, error) {
	bucket := str(in, "Bucket")
	del := structure(in, "Delete")
	objects := list(del, "Objects")
	if len(objects) == 0 || len(objects) > maxDeleteKeys {
		return nil, errMalformedXML()
	}
	keys := make([]string, 0, len(objects))
	var errs []any
	for _, o := range objects {
		key := str(o, "Key")
		if err := checkKey(key); err != nil || key == "" {
			errs = append(errs, map[string]any{"Key": key, "Code": "InvalidArgument", "Message": "Invalid key"})
			continue
		}
		keys = append(keys, key)
	}
	if _, err := a.removeObjects(ctx, bucket, keys); err != nil {
		return nil, err
	}
	out := map[string]any{}
	if len(errs) > 0 {
		out["Errors"] = errs
	}
	if !boolean(del, "Quiet") {
		// S3 reports every key asked for as deleted, whether or not it
		// existed.
		deleted := make([]any, 0, len(keys))
		for _, k := range keys {
			deleted = append(deleted, map[string]any{"Key": k})
		}
		out["Deleted"] = deleted
	}
	return out, nil
}

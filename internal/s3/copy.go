package s3

import (
	"context"
	"crypto/md5"
	"errors"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"

	"github.com/nimbus-dev/nimbus/internal/store"
)

// parseCopySource splits x-amz-copy-source ("bucket/key" or "/bucket/key",
// URL-encoded, maybe with ?versionId=) into bucket and key.
func parseCopySource(v string) (bucket, key string, err error) {
	v, _, _ = strings.Cut(v, "?versionId=")
	v = strings.TrimPrefix(v, "/")
	if u, uerr := url.PathUnescape(v); uerr == nil {
		v = u
	}
	bucket, key, ok := strings.Cut(v, "/")
	if !ok || bucket == "" || key == "" {
		return "", "", errInvalidArgument("x-amz-copy-source", v, "Invalid copy source object key")
	}
	return bucket, key, nil
}

// sourceRecord reads a copy source the caller may read.
func (a *API) sourceRecord(ctx context.Context, in map[string]any) (objectRecord, string, error) {
	srcBucket, srcKey, err := parseCopySource(str(in, "CopySource"))
	if err != nil {
		return objectRecord{}, "", err
	}
	var rec objectRecord
	err = a.store.View(ctx, func(tx store.Tx) error {
		var err error
		rec, err = getRecord(ctx, tx, srcBucket, srcKey)
		return err
	})
	if err != nil {
		return rec, "", err
	}
	return rec, srcBucket, checkCopyConditions(in, &rec)
}

func (a *API) copyObject(ctx context.Context, in map[string]any) (any, error) {
	bucket, key := str(in, "Bucket"), str(in, "Key")
	if err := checkKey(key); err != nil {
		return nil, err
	}
	src, srcBucket, name, err := a.linkSource(ctx, in)
	if err != nil {
		return nil, err
	}
	replaceMeta := str(in, "MetadataDirective") == "REPLACE"
	replaceTags := str(in, "TaggingDirective") == "REPLACE"
	if srcBucket == bucket && src.Key == key && !replaceMeta {
		a.blobs.remove(name)
		return nil, s3Error(http.StatusBadRequest, "InvalidRequest",
			"This copy request is illegal because it is trying to copy an object to itself without changing the object's metadata, storage class, website redirect location or encryption attributes.")
	}
	if _, err := a.viewBucket(ctx, bucket); err != nil {
		a.blobs.remove(name)
		return nil, err
	}
	rec := src
	rec.Key, rec.File, rec.LastModified, rec.Owner = key, name, now(), caller(ctx)
	if src.Parts > 0 {
		// A copy is one object, whose ETag is the MD5 of its bytes.
		sum, err := a.blobMD5(name)
		if err != nil {
			a.blobs.remove(name)
			return nil, err
		}
		rec.ETag, rec.Parts, rec.Checksums = quotedETag(sum), 0, nil
	}
	if replaceMeta {
		rec.ContentType, rec.Headers, rec.Metadata = contentTypeOf(in), headersOf(in), metadata(in)
	}
	if replaceTags {
		if rec.Tags, err = parseTaggingHeader(str(in, "Tagging")); err != nil {
			a.blobs.remove(name)
			return nil, err
		}
	}
	if err := a.commitObject(ctx, bucket, &rec, "ObjectCreated:Copy"); err != nil {
		return nil, err
	}
	return map[string]any{"CopyObjectResult": map[string]any{"ETag": rec.ETag, "LastModified": rec.LastModified}}, nil
}

// linkSource reads the copy source and links its blob under a new name. A
// write may replace the source and remove its blob between the two; the
// record is then read again.
func (a *API) linkSource(ctx context.Context, in map[string]any) (objectRecord, string, string, error) {
	for attempt := 0; ; attempt++ {
		src, srcBucket, err := a.sourceRecord(ctx, in)
		if err != nil {
			return src, "", "", err
		}
		name, err := a.blobs.link(src.File)
		if err == nil {
			return src, srcBucket, name, nil
		}
		if !errors.Is(err, os.ErrNotExist) || attempt == 3 {
			return src, "", "", errInternal(err, "copy object")
		}
	}
}

func (a *API) blobMD5(name string) ([]byte, error) {
	f, err := a.blobs.open(name)
	if err != nil {
		return nil, errInternal(err, "open blob")
	}
	defer f.Close()
	h := md5.New()
	if _, err := io.Copy(h, f); err != nil {
		return nil, errInternal(err, "read blob")
	}
	return h.Sum(nil), nil
}

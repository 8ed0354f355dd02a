package s3

import (
	"context"
	"crypto/md5"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"sort"
	"strconv"
	"strings"

	"github.com/nimbus-dev/nimbus/internal/identity"
	"github.com/nimbus-dev/nimbus/internal/service"
	"github.com/nimbus-dev/nimbus/internal/store"
)

const (
	minPartSize  = 5 << 20 // every part but the last
	maxPartCount = 10000
)

func (a *API) registerMultipart(svc *service.Service) {
	svc.Handle("CreateMultipartUpload", a.createMultipartUpload)
	svc.Handle("UploadPart", a.uploadPart)
	svc.Handle("UploadPartCopy", a.uploadPartCopy)
	svc.Handle("CompleteMultipartUpload", a.completeMultipartUpload)
	svc.Handle("AbortMultipartUpload", a.abortMultipartUpload)
	svc.Handle("ListParts", a.listParts)
	svc.Handle("ListMultipartUploads", a.listMultipartUploads)
}

func (a *API) createMultipartUpload(ctx context.Context, in map[string]any) (any, error) {
	bucket, key := str(in, "Bucket"), str(in, "Key")
	if err := checkKey(key); err != nil {
		return nil, err
	}
	tags, err := parseTaggingHeader(str(in, "Tagging"))
	if err != nil {
		return nil, err
	}
	initiator := ""
	if p := identity.From(ctx).Principal; p != nil {
		initiator = p.ARN
	}
	up := uploadRecord{
		UploadID: newBlobName() + newBlobName(), Key: key, Initiated: now(), Owner: caller(ctx), Initiator: initiator,
		ContentType: contentTypeOf(in), Headers: headersOf(in), Metadata: metadata(in), Tags: tags,
		Checksum: str(in, "ChecksumAlgorithm"),
	}
	err = a.store.Update(ctx, func(tx store.Tx) error {
		if _, err := getBucket(ctx, tx, bucket); err != nil {
			return err
		}
		if _, err := tx.Create(uploadKey(bucket, up.UploadID), up); err != nil {
			return errInternal(err, "create upload")
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	out := map[string]any{"Bucket": bucket, "Key": key, "UploadId": up.UploadID}
	if up.Checksum != "" {
		out["ChecksumAlgorithm"] = up.Checksum
	}
	return out, nil
}

// getUpload reads an upload of key in a bucket the caller owns.
func getUpload(ctx context.Context, tx store.Tx, bucket, key, uploadID string) (uploadRecord, error) {
	var up uploadRecord
	if _, err := getBucket(ctx, tx, bucket); err != nil {
		return up, err
	}
	if uploadID == "" || strings.Contains(uploadID, "/") {
		return up, errNoSuchUpload(uploadID)
	}
	if _, err := tx.Get(uploadKey(bucket, uploadID), &up); err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return up, errNoSuchUpload(uploadID)
		}
		return up, errInternal(err, "read upload")
	}
	if up.Key != key {
		return up, errNoSuchUpload(uploadID)
	}
	return up, nil
}

func (a *API) viewUpload(ctx context.Context, bucket, key, uploadID string) (uploadRecord, error) {
	var up uploadRecord
	err := a.store.View(ctx, func(tx store.Tx) error {
		var err error
		up, err = getUpload(ctx, tx, bucket, key, uploadID)
		return err
	})
	return up, err
}

func partNumberOf(in map[string]any) (int, error) {
	n, _ := integer(in, "PartNumber")
	if n < 1 || n > maxPartCount {
		return 0, errInvalidArgument("partNumber", fmtSize(n), "Part number must be an integer between 1 and 10000, inclusive")
	}
	return int(n), nil
}

func (a *API) uploadPart(ctx context.Context, in map[string]any) (any, error) {
	bucket, key, uploadID := str(in, "Bucket"), str(in, "Key"), str(in, "UploadId")
	number, err := partNumberOf(in)
	if err != nil {
		return nil, err
	}
	if _, err := a.viewUpload(ctx, bucket, key, uploadID); err != nil {
		return nil, err
	}
	wantMD5, err := contentMD5(in)
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
	part := partRecord{PartNumber: number, Size: w.size, ETag: quotedETag(w.md5), MD5: w.md5,
		LastModified: now(), Checksums: checksumsOf(in, src), File: w.name}
	if err := a.commitPart(ctx, bucket, key, uploadID, &part); err != nil {
		return nil, err
	}
	out := map[string]any{"ETag": part.ETag}
	checksumDoc(out, part.Checksums)
	return out, nil
}

// commitPart records a part whose blob is durable, replacing an earlier
// upload of the same part number.
func (a *API) commitPart(ctx context.Context, bucket, key, uploadID string, part *partRecord) error {
	var replaced string
	err := a.store.Update(ctx, func(tx store.Tx) error {
		if _, err := getUpload(ctx, tx, bucket, key, uploadID); err != nil {
			return err
		}
		var old partRecord
		if _, err := tx.Get(partKey(uploadID, part.PartNumber), &old); err == nil {
			replaced = old.File
		} else if !errors.Is(err, store.ErrNotFound) {
			return errInternal(err, "read part")
		}
		if _, err := tx.Put(partKey(uploadID, part.PartNumber), part, 0); err != nil {
			return errInternal(err, "write part")
		}
		return nil
	})
	if err != nil {
		a.blobs.remove(part.File)
		return err
	}
	a.blobs.remove(replaced)
	return nil
}

func (a *API) uploadPartCopy(ctx context.Context, in map[string]any) (any, error) {
	bucket, key, uploadID := str(in, "Bucket"), str(in, "Key"), str(in, "UploadId")
	number, err := partNumberOf(in)
	if err != nil {
		return nil, err
	}
	if _, err := a.viewUpload(ctx, bucket, key, uploadID); err != nil {
		return nil, err
	}
	src, _, err := a.sourceRecord(ctx, in)
	if err != nil {
		return nil, err
	}
	rng, err := parseCopyRange(str(in, "CopySourceRange"), src.Size)
	if err != nil {
		return nil, err
	}
	f, err := a.blobs.open(src.File)
	if err != nil {
		return nil, errInternal(err, "open copy source")
	}
	defer f.Close()
	var r io.Reader = f
	if rng != nil {
		r = io.NewSectionReader(f, rng.first, rng.length())
	}
	w, err := a.blobs.write(r)
	if err != nil {
		return nil, errInternal(err, "copy part")
	}
	part := partRecord{PartNumber: number, Size: w.size, ETag: quotedETag(w.md5), MD5: w.md5, LastModified: now(), File: w.name}
	if err := a.commitPart(ctx, bucket, key, uploadID, &part); err != nil {
		return nil, err
	}
	return map[string]any{"CopyPartResult": map[string]any{"ETag": part.ETag, "LastModified": part.LastModified}}, nil
}

// listUploadParts reads an upload's parts in part-number order.
func listUploadParts(tx store.Tx, uploadID string, after, limit int) ([]partRecord, error) {
	q := store.Query{Kind: kindPart, Account: globalAccount, Prefix: uploadID + "/", Limit: limit}
	if after > 0 {
		q.After = partID(uploadID, after)
	}
	var parts []partRecord
	err := tx.List(q, func(o store.Object) error {
		var p partRecord
		if err := o.Decode(&p); err != nil {
			return err
		}
		parts = append(parts, p)
		return nil
	})
	if err != nil {
		return nil, errInternal(err, "list parts")
	}
	return parts, nil
}

// deleteUpload removes an upload and its parts' records, returning the
// part blobs to remove once the transaction commits.
func deleteUpload(tx store.Tx, bucket, uploadID string) ([]string, error) {
	parts, err := listUploadParts(tx, uploadID, 0, 0)
	if err != nil {
		return nil, err
	}
	files := make([]string, 0, len(parts))
	for _, p := range parts {
		if err := tx.Delete(partKey(uploadID, p.PartNumber), 0); err != nil {
			return nil, errInternal(err, "delete part")
		}
		files = append(files, p.File)
	}
	if err := tx.Delete(uploadKey(bucket, uploadID), 0); err != nil {
		return nil, errInternal(err, "delete upload")
	}
	return files, nil
}

func errInvalidPart(number int64, etag string) error {
	e := s3Error(http.StatusBadRequest, "InvalidPart",
		"One or more of the specified parts could not be found.  The part may not have been uploaded, or the specified entity tag may not match the part's entity tag.")
	e.Fields = map[string]string{"PartNumber": strconv.FormatInt(number, 10), "ETag": etag}
	return e
}

// chosenParts checks a CompleteMultipartUpload part list against the parts
// uploaded: ascending numbers, each uploaded with that ETag, each but the
// last at least 5 MiB.
func chosenParts(in map[string]any, uploaded []partRecord) ([]partRecord, error) {
	asked := list(structure(in, "MultipartUpload"), "Parts")
	if len(asked) == 0 {
		return nil, errMalformedXML()
	}
	byNumber := make(map[int]partRecord, len(uploaded))
	for _, p := range uploaded {
		byNumber[p.PartNumber] = p
	}
	chosen := make([]partRecord, 0, len(asked))
	prev := int64(0)
	for _, ap := range asked {
		n, _ := integer(ap, "PartNumber")
		if n <= prev {
			return nil, s3Error(http.StatusBadRequest, "InvalidPartOrder",
				"The list of parts was not in ascending order. Parts must be ordered by part number.")
		}
		prev = n
		p, ok := byNumber[int(n)]
		if !ok || strings.Trim(str(ap, "ETag"), `"`) != strings.Trim(p.ETag, `"`) {
			return nil, errInvalidPart(n, str(ap, "ETag"))
		}
		chosen = append(chosen, p)
	}
	for i, p := range chosen[:len(chosen)-1] {
		if p.Size < minPartSize {
			e := s3Error(http.StatusBadRequest, "EntityTooSmall", "Your proposed upload is smaller than the minimum allowed object size.")
			e.Fields = map[string]string{"ProposedSize": fmtSize(p.Size), "MinSizeAllowed": fmtSize(minPartSize),
				"PartNumber": strconv.Itoa(chosen[i].PartNumber), "ETag": p.ETag}
			return nil, e
		}
	}
	return chosen, nil
}

// multipartETag is S3's ETag of a multipart object: the MD5 of the parts'
// MD5s, a dash, and the number of parts.
func multipartETag(parts []partRecord) string {
	h := md5.New()
	for _, p := range parts {
		h.Write(p.MD5)
	}
	return fmt.Sprintf(`"%s-%d"`, hex.EncodeToString(h.Sum(nil)), len(parts))
}

// concatParts writes the chosen parts into one new blob.
func (a *API) concatParts(parts []partRecord) (written, error) {
	files := make([]*os.File, 0, len(parts))
	defer func() {
		for _, f := range files {
			f.Close()
		}
	}()
	readers := make([]io.Reader, 0, len(parts))
	for _, p := range parts {
		f, err := a.blobs.open(p.File)
		if err != nil {
			return written{}, fmt.Errorf("open part %d: %w", p.PartNumber, err)
		}
		files = append(files, f)
		readers = append(readers, f)
	}
	return a.blobs.write(io.MultiReader(readers...))
}

func (a *API) completeMultipartUpload(ctx context.Context, in map[string]any) (any, error) {
	bucket, key, uploadID := str(in, "Bucket"), str(in, "Key"), str(in, "UploadId")
	var up uploadRecord
	var uploaded []partRecord
	err := a.store.View(ctx, func(tx store.Tx) error {
		var err error
		if up, err = getUpload(ctx, tx, bucket, key, uploadID); err != nil {
			return err
		}
		uploaded, err = listUploadParts(tx, uploadID, 0, 0)
		return err
	})
	if err != nil {
		return nil, err
	}
	chosen, err := chosenParts(in, uploaded)
	if err != nil {
		return nil, err
	}
	w, err := a.concatParts(chosen)
	if err != nil {
		return nil, errInternal(err, "assemble multipart object")
	}
	rec := objectRecord{
		Key: key, Size: w.size, ETag: multipartETag(chosen), LastModified: now(), ContentType: up.ContentType,
		Headers: up.Headers, Metadata: up.Metadata, Tags: up.Tags, Parts: len(chosen), Owner: up.Owner, File: w.name,
	}
	var partFiles, replaced []string
	queued := false
	err = a.store.Update(ctx, func(tx store.Tx) error {
		partFiles, replaced = nil, nil
		b, err := getBucket(ctx, tx, bucket)
		if err != nil {
			return err
		}
		if _, err := getUpload(ctx, tx, bucket, key, uploadID); err != nil {
			return err // aborted or completed meanwhile
		}
		if partFiles, err = deleteUpload(tx, bucket, uploadID); err != nil {
			return err
		}
		var old objectRecord
		if _, err := tx.Get(objectKey(bucket, key), &old); err == nil {
			replaced = append(replaced, old.File)
		} else if !errors.Is(err, store.ErrNotFound) {
			return errInternal(err, "read object")
		}
		if _, err := tx.Put(objectKey(bucket, key), rec, 0); err != nil {
			return errInternal(err, "write object")
		}
		queued, err = a.queueEvents(ctx, tx, &b, "ObjectCreated:CompleteMultipartUpload", &rec)
		return err
	})
	if err != nil {
		a.blobs.remove(w.name)
		return nil, err
	}
	a.blobs.remove(append(partFiles, replaced...)...)
	if queued {
		a.signalOutbox()
	}
	return map[string]any{"Location": "/" + bucket + "/" + key, "Bucket": bucket, "Key": key, "ETag": rec.ETag}, nil
}

func (a *API) abortMultipartUpload(ctx context.Context, in map[string]any) (any, error) {
	bucket, key, uploadID := str(in, "Bucket"), str(in, "Key"), str(in, "UploadId")
	var files []string
	err := a.store.Update(ctx, func(tx store.Tx) error {
		if _, err := getUpload(ctx, tx, bucket, key, uploadID); err != nil {
			return err
		}
		var err error
		files, err = deleteUpload(tx, bucket, uploadID)
		return err
	})
	if err != nil {
		return nil, err
	}
	a.blobs.remove(files...)
	return map[string]any{}, nil
}

func ownerDoc(account string) map[string]any {
	return map[string]any{"ID": account, "DisplayName": account}
}

func (a *API) listParts(ctx context.Context, in map[string]any) (any, error) {
	bucket, key, uploadID := str(in, "Bucket"), str(in, "Key"), str(in, "UploadId")
	maxParts := int64(1000)
	if n, ok := integer(in, "MaxParts"); ok && n >= 0 && n < maxParts {
		maxParts = n
	}
	marker, _ := integer(in, "PartNumberMarker")
	var up uploadRecord
	var parts []partRecord
	err := a.store.View(ctx, func(tx store.Tx) error {
		var err error
		if up, err = getUpload(ctx, tx, bucket, key, uploadID); err != nil {
			return err
		}
		parts, err = listUploadParts(tx, uploadID, int(marker), int(maxParts)+1)
		return err
	})
	if err != nil {
		return nil, err
	}
	truncated := int64(len(parts)) > maxParts
	if truncated {
		parts = parts[:maxParts]
	}
	items := make([]any, 0, len(parts))
	for _, p := range parts {
		item := map[string]any{"PartNumber": int64(p.PartNumber), "LastModified": p.LastModified, "ETag": p.ETag, "Size": p.Size}
		checksumDoc(item, p.Checksums)
		items = append(items, item)
	}
	out := map[string]any{
		"Bucket": bucket, "Key": key, "UploadId": uploadID, "PartNumberMarker": marker, "MaxParts": maxParts,
		"IsTruncated": truncated, "Parts": items, "StorageClass": "STANDARD",
		"Initiator": map[string]any{"ID": up.Initiator, "DisplayName": up.Initiator}, "Owner": ownerDoc(up.Owner),
	}
	if len(parts) > 0 {
		out["NextPartNumberMarker"] = int64(parts[len(parts)-1].PartNumber)
	}
	return out, nil
}

func (a *API) listMultipartUploads(ctx context.Context, in map[string]any) (any, error) {
	bucket := str(in, "Bucket")
	prefix, delimiter := str(in, "Prefix"), str(in, "Delimiter")
	keyMarker, idMarker := str(in, "KeyMarker"), str(in, "UploadIdMarker")
	maxUploads := int64(1000)
	if n, ok := integer(in, "MaxUploads"); ok && n >= 0 && n < maxUploads {
		maxUploads = n
	}
	enc, err := encodingOf(in)
	if err != nil {
		return nil, err
	}
	var uploads []uploadRecord
	err = a.store.View(ctx, func(tx store.Tx) error {
		if _, err := getBucket(ctx, tx, bucket); err != nil {
			return err
		}
		return tx.List(store.Query{Kind: kindUpload, Account: globalAccount, Prefix: bucket + "/"}, func(o store.Object) error {
			var up uploadRecord
			if err := o.Decode(&up); err != nil {
				return err
			}
			if strings.HasPrefix(up.Key, prefix) {
				uploads = append(uploads, up)
			}
			return nil
		})
	})
	if err != nil {
		return nil, errInternal(err, "list uploads")
	}
	// S3 orders uploads by key, then by when they were initiated.
	sort.Slice(uploads, func(i, j int) bool {
		if uploads[i].Key != uploads[j].Key {
			return uploads[i].Key < uploads[j].Key
		}
		return uploads[i].Initiated.Before(uploads[j].Initiated)
	})
	var items, prefixes []any
	seen := map[string]bool{}
	truncated := false
	var last *uploadRecord
	for i := startAfter(uploads, keyMarker, idMarker); i < len(uploads); i++ {
		up := &uploads[i]
		if int64(len(items)+len(prefixes)) >= maxUploads {
			truncated = true
			break
		}
		if cp := commonPrefix(up.Key, prefix, delimiter); cp != "" {
			if !seen[cp] {
				seen[cp] = true
				prefixes = append(prefixes, map[string]any{"Prefix": enc(cp)})
			}
			continue
		}
		items = append(items, map[string]any{
			"UploadId": up.UploadID, "Key": enc(up.Key), "Initiated": up.Initiated, "StorageClass": "STANDARD",
			"Owner": ownerDoc(up.Owner), "Initiator": map[string]any{"ID": up.Initiator, "DisplayName": up.Initiator},
		})
		last = up
	}
	out := map[string]any{
		"Bucket": bucket, "KeyMarker": enc(keyMarker), "UploadIdMarker": idMarker, "MaxUploads": maxUploads,
		"IsTruncated": truncated, "Uploads": items, "CommonPrefixes": prefixes, "Prefix": enc(prefix),
	}
	if delimiter != "" {
		out["Delimiter"] = enc(delimiter)
	}
	if truncated && last != nil {
		out["NextKeyMarker"] = enc(last.Key)
		out["NextUploadIdMarker"] = last.UploadID
	}
	return out, nil
}

// startAfter is the index of the first upload after ListMultipartUploads'
// markers: past every upload of key-marker, or, with upload-id-marker, past
// that upload of key-marker.
func startAfter(uploads []uploadRecord, keyMarker, idMarker string) int {
	if keyMarker == "" {
		return 0
	}
	if idMarker != "" {
		for i, up := range uploads {
			if up.Key == keyMarker && up.UploadID == idMarker {
				return i + 1
			}
		}
	}
	for i, up := range uploads {
		if up.Key > keyMarker {
			return i
		}
	}
	return len(uploads)
}

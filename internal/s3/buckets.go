package s3

import (
	"context"
	"errors"
	"net/http"
	"sort"

	"github.com/nimbus-dev/nimbus/internal/identity"
	"github.com/nimbus-dev/nimbus/internal/service"
	"github.com/nimbus-dev/nimbus/internal/store"
)

func (a *API) registerBuckets(svc *service.Service) {
	svc.Handle("CreateBucket", a.createBucket)
	svc.Handle("HeadBucket", a.headBucket)
	svc.Handle("ListBuckets", a.listBuckets)
	svc.Handle("DeleteBucket", a.deleteBucket)
	svc.Handle("GetBucketLocation", a.getBucketLocation)
}

// getBucket reads a bucket the caller owns: NoSuchBucket when there is
// none, AccessDenied when another account owns it (nimbus has no bucket
// policies yet to grant that account access).
func getBucket(ctx context.Context, tx store.Tx, name string) (bucketRecord, error) {
	var b bucketRecord
	if _, err := tx.Get(bucketKey(name), &b); err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return b, errNoSuchBucket(name)
		}
		return b, errInternal(err, "read bucket %s", name)
	}
	if acct := caller(ctx); acct != "" && acct != b.Owner {
		return b, errAccessDenied()
	}
	return b, nil
}

// viewBucket reads a bucket in a transaction of its own.
func (a *API) viewBucket(ctx context.Context, name string) (bucketRecord, error) {
	var b bucketRecord
	err := a.store.View(ctx, func(tx store.Tx) error {
		var err error
		b, err = getBucket(ctx, tx, name)
		return err
	})
	return b, err
}

func requestRegion(ctx context.Context) string {
	if r := identity.Region(ctx); r != "" {
		return r
	}
	return "us-east-1"
}

func (a *API) createBucket(ctx context.Context, in map[string]any) (any, error) {
	name := str(in, "Bucket")
	if !validBucketName(name) {
		return nil, errInvalidBucketName(name)
	}
	region := requestRegion(ctx)
	constraint := str(structure(in, "CreateBucketConfiguration"), "LocationConstraint")
	switch {
	case constraint == "" && region != "us-east-1":
		return nil, s3Error(http.StatusBadRequest, "IllegalLocationConstraintException",
			"The unspecified location constraint is incompatible for the region specific endpoint this request was sent to.")
	case constraint == "us-east-1":
		// us-east-1 is the default and never named.
		return nil, s3Error(http.StatusBadRequest, "InvalidLocationConstraint", "The specified location-constraint is not valid")
	case constraint != "" && constraint != region:
		return nil, s3Error(http.StatusBadRequest, "IllegalLocationConstraintException",
			"The %s location constraint is incompatible for the region specific endpoint this request was sent to.", constraint)
	}
	owner := caller(ctx)
	err := a.store.Update(ctx, func(tx store.Tx) error {
		var existing bucketRecord
		if _, err := tx.Get(bucketKey(name), &existing); err == nil {
			if existing.Owner == owner {
				return s3Error(http.StatusConflict, "BucketAlreadyOwnedByYou",
					"Your previous request to create the named bucket succeeded and you already own it.")
			}
			return s3Error(http.StatusConflict, "BucketAlreadyExists",
				"The requested bucket name is not available. The bucket namespace is shared by all users of the system. Please select a different name and try again.")
		} else if !errors.Is(err, store.ErrNotFound) {
			return errInternal(err, "read bucket %s", name)
		}
		_, err := tx.Create(bucketKey(name), bucketRecord{Name: name, Owner: owner, Region: region, Created: now()})
		if err != nil {
			return errInternal(err, "create bucket %s", name)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return map[string]any{"Location": "/" + name}, nil
}

func (a *API) headBucket(ctx context.Context, in map[string]any) (any, error) {
	b, err := a.viewBucket(ctx, str(in, "Bucket"))
	if err != nil {
		return nil, err
	}
	return map[string]any{"BucketRegion": b.Region, "AccessPointAlias": false}, nil
}

func (a *API) listBuckets(ctx context.Context, in map[string]any) (any, error) {
	owner := caller(ctx)
	var buckets []any
	err := a.store.View(ctx, func(tx store.Tx) error {
		return tx.List(store.Query{Kind: kindBucket, Account: globalAccount}, func(o store.Object) error {
			var b bucketRecord
			if err := o.Decode(&b); err != nil {
				return err
			}
			if b.Owner == owner {
				buckets = append(buckets, map[string]any{"Name": b.Name, "CreationDate": b.Created, "BucketRegion": b.Region})
			}
			return nil
		})
	})
	if err != nil {
		return nil, errInternal(err, "list buckets")
	}
	sort.Slice(buckets, func(i, j int) bool {
		return buckets[i].(map[string]any)["Name"].(string) < buckets[j].(map[string]any)["Name"].(string)
	})
	return map[string]any{
		"Buckets": buckets,
		"Owner":   map[string]any{"ID": owner, "DisplayName": owner},
	}, nil
}

// deleteBucket refuses a bucket that holds objects; multipart uploads in
// progress are aborted with it.
func (a *API) deleteBucket(ctx context.Context, in map[string]any) (any, error) {
	name := str(in, "Bucket")
	var parts []string
	err := a.store.Update(ctx, func(tx store.Tx) error {
		if _, err := getBucket(ctx, tx, name); err != nil {
			return err
		}
		empty := true
		err := tx.List(store.Query{Kind: kindObject, Account: globalAccount, Prefix: name + "/", Limit: 1}, func(store.Object) error {
			empty = false
			return store.ErrStop
		})
		if err != nil {
			return errInternal(err, "list objects of %s", name)
		}
		if !empty {
			e := s3Error(http.StatusConflict, "BucketNotEmpty", "The bucket you tried to delete is not empty")
			e.Fields = map[string]string{"BucketName": name}
			return e
		}
		var uploads []string
		err = tx.List(store.Query{Kind: kindUpload, Account: globalAccount, Prefix: name + "/"}, func(o store.Object) error {
			uploads = append(uploads, o.Key.ID[len(name)+1:])
			return nil
		})
		if err != nil {
			return errInternal(err, "list uploads of %s", name)
		}
		for _, id := range uploads {
			files, err := deleteUpload(tx, name, id)
			if err != nil {
				return err
			}
			parts = append(parts, files...)
		}
		if err := tx.Delete(bucketKey(name), 0); err != nil {
			return errInternal(err, "delete bucket %s", name)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	a.blobs.remove(parts...)
	return map[string]any{}, nil
}

func (a *API) getBucketLocation(ctx context.Context, in map[string]any) (any, error) {
	b, err := a.viewBucket(ctx, str(in, "Bucket"))
	if err != nil {
		return nil, err
	}
	out := map[string]any{}
	if b.Region != "us-east-1" {
		// S3 answers an empty LocationConstraint for us-east-1.
		out["LocationConstraint"] = b.Region
	}
	return out, nil
}

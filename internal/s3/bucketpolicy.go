package s3

import (
	"context"
	"errors"
	"net/http"
	"strings"

	"github.com/nimbus-dev/nimbus/internal/policy"
	"github.com/nimbus-dev/nimbus/internal/service"
	"github.com/nimbus-dev/nimbus/internal/store"
)

// maxBucketPolicy is S3's limit on a bucket policy's size.
const maxBucketPolicy = 20 << 10

func (a *API) registerBucketPolicy(svc *service.Service) {
	svc.Handle("PutBucketPolicy", a.putBucketPolicy)
	svc.Handle("GetBucketPolicy", a.getBucketPolicy)
	svc.Handle("DeleteBucketPolicy", a.deleteBucketPolicy)
}

func errMalformedPolicy(msg string) error {
	return s3Error(http.StatusBadRequest, "MalformedPolicy", "%s", msg)
}

// putBucketPolicy stores a bucket policy once it parses as a resource
// policy whose resources are this bucket or its objects; IAM evaluates it
// beside the caller's own policies (ResourcePolicy).
func (a *API) putBucketPolicy(ctx context.Context, in map[string]any) (any, error) {
	name := str(in, "Bucket")
	doc := strings.TrimSpace(str(in, "Policy"))
	switch {
	case doc == "" || doc[0] != '{':
		return nil, errMalformedPolicy("Policies must be valid JSON and the first byte must be '{'")
	case len(doc) > maxBucketPolicy:
		return nil, errMalformedPolicy("Policy exceeds the maximum allowed document size.")
	}
	p, err := policy.Parse(doc, policy.Resource)
	if err != nil {
		return nil, errMalformedPolicy(err.Error())
	}
	bucketARN := "arn:aws:s3:::" + name
	for _, st := range p.Statements {
		for _, r := range st.Resource {
			if r != "*" && r != bucketARN && !strings.HasPrefix(r, bucketARN+"/") {
				return nil, errMalformedPolicy("Policy has invalid resource")
			}
		}
	}
	if err := a.updateBucket(ctx, name, func(b *bucketRecord) error { b.Policy = doc; return nil }); err != nil {
		return nil, err
	}
	return map[string]any{}, nil
}

func (a *API) getBucketPolicy(ctx context.Context, in map[string]any) (any, error) {
	name := str(in, "Bucket")
	b, err := a.viewBucket(ctx, name)
	if err != nil {
		return nil, err
	}
	if b.Policy == "" {
		e := s3Error(http.StatusNotFound, "NoSuchBucketPolicy", "The bucket policy does not exist")
		e.Fields = map[string]string{"BucketName": name}
		return nil, e
	}
	return map[string]any{"Policy": b.Policy}, nil
}

func (a *API) deleteBucketPolicy(ctx context.Context, in map[string]any) (any, error) {
	err := a.updateBucket(ctx, str(in, "Bucket"), func(b *bucketRecord) error { b.Policy = ""; return nil })
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return nil, err
	}
	return map[string]any{}, nil
}

// ResourcePolicy returns the policy of the bucket an S3 ARN names (the
// bucket's, or one of its objects'), "" when it has none: IAM evaluates it
// with the caller's identity policies. Buckets of other accounts have none
// here (nimbus serves S3 within an account).
func (a *API) ResourcePolicy(ctx context.Context, account, arn string) (string, error) {
	rest, ok := strings.CutPrefix(arn, "arn:aws:s3:::")
	if !ok || rest == "" {
		return "", nil
	}
	name, _, _ := strings.Cut(rest, "/")
	var b bucketRecord
	err := a.store.View(ctx, func(tx store.Tx) error {
		_, err := tx.Get(bucketKey(name), &b)
		return err
	})
	if errors.Is(err, store.ErrNotFound) || b.Owner != account {
		return "", nil
	}
	return b.Policy, err
}

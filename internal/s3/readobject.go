package s3

import (
	"context"
	"io"

	"github.com/nimbus-dev/nimbus/internal/identity"
)

// ReadObject opens an object for another nimbus service acting for
// account: Lambda reads a function's code package from S3Bucket/S3Key
// with it. Errors are S3's own (*awserr.Error with NoSuchBucket, NoSuchKey
// or AccessDenied when another account owns the bucket). The caller closes
// the reader.
func (a *API) ReadObject(ctx context.Context, account, bucket, key string) (io.ReadCloser, int64, error) {
	ctx = identity.With(ctx, &identity.Call{Principal: &identity.Principal{Type: identity.Root, Account: account}})
	rec, f, err := a.openObject(ctx, bucket, key)
	if err != nil {
		return nil, 0, err
	}
	return f, rec.Size, nil
}

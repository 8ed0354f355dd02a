package s3

import (
	"errors"
	"io"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/nimbus-dev/nimbus/internal/awserr"
)

func TestReadObjectForLambda(t *testing.T) {
	f := newFixture(t)
	c := f.client("test")
	createBucket(t, c, "code")
	if _, err := c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("code"), Key: aws.String("fn.zip"), Body: strings.NewReader("PK zip bytes")}); err != nil {
		t.Fatal(err)
	}
	rc, size, err := f.api.ReadObject(ctx, account, "code", "fn.zip")
	if err != nil {
		t.Fatalf("ReadObject: %v", err)
	}
	got, _ := io.ReadAll(rc)
	rc.Close()
	if string(got) != "PK zip bytes" || size != int64(len(got)) {
		t.Errorf("ReadObject: %q size %d", got, size)
	}
	for _, tc := range []struct{ account, bucket, key, code string }{
		{account, "code", "missing.zip", "NoSuchKey"},
		{account, "nobucket", "fn.zip", "NoSuchBucket"},
		{otherAccount, "code", "fn.zip", "AccessDenied"},
	} {
		_, _, err := f.api.ReadObject(ctx, tc.account, tc.bucket, tc.key)
		var ae *awserr.Error
		if !errors.As(err, &ae) || ae.Code != tc.code {
			t.Errorf("ReadObject(%s, %s/%s): %v, want %s", tc.account, tc.bucket, tc.key, err, tc.code)
		}
	}
}

package s3

import (
	"context"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
)

func TestBucketPolicy(t *testing.T) {
	f := newFixture(t)
	c := f.client("test")
	createBucket(t, c, "shared")
	_, err := c.GetBucketPolicy(ctx, &s3.GetBucketPolicyInput{Bucket: aws.String("shared")})
	wantCode(t, err, "NoSuchBucketPolicy")
	_, err = c.PutBucketPolicy(ctx, &s3.PutBucketPolicyInput{Bucket: aws.String("shared"), Policy: aws.String("not json")})
	wantCode(t, err, "MalformedPolicy")
	other := `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::elsewhere/*"}]}`
	_, err = c.PutBucketPolicy(ctx, &s3.PutBucketPolicyInput{Bucket: aws.String("shared"), Policy: aws.String(other)})
	wantCode(t, err, "MalformedPolicy")
	doc := `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::000000000000:user/reader"},"Action":"s3:GetObject","Resource":"arn:aws:s3:::shared/*"}]}`
	if _, err := c.PutBucketPolicy(ctx, &s3.PutBucketPolicyInput{Bucket: aws.String("shared"), Policy: aws.String(doc)}); err != nil {
		t.Fatal(err)
	}
	out, err := c.GetBucketPolicy(ctx, &s3.GetBucketPolicyInput{Bucket: aws.String("shared")})
	if err != nil || aws.ToString(out.Policy) != doc {
		t.Fatalf("GetBucketPolicy = %v, %v", out, err)
	}
	got, err := f.api.ResourcePolicy(context.Background(), "000000000000", "arn:aws:s3:::shared/some/key")
	if err != nil || got != doc {
		t.Errorf("ResourcePolicy for an object = %q, %v", got, err)
	}
	if got, _ := f.api.ResourcePolicy(context.Background(), "111111111111", "arn:aws:s3:::shared"); got != "" {
		t.Errorf("another account's view of the bucket policy: %q", got)
	}
	if _, err := c.DeleteBucketPolicy(ctx, &s3.DeleteBucketPolicyInput{Bucket: aws.String("shared")}); err != nil {
		t.Fatal(err)
	}
	_, err = c.GetBucketPolicy(ctx, &s3.GetBucketPolicyInput{Bucket: aws.String("shared")})
	wantCode(t, err, "NoSuchBucketPolicy")
}

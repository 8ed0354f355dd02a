package s3

import (
	"net/http"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
)

func createBucket(t *testing.T, c *s3.Client, name string) {
	t.Helper()
	if _, err := c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(name)}); err != nil {
		t.Fatalf("CreateBucket %s: %v", name, err)
	}
}

func TestBucketLifecycle(t *testing.T) {
	f := newFixture(t)
	c := f.client("test")
	createBucket(t, c, "alpha")
	createBucket(t, c, "beta.example")

	_, err := c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("alpha")})
	wantCode(t, err, "BucketAlreadyOwnedByYou")
	if httpStatus(err) != http.StatusConflict {
		t.Errorf("BucketAlreadyOwnedByYou status %d", httpStatus(err))
	}
	_, err = f.client("other").CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("alpha")})
	wantCode(t, err, "BucketAlreadyExists")

	if _, err := c.HeadBucket(ctx, &s3.HeadBucketInput{Bucket: aws.String("alpha")}); err != nil {
		t.Fatalf("HeadBucket: %v", err)
	}
	_, err = c.HeadBucket(ctx, &s3.HeadBucketInput{Bucket: aws.String("missing")})
	if httpStatus(err) != http.StatusNotFound {
		t.Fatalf("HeadBucket of a missing bucket: %v", err)
	}
	_, err = f.client("other").HeadBucket(ctx, &s3.HeadBucketInput{Bucket: aws.String("alpha")})
	if httpStatus(err) != http.StatusForbidden {
		t.Fatalf("HeadBucket of another account's bucket: %v", err)
	}

	out, err := c.ListBuckets(ctx, &s3.ListBucketsInput{})
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, b := range out.Buckets {
		names = append(names, aws.ToString(b.Name))
		if b.CreationDate == nil || b.CreationDate.IsZero() {
			t.Errorf("bucket %s has no creation date", aws.ToString(b.Name))
		}
	}
	if strings.Join(names, ",") != "alpha,beta.example" || aws.ToString(out.Owner.ID) != account {
		t.Errorf("ListBuckets: %v owner %v", names, aws.ToString(out.Owner.ID))
	}
	other, err := f.client("other").ListBuckets(ctx, &s3.ListBucketsInput{})
	if err != nil || len(other.Buckets) != 0 {
		t.Errorf("another account sees buckets: %+v %v", other, err)
	}

	if _, err := c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("alpha"), Key: aws.String("k"), Body: strings.NewReader("x")}); err != nil {
		t.Fatal(err)
	}
	_, err = c.DeleteBucket(ctx, &s3.DeleteBucketInput{Bucket: aws.String("alpha")})
	wantCode(t, err, "BucketNotEmpty")
	if _, err := c.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String("alpha"), Key: aws.String("k")}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.DeleteBucket(ctx, &s3.DeleteBucketInput{Bucket: aws.String("alpha")}); err != nil {
		t.Fatalf("DeleteBucket: %v", err)
	}
	_, err = c.DeleteBucket(ctx, &s3.DeleteBucketInput{Bucket: aws.String("alpha")})
	wantCode(t, err, "NoSuchBucket")
	_, err = c.GetBucketLocation(ctx, &s3.GetBucketLocationInput{Bucket: aws.String("alpha")})
	wantCode(t, err, "NoSuchBucket")
}

func TestCreateBucketNamesAndRegions(t *testing.T) {
	f := newFixture(t)
	c := f.client("test")
	for _, bad := range []string{"ab", "Upper", "has_underscore", "-leading", "trailing-", "two..dots", "192.168.1.1", "xn--punycode", "x-s3alias"} {
		_, err := c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(bad)})
		if code := errorCode(err); code != "InvalidBucketName" {
			t.Errorf("CreateBucket %q: %v (code %q), want InvalidBucketName", bad, err, code)
		}
	}

	west := f.client("test", func(o *s3.Options) { o.Region = "eu-west-1" })
	_, err := west.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("west")})
	wantCode(t, err, "IllegalLocationConstraintException")
	_, err = west.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("west"),
		CreateBucketConfiguration: &types.CreateBucketConfiguration{LocationConstraint: "eu-west-1"}})
	if err != nil {
		t.Fatalf("CreateBucket in eu-west-1: %v", err)
	}
	loc, err := west.GetBucketLocation(ctx, &s3.GetBucketLocationInput{Bucket: aws.String("west")})
	if err != nil || loc.LocationConstraint != "eu-west-1" {
		t.Fatalf("GetBucketLocation: %+v %v", loc, err)
	}
	createBucket(t, c, "east")
	loc, err = c.GetBucketLocation(ctx, &s3.GetBucketLocationInput{Bucket: aws.String("east")})
	if err != nil || loc.LocationConstraint != "" {
		t.Fatalf("GetBucketLocation of us-east-1: %+v %v", loc, err)
	}
	head, err := c.HeadBucket(ctx, &s3.HeadBucketInput{Bucket: aws.String("west")})
	if err != nil || aws.ToString(head.BucketRegion) != "eu-west-1" {
		t.Fatalf("HeadBucket region: %+v %v", head, err)
	}
}

func TestValidBucketName(t *testing.T) {
	for name, want := range map[string]bool{
		"abc": true, "my-bucket.v2": true, "a23456789012345678901234567890123456789012345678901234567890123": true,
		"a234567890123456789012345678901234567890123456789012345678901234": false,
		"ab": false, "ABC": false, "a..b": false, "-ab": false, "ab-": false, "10.0.0.1": false,
		"sthree-x": false, "my--ol-s3": false, "a_b": false, "1.2.3": true,
	} {
		if got := validBucketName(name); got != want {
			t.Errorf("validBucketName(%q) = %v, want %v", name, got, want)
		}
	}
}

func TestBucketTagging(t *testing.T) {
	f := newFixture(t)
	c := f.client("test")
	createBucket(t, c, "tagged")
	_, err := c.GetBucketTagging(ctx, &s3.GetBucketTaggingInput{Bucket: aws.String("tagged")})
	wantCode(t, err, "NoSuchTagSet")
	_, err = c.PutBucketTagging(ctx, &s3.PutBucketTaggingInput{Bucket: aws.String("tagged"), Tagging: &types.Tagging{
		TagSet: []types.Tag{{Key: aws.String("team"), Value: aws.String("compute")}, {Key: aws.String("env"), Value: aws.String("test")}}}})
	if err != nil {
		t.Fatal(err)
	}
	out, err := c.GetBucketTagging(ctx, &s3.GetBucketTaggingInput{Bucket: aws.String("tagged")})
	if err != nil || len(out.TagSet) != 2 || aws.ToString(out.TagSet[0].Key) != "team" || aws.ToString(out.TagSet[1].Value) != "test" {
		t.Fatalf("GetBucketTagging: %+v %v", out, err)
	}
	_, err = c.PutBucketTagging(ctx, &s3.PutBucketTaggingInput{Bucket: aws.String("tagged"), Tagging: &types.Tagging{
		TagSet: []types.Tag{{Key: aws.String("a"), Value: aws.String("1")}, {Key: aws.String("a"), Value: aws.String("2")}}}})
	wantCode(t, err, "InvalidTag")
	if _, err := c.DeleteBucketTagging(ctx, &s3.DeleteBucketTaggingInput{Bucket: aws.String("tagged")}); err != nil {
		t.Fatal(err)
	}
	_, err = c.GetBucketTagging(ctx, &s3.GetBucketTaggingInput{Bucket: aws.String("tagged")})
	wantCode(t, err, "NoSuchTagSet")
}

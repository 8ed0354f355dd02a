package rest

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/nimbus-dev/nimbus/internal/awserr"
	"github.com/nimbus-dev/nimbus/internal/awsmodel"
)

func TestResolve(t *testing.T) {
	cases := []struct {
		service, method, target, host string
		header                        map[string]string
		want                          string
	}{
		// S3, path style.
		{"s3", "GET", "/", "s3.localhost:4566", nil, "ListBuckets"},
		{"s3", "GET", "/", "127.0.0.1:4566", nil, "ListBuckets"},
		{"s3", "GET", "/b", "localhost:4566", nil, "ListObjects"},
		{"s3", "GET", "/b/", "localhost:4566", nil, "ListObjects"},
		{"s3", "GET", "/b?list-type=2", "localhost", nil, "ListObjectsV2"},
		{"s3", "GET", "/b?list-type=2&prefix=a%2F&delimiter=%2F", "localhost", nil, "ListObjectsV2"},
		{"s3", "GET", "/b?location", "localhost", nil, "GetBucketLocation"},
		{"s3", "GET", "/b?location=", "localhost", nil, "GetBucketLocation"},
		{"s3", "GET", "/b?tagging", "localhost", nil, "GetBucketTagging"},
		{"s3", "GET", "/b?uploads", "localhost", nil, "ListMultipartUploads"},
		{"s3", "GET", "/b?versions", "localhost", nil, "ListObjectVersions"},
		{"s3", "GET", "/b?lifecycle", "localhost", nil, "GetBucketLifecycleConfiguration"},
		{"s3", "PUT", "/b?notification", "localhost", nil, "PutBucketNotificationConfiguration"},
		{"s3", "GET", "/b?analytics", "localhost", nil, "ListBucketAnalyticsConfigurations"},
		{"s3", "GET", "/b?analytics&id=x", "localhost", nil, "GetBucketAnalyticsConfiguration"},
		{"s3", "POST", "/b?delete", "localhost", nil, "DeleteObjects"},
		{"s3", "PUT", "/b", "localhost", nil, "CreateBucket"},
		{"s3", "DELETE", "/b", "localhost", nil, "DeleteBucket"},
		{"s3", "HEAD", "/b", "localhost", nil, "HeadBucket"},
		{"s3", "PUT", "/b/k", "localhost", nil, "PutObject"},
		{"s3", "PUT", "/b/k?x-id=PutObject", "localhost", nil, "PutObject"},
		{"s3", "PUT", "/b/k", "localhost", map[string]string{"X-Amz-Copy-Source": "/src/k"}, "CopyObject"},
		{"s3", "PUT", "/b/k?partNumber=1&uploadId=u", "localhost", nil, "UploadPart"},
		{"s3", "PUT", "/b/k?partNumber=1&uploadId=u", "localhost", map[string]string{"X-Amz-Copy-Source": "/src/k"}, "UploadPartCopy"},
		{"s3", "PUT", "/b/k?tagging", "localhost", nil, "PutObjectTagging"},
		{"s3", "GET", "/b/k", "localhost", nil, "GetObject"},
		{"s3", "GET", "/b/dir/sub/k.txt", "localhost", nil, "GetObject"},
		{"s3", "GET", "/b/k?uploadId=u", "localhost", nil, "ListParts"},
		{"s3", "GET", "/b/k?x-id=GetObject", "localhost", nil, "GetObject"},
		{"s3", "GET", "/b/k?acl", "localhost", nil, "GetObjectAcl"},
		{"s3", "HEAD", "/b/k", "localhost", nil, "HeadObject"},
		{"s3", "DELETE", "/b/k", "localhost", nil, "DeleteObject"},
		{"s3", "DELETE", "/b/k?uploadId=u", "localhost", nil, "AbortMultipartUpload"},
		{"s3", "POST", "/b/k?uploads", "localhost", nil, "CreateMultipartUpload"},
		{"s3", "POST", "/b/k?uploadId=u", "localhost", nil, "CompleteMultipartUpload"},
		{"s3", "POST", "/b/k?restore", "localhost", nil, "RestoreObject"},
		// S3, virtual-hosted style.
		{"s3", "GET", "/", "b.s3.localhost:4566", nil, "ListObjects"},
		{"s3", "GET", "/?list-type=2", "b.s3.us-east-1.localhost", nil, "ListObjectsV2"},
		{"s3", "GET", "/?location", "b.localhost:4566", nil, "GetBucketLocation"},
		{"s3", "GET", "/k", "my.bucket.s3.amazonaws.com", nil, "GetObject"},
		{"s3", "PUT", "/k", "b.s3.localhost", map[string]string{"X-Amz-Copy-Source": "src/k"}, "CopyObject"},
		{"s3", "HEAD", "/dir/k", "b.s3.localhost", nil, "HeadObject"},
		{"s3", "HEAD", "/", "b.s3.localhost", nil, "HeadBucket"},
		{"s3", "POST", "/?delete", "b.s3.localhost", nil, "DeleteObjects"},
		// Lambda.
		{"lambda", "POST", "/2015-03-31/functions", "localhost", nil, "CreateFunction"},
		{"lambda", "GET", "/2015-03-31/functions/", "localhost", nil, "ListFunctions"},
		{"lambda", "GET", "/2015-03-31/functions/?MaxItems=5", "localhost", nil, "ListFunctions"},
		{"lambda", "GET", "/2015-03-31/functions/f", "localhost", nil, "GetFunction"},
		{"lambda", "GET", "/2015-03-31/functions/arn%3Aaws%3Alambda%3Aus-east-1%3A000000000000%3Afunction%3Af/configuration", "localhost", nil, "GetFunctionConfiguration"},
		{"lambda", "POST", "/2015-03-31/functions/f/invocations", "localhost", nil, "Invoke"},
		{"lambda", "DELETE", "/2015-03-31/functions/f", "localhost", nil, "DeleteFunction"},
		{"lambda", "GET", "/2018-10-31/layers", "localhost", nil, "ListLayers"},
		{"lambda", "GET", "/2018-10-31/layers?find=LayerVersion&Arn=x", "localhost", nil, "GetLayerVersionByArn"},
		{"lambda", "GET", "/2019-09-30/functions/f/provisioned-concurrency?List=ALL", "localhost", nil, "ListProvisionedConcurrencyConfigs"},
		{"lambda", "GET", "/2019-09-30/functions/f/provisioned-concurrency?Qualifier=1", "localhost", nil, "GetProvisionedConcurrencyConfig"},
		// Batch.
		{"batch", "POST", "/v1/submitjob", "localhost", nil, "SubmitJob"},
		{"batch", "POST", "/v1/describejobs", "localhost", nil, "DescribeJobs"},
		{"batch", "GET", "/v1/tags/arn%3Aaws%3Abatch%3Aus-east-1%3A000000000000%3Ajob%2F1", "localhost", nil, "ListTagsForResource"},
	}
	for _, tc := range cases {
		t.Run(tc.service+" "+tc.method+" "+tc.host+tc.target, func(t *testing.T) {
			c := New(awsmodel.MustLoad(tc.service))
			r := httptest.NewRequest(tc.method, tc.target, nil)
			r.Host = tc.host
			for k, v := range tc.header {
				r.Header.Set(k, v)
			}
			op, err := c.Resolve(r, nil)
			if err != nil {
				t.Fatalf("Resolve: %v", err)
			}
			if op.Name != tc.want {
				t.Errorf("resolved %s, want %s", op.Name, tc.want)
			}
		})
	}
}

func TestResolveUnknown(t *testing.T) {
	cases := []struct {
		service, method, target, host string
		code                          string
		status                        int
	}{
		{"lambda", "GET", "/2015-03-31/nothing", "localhost", "UnknownOperationException", 404},
		{"lambda", "PATCH", "/2015-03-31/functions/f", "localhost", "UnknownOperationException", 404},
		{"lambda", "POST", "/2015-03-31/functions/f/invocations/extra", "localhost", "UnknownOperationException", 404},
		{"batch", "GET", "/v1/submitjob", "localhost", "UnknownOperationException", 404},
		{"s3", "PATCH", "/b/k", "localhost", "MethodNotAllowed", 405},
		{"s3", "OPTIONS", "/", "b.s3.localhost", "MethodNotAllowed", 405},
		{"s3", "POST", "/b", "localhost", "NotImplemented", 501},
		{"s3", "POST", "/", "localhost", "NotImplemented", 501},
	}
	for _, tc := range cases {
		t.Run(tc.service+" "+tc.method+" "+tc.target, func(t *testing.T) {
			c := New(awsmodel.MustLoad(tc.service))
			r := httptest.NewRequest(tc.method, tc.target, nil)
			r.Host = tc.host
			op, err := c.Resolve(r, nil)
			var e *awserr.Error
			if !errors.As(err, &e) {
				t.Fatalf("Resolve = %v, %v; want an *awserr.Error", op, err)
			}
			if e.Kind != awserr.UnknownOperation {
				t.Errorf("kind %v, want UnknownOperation", e.Kind)
			}
			resolved := awserr.Resolve(c.Family(), e)
			if resolved.Code != tc.code || resolved.Status != tc.status {
				t.Errorf("code %s status %d, want %s %d", resolved.Code, resolved.Status, tc.code, tc.status)
			}
		})
	}
}

func TestBucketFromHost(t *testing.T) {
	cases := []struct {
		host, bucket string
		ok           bool
	}{
		{"bucket.s3.localhost:4566", "bucket", true},
		{"bucket.s3.us-east-1.localhost", "bucket", true},
		{"bucket.localhost", "bucket", true},
		{"bucket.localhost:4566", "bucket", true},
		{"bucket.s3.amazonaws.com", "bucket", true},
		{"my.dotted.bucket.s3.us-west-2.amazonaws.com", "my.dotted.bucket", true},
		{"bucket.s3-us-west-2.amazonaws.com", "bucket", true},
		{"Bucket.S3.LocalHost", "bucket", true},
		{"s3-logs.localhost", "s3-logs", true},
		{"s3-logs.s3.localhost", "s3-logs", true},
		{"s3.localhost:4566", "", false},
		{"s3.us-east-1.localhost", "", false},
		{"s3.amazonaws.com", "", false},
		{"localhost:4566", "", false},
		{"localhost", "", false},
		{"127.0.0.1:4566", "", false},
		{"[::1]:4566", "", false},
		{"::1", "", false},
		{"", "", false},
		{"example.com", "", false},
	}
	for _, tc := range cases {
		got, ok := BucketFromHost(tc.host)
		if got != tc.bucket || ok != tc.ok {
			t.Errorf("BucketFromHost(%q) = %q, %v; want %q, %v", tc.host, got, ok, tc.bucket, tc.ok)
		}
	}
}

func TestResolveIgnoresBody(t *testing.T) {
	c := New(awsmodel.MustLoad("lambda"))
	r := httptest.NewRequest(http.MethodPost, "/2015-03-31/functions/f/invocations", nil)
	op, err := c.Resolve(r, []byte(`{"Action":"DeleteFunction"}`))
	if err != nil || op.Name != "Invoke" {
		t.Fatalf("Resolve = %v, %v", op, err)
	}
}

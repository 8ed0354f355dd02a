package s3

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
)

// The benchmarks move objects over loopback HTTP through the whole edge
// (routing, SigV4 presigned-URL verification, the rest-xml codec) with a
// plain HTTP client, so the figures are the server's, not the SDK's.

var benchSizes = []int{1 << 20, 64 << 20}

func presignedURL(b *testing.B, f *fixture, method, key string) string {
	ps := s3.NewPresignClient(f.client("test"))
	var url string
	switch method {
	case http.MethodPut:
		req, err := ps.PresignPutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("bench"), Key: aws.String(key)}, s3.WithPresignExpires(time.Hour))
		if err != nil {
			b.Fatal(err)
		}
		url = req.URL
	default:
		req, err := ps.PresignGetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("bench"), Key: aws.String(key)}, s3.WithPresignExpires(time.Hour))
		if err != nil {
			b.Fatal(err)
		}
		url = req.URL
	}
	return url
}

func benchPut(b *testing.B, url string, data []byte) {
	req, err := http.NewRequest(http.MethodPut, url, bytes.NewReader(data))
	if err != nil {
		b.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		b.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b.Fatalf("PUT: %s", resp.Status)
	}
}

func BenchmarkPutObject(b *testing.B) {
	for _, size := range benchSizes {
		b.Run(fmt.Sprintf("%dMiB", size>>20), func(b *testing.B) {
			f := newFixture(b)
			if _, err := f.client("test").CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("bench")}); err != nil {
				b.Fatal(err)
			}
			data := randomBytes(size)
			url := presignedURL(b, f, http.MethodPut, "object")
			b.SetBytes(int64(size))
			b.ResetTimer()
			for b.Loop() {
				benchPut(b, url, data)
			}
		})
	}
}

func BenchmarkGetObject(b *testing.B) {
	for _, size := range benchSizes {
		b.Run(fmt.Sprintf("%dMiB", size>>20), func(b *testing.B) {
			f := newFixture(b)
			if _, err := f.client("test").CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("bench")}); err != nil {
				b.Fatal(err)
			}
			benchPut(b, presignedURL(b, f, http.MethodPut, "object"), randomBytes(size))
			url := presignedURL(b, f, http.MethodGet, "object")
			b.SetBytes(int64(size))
			b.ResetTimer()
			for b.Loop() {
				resp, err := http.Get(url)
				if err != nil {
					b.Fatal(err)
				}
				n, err := io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if err != nil || n != int64(size) || resp.StatusCode != http.StatusOK {
					b.Fatalf("GET: %s, %d bytes, %v", resp.Status, n, err)
				}
			}
		})
	}
}

// BenchmarkPutObjectConcurrent is PutObject with eight uploads in flight,
// as `aws s3 cp --recursive` and sync run them (the CLI's default is ten):
// each upload's fsyncs overlap the others' transfers.
func BenchmarkPutObjectConcurrent(b *testing.B) {
	const inFlight = 8
	for _, size := range benchSizes[:1] {
		b.Run(fmt.Sprintf("%dMiB", size>>20), func(b *testing.B) {
			f := newFixture(b)
			if _, err := f.client("test").CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("bench")}); err != nil {
				b.Fatal(err)
			}
			data := randomBytes(size)
			urls := make(chan string, inFlight)
			for i := range inFlight {
				urls <- presignedURL(b, f, http.MethodPut, fmt.Sprintf("object-%d", i))
			}
			b.SetBytes(int64(size))
			b.SetParallelism((inFlight + 1) / 2) // GOMAXPROCS is 2 here
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				url := <-urls
				for pb.Next() {
					benchPut(b, url, data)
				}
			})
		})
	}
}

package s3

import (
	"bytes"
	"crypto/md5"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
)

// uploadParts runs CreateMultipartUpload and an UploadPart per chunk.
func uploadParts(t *testing.T, c *s3.Client, bucket, key string, chunks [][]byte) (string, []types.CompletedPart) {
	t.Helper()
	up, err := c.CreateMultipartUpload(ctx, &s3.CreateMultipartUploadInput{Bucket: aws.String(bucket), Key: aws.String(key),
		ContentType: aws.String("application/x-parts"), Metadata: map[string]string{"m": "1"}})
	if err != nil {
		t.Fatalf("CreateMultipartUpload: %v", err)
	}
	var parts []types.CompletedPart
	for i, chunk := range chunks {
		out, err := c.UploadPart(ctx, &s3.UploadPartInput{Bucket: aws.String(bucket), Key: aws.String(key), UploadId: up.UploadId,
			PartNumber: aws.Int32(int32(i + 1)), Body: bytes.NewReader(chunk)})
		if err != nil {
			t.Fatalf("UploadPart %d: %v", i+1, err)
		}
		if aws.ToString(out.ETag) != md5ETag(chunk) {
			t.Errorf("part %d ETag %s", i+1, aws.ToString(out.ETag))
		}
		parts = append(parts, types.CompletedPart{ETag: out.ETag, PartNumber: aws.Int32(int32(i + 1))})
	}
	return aws.ToString(up.UploadId), parts
}

func wantMultipartETag(chunks [][]byte) string {
	var sums []byte
	for _, c := range chunks {
		s := md5.Sum(c)
		sums = append(sums, s[:]...)
	}
	s := md5.Sum(sums)
	return fmt.Sprintf(`"%s-%d"`, hex.EncodeToString(s[:]), len(chunks))
}

func TestMultipartUpload(t *testing.T) {
	f := newFixture(t)
	c := f.client("test")
	createBucket(t, c, "mpu")
	data := randomBytes(11<<20 + 12345)
	chunks := [][]byte{data[:5<<20], data[5<<20 : 10<<20], data[10<<20:]}
	uploadID, parts := uploadParts(t, c, "mpu", "big/object.bin", chunks)

	listed, err := c.ListParts(ctx, &s3.ListPartsInput{Bucket: aws.String("mpu"), Key: aws.String("big/object.bin"), UploadId: &uploadID, MaxParts: aws.Int32(2)})
	if err != nil || len(listed.Parts) != 2 || !aws.ToBool(listed.IsTruncated) || aws.ToString(listed.NextPartNumberMarker) != "2" ||
		aws.ToInt64(listed.Parts[1].Size) != 5<<20 {
		t.Fatalf("ListParts: %+v %v", listed, err)
	}
	rest, err := c.ListParts(ctx, &s3.ListPartsInput{Bucket: aws.String("mpu"), Key: aws.String("big/object.bin"), UploadId: &uploadID,
		PartNumberMarker: listed.NextPartNumberMarker})
	if err != nil || len(rest.Parts) != 1 || aws.ToInt32(rest.Parts[0].PartNumber) != 3 || aws.ToBool(rest.IsTruncated) {
		t.Fatalf("ListParts after marker: %+v %v", rest, err)
	}
	uploads, err := c.ListMultipartUploads(ctx, &s3.ListMultipartUploadsInput{Bucket: aws.String("mpu")})
	if err != nil || len(uploads.Uploads) != 1 || aws.ToString(uploads.Uploads[0].UploadId) != uploadID ||
		aws.ToString(uploads.Uploads[0].Key) != "big/object.bin" {
		t.Fatalf("ListMultipartUploads: %+v %v", uploads, err)
	}

	// Part order and ETags are checked before anything is assembled.
	_, err = c.CompleteMultipartUpload(ctx, &s3.CompleteMultipartUploadInput{Bucket: aws.String("mpu"), Key: aws.String("big/object.bin"),
		UploadId: &uploadID, MultipartUpload: &types.CompletedMultipartUpload{Parts: []types.CompletedPart{parts[1], parts[0]}}})
	wantCode(t, err, "InvalidPartOrder")
	bad := parts[0]
	bad.ETag = aws.String(`"00000000000000000000000000000000"`)
	_, err = c.CompleteMultipartUpload(ctx, &s3.CompleteMultipartUploadInput{Bucket: aws.String("mpu"), Key: aws.String("big/object.bin"),
		UploadId: &uploadID, MultipartUpload: &types.CompletedMultipartUpload{Parts: []types.CompletedPart{bad}}})
	wantCode(t, err, "InvalidPart")

	done, err := c.CompleteMultipartUpload(ctx, &s3.CompleteMultipartUploadInput{Bucket: aws.String("mpu"), Key: aws.String("big/object.bin"),
		UploadId: &uploadID, MultipartUpload: &types.CompletedMultipartUpload{Parts: parts}})
	if err != nil {
		t.Fatalf("CompleteMultipartUpload: %v", err)
	}
	if aws.ToString(done.ETag) != wantMultipartETag(chunks) {
		t.Errorf("multipart ETag %s, want %s", aws.ToString(done.ETag), wantMultipartETag(chunks))
	}
	got, out := getBody(t, c, &s3.GetObjectInput{Bucket: aws.String("mpu"), Key: aws.String("big/object.bin")})
	if !bytes.Equal(got, data) || aws.ToString(out.ContentType) != "application/x-parts" || out.Metadata["m"] != "1" ||
		aws.ToString(out.ETag) != wantMultipartETag(chunks) {
		t.Fatalf("assembled object: %d bytes, headers %+v", len(got), out)
	}
	part, _ := getBody(t, c, &s3.GetObjectInput{Bucket: aws.String("mpu"), Key: aws.String("big/object.bin"), Range: aws.String("bytes=5242870-5242889")})
	if !bytes.Equal(part, data[5242870:5242890]) {
		t.Error("range across a part boundary differs")
	}
	_, err = c.ListParts(ctx, &s3.ListPartsInput{Bucket: aws.String("mpu"), Key: aws.String("big/object.bin"), UploadId: &uploadID})
	wantCode(t, err, "NoSuchUpload")
	if n := countBlobs(t, f); n != 1 {
		t.Errorf("%d blobs after completing, want the object's 1", n)
	}
}

func TestMultipartErrors(t *testing.T) {
	f := newFixture(t)
	c := f.client("test")
	createBucket(t, c, "mpu-errors")
	small := [][]byte{[]byte("too small"), []byte("last")}
	uploadID, parts := uploadParts(t, c, "mpu-errors", "k", small)
	_, err := c.CompleteMultipartUpload(ctx, &s3.CompleteMultipartUploadInput{Bucket: aws.String("mpu-errors"), Key: aws.String("k"),
		UploadId: &uploadID, MultipartUpload: &types.CompletedMultipartUpload{Parts: parts}})
	wantCode(t, err, "EntityTooSmall")
	// One small part is fine: it is the last.
	one, err := c.CompleteMultipartUpload(ctx, &s3.CompleteMultipartUploadInput{Bucket: aws.String("mpu-errors"), Key: aws.String("k"),
		UploadId: &uploadID, MultipartUpload: &types.CompletedMultipartUpload{Parts: parts[1:]}})
	if err != nil || aws.ToString(one.ETag) != wantMultipartETag(small[1:]) {
		t.Fatalf("complete with one part: %+v %v", one, err)
	}

	_, err = c.UploadPart(ctx, &s3.UploadPartInput{Bucket: aws.String("mpu-errors"), Key: aws.String("k"), UploadId: aws.String("nope"),
		PartNumber: aws.Int32(1), Body: strings.NewReader("x")})
	wantCode(t, err, "NoSuchUpload")
	up, err := c.CreateMultipartUpload(ctx, &s3.CreateMultipartUploadInput{Bucket: aws.String("mpu-errors"), Key: aws.String("aborted")})
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.UploadPart(ctx, &s3.UploadPartInput{Bucket: aws.String("mpu-errors"), Key: aws.String("aborted"), UploadId: up.UploadId,
		PartNumber: aws.Int32(10001), Body: strings.NewReader("x")})
	wantCode(t, err, "InvalidArgument")
	if _, err := c.UploadPart(ctx, &s3.UploadPartInput{Bucket: aws.String("mpu-errors"), Key: aws.String("aborted"), UploadId: up.UploadId,
		PartNumber: aws.Int32(1), Body: strings.NewReader("x")}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.AbortMultipartUpload(ctx, &s3.AbortMultipartUploadInput{Bucket: aws.String("mpu-errors"), Key: aws.String("aborted"), UploadId: up.UploadId}); err != nil {
		t.Fatalf("AbortMultipartUpload: %v", err)
	}
	_, err = c.AbortMultipartUpload(ctx, &s3.AbortMultipartUploadInput{Bucket: aws.String("mpu-errors"), Key: aws.String("aborted"), UploadId: up.UploadId})
	wantCode(t, err, "NoSuchUpload")
	_, err = c.CreateMultipartUpload(ctx, &s3.CreateMultipartUploadInput{Bucket: aws.String("no-bucket"), Key: aws.String("k")})
	wantCode(t, err, "NoSuchBucket")
	if n := countBlobs(t, f); n != 1 {
		t.Errorf("%d blobs after abort, want 1", n)
	}
}

func TestUploadPartCopy(t *testing.T) {
	f := newFixture(t)
	c := f.client("test")
	createBucket(t, c, "partcopy")
	src := randomBytes(6 << 20)
	if _, err := c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("partcopy"), Key: aws.String("src"), Body: bytes.NewReader(src)}); err != nil {
		t.Fatal(err)
	}
	up, err := c.CreateMultipartUpload(ctx, &s3.CreateMultipartUploadInput{Bucket: aws.String("partcopy"), Key: aws.String("dst")})
	if err != nil {
		t.Fatal(err)
	}
	p1, err := c.UploadPartCopy(ctx, &s3.UploadPartCopyInput{Bucket: aws.String("partcopy"), Key: aws.String("dst"), UploadId: up.UploadId,
		PartNumber: aws.Int32(1), CopySource: aws.String("partcopy/src")})
	if err != nil {
		t.Fatalf("UploadPartCopy: %v", err)
	}
	p2, err := c.UploadPartCopy(ctx, &s3.UploadPartCopyInput{Bucket: aws.String("partcopy"), Key: aws.String("dst"), UploadId: up.UploadId,
		PartNumber: aws.Int32(2), CopySource: aws.String("partcopy/src"), CopySourceRange: aws.String("bytes=0-99")})
	if err != nil {
		t.Fatalf("UploadPartCopy with a range: %v", err)
	}
	_, err = c.UploadPartCopy(ctx, &s3.UploadPartCopyInput{Bucket: aws.String("partcopy"), Key: aws.String("dst"), UploadId: up.UploadId,
		PartNumber: aws.Int32(3), CopySource: aws.String("partcopy/src"), CopySourceRange: aws.String("bytes=0-99999999")})
	wantCode(t, err, "InvalidArgument")
	_, err = c.CompleteMultipartUpload(ctx, &s3.CompleteMultipartUploadInput{Bucket: aws.String("partcopy"), Key: aws.String("dst"), UploadId: up.UploadId,
		MultipartUpload: &types.CompletedMultipartUpload{Parts: []types.CompletedPart{
			{ETag: p1.CopyPartResult.ETag, PartNumber: aws.Int32(1)}, {ETag: p2.CopyPartResult.ETag, PartNumber: aws.Int32(2)}}}})
	if err != nil {
		t.Fatal(err)
	}
	got, _ := getBody(t, c, &s3.GetObjectInput{Bucket: aws.String("partcopy"), Key: aws.String("dst")})
	if !bytes.Equal(got, append(bytes.Clone(src), src[:100]...)) {
		t.Errorf("copied parts assembled %d bytes wrong", len(got))
	}
}

func TestPresignedURLs(t *testing.T) {
	f := newFixture(t)
	c := f.client("test")
	createBucket(t, c, "presign")
	ps := s3.NewPresignClient(c)
	put, err := ps.PresignPutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("presign"), Key: aws.String("up load.txt")},
		s3.WithPresignExpires(5*time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	req, _ := http.NewRequest(http.MethodPut, put.URL, strings.NewReader("sent with a presigned URL"))
	for k, vs := range put.SignedHeader {
		if k != "Host" {
			req.Header[k] = vs
		}
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || resp.Header.Get("ETag") != md5ETag([]byte("sent with a presigned URL")) {
		t.Fatalf("presigned PUT: %d %s %s", resp.StatusCode, resp.Header.Get("ETag"), b)
	}
	get, err := ps.PresignGetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("presign"), Key: aws.String("up load.txt")})
	if err != nil {
		t.Fatal(err)
	}
	resp, err = http.Get(get.URL)
	if err != nil {
		t.Fatal(err)
	}
	b, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || string(b) != "sent with a presigned URL" {
		t.Fatalf("presigned GET: %d %q", resp.StatusCode, b)
	}
	resp, err = http.Get(strings.Replace(get.URL, "X-Amz-Signature=", "X-Amz-Signature=0", 1))
	if err != nil {
		t.Fatal(err)
	}
	b, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusForbidden || !strings.Contains(string(b), "<Code>SignatureDoesNotMatch</Code>") {
		t.Fatalf("tampered presigned GET: %d %s", resp.StatusCode, b)
	}
}

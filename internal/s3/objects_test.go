package s3

import (
	"bytes"
	"crypto/md5"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
)

func randomBytes(n int) []byte {
	b := make([]byte, n)
	r := rand.New(rand.NewPCG(uint64(n), 7))
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return b
}

func md5ETag(b []byte) string {
	sum := md5.Sum(b)
	return `"` + hex.EncodeToString(sum[:]) + `"`
}

func getBody(t *testing.T, c *s3.Client, in *s3.GetObjectInput) ([]byte, *s3.GetObjectOutput) {
	t.Helper()
	out, err := c.GetObject(ctx, in)
	if err != nil {
		t.Fatalf("GetObject %s: %v", aws.ToString(in.Key), err)
	}
	defer out.Body.Close()
	b, err := io.ReadAll(out.Body)
	if err != nil {
		t.Fatal(err)
	}
	return b, out
}

func TestPutGetHeadObject(t *testing.T) {
	f := newFixture(t)
	for _, style := range []struct {
		name string
		c    *s3.Client
	}{{"path", f.client("test")}, {"virtual-host", f.virtualHostClient()}} {
		t.Run(style.name, func(t *testing.T) {
			c := style.c
			bucket := "objects-" + strings.ReplaceAll(style.name, "-", "")
			createBucket(t, c, bucket)
			data := randomBytes(300 << 10)
			key := "dir/a b+c=d&é%.bin"
			put, err := c.PutObject(ctx, &s3.PutObjectInput{
				Bucket: aws.String(bucket), Key: aws.String(key), Body: bytes.NewReader(data),
				ContentType: aws.String("application/x-test"), Metadata: map[string]string{"Owner": "me"},
				CacheControl: aws.String("max-age=60"), ChecksumAlgorithm: types.ChecksumAlgorithmCrc32,
			})
			if err != nil {
				t.Fatalf("PutObject: %v", err)
			}
			if aws.ToString(put.ETag) != md5ETag(data) || aws.ToString(put.ChecksumCRC32) == "" {
				t.Errorf("PutObject ETag %s checksum %q, want %s", aws.ToString(put.ETag), aws.ToString(put.ChecksumCRC32), md5ETag(data))
			}
			got, out := getBody(t, c, &s3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String(key), ChecksumMode: types.ChecksumModeEnabled})
			if !bytes.Equal(got, data) {
				t.Fatalf("GetObject returned %d bytes, want %d equal ones", len(got), len(data))
			}
			if aws.ToString(out.ContentType) != "application/x-test" || out.Metadata["owner"] != "me" ||
				aws.ToString(out.CacheControl) != "max-age=60" || aws.ToString(out.ETag) != md5ETag(data) ||
				aws.ToInt64(out.ContentLength) != int64(len(data)) || aws.ToString(out.ChecksumCRC32) != aws.ToString(put.ChecksumCRC32) {
				t.Errorf("GetObject headers: %+v", out)
			}
			head, err := c.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String(bucket), Key: aws.String(key)})
			if err != nil || aws.ToInt64(head.ContentLength) != int64(len(data)) || aws.ToString(head.ETag) != md5ETag(data) ||
				head.LastModified == nil || time.Since(*head.LastModified) > time.Minute {
				t.Fatalf("HeadObject: %+v %v", head, err)
			}
			_, err = c.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String("nope")})
			wantCode(t, err, "NoSuchKey")
			_, err = c.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String(bucket), Key: aws.String("nope")})
			if httpStatus(err) != http.StatusNotFound {
				t.Errorf("HeadObject of a missing key: %v", err)
			}
			_, err = c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("no-such-bucket"), Key: aws.String("k"), Body: strings.NewReader("x")})
			wantCode(t, err, "NoSuchBucket")
		})
	}
}

func TestPutObjectReplacesAndContentMD5(t *testing.T) {
	f := newFixture(t)
	c := f.client("test")
	createBucket(t, c, "md5")
	data := []byte("hello, world")
	sum := md5.Sum(data)
	_, err := c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("md5"), Key: aws.String("k"), Body: bytes.NewReader(data),
		ContentMD5: aws.String(base64.StdEncoding.EncodeToString(sum[:]))})
	if err != nil {
		t.Fatalf("PutObject with a right Content-MD5: %v", err)
	}
	wrong := md5.Sum([]byte("something else"))
	_, err = c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("md5"), Key: aws.String("k"), Body: bytes.NewReader([]byte("replaced")),
		ContentMD5: aws.String(base64.StdEncoding.EncodeToString(wrong[:]))})
	wantCode(t, err, "BadDigest")
	_, err = c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("md5"), Key: aws.String("k"), Body: bytes.NewReader([]byte("replaced")),
		ContentMD5: aws.String("not-base64!")})
	wantCode(t, err, "InvalidDigest")
	got, _ := getBody(t, c, &s3.GetObjectInput{Bucket: aws.String("md5"), Key: aws.String("k")})
	if string(got) != string(data) {
		t.Fatalf("a refused PUT changed the object to %q", got)
	}
	if _, err := c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("md5"), Key: aws.String("k"), Body: strings.NewReader("v2")}); err != nil {
		t.Fatal(err)
	}
	got, _ = getBody(t, c, &s3.GetObjectInput{Bucket: aws.String("md5"), Key: aws.String("k")})
	if string(got) != "v2" {
		t.Fatalf("after overwrite got %q", got)
	}
	if n := countBlobs(t, f); n != 1 {
		t.Errorf("%d blobs on disk after overwrites of one object, want 1", n)
	}
	_, err = c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("md5"), Key: aws.String(strings.Repeat("k", 1025)), Body: strings.NewReader("x")})
	wantCode(t, err, "KeyTooLongError")
}

func TestGetObjectRanges(t *testing.T) {
	f := newFixture(t)
	c := f.client("test")
	createBucket(t, c, "ranges")
	data := []byte("0123456789abcdefghij")
	if _, err := c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("ranges"), Key: aws.String("k"), Body: bytes.NewReader(data)}); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		rng, want, contentRange string
	}{
		{"bytes=0-4", "01234", "bytes 0-4/20"},
		{"bytes=15-", "fghij", "bytes 15-19/20"},
		{"bytes=-3", "hij", "bytes 17-19/20"},
		{"bytes=18-100", "ij", "bytes 18-19/20"},
		{"bytes=-100", string(data), "bytes 0-19/20"},
		{"bytes=5-2", string(data), ""}, // S3 ignores a range it cannot read
	} {
		got, out := getBody(t, c, &s3.GetObjectInput{Bucket: aws.String("ranges"), Key: aws.String("k"), Range: aws.String(tc.rng)})
		if string(got) != tc.want || aws.ToString(out.ContentRange) != tc.contentRange || aws.ToInt64(out.ContentLength) != int64(len(tc.want)) {
			t.Errorf("Range %s: body %q range %q length %d, want %q %q", tc.rng, got, aws.ToString(out.ContentRange),
				aws.ToInt64(out.ContentLength), tc.want, tc.contentRange)
		}
	}
	_, err := c.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("ranges"), Key: aws.String("k"), Range: aws.String("bytes=20-")})
	wantCode(t, err, "InvalidRange")
	if httpStatus(err) != http.StatusRequestedRangeNotSatisfiable {
		t.Errorf("InvalidRange status %d", httpStatus(err))
	}
}

func TestParseRange(t *testing.T) {
	for _, tc := range []struct {
		header      string
		size        int64
		first, last int64
		none, fails bool
	}{
		{header: "", size: 10, none: true},
		{header: "bytes=0-0", size: 10, first: 0, last: 0},
		{header: "bytes=3-", size: 10, first: 3, last: 9},
		{header: "bytes=-4", size: 10, first: 6, last: 9},
		{header: "bytes=0-1,3-4", size: 10, none: true},
		{header: "items=0-1", size: 10, none: true},
		{header: "bytes=10-", size: 10, fails: true},
		{header: "bytes=-0", size: 10, fails: true},
		{header: "bytes=0-", size: 0, fails: true},
	} {
		r, err := parseRange(tc.header, tc.size)
		switch {
		case tc.fails:
			if err == nil {
				t.Errorf("parseRange(%q, %d) = %+v, want InvalidRange", tc.header, tc.size, r)
			}
		case tc.none:
			if r != nil || err != nil {
				t.Errorf("parseRange(%q) = %+v %v, want no range", tc.header, r, err)
			}
		default:
			if err != nil || r == nil || r.first != tc.first || r.last != tc.last {
				t.Errorf("parseRange(%q, %d) = %+v %v, want %d-%d", tc.header, tc.size, r, err, tc.first, tc.last)
			}
		}
	}
}

func TestConditionalGet(t *testing.T) {
	f := newFixture(t)
	c := f.client("test")
	createBucket(t, c, "cond")
	put, err := c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("cond"), Key: aws.String("k"), Body: strings.NewReader("data")})
	if err != nil {
		t.Fatal(err)
	}
	etag := aws.ToString(put.ETag)
	past, future := time.Now().Add(-time.Hour), time.Now().Add(time.Hour)
	get := func(mod func(*s3.GetObjectInput)) error {
		in := &s3.GetObjectInput{Bucket: aws.String("cond"), Key: aws.String("k")}
		mod(in)
		out, err := c.GetObject(ctx, in)
		if err == nil {
			out.Body.Close()
		}
		return err
	}
	for _, tc := range []struct {
		name   string
		mod    func(*s3.GetObjectInput)
		status int // 0: success
	}{
		{"If-Match equal", func(in *s3.GetObjectInput) { in.IfMatch = aws.String(etag) }, 0},
		{"If-Match other", func(in *s3.GetObjectInput) { in.IfMatch = aws.String(`"0000"`) }, http.StatusPreconditionFailed},
		{"If-Match star", func(in *s3.GetObjectInput) { in.IfMatch = aws.String("*") }, 0},
		{"If-None-Match equal", func(in *s3.GetObjectInput) { in.IfNoneMatch = aws.String(etag) }, http.StatusNotModified},
		{"If-None-Match other", func(in *s3.GetObjectInput) { in.IfNoneMatch = aws.String(`"0000"`) }, 0},
		{"If-Modified-Since future", func(in *s3.GetObjectInput) { in.IfModifiedSince = &future }, http.StatusNotModified},
		{"If-Modified-Since past", func(in *s3.GetObjectInput) { in.IfModifiedSince = &past }, 0},
		{"If-Unmodified-Since past", func(in *s3.GetObjectInput) { in.IfUnmodifiedSince = &past }, http.StatusPreconditionFailed},
		{"If-Unmodified-Since future", func(in *s3.GetObjectInput) { in.IfUnmodifiedSince = &future }, 0},
		{"If-Match wins over If-Unmodified-Since", func(in *s3.GetObjectInput) {
			in.IfMatch, in.IfUnmodifiedSince = aws.String(etag), &past
		}, 0},
		{"If-None-Match wins over If-Modified-Since", func(in *s3.GetObjectInput) {
			in.IfNoneMatch, in.IfModifiedSince = aws.String(`"0000"`), &future
		}, 0},
	} {
		err := get(tc.mod)
		if got := httpStatus(err); got != tc.status {
			t.Errorf("%s: status %d (%v), want %d", tc.name, got, err, tc.status)
		}
		if tc.status == http.StatusPreconditionFailed {
			if code := errorCode(err); code != "PreconditionFailed" {
				t.Errorf("%s: code %q", tc.name, code)
			}
		}
	}
	_, err = c.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String("cond"), Key: aws.String("k"), IfNoneMatch: aws.String(etag)})
	if httpStatus(err) != http.StatusNotModified {
		t.Errorf("HeadObject If-None-Match: %v", err)
	}
}

func TestCopyObject(t *testing.T) {
	f := newFixture(t)
	c := f.client("test")
	createBucket(t, c, "src")
	createBucket(t, c, "dst")
	put, err := c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("src"), Key: aws.String("a dir/orig.txt"),
		Body: strings.NewReader("copy me"), ContentType: aws.String("text/plain"), Metadata: map[string]string{"k": "v"}})
	if err != nil {
		t.Fatal(err)
	}
	cp, err := c.CopyObject(ctx, &s3.CopyObjectInput{Bucket: aws.String("dst"), Key: aws.String("copy.txt"),
		CopySource: aws.String("src/a%20dir/orig.txt")})
	if err != nil {
		t.Fatalf("CopyObject: %v", err)
	}
	if aws.ToString(cp.CopyObjectResult.ETag) != aws.ToString(put.ETag) {
		t.Errorf("copy ETag %s, want %s", aws.ToString(cp.CopyObjectResult.ETag), aws.ToString(put.ETag))
	}
	got, out := getBody(t, c, &s3.GetObjectInput{Bucket: aws.String("dst"), Key: aws.String("copy.txt")})
	if string(got) != "copy me" || aws.ToString(out.ContentType) != "text/plain" || out.Metadata["k"] != "v" {
		t.Errorf("copied object %q %+v", got, out)
	}
	_, err = c.CopyObject(ctx, &s3.CopyObjectInput{Bucket: aws.String("dst"), Key: aws.String("copy.txt"), CopySource: aws.String("dst/copy.txt")})
	wantCode(t, err, "InvalidRequest")
	_, err = c.CopyObject(ctx, &s3.CopyObjectInput{Bucket: aws.String("dst"), Key: aws.String("copy.txt"), CopySource: aws.String("dst/copy.txt"),
		MetadataDirective: types.MetadataDirectiveReplace, ContentType: aws.String("text/x-new"), Metadata: map[string]string{"new": "1"}})
	if err != nil {
		t.Fatalf("CopyObject onto itself with REPLACE: %v", err)
	}
	_, out = getBody(t, c, &s3.GetObjectInput{Bucket: aws.String("dst"), Key: aws.String("copy.txt")})
	if aws.ToString(out.ContentType) != "text/x-new" || out.Metadata["new"] != "1" || out.Metadata["k"] != "" {
		t.Errorf("REPLACE directive: %+v", out)
	}
	_, err = c.CopyObject(ctx, &s3.CopyObjectInput{Bucket: aws.String("dst"), Key: aws.String("x"), CopySource: aws.String("src/missing")})
	wantCode(t, err, "NoSuchKey")
	_, err = c.CopyObject(ctx, &s3.CopyObjectInput{Bucket: aws.String("dst"), Key: aws.String("x"), CopySource: aws.String("src/a%20dir/orig.txt"),
		CopySourceIfMatch: aws.String(`"nope"`)})
	wantCode(t, err, "PreconditionFailed")
	// Deleting the source leaves the copy whole: copies share no state.
	if _, err := c.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String("src"), Key: aws.String("a dir/orig.txt")}); err != nil {
		t.Fatal(err)
	}
	got, _ = getBody(t, c, &s3.GetObjectInput{Bucket: aws.String("dst"), Key: aws.String("copy.txt")})
	if string(got) != "copy me" {
		t.Errorf("copy after deleting its source: %q", got)
	}
}

func TestDeleteObjects(t *testing.T) {
	f := newFixture(t)
	c := f.client("test")
	createBucket(t, c, "del")
	for i := range 5 {
		if _, err := c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("del"), Key: aws.String(fmt.Sprintf("k%d", i)), Body: strings.NewReader("x")}); err != nil {
			t.Fatal(err)
		}
	}
	out, err := c.DeleteObjects(ctx, &s3.DeleteObjectsInput{Bucket: aws.String("del"), Delete: &types.Delete{Objects: []types.ObjectIdentifier{
		{Key: aws.String("k0")}, {Key: aws.String("k1")}, {Key: aws.String("never-there")}}}})
	if err != nil {
		t.Fatalf("DeleteObjects: %v", err)
	}
	if len(out.Deleted) != 3 || len(out.Errors) != 0 {
		t.Errorf("DeleteObjects: deleted %d errors %d", len(out.Deleted), len(out.Errors))
	}
	quiet, err := c.DeleteObjects(ctx, &s3.DeleteObjectsInput{Bucket: aws.String("del"), Delete: &types.Delete{Quiet: aws.Bool(true),
		Objects: []types.ObjectIdentifier{{Key: aws.String("k2")}}}})
	if err != nil || len(quiet.Deleted) != 0 {
		t.Fatalf("quiet DeleteObjects: %+v %v", quiet, err)
	}
	list, err := c.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String("del")})
	if err != nil || aws.ToInt32(list.KeyCount) != 2 {
		t.Fatalf("after deletes: %+v %v", list, err)
	}
	if _, err := c.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String("del"), Key: aws.String("never-there")}); err != nil {
		t.Errorf("DeleteObject of a missing key: %v", err)
	}
	_, err = c.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String("nope"), Key: aws.String("k")})
	wantCode(t, err, "NoSuchBucket")
	if n := countBlobs(t, f); n != 2 {
		t.Errorf("%d blobs on disk, want 2", n)
	}
}

func TestObjectTagging(t *testing.T) {
	f := newFixture(t)
	c := f.client("test")
	createBucket(t, c, "otags")
	_, err := c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("otags"), Key: aws.String("k"), Body: strings.NewReader("x"),
		Tagging: aws.String("a=1&b=two%20words")})
	if err != nil {
		t.Fatal(err)
	}
	head, err := c.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String("otags"), Key: aws.String("k")})
	if err != nil {
		t.Fatal(err)
	}
	got, err := c.GetObjectTagging(ctx, &s3.GetObjectTaggingInput{Bucket: aws.String("otags"), Key: aws.String("k")})
	if err != nil || len(got.TagSet) != 2 {
		t.Fatalf("GetObjectTagging: %+v %v", got, err)
	}
	tags := map[string]string{}
	for _, tg := range got.TagSet {
		tags[aws.ToString(tg.Key)] = aws.ToString(tg.Value)
	}
	if tags["a"] != "1" || tags["b"] != "two words" {
		t.Errorf("tags %v", tags)
	}
	_, err = c.PutObjectTagging(ctx, &s3.PutObjectTaggingInput{Bucket: aws.String("otags"), Key: aws.String("k"),
		Tagging: &types.Tagging{TagSet: []types.Tag{{Key: aws.String("only"), Value: aws.String("one")}}}})
	if err != nil {
		t.Fatal(err)
	}
	got, err = c.GetObjectTagging(ctx, &s3.GetObjectTaggingInput{Bucket: aws.String("otags"), Key: aws.String("k")})
	if err != nil || len(got.TagSet) != 1 || aws.ToString(got.TagSet[0].Key) != "only" {
		t.Fatalf("after PutObjectTagging: %+v %v", got, err)
	}
	after, _ := c.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String("otags"), Key: aws.String("k")})
	if aws.ToString(after.ETag) != aws.ToString(head.ETag) {
		t.Error("tagging changed the object's ETag")
	}
	var many []types.Tag
	for i := range 11 {
		many = append(many, types.Tag{Key: aws.String(fmt.Sprint(i)), Value: aws.String("v")})
	}
	_, err = c.PutObjectTagging(ctx, &s3.PutObjectTaggingInput{Bucket: aws.String("otags"), Key: aws.String("k"), Tagging: &types.Tagging{TagSet: many}})
	wantCode(t, err, "InvalidTag")
	if _, err := c.DeleteObjectTagging(ctx, &s3.DeleteObjectTaggingInput{Bucket: aws.String("otags"), Key: aws.String("k")}); err != nil {
		t.Fatal(err)
	}
	got, err = c.GetObjectTagging(ctx, &s3.GetObjectTaggingInput{Bucket: aws.String("otags"), Key: aws.String("k")})
	if err != nil || len(got.TagSet) != 0 {
		t.Fatalf("after DeleteObjectTagging: %+v %v", got, err)
	}
	_, err = c.GetObjectTagging(ctx, &s3.GetObjectTaggingInput{Bucket: aws.String("otags"), Key: aws.String("missing")})
	wantCode(t, err, "NoSuchKey")
}

func TestOtherAccountIsDenied(t *testing.T) {
	f := newFixture(t)
	createBucket(t, f.client("test"), "private")
	other := f.client("other")
	_, err := other.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("private"), Key: aws.String("k"), Body: strings.NewReader("x")})
	wantCode(t, err, "AccessDenied")
	_, err = other.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String("private")})
	wantCode(t, err, "AccessDenied")
}

// TestTrailingChecksumOverTLS: over HTTPS the SDK streams PutObject and
// UploadPart bodies aws-chunked with a CRC32 trailer by default; S3 keeps
// the checksum and answers it back.
func TestTrailingChecksumOverTLS(t *testing.T) {
	f := newFixture(t, fixtureOptions{tls: true})
	c := f.client("test")
	createBucket(t, c, "trailers")
	data := randomBytes(1<<20 + 17)
	// An io.Reader that is not a Seeker: the SDK cannot hash it ahead.
	put, err := c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("trailers"), Key: aws.String("k"), Body: io.MultiReader(bytes.NewReader(data))})
	if err != nil {
		t.Fatalf("PutObject over TLS: %v", err)
	}
	sawTrailer := false
	for len(f.payloadModes) > 0 {
		if strings.HasSuffix(<-f.payloadModes, "-TRAILER") {
			sawTrailer = true
		}
	}
	if !sawTrailer {
		t.Fatal("the SDK sent no trailing checksum: the test did not exercise aws-chunked trailers")
	}
	if aws.ToString(put.ETag) != md5ETag(data) || aws.ToString(put.ChecksumCRC32) == "" {
		t.Errorf("PutObject: ETag %s CRC32 %q", aws.ToString(put.ETag), aws.ToString(put.ChecksumCRC32))
	}
	got, out := getBody(t, c, &s3.GetObjectInput{Bucket: aws.String("trailers"), Key: aws.String("k"), ChecksumMode: types.ChecksumModeEnabled})
	if !bytes.Equal(got, data) || aws.ToString(out.ChecksumCRC32) != aws.ToString(put.ChecksumCRC32) {
		t.Errorf("GetObject: %d bytes, CRC32 %q want %q", len(got), aws.ToString(out.ChecksumCRC32), aws.ToString(put.ChecksumCRC32))
	}
	uploadID, parts := uploadParts(t, c, "trailers", "parts", [][]byte{data[:1000]})
	if _, err := c.CompleteMultipartUpload(ctx, &s3.CompleteMultipartUploadInput{Bucket: aws.String("trailers"), Key: aws.String("parts"),
		UploadId: &uploadID, MultipartUpload: &types.CompletedMultipartUpload{Parts: parts}}); err != nil {
		t.Fatalf("CompleteMultipartUpload over TLS: %v", err)
	}
}

// TestReadWhileOverwritten: a GET that has begun keeps reading the version
// it opened while a PUT replaces the object and its blob is removed.
func TestReadWhileOverwritten(t *testing.T) {
	f := newFixture(t)
	c := f.client("test", func(o *s3.Options) { o.ResponseChecksumValidation = aws.ResponseChecksumValidationWhenRequired })
	createBucket(t, c, "overwrite")
	v1, v2 := randomBytes(8<<20), randomBytes(8<<20+1)
	if _, err := c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("overwrite"), Key: aws.String("k"), Body: bytes.NewReader(v1)}); err != nil {
		t.Fatal(err)
	}
	out, err := c.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("overwrite"), Key: aws.String("k")})
	if err != nil {
		t.Fatal(err)
	}
	defer out.Body.Close()
	head := make([]byte, 1000)
	if _, err := io.ReadFull(out.Body, head); err != nil {
		t.Fatal(err)
	}
	if _, err := c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("overwrite"), Key: aws.String("k"), Body: bytes.NewReader(v2)}); err != nil {
		t.Fatal(err)
	}
	if n := countBlobs(t, f); n != 1 {
		t.Fatalf("%d blobs after the overwrite, want 1: the old one should be unlinked", n)
	}
	rest, err := io.ReadAll(out.Body)
	if err != nil || !bytes.Equal(append(head, rest...), v1) {
		t.Fatalf("the GET begun before the overwrite read %d bytes (%v), not the old version", len(head)+len(rest), err)
	}
	got, _ := getBody(t, c, &s3.GetObjectInput{Bucket: aws.String("overwrite"), Key: aws.String("k")})
	if !bytes.Equal(got, v2) {
		t.Fatal("a GET after the overwrite did not read the new version")
	}
}

package s3

import (
	"net/url"
	"sort"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
)

var listKeysFixture = []string{
	"a.txt", "dir/b.txt", "dir/c.txt", "dir/sub/d.txt", "dir/sub/e.txt", "dir2/f.txt", "g h.txt", "z/y/x",
}

func putKeys(t *testing.T, c *s3.Client, bucket string, keys []string) {
	t.Helper()
	createBucket(t, c, bucket)
	for _, k := range keys {
		if _, err := c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(bucket), Key: aws.String(k), Body: strings.NewReader(k)}); err != nil {
			t.Fatal(err)
		}
	}
}

func keysOf(out *s3.ListObjectsV2Output) (keys, prefixes []string) {
	for _, o := range out.Contents {
		keys = append(keys, aws.ToString(o.Key))
	}
	for _, p := range out.CommonPrefixes {
		prefixes = append(prefixes, aws.ToString(p.Prefix))
	}
	return keys, prefixes
}

func TestListObjectsV2(t *testing.T) {
	f := newFixture(t)
	c := f.client("test")
	putKeys(t, c, "list", listKeysFixture)
	for _, tc := range []struct {
		name           string
		in             s3.ListObjectsV2Input
		keys, prefixes string
		keyCount       int32
		truncated      bool
	}{
		{name: "all", keys: strings.Join(listKeysFixture, ","), keyCount: 8},
		{name: "delimiter", in: s3.ListObjectsV2Input{Delimiter: aws.String("/")},
			keys: "a.txt,g h.txt", prefixes: "dir/,dir2/,z/", keyCount: 5},
		{name: "prefix and delimiter", in: s3.ListObjectsV2Input{Prefix: aws.String("dir/"), Delimiter: aws.String("/")},
			keys: "dir/b.txt,dir/c.txt", prefixes: "dir/sub/", keyCount: 3},
		{name: "prefix", in: s3.ListObjectsV2Input{Prefix: aws.String("dir/sub")}, keys: "dir/sub/d.txt,dir/sub/e.txt", keyCount: 2},
		{name: "start-after", in: s3.ListObjectsV2Input{StartAfter: aws.String("dir/sub/d.txt")},
			keys: "dir/sub/e.txt,dir2/f.txt,g h.txt,z/y/x", keyCount: 4},
		{name: "max-keys", in: s3.ListObjectsV2Input{MaxKeys: aws.Int32(2)}, keys: "a.txt,dir/b.txt", keyCount: 2, truncated: true},
		{name: "max-keys counts prefixes", in: s3.ListObjectsV2Input{Delimiter: aws.String("/"), MaxKeys: aws.Int32(2)},
			keys: "a.txt", prefixes: "dir/", keyCount: 2, truncated: true},
		{name: "nothing", in: s3.ListObjectsV2Input{Prefix: aws.String("nothing")}, keyCount: 0},
	} {
		in := tc.in
		in.Bucket = aws.String("list")
		out, err := c.ListObjectsV2(ctx, &in)
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		keys, prefixes := keysOf(out)
		if strings.Join(keys, ",") != tc.keys || strings.Join(prefixes, ",") != tc.prefixes ||
			aws.ToInt32(out.KeyCount) != tc.keyCount || aws.ToBool(out.IsTruncated) != tc.truncated {
			t.Errorf("%s: keys %q prefixes %q count %d truncated %v", tc.name, keys, prefixes, aws.ToInt32(out.KeyCount), aws.ToBool(out.IsTruncated))
		}
		if tc.truncated && aws.ToString(out.NextContinuationToken) == "" {
			t.Errorf("%s: truncated without a continuation token", tc.name)
		}
	}
	out, err := c.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String("list"), MaxKeys: aws.Int32(1)})
	if err != nil || len(out.Contents) != 1 || out.Contents[0].Size == nil || *out.Contents[0].Size != int64(len("a.txt")) ||
		aws.ToString(out.Contents[0].ETag) != md5ETag([]byte("a.txt")) || out.Contents[0].StorageClass != types.ObjectStorageClassStandard {
		t.Errorf("object entry: %+v %v", out, err)
	}
	_, err = c.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String("nope")})
	wantCode(t, err, "NoSuchBucket")
}

// TestListObjectsV2Pages walks every page with the SDK's paginator, with
// and without a delimiter: each key or prefix appears exactly once.
func TestListObjectsV2Pages(t *testing.T) {
	f := newFixture(t)
	c := f.client("test")
	putKeys(t, c, "pages", listKeysFixture)
	for _, delim := range []string{"", "/"} {
		for _, size := range []int32{1, 2, 3} {
			p := s3.NewListObjectsV2Paginator(c, &s3.ListObjectsV2Input{Bucket: aws.String("pages"), MaxKeys: aws.Int32(size), Delimiter: aws.String(delim)})
			var all []string
			for p.HasMorePages() {
				out, err := p.NextPage(ctx)
				if err != nil {
					t.Fatal(err)
				}
				k, pr := keysOf(out)
				all = append(all, k...)
				all = append(all, pr...)
			}
			// A page lists its keys, then its prefixes: compare in order.
			sort.Strings(all)
			want := strings.Join(listKeysFixture, ",")
			if delim == "/" {
				want = "a.txt,dir/,dir2/,g h.txt,z/"
			}
			if strings.Join(all, ",") != want {
				t.Errorf("delimiter %q pages of %d: %q, want %q", delim, size, all, want)
			}
		}
	}
}

func TestListObjectsV1(t *testing.T) {
	f := newFixture(t)
	c := f.client("test")
	putKeys(t, c, "list-v1", listKeysFixture)
	out, err := c.ListObjects(ctx, &s3.ListObjectsInput{Bucket: aws.String("list-v1"), Marker: aws.String("dir/c.txt"), MaxKeys: aws.Int32(2)})
	if err != nil {
		t.Fatal(err)
	}
	if len(out.Contents) != 2 || aws.ToString(out.Contents[0].Key) != "dir/sub/d.txt" || !aws.ToBool(out.IsTruncated) ||
		out.Contents[0].Owner == nil || aws.ToString(out.Contents[0].Owner.ID) != account {
		t.Errorf("ListObjects after marker: %+v", out)
	}
	out, err = c.ListObjects(ctx, &s3.ListObjectsInput{Bucket: aws.String("list-v1"), Delimiter: aws.String("/"), MaxKeys: aws.Int32(2)})
	if err != nil || aws.ToString(out.NextMarker) != "dir/" || len(out.CommonPrefixes) != 1 {
		t.Fatalf("ListObjects with a delimiter: %+v %v", out, err)
	}
	out, err = c.ListObjects(ctx, &s3.ListObjectsInput{Bucket: aws.String("list-v1"), Delimiter: aws.String("/"), Marker: out.NextMarker})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, o := range out.Contents {
		got = append(got, aws.ToString(o.Key))
	}
	for _, p := range out.CommonPrefixes {
		got = append(got, aws.ToString(p.Prefix))
	}
	if strings.Join(got, ",") != "g h.txt,dir2/,z/" {
		t.Errorf("ListObjects from NextMarker: %q", got)
	}
}

func TestListEncodingTypeURL(t *testing.T) {
	f := newFixture(t)
	c := f.client("test")
	putKeys(t, c, "enc", []string{"a b/c+d.txt", "é.txt"})
	out, err := c.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String("enc"), EncodingType: types.EncodingTypeUrl})
	if err != nil {
		t.Fatal(err)
	}
	// The SDK leaves encoded keys to the caller, as botocore does not.
	var got []string
	for _, o := range out.Contents {
		k, err := url.QueryUnescape(aws.ToString(o.Key))
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, k)
	}
	if strings.Join(got, ",") != "a b/c+d.txt,é.txt" || aws.ToString(out.Contents[0].Key) != "a+b/c%2Bd.txt" {
		t.Errorf("encoded keys: %q (raw %q)", got, aws.ToString(out.Contents[0].Key))
	}
}

func TestCommonPrefix(t *testing.T) {
	for _, tc := range []struct{ key, prefix, delim, want string }{
		{"a/b/c", "", "/", "a/"},
		{"a/b/c", "a/", "/", "a/b/"},
		{"a/b", "a/b", "/", ""},
		{"abc", "", "", ""},
		{"x--y--z", "", "--", "x--"},
	} {
		if got := commonPrefix(tc.key, tc.prefix, tc.delim); got != tc.want {
			t.Errorf("commonPrefix(%q, %q, %q) = %q, want %q", tc.key, tc.prefix, tc.delim, got, tc.want)
		}
	}
}

package xmlshape

import (
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/nimbus-dev/nimbus/internal/awserr"
)

// FuzzDecode checks two things: no body, however malformed, makes Decode
// panic or fail with anything but an *awserr.Error; and a document written
// by AppendElement reads back as the same document (text XML cannot carry
// comes back as U+FFFD, as AppendText writes it).
func FuzzDecode(f *testing.F) {
	shapes := []string{"CompletedMultipartUpload", "Delete", "AccessControlPolicy", "Tagging", "CreateBucketConfiguration"}
	f.Add([]byte(`<CompleteMultipartUpload><Part><ETag>e</ETag><PartNumber>1</PartNumber></Part></CompleteMultipartUpload>`), uint8(0), "etag", int64(1))
	f.Add([]byte(`<Delete><Object><Key>a</Key><VersionId>v</VersionId></Object><Quiet>false</Quiet></Delete>`), uint8(1), "a&b<c>", int64(10000))
	f.Add([]byte(`<AccessControlPolicy><AccessControlList><Grant><Grantee xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xsi:type="Group"><URI>u</URI></Grantee></Grant></AccessControlList></AccessControlPolicy>`), uint8(2), "\x00\r\n", int64(-5))
	f.Add([]byte(`<Tagging><TagSet><Tag><Key>k</Key><Value>v</Value></Tag></TagSet></Tagging>`), uint8(3), "\xff", int64(0))
	f.Fuzz(func(t *testing.T, body []byte, which uint8, etag string, part int64) {
		ref := shapeRef(t, "s3", shapes[int(which)%len(shapes)])
		if _, err := RestXML.Decode(body, ref); err != nil {
			var ae *awserr.Error
			if !errors.As(err, &ae) {
				t.Fatalf("error %v is not an *awserr.Error", err)
			}
		}

		uploadRef := shapeRef(t, "s3", "CompletedMultipartUpload")
		doc := map[string]any{"Parts": []any{map[string]any{"ETag": etag, "PartNumber": part}}}
		x, err := RestXML.AppendElement(nil, "CompleteMultipartUpload", uploadRef, doc)
		if err != nil {
			t.Fatal(err)
		}
		back, err := RestXML.Decode(x, uploadRef)
		if err != nil {
			t.Fatalf("%s did not read back: %v", x, err)
		}
		want := map[string]any{"Parts": []any{map[string]any{"ETag": xmlUnescaped(etag), "PartNumber": part}}}
		if !reflect.DeepEqual(back, want) {
			t.Fatalf("%s read back as %#v", x, back)
		}
	})
}

// xmlUnescaped is what an XML reader sees of s after AppendText: s with
// characters XML cannot carry replaced by U+FFFD.
func xmlUnescaped(s string) string {
	var b strings.Builder
	for _, r := range s {
		if r == '\t' || r == '\n' || r == '\r' || isXMLChar(r) {
			b.WriteRune(r)
		} else {
			b.WriteRune('\uFFFD')
		}
	}
	return b.String()
}

package sigv4

import (
	"testing"
	"time"
)

// benchmarkVerify measures what the edge does per request: Parse, then Verify.
func benchmarkVerify(b *testing.B, req signedRequest, buffered bool) {
	r := req.build(b)
	var body []byte
	if buffered {
		body = readBody(b, r)
	}
	v := testVerifier()
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		a, err := Parse(r)
		if err != nil {
			b.Fatal(err)
		}
		if err := v.Verify(r, a, testSecret, body); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkVerifySTSPost(b *testing.B) { benchmarkVerify(b, stsPost, true) }

func BenchmarkVerifyS3Get(b *testing.B) { benchmarkVerify(b, s3Get, false) }

func BenchmarkVerifyPresignedS3Get(b *testing.B) {
	benchmarkVerify(b, withPresign(s3Get, 5*time.Minute), false)
}

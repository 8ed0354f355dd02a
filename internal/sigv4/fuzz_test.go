package sigv4

import (
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
)

// FuzzParse checks that no Authorization header or query string makes Parse
// or Verify panic.
func FuzzParse(f *testing.F) {
	f.Add(goodAuthorization, "20261127T120000Z", "")
	f.Add("", "", "X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKID%2F20261127%2Fus-east-1%2Fs3%2Faws4_request&X-Amz-Date=20261127T120000Z&X-Amz-Expires=600&X-Amz-SignedHeaders=host&X-Amz-Signature=00")
	f.Add("AWS4-HMAC-SHA256 Credential=/////, SignedHeaders=;;, Signature=", "2", "a=%zz&&=&X-Amz-Signature")
	f.Fuzz(func(t *testing.T, authorization, amzDate, rawQuery string) {
		r := &http.Request{Method: "GET", URL: &url.URL{Path: "/", RawQuery: rawQuery}, Host: "h", Header: http.Header{}}
		if authorization != "" {
			r.Header.Set("Authorization", authorization)
		}
		if amzDate != "" {
			r.Header.Set("X-Amz-Date", amzDate)
		}
		a, err := Parse(r)
		if err != nil {
			if _, ok := err.(*Error); !ok {
				t.Fatalf("Parse returned a %T, not an *Error: %v", err, err)
			}
			return
		}
		_ = testVerifier().Verify(r, a, "secret", []byte{})
	})
}

// FuzzChunkedReader checks that no body makes the aws-chunked decoder panic
// or yield more than the body holds.
func FuzzChunkedReader(f *testing.F) {
	f.Add([]byte(unsignedChunked("hello world", 4, "x-amz-checksum-crc32:DUoRhQ==")), false)
	f.Add([]byte(docChunkedBody(docChunk1Sig, docChunk2Sig, docFinalSig)+"\r\n"), true)
	f.Add([]byte("5;chunk-signature=zz\r\nabc\r\n0\r\n\r\n"), true)
	f.Add([]byte("ffffffffffffffff\r\n"), false)
	f.Fuzz(func(t *testing.T, body []byte, signed bool) {
		opt := chunkedOptions{trailerMode: true, trailers: []string{"x-amz-checksum-crc32"}, decodedLength: -1}
		if signed {
			opt.signer = &chunkSigner{key: deriveKey(docSecret, "20130524", "us-east-1", "s3"), amzDate: docTrailerAmzDate, scope: "20130524/us-east-1/s3/aws4_request"}
			opt.seed = docSeed
			opt.trailerSigned = true
		}
		cr := newChunkedReader(strings.NewReader(string(body)), opt)
		buf := make([]byte, 7)
		total := 0
		for {
			n, err := cr.Read(buf)
			total += n
			if total > len(body) {
				t.Fatalf("decoded %d bytes from a %d-byte body", total, len(body))
			}
			if err == io.EOF {
				return
			}
			if err != nil {
				if _, ok := err.(*Error); !ok {
					t.Fatalf("Read returned a %T, not an *Error: %v", err, err)
				}
				return
			}
		}
	})
}

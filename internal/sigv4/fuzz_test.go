package sigv4

import (
	"bytes"
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
	// A small valid signed body: large seeds make the fuzzer spend its time
	// minimising them.
	enc := &signedChunkEncoder{key: fuzzSigner().key, amzDate: docTrailerAmzDate, scope: fuzzSigner().scope, prev: docSeed}
	var signed bytes.Buffer
	enc.chunk(&signed, "hello ")
	enc.chunk(&signed, "world")
	enc.final(&signed)
	enc.trailer(&signed, "x-amz-checksum-crc32", "DUoRhQ==")
	f.Add(signed.Bytes(), true)
	f.Add([]byte("5;chunk-signature=zz\r\nabc\r\n0\r\n\r\n"), true)
	f.Add([]byte("ffffffffffffffff\r\n"), false)
	f.Fuzz(func(t *testing.T, body []byte, signed bool) {
		opt := chunkedOptions{trailerMode: true, trailers: []string{"x-amz-checksum-crc32"}, decodedLength: -1}
		if signed {
			opt.signer = fuzzSigner()
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

func fuzzSigner() *chunkSigner {
	return &chunkSigner{key: deriveKey(docSecret, "20130524", "us-east-1", "s3"), amzDate: docTrailerAmzDate, scope: "20130524/us-east-1/s3/aws4_request"}
}

// TestFuzzSeedsDecode makes sure the fuzz seeds are valid bodies, so the
// fuzzer starts from inputs that reach the end of the decoder.
func TestFuzzSeedsDecode(t *testing.T) {
	enc := &signedChunkEncoder{key: fuzzSigner().key, amzDate: docTrailerAmzDate, scope: fuzzSigner().scope, prev: docSeed}
	var signed bytes.Buffer
	enc.chunk(&signed, "hello ")
	enc.chunk(&signed, "world")
	enc.final(&signed)
	enc.trailer(&signed, "x-amz-checksum-crc32", "DUoRhQ==")
	for name, cr := range map[string]*ChunkedReader{
		"signed":   newChunkedReader(&signed, chunkedOptions{signer: fuzzSigner(), seed: docSeed, trailerMode: true, trailerSigned: true, trailers: []string{"x-amz-checksum-crc32"}, decodedLength: -1}),
		"unsigned": newChunkedReader(strings.NewReader(unsignedChunked("hello world", 4, "x-amz-checksum-crc32:DUoRhQ==")), chunkedOptions{trailerMode: true, trailers: []string{"x-amz-checksum-crc32"}, decodedLength: -1}),
	} {
		if got, err := readAll(cr); err != nil || got != "hello world" {
			t.Errorf("%s seed: %q, %v", name, got, err)
		}
	}
}

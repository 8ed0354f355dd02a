package sigv4

import (
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"
)

// The example of S3's "Signature Calculations for the Authorization Header:
// Transferring Payload in Multiple Chunks": 66560 bytes of 'a' in a 64 KiB
// and a 1 KiB chunk, signed with the documentation's example key.
const (
	docSecret         = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
	docSeed           = "4f232c4386841ef735655705268965c44a0e4690baa4adea153f7db9fa80a0a9"
	docChunk1Sig      = "ad80c730a21e5b8d04586a2213dd63b9a0e99e0e2307b0ade35a65485a288648"
	docChunk2Sig      = "0055627c9e194cb4542bae2aa5492e3c1575bbb81b612b7d234b86a503ef5497"
	docFinalSig       = "b6c6ea8a5354eaf15b3cb7646744f4275b71ea724fed81ceb9323e279d449df9"
	docDecodedLength  = 66560
	docEncodedLength  = 66824
	docTrailerSeed    = "106e2a8a18243abcf37539882f36619c00e2dfc72633413f02d3b74544bfeb8e"
	docTrailerChunk1  = "b474d8862b1487a5145d686f57f013e54db672cee1c953b3010fb58501ef5aa2"
	docTrailerChunk2  = "1c1344b170168f8e65b41376b44b20fe354e373826ccbbe2c1d40a8cae51e5c7"
	docTrailerFinal   = "2ca2aba2005185cf7159c6277faf83795951dd77a3a99e6e65d5c9f85863f992"
	docTrailerCRC32C  = "sOO8/Q=="
	docTrailerSigHex  = "d81f82fc3505edab99d459891051a732e8730629a2e4a59689829ca17fe2e435"
	docTrailerAmzDate = "20130524T000000Z"
)

func docChunkedBody(sig1, sig2, final string) string {
	return "10000;chunk-signature=" + sig1 + "\r\n" + strings.Repeat("a", 65536) + "\r\n" +
		"400;chunk-signature=" + sig2 + "\r\n" + strings.Repeat("a", 1024) + "\r\n" +
		"0;chunk-signature=" + final + "\r\n"
}

func docStreamingRequest(t *testing.T, body string) *http.Request {
	t.Helper()
	raw := "PUT /examplebucket/chunkObject.txt HTTP/1.1\r\n" +
		"Host: s3.amazonaws.com\r\n" +
		"x-amz-date: 20130524T000000Z\r\n" +
		"x-amz-storage-class: REDUCED_REDUNDANCY\r\n" +
		"Authorization: AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request,SignedHeaders=content-encoding;content-length;host;x-amz-content-sha256;x-amz-date;x-amz-decoded-content-length;x-amz-storage-class,Signature=" + docSeed + "\r\n" +
		"x-amz-content-sha256: STREAMING-AWS4-HMAC-SHA256-PAYLOAD\r\n" +
		"Content-Encoding: aws-chunked\r\n" +
		fmt.Sprintf("x-amz-decoded-content-length: %d\r\n", docDecodedLength) +
		fmt.Sprintf("Content-Length: %d\r\n\r\n", docEncodedLength) + body
	r, err := readRequest(raw)
	if err != nil {
		t.Fatalf("read request: %v", err)
	}
	return r
}

func TestStreamingDocumentationExample(t *testing.T) {
	flip := func(s string, at int) string { b := []byte(s); b[at] ^= 1; return string(b) }
	good := docChunkedBody(docChunk1Sig, docChunk2Sig, docFinalSig) + "\r\n"
	cases := []struct {
		name    string
		body    string
		wantErr error
	}{
		{"as documented", good, nil},
		{"data byte changed in first chunk", flip(good, 200), ErrSignatureMismatch},
		{"data byte changed in last chunk", flip(good, len(good)-150), ErrSignatureMismatch},
		{"first chunk signature changed", docChunkedBody(docChunk2Sig, docChunk2Sig, docFinalSig) + "\r\n", ErrSignatureMismatch},
		{"final chunk signature changed", docChunkedBody(docChunk1Sig, docChunk2Sig, docChunk1Sig) + "\r\n", ErrSignatureMismatch},
		{"body cut inside a chunk", good[:40000], ErrIncompleteBody},
		{"final chunk missing", good[:len(good)-len("0;chunk-signature="+docFinalSig+"\r\n\r\n")], ErrIncompleteBody},
		{"chunk size wrong", strings.Replace(good, "400;", "3ff;", 1), ErrMalformedBody},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := docStreamingRequest(t, tc.body)
			r.ContentLength = int64(len(tc.body))
			v := &Verifier{Now: func() time.Time { return time.Date(2013, 5, 24, 0, 5, 0, 0, time.UTC) }}
			a, err := Parse(r)
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			if err := v.Verify(r, a, docSecret, nil); err != nil {
				t.Fatalf("seed signature: %v", err)
			}
			rc, err := v.Body(r, a, docSecret)
			if err != nil {
				t.Fatalf("Body: %v", err)
			}
			got, err := readAll(rc)
			if tc.wantErr != nil {
				if !errors.Is(err, tc.wantErr) {
					t.Fatalf("read error = %v, want %v", err, tc.wantErr)
				}
				return
			}
			if err != nil || got != strings.Repeat("a", docDecodedLength) {
				t.Fatalf("read %d bytes, %v", len(got), err)
			}
		})
	}
}

func docTrailerReader(body string) *ChunkedReader {
	return newChunkedReader(strings.NewReader(body), chunkedOptions{
		signer:        &chunkSigner{key: deriveKey(docSecret, "20130524", "us-east-1", "s3"), amzDate: docTrailerAmzDate, scope: "20130524/us-east-1/s3/aws4_request"},
		seed:          docTrailerSeed,
		trailerMode:   true,
		trailerSigned: true,
		trailers:      []string{"x-amz-checksum-crc32c"},
		decodedLength: docDecodedLength,
	})
}

func TestStreamingTrailerDocumentationExample(t *testing.T) {
	chunks := docChunkedBody(docTrailerChunk1, docTrailerChunk2, docTrailerFinal)
	cases := []struct {
		name    string
		body    string
		wantErr error
	}{
		{"as documented", chunks + "x-amz-checksum-crc32c:" + docTrailerCRC32C + "\r\nx-amz-trailer-signature:" + docTrailerSigHex + "\r\n\r\n", nil},
		{"blank line before the trailers", chunks + "\r\nx-amz-checksum-crc32c:" + docTrailerCRC32C + "\r\nx-amz-trailer-signature:" + docTrailerSigHex + "\r\n\r\n", nil},
		{"checksum changed (signature no longer matches)", chunks + "x-amz-checksum-crc32c:AAAAAA==\r\nx-amz-trailer-signature:" + docTrailerSigHex + "\r\n\r\n", ErrSignatureMismatch},
		{"trailer signature missing", chunks + "x-amz-checksum-crc32c:" + docTrailerCRC32C + "\r\n\r\n", ErrMalformedTrailer},
		{"checksum trailer missing", chunks + "\r\n", ErrMalformedTrailer},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			cr := docTrailerReader(tc.body)
			got, err := readAll(cr)
			if tc.wantErr != nil {
				if !errors.Is(err, tc.wantErr) {
					t.Fatalf("read error = %v, want %v", err, tc.wantErr)
				}
				return
			}
			if err != nil || len(got) != docDecodedLength {
				t.Fatalf("read %d bytes, %v", len(got), err)
			}
			if v := cr.Trailers().Get("x-amz-checksum-crc32c"); v != docTrailerCRC32C {
				t.Fatalf("trailer = %q", v)
			}
		})
	}
}

// unsignedChunked frames payload as STREAMING-UNSIGNED-PAYLOAD-TRAILER does.
func unsignedChunked(payload string, size int, trailer string) string {
	var b strings.Builder
	for len(payload) > 0 {
		n := min(size, len(payload))
		fmt.Fprintf(&b, "%x\r\n%s\r\n", n, payload[:n])
		payload = payload[n:]
	}
	b.WriteString("0\r\n")
	if trailer != "" {
		b.WriteString(trailer + "\r\n")
	}
	b.WriteString("\r\n")
	return b.String()
}

func TestUnsignedTrailerChecksums(t *testing.T) {
	const payload = "123456789"
	b64 := func(b []byte) string { return base64.StdEncoding.EncodeToString(b) }
	be32 := func(v uint32) string { var b [4]byte; binary.BigEndian.PutUint32(b[:], v); return b64(b[:]) }
	be64 := func(v uint64) string { var b [8]byte; binary.BigEndian.PutUint64(b[:], v); return b64(b[:]) }
	// Published check values of each CRC for "123456789".
	cases := []struct {
		name, trailer, value string
		wantErr              error
	}{
		{"crc32", "x-amz-checksum-crc32", be32(0xCBF43926), nil},
		{"crc32c", "x-amz-checksum-crc32c", be32(0xE3069283), nil},
		{"crc64nvme", "x-amz-checksum-crc64nvme", be64(0xAE8B14860A799888), nil},
		{"sha1", "x-amz-checksum-sha1", "98O8HYCOBHMq32eZZczDTKeuNEE=", nil},
		{"sha256", "x-amz-checksum-sha256", "FeKw08M4keuw8e9gnsQZQgwg4yDOlMZfvIwzEkSOsiU=", nil},
		{"crc32 wrong", "x-amz-checksum-crc32", be32(0xCBF43927), ErrChecksumMismatch},
		{"sha256 wrong", "x-amz-checksum-sha256", "FeKw08M4keuw8e9gnsQZQgwg4yDOlMZfvIwzEkSOsiX=", ErrChecksumMismatch},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			body := unsignedChunked(payload, 4, tc.trailer+":"+tc.value)
			cr := newChunkedReader(strings.NewReader(body), chunkedOptions{trailerMode: true, trailers: []string{tc.trailer}, decodedLength: int64(len(payload))})
			got, err := readAll(cr)
			if tc.wantErr != nil {
				if !errors.Is(err, tc.wantErr) {
					t.Fatalf("read error = %v, want %v", err, tc.wantErr)
				}
				return
			}
			if err != nil || got != payload {
				t.Fatalf("read %q, %v", got, err)
			}
		})
	}
}

func TestChunkedFraming(t *testing.T) {
	cases := []struct {
		name, body string
		decoded    int64
		trailers   []string
		wantErr    error
	}{
		{"decoded length larger than payload", unsignedChunked("abc", 2, ""), 4, nil, ErrIncompleteBody},
		{"decoded length smaller than payload", unsignedChunked("abcdef", 2, ""), 3, nil, ErrIncompleteBody},
		{"size not hex", "zz\r\nabc\r\n0\r\n\r\n", -1, nil, ErrMalformedBody},
		{"LF without CR", "3\nabc\r\n0\r\n\r\n", -1, nil, ErrMalformedBody},
		{"empty body", "", -1, nil, ErrIncompleteBody},
		{"unannounced checksum trailer", unsignedChunked("abc", 3, "x-amz-checksum-crc32:NSRBwg=="), -1, []string{"x-amz-checksum-sha1"}, ErrMalformedTrailer},
		{"trailer line without colon", unsignedChunked("abc", 3, "garbage"), -1, []string{"x-amz-checksum-crc32"}, ErrMalformedTrailer},
		{"huge chunk header line", strings.Repeat("1", 64<<10) + "\r\n", -1, nil, ErrMalformedBody},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			cr := newChunkedReader(strings.NewReader(tc.body), chunkedOptions{trailerMode: true, trailers: tc.trailers, decodedLength: tc.decoded})
			_, err := io.ReadAll(cr)
			if !errors.Is(err, tc.wantErr) {
				t.Fatalf("read error = %v, want %v", err, tc.wantErr)
			}
		})
	}
}

package sigv4

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"testing"

	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
)

// signedChunkEncoder frames a payload as a signed aws-chunked body, written
// from the S3 documentation independently of the decoder.
type signedChunkEncoder struct {
	key            []byte
	amzDate, scope string
	prev           string
}

func (e *signedChunkEncoder) mac(parts ...string) string {
	m := hmac.New(sha256.New, e.key)
	m.Write([]byte(strings.Join(parts, "\n")))
	return hex.EncodeToString(m.Sum(nil))
}

func (e *signedChunkEncoder) chunk(b *bytes.Buffer, data string) {
	e.prev = e.mac("AWS4-HMAC-SHA256-PAYLOAD", e.amzDate, e.scope, e.prev, EmptySHA256, hashHex([]byte(data)))
	fmt.Fprintf(b, "%x;chunk-signature=%s\r\n%s\r\n", len(data), e.prev, data)
}

// final writes the zero-length chunk that ends the data; in the trailer
// variants the trailing headers follow its header line directly.
func (e *signedChunkEncoder) final(b *bytes.Buffer) {
	e.prev = e.mac("AWS4-HMAC-SHA256-PAYLOAD", e.amzDate, e.scope, e.prev, EmptySHA256, EmptySHA256)
	fmt.Fprintf(b, "0;chunk-signature=%s\r\n", e.prev)
}

func (e *signedChunkEncoder) trailer(b *bytes.Buffer, name, value string) {
	sig := e.mac("AWS4-HMAC-SHA256-TRAILER", e.amzDate, e.scope, e.prev, hashHex([]byte(name+":"+value+"\n")))
	fmt.Fprintf(b, "%s:%s\r\nx-amz-trailer-signature:%s\r\n\r\n", name, value, sig)
}

// TestSignedTrailerUpload runs a STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER
// upload whose seed is signed by aws-sdk-go-v2 through Parse, Verify and Body.
func TestSignedTrailerUpload(t *testing.T) {
	payload := strings.Repeat("0123456789abcdef", 1500) // 24000 bytes
	sum := sha256.Sum256([]byte(payload))
	goodChecksum := base64.StdEncoding.EncodeToString(sum[:])
	cases := []struct {
		name     string
		checksum string
		tamper   func(body []byte) []byte
		wantErr  error
	}{
		{name: "intact", checksum: goodChecksum},
		{name: "wrong checksum, correctly signed", checksum: base64.StdEncoding.EncodeToString(make([]byte, 32)), wantErr: ErrChecksumMismatch},
		{name: "payload byte changed", checksum: goodChecksum, tamper: func(b []byte) []byte { b[9000] ^= 1; return b }, wantErr: ErrSignatureMismatch},
		{name: "chunks reordered", checksum: goodChecksum, tamper: func(b []byte) []byte {
			parts := bytes.SplitAfterN(b, []byte("\r\n"), 5) // header1, data1, header2, data2, rest
			return bytes.Join([][]byte{parts[2], parts[3], parts[0], parts[1], parts[4]}, nil)
		}, wantErr: ErrSignatureMismatch},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r, err := http.NewRequest("PUT", "http://127.0.0.1:4566/bucket/big%20object", nil)
			if err != nil {
				t.Fatal(err)
			}
			r.Header.Set("Content-Encoding", "aws-chunked")
			r.Header.Set("X-Amz-Content-Sha256", StreamingPayloadTrailer)
			r.Header.Set("X-Amz-Decoded-Content-Length", strconv.Itoa(len(payload)))
			r.Header.Set("X-Amz-Trailer", "x-amz-checksum-sha256")
			err = v4.NewSigner().SignHTTP(context.Background(), testCreds, r, StreamingPayloadTrailer, "s3", "us-east-1", testNow,
				func(o *v4.SignerOptions) { o.DisableURIPathEscaping = true })
			if err != nil {
				t.Fatal(err)
			}
			a, err := Parse(r)
			if err != nil {
				t.Fatal(err)
			}
			enc := &signedChunkEncoder{key: deriveKey(testSecret, a.Date, a.Region, a.Service), amzDate: a.AmzDate, scope: a.Scope(), prev: a.Signature}
			var body bytes.Buffer
			enc.chunk(&body, payload[:16384])
			enc.chunk(&body, payload[16384:])
			enc.final(&body)
			enc.trailer(&body, "x-amz-checksum-sha256", tc.checksum)
			raw := body.Bytes()
			if tc.tamper != nil {
				raw = tc.tamper(raw)
			}
			r.Body = nopBody(string(raw))
			r.ContentLength = int64(len(raw))
			r = onTheWire(t, r)

			v := testVerifier()
			a, err = Parse(r)
			if err != nil {
				t.Fatal(err)
			}
			if err := v.Verify(r, a, testSecret, nil); err != nil {
				t.Fatalf("Verify seed: %v", err)
			}
			rc, err := v.Body(r, a, testSecret)
			if err != nil {
				t.Fatal(err)
			}
			got, err := readAll(rc)
			if tc.wantErr != nil {
				if !errors.Is(err, tc.wantErr) {
					t.Fatalf("read error = %v, want %v", err, tc.wantErr)
				}
				return
			}
			if err != nil || got != payload {
				t.Fatalf("read %d bytes, %v", len(got), err)
			}
			if cr := rc.(*ChunkedReader); cr.Trailers().Get("x-amz-checksum-sha256") != goodChecksum {
				t.Fatalf("trailers = %v", cr.Trailers())
			}
		})
	}
}

package sigv4

import (
	"bufio"
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"net/http"
	"strconv"
	"strings"
)

// Limits that keep a hostile aws-chunked body from costing memory.
const (
	chunkedBufferSize = 16 << 10 // also the longest chunk-header or trailer line
	maxTrailerLines   = 32
)

// chunkSigner holds what chained chunk and trailer signatures are made with.
type chunkSigner struct {
	key     []byte
	amzDate string
	scope   string
}

// sign returns HMAC(key, prefix\nDATE\nSCOPE\nprev\n<rest>) for a chunk or
// trailer string to sign; rest is already newline-joined.
func (s *chunkSigner) sign(algorithm, prev string, rest ...string) []byte {
	m := hmac.New(sha256.New, s.key)
	for i, part := range append([]string{algorithm, s.amzDate, s.scope, prev}, rest...) {
		if i > 0 {
			m.Write([]byte{'\n'})
		}
		m.Write([]byte(part))
	}
	return m.Sum(nil)
}

// chunkedOptions configures a ChunkedReader.
type chunkedOptions struct {
	signer        *chunkSigner // nil when chunks are unsigned (STREAMING-UNSIGNED-PAYLOAD-TRAILER)
	seed          string       // the request signature, which the first chunk chains from
	trailerMode   bool         // a *-TRAILER mode: trailing headers may follow the final chunk
	trailerSigned bool         // STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER
	trailers      []string     // lower-case names announced by x-amz-trailer
	decodedLength int64        // x-amz-decoded-content-length, -1 when absent
	checksums     []*payloadChecksum
}

type chunkedState int

const (
	stateChunkHeader chunkedState = iota
	stateChunkData
	stateChunkEnd
	stateDone
)

// ChunkedReader decodes an aws-chunked body (S3's streaming uploads) and
// yields the plain payload. It checks each chunk's chained signature, the
// trailer signature, every x-amz-checksum-* (from headers or trailers) and
// x-amz-decoded-content-length. A chunk's bytes are handed out before its
// signature is checked at the chunk's end, so a reader must discard all it
// read when Read returns an error other than io.EOF; io.EOF means the whole
// payload verified. Errors are *Error.
type ChunkedReader struct {
	src    *bufio.Reader
	closer io.Closer
	opt    chunkedOptions

	state     chunkedState
	prevSig   string
	remaining int64 // bytes left in the current chunk
	chunkSig  []byte
	chunkHash hash.Hash
	total     int64
	sums      []*payloadChecksum
	trailers  http.Header
	err       error
}

func newChunkedReader(body io.Reader, opt chunkedOptions) *ChunkedReader {
	c := &ChunkedReader{
		src:      bufio.NewReaderSize(body, chunkedBufferSize),
		opt:      opt,
		prevSig:  opt.seed,
		trailers: http.Header{},
		sums:     opt.checksums,
	}
	if cl, ok := body.(io.Closer); ok {
		c.closer = cl
	}
	if opt.signer != nil {
		c.chunkHash = sha256.New()
	}
	for _, name := range opt.trailers {
		if h, alg, ok := newChecksumHash(name); ok && strings.HasPrefix(name, checksumPrefix) {
			c.sums = append(c.sums, &payloadChecksum{header: name, algorithm: alg, hash: h})
		}
	}
	return c
}

// Trailers returns the trailing headers (without x-amz-trailer-signature)
// once Read has returned io.EOF; S3 stores the checksum values they carry.
func (c *ChunkedReader) Trailers() http.Header { return c.trailers }

// Close closes the underlying body.
func (c *ChunkedReader) Close() error {
	if c.closer != nil {
		return c.closer.Close()
	}
	return nil
}

func (c *ChunkedReader) Read(p []byte) (int, error) {
	for {
		if c.err != nil {
			return 0, c.err
		}
		switch c.state {
		case stateChunkHeader:
			c.err = c.readChunkHeader()
		case stateChunkEnd:
			c.err = c.finishChunk()
		case stateDone:
			return 0, io.EOF
		case stateChunkData:
			if len(p) == 0 {
				return 0, nil
			}
			if int64(len(p)) > c.remaining {
				p = p[:c.remaining]
			}
			n, err := c.src.Read(p)
			c.consume(p[:n])
			if c.opt.decodedLength >= 0 && c.total > c.opt.decodedLength {
				c.err = &Error{Reason: ReasonIncompleteBody, Detail: fmt.Sprintf("the chunks carry more than x-amz-decoded-content-length (%d) bytes", c.opt.decodedLength)}
			} else if err != nil && c.remaining > 0 {
				if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
					err = &Error{Reason: ReasonIncompleteBody, Detail: "the body ended inside a chunk"}
				}
				c.err = err
			}
			if n > 0 {
				return n, nil
			}
		}
	}
}

func (c *ChunkedReader) consume(data []byte) {
	if len(data) == 0 {
		return
	}
	c.remaining -= int64(len(data))
	c.total += int64(len(data))
	if c.chunkHash != nil {
		c.chunkHash.Write(data)
	}
	for _, s := range c.sums {
		s.hash.Write(data)
	}
	if c.remaining == 0 {
		c.state = stateChunkEnd
	}
}

// readLine returns one CRLF-terminated line without its CRLF.
func (c *ChunkedReader) readLine() (string, error) {
	line, err := c.src.ReadSlice('\n')
	switch {
	case errors.Is(err, bufio.ErrBufferFull):
		return "", &Error{Reason: ReasonMalformedBody, Detail: "chunk header line too long"}
	case errors.Is(err, io.EOF) && len(line) == 0:
		return "", io.EOF
	case errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF):
		return "", &Error{Reason: ReasonIncompleteBody, Detail: "the body ended inside a chunk header"}
	case err != nil:
		return "", err
	}
	if len(line) < 2 || line[len(line)-2] != '\r' {
		return "", &Error{Reason: ReasonMalformedBody, Detail: "chunk line not terminated by CRLF"}
	}
	return string(line[:len(line)-2]), nil
}

// readChunkHeader parses "SIZE[;chunk-signature=SIG]".
func (c *ChunkedReader) readChunkHeader() error {
	line, err := c.readLine()
	if errors.Is(err, io.EOF) {
		return &Error{Reason: ReasonIncompleteBody, Detail: "the body ended before the final chunk"}
	}
	if err != nil {
		return err
	}
	sizeText, ext, _ := strings.Cut(line, ";")
	size, perr := strconv.ParseInt(strings.TrimSpace(sizeText), 16, 64)
	if perr != nil || size < 0 {
		return &Error{Reason: ReasonMalformedBody, Detail: fmt.Sprintf("chunk size %q is not hexadecimal", sizeText)}
	}
	if c.opt.signer != nil {
		sig, ok := strings.CutPrefix(strings.TrimSpace(ext), "chunk-signature=")
		if !ok {
			return &Error{Reason: ReasonMalformedBody, Detail: "signed chunk without chunk-signature"}
		}
		c.chunkSig = c.chunkSig[:0]
		if len(sig) != 2*sha256.Size {
			return &Error{Reason: ReasonSignatureMismatch, Detail: "chunk signature has the wrong length", SignatureProvided: sig}
		}
		c.chunkSig, err = hex.AppendDecode(c.chunkSig, []byte(sig))
		if err != nil {
			return &Error{Reason: ReasonSignatureMismatch, Detail: "chunk signature is not hexadecimal", SignatureProvided: sig}
		}
		c.chunkHash.Reset()
	}
	c.remaining = size
	if size == 0 {
		if err := c.verifyChunkSignature(); err != nil {
			return err
		}
		return c.readTrailers()
	}
	c.state = stateChunkData
	return nil
}

// finishChunk reads the CRLF after a chunk's data and checks its signature.
func (c *ChunkedReader) finishChunk() error {
	var crlf [2]byte
	if _, err := io.ReadFull(c.src, crlf[:]); err != nil {
		return &Error{Reason: ReasonIncompleteBody, Detail: "the body ended after a chunk's data"}
	}
	if crlf != [2]byte{'\r', '\n'} {
		return &Error{Reason: ReasonMalformedBody, Detail: "chunk data not followed by CRLF (wrong chunk size?)"}
	}
	if err := c.verifyChunkSignature(); err != nil {
		return err
	}
	c.state = stateChunkHeader
	return nil
}

func (c *ChunkedReader) verifyChunkSignature() error {
	if c.opt.signer == nil {
		return nil
	}
	var sum [sha256.Size]byte
	got := c.opt.signer.sign("AWS4-HMAC-SHA256-PAYLOAD", c.prevSig, EmptySHA256, hex.EncodeToString(c.chunkHash.Sum(sum[:0])))
	if !hmac.Equal(got, c.chunkSig) {
		return &Error{Reason: ReasonSignatureMismatch, Detail: "chunk signature does not match", SignatureProvided: hex.EncodeToString(c.chunkSig)}
	}
	c.prevSig = hex.EncodeToString(c.chunkSig)
	return nil
}

// readTrailers reads the trailing headers after the final chunk, checks the
// trailer signature and every checksum, and ends the stream.
func (c *ChunkedReader) readTrailers() error {
	var canonical bytes.Buffer
	var trailerSig string
	for i := 0; ; i++ {
		if i > maxTrailerLines {
			return &Error{Reason: ReasonMalformedTrailer, Detail: "too many trailing headers"}
		}
		line, err := c.readLine()
		if i == 0 && err == nil && line == "" && c.opt.trailerMode {
			// Some encoders end the final chunk's empty data with CRLF
			// before the trailers; a blank line followed by more is that.
			if _, perr := c.src.Peek(1); perr == nil {
				continue
			}
		}
		if errors.Is(err, io.EOF) || err == nil && line == "" {
			break
		}
		if err != nil {
			return err
		}
		name, value, ok := strings.Cut(line, ":")
		if !ok {
			return &Error{Reason: ReasonMalformedTrailer, Detail: fmt.Sprintf("trailer line %q has no colon", line)}
		}
		name, value = strings.ToLower(strings.TrimSpace(name)), strings.TrimSpace(value)
		if !c.opt.trailerMode {
			return &Error{Reason: ReasonMalformedTrailer, Detail: "trailing headers need a *-TRAILER x-amz-content-sha256"}
		}
		if name == "x-amz-trailer-signature" {
			trailerSig = value
			continue
		}
		if strings.HasPrefix(name, checksumPrefix) && !c.announced(name) {
			return &Error{Reason: ReasonMalformedTrailer, Detail: fmt.Sprintf("trailer %s was not announced by x-amz-trailer", name)}
		}
		c.trailers.Add(name, value)
		canonical.WriteString(name)
		canonical.WriteByte(':')
		canonical.WriteString(value)
		canonical.WriteByte('\n')
	}
	if c.opt.trailerSigned {
		if trailerSig == "" {
			return &Error{Reason: ReasonMalformedTrailer, Detail: "x-amz-trailer-signature is missing"}
		}
		sum := sha256.Sum256(canonical.Bytes())
		got := c.opt.signer.sign("AWS4-HMAC-SHA256-TRAILER", c.prevSig, hex.EncodeToString(sum[:]))
		want, err := hex.DecodeString(trailerSig)
		if err != nil || !hmac.Equal(got, want) {
			return &Error{Reason: ReasonSignatureMismatch, Detail: "trailer signature does not match", SignatureProvided: trailerSig}
		}
	}
	for _, name := range c.opt.trailers {
		if c.trailers.Get(name) == "" {
			return &Error{Reason: ReasonMalformedTrailer, Detail: fmt.Sprintf("trailer %s announced by x-amz-trailer is missing", name)}
		}
	}
	if c.opt.decodedLength >= 0 && c.total != c.opt.decodedLength {
		return &Error{Reason: ReasonIncompleteBody, Detail: fmt.Sprintf("decoded %d bytes, x-amz-decoded-content-length says %d", c.total, c.opt.decodedLength)}
	}
	for _, s := range c.sums {
		if s.want == "" {
			s.want = c.trailers.Get(s.header)
		}
		if err := s.verify(); err != nil {
			return err
		}
	}
	c.state = stateDone
	return nil
}

func (c *ChunkedReader) announced(name string) bool {
	for _, t := range c.opt.trailers {
		if t == name {
			return true
		}
	}
	return false
}

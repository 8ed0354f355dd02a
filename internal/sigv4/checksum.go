package sigv4

import (
	"crypto/sha1"
	"crypto/sha256"
	"encoding/base64"
	"hash"
	"hash/crc32"
	"hash/crc64"
	"strings"
)

// checksumPrefix starts the names of S3's flexible checksum headers and
// trailers (x-amz-checksum-crc32, ...); x-amz-checksum-mode and -type are
// not checksums.
const checksumPrefix = "x-amz-checksum-"

var (
	crc32cTable = crc32.MakeTable(crc32.Castagnoli)
	// crc64NVMETable is CRC-64/NVME (reflected polynomial 0x9a6c9329ac4bc9b5),
	// S3's CRC64NVME checksum.
	crc64NVMETable = crc64.MakeTable(0x9a6c9329ac4bc9b5)
)

// newChecksumHash returns the hash behind a checksum header name and the
// algorithm's name as S3 spells it in errors.
func newChecksumHash(header string) (hash.Hash, string, bool) {
	switch strings.TrimPrefix(strings.ToLower(header), checksumPrefix) {
	case "crc32":
		return crc32.NewIEEE(), "CRC32", true
	case "crc32c":
		return crc32.New(crc32cTable), "CRC32C", true
	case "crc64nvme":
		return crc64.New(crc64NVMETable), "CRC64NVME", true
	case "sha1":
		return sha1.New(), "SHA1", true
	case "sha256":
		return sha256.New(), "SHA256", true
	}
	return nil, "", false
}

// payloadChecksum is one x-amz-checksum-* value to check against the payload.
type payloadChecksum struct {
	header    string // lower-case header or trailer name
	algorithm string
	hash      hash.Hash
	want      string // base64; for trailers, known only at the end
}

// verify compares the computed checksum with want.
func (c *payloadChecksum) verify() error {
	got := base64.StdEncoding.EncodeToString(c.hash.Sum(nil))
	if got != c.want {
		return &Error{Reason: ReasonChecksumMismatch, Algorithm: c.algorithm, ClientValue: c.want, ComputedValue: got,
			Detail: c.header + " does not match the payload"}
	}
	return nil
}

// headerChecksums returns the checksums r declares in its headers.
func headerChecksums(h map[string][]string) []*payloadChecksum {
	var out []*payloadChecksum
	for name, values := range h {
		lower := strings.ToLower(name)
		if !strings.HasPrefix(lower, checksumPrefix) || len(values) == 0 {
			continue
		}
		hs, alg, ok := newChecksumHash(lower)
		if !ok {
			continue
		}
		out = append(out, &payloadChecksum{header: lower, algorithm: alg, hash: hs, want: strings.TrimSpace(values[0])})
	}
	return out
}

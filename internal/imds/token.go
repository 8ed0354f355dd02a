package imds

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"strconv"
	"strings"
	"time"
)

// Session tokens are stateless: version byte, expiry (Unix seconds, big
// endian), the instance ID, then an HMAC-SHA256 over all of it with the
// handler's secret, base64-encoded. Nothing is stored, a nimbus restart
// with a new secret simply invalidates outstanding tokens (clients fetch a
// new one on 401, as they must on EC2 too), and a token minted for one
// instance fails verification in any other.

const (
	tokenVersion = 1
	// MaxTokenTTL and MinTokenTTL bound X-aws-ec2-metadata-token-ttl-seconds.
	MaxTokenTTL = 21600
	MinTokenTTL = 1
)

var (
	errTokenMalformed = errors.New("malformed token")
	errTokenSignature = errors.New("token signature mismatch")
	errTokenExpired   = errors.New("token expired")
	errTokenInstance  = errors.New("token belongs to another instance")
)

type tokenSigner struct {
	secret []byte
}

func (s tokenSigner) mint(instanceID string, expires time.Time) string {
	payload := make([]byte, 0, 9+len(instanceID)+sha256.Size)
	payload = append(payload, tokenVersion)
	// Round up to whole seconds so a token never lives shorter than asked.
	exp := expires.Unix()
	if expires.Nanosecond() > 0 {
		exp++
	}
	payload = binary.BigEndian.AppendUint64(payload, uint64(exp))
	payload = append(payload, instanceID...)
	payload = s.sign(payload)
	return base64.StdEncoding.EncodeToString(payload)
}

func (s tokenSigner) sign(payload []byte) []byte {
	mac := hmac.New(sha256.New, s.secret)
	mac.Write(payload)
	return mac.Sum(payload)
}

// verify checks the token and returns its remaining lifetime.
func (s tokenSigner) verify(token, instanceID string, now time.Time) (time.Duration, error) {
	raw, err := base64.StdEncoding.DecodeString(token)
	if err != nil || len(raw) < 9+sha256.Size || raw[0] != tokenVersion {
		return 0, errTokenMalformed
	}
	payload, sum := raw[:len(raw)-sha256.Size], raw[len(raw)-sha256.Size:]
	mac := hmac.New(sha256.New, s.secret)
	mac.Write(payload)
	if !hmac.Equal(mac.Sum(nil), sum) {
		return 0, errTokenSignature
	}
	if string(payload[9:]) != instanceID {
		return 0, errTokenInstance
	}
	expires := time.Unix(int64(binary.BigEndian.Uint64(payload[1:9])), 0)
	left := expires.Sub(now)
	if left <= 0 {
		return 0, errTokenExpired
	}
	return left, nil
}

// parseTTL reads X-aws-ec2-metadata-token-ttl-seconds: a decimal integer
// in [MinTokenTTL, MaxTokenTTL].
func parseTTL(v string) (int, bool) {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0, false
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < MinTokenTTL || n > MaxTokenTTL {
		return 0, false
	}
	return n, true
}

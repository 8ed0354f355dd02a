package logs

import (
	"encoding/base64"
	"fmt"
	"strconv"
)

// Paging tokens are splits in a group's (timestamp, key) order, written as
// digits: the timestamp with its sign bit flipped (so the digits order as
// the times do) and the key, 20 digits each. GetLogEvents' tokens carry a
// direction, f/ or b/, as AWS's do; FilterLogEvents' are opaque.

func formatPosition(p position) string {
	return fmt.Sprintf("%020d%020d", uint64(p.ts)^1<<63, p.key)
}

func parsePosition(s string) (position, bool) {
	if len(s) != 40 {
		return position{}, false
	}
	ts, err1 := strconv.ParseUint(s[:20], 10, 64)
	key, err2 := strconv.ParseUint(s[20:], 10, 64)
	if err1 != nil || err2 != nil {
		return position{}, false
	}
	return position{ts: int64(ts ^ 1<<63), key: key}, true
}

func encodeGetToken(dir byte, p position) string {
	return string(dir) + "/" + formatPosition(p)
}

func decodeGetToken(tok string) (byte, position, bool) {
	if len(tok) < 2 || tok[1] != '/' || tok[0] != 'f' && tok[0] != 'b' {
		return 0, position{}, false
	}
	p, ok := parsePosition(tok[2:])
	return tok[0], p, ok
}

func encodeFilterToken(p position) string {
	return base64.RawURLEncoding.EncodeToString([]byte("F1" + formatPosition(p)))
}

func decodeFilterToken(tok string) (position, bool) {
	b, err := base64.RawURLEncoding.DecodeString(tok)
	if err != nil || len(b) < 2 || string(b[:2]) != "F1" {
		return position{}, false
	}
	return parsePosition(string(b[2:]))
}

// eventID is the FilterLogEvents event ID: stable across calls (aws logs
// tail --follow uses it to skip events it has shown).
func eventID(p position) string { return formatPosition(p) }

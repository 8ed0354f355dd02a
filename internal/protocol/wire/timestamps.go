package wire

import (
	"fmt"
	"math"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/nimbus-dev/nimbus/internal/awsmodel"
)

// Timestamp formats a model can name in timestampFormat.
const (
	ISO8601       = "iso8601"
	UnixTimestamp = "unixTimestamp"
	RFC822        = "rfc822"
)

// TimestampFormat is the format a timestamp ref uses: the ref's
// timestampFormat, else its shape's, else def.
func TimestampFormat(ref *awsmodel.Ref, def string) string {
	if ref != nil {
		if ref.TimestampFormat != "" {
			return ref.TimestampFormat
		}
		if ref.Shape != nil && ref.Shape.TimestampFormat != "" {
			return ref.Shape.TimestampFormat
		}
	}
	return def
}

// FormatTimestamp writes t in one of the model's timestamp formats. ISO 8601
// carries milliseconds, as AWS's XML services answer.
func FormatTimestamp(t time.Time, format string) string {
	t = t.UTC()
	switch format {
	case UnixTimestamp:
		return FormatEpoch(t)
	case RFC822:
		return t.Format(http.TimeFormat)
	}
	return t.Format("2006-01-02T15:04:05.000Z")
}

// FormatEpoch writes t as seconds since the epoch, with a fraction only when
// t has one (milliseconds precision, as AWS uses).
func FormatEpoch(t time.Time) string {
	ms := t.UnixMilli()
	if ms%1000 == 0 {
		return strconv.FormatInt(ms/1000, 10)
	}
	return strconv.FormatFloat(float64(ms)/1000, 'f', -1, 64)
}

// EpochTime is the instant f seconds after the epoch, to the millisecond
// (AWS's precision), in UTC.
func EpochTime(f float64) time.Time {
	sec, frac := math.Modf(f)
	return time.Unix(int64(sec), int64(math.Round(frac*1e3))*1e6).UTC()
}

// ParseTimestamp reads a timestamp written in format, accepting the other
// common forms too (clients differ in which they send).
func ParseTimestamp(s, format string) (time.Time, error) {
	s = strings.TrimSpace(s)
	if format == UnixTimestamp || (s != "" && (s[0] >= '0' && s[0] <= '9') && !strings.ContainsAny(s, "-:T ")) {
		f, err := strconv.ParseFloat(s, 64)
		if err == nil && !math.IsNaN(f) && !math.IsInf(f, 0) && math.Abs(f) < 1e13 {
			return EpochTime(f), nil
		}
		if format == UnixTimestamp {
			return time.Time{}, fmt.Errorf("%q is not a timestamp in epoch seconds", s)
		}
	}
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05Z0700", "2006-01-02T15:04:05", http.TimeFormat, time.RFC1123Z, time.RFC1123} {
		if t, err := time.Parse(layout, s); err == nil {
			return t.UTC(), nil
		}
	}
	return time.Time{}, fmt.Errorf("%q is not a valid timestamp", s)
}

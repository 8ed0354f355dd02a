package wire

import (
	"testing"
	"time"
)

func TestTimestamps(t *testing.T) {
	ts := time.Date(2024, 1, 2, 3, 4, 5, 250e6, time.UTC)
	for _, f := range []string{ISO8601, UnixTimestamp, RFC822} {
		s := FormatTimestamp(ts, f)
		back, err := ParseTimestamp(s, f)
		if err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		want := ts
		if f == RFC822 {
			want = ts.Truncate(time.Second)
		}
		if !back.Equal(want) {
			t.Errorf("%s: %s read back as %v", f, s, back)
		}
	}
	if got := FormatEpoch(time.Unix(1700000000, 0)); got != "1700000000" {
		t.Errorf("whole epoch seconds written as %s", got)
	}
}

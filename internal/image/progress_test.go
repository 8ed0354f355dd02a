package image

import (
	"bytes"
	"strings"
	"testing"
	"time"
)

func TestLineProgress(t *testing.T) {
	var out bytes.Buffer
	now := time.Unix(1000, 0)
	p := &lineProgress{w: &out, now: func() time.Time { return now }}
	p.Step("copy layers", 100<<20)
	p.Add(10 << 20) // too soon for a line
	now = now.Add(6 * time.Second)
	p.Add(40 << 20)
	p.Logf("stored %s", "x")
	want := "copy layers: 100.0 MiB\ncopy layers: 50.0 MiB of 100.0 MiB (50%)\nstored x\n"
	if out.String() != want {
		t.Errorf("got:\n%s\nwant:\n%s", out.String(), want)
	}
}

func TestNewProgressChoosesLinesForPipes(t *testing.T) {
	var out bytes.Buffer
	if _, ok := NewProgress(&out).(*lineProgress); !ok {
		t.Error("a buffer got a progress bar")
	}
}

func TestHumanBytes(t *testing.T) {
	for n, want := range map[int64]string{0: "0 B", 1023: "1023 B", 1024: "1.0 KiB", 50 << 20: "50.0 MiB", 3 << 30: "3.0 GiB"} {
		if got := humanBytes(n); got != want {
			t.Errorf("humanBytes(%d) = %q, want %q", n, got, want)
		}
	}
	if !strings.HasSuffix(humanBytes(1<<62), "EiB") {
		t.Error(humanBytes(1 << 62))
	}
}

func TestBarProgressDraws(t *testing.T) {
	var out bytes.Buffer
	p := &barProgress{w: &out}
	p.Step("copy layers", 1000)
	p.Add(1000)
	p.Logf("stored %s", "x")
	p.Step("unpack", 0)
	p.Add(10)
	p.Finish()
	for _, want := range []string{"copy layers", "100%", "stored x", "unpack"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("bar output lacks %q:\n%q", want, out.String())
		}
	}
}

package sandboxlog

import (
	"bytes"
	"io"
	"strings"
	"testing"
	"time"
)

func fixedClock() func() time.Time {
	t := time.Date(2026, 11, 27, 22, 0, 0, 0, time.UTC)
	return func() time.Time {
		t = t.Add(time.Millisecond)
		return t
	}
}

func TestCopyWritesOneRecordPerLine(t *testing.T) {
	var buf bytes.Buffer
	w := NewWriter(&buf, fixedClock())
	if err := w.Copy(Stdout, strings.NewReader("one\ntwo\nno newline")); err != nil {
		t.Fatal(err)
	}
	want := "2026-11-27T22:00:00.001Z stdout F one\n" +
		"2026-11-27T22:00:00.002Z stdout F two\n" +
		"2026-11-27T22:00:00.003Z stdout P no newline\n"
	if buf.String() != want {
		t.Fatalf("got\n%s\nwant\n%s", buf.String(), want)
	}
}

func TestLongLinesAreSplitAndJoinedBack(t *testing.T) {
	var buf bytes.Buffer
	w := NewWriter(&buf, nil)
	long := strings.Repeat("x", MaxLineBytes*2+10)
	if err := w.Copy(Stderr, strings.NewReader(long+"\nshort\n")); err != nil {
		t.Fatal(err)
	}
	recs, err := ReadAll(&buf)
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != 4 || !recs[0].Partial || !recs[1].Partial || recs[2].Partial {
		t.Fatalf("want 3 records for the long line and 1 more, got %d: %+v", len(recs), recs)
	}
	lines := Lines(recs, Stderr)
	if len(lines) != 2 || lines[0] != long || lines[1] != "short" {
		t.Fatalf("joined lines wrong: %d lines", len(lines))
	}
	if got := Lines(recs, Stdout); len(got) != 0 {
		t.Fatalf("stdout should be empty, got %q", got)
	}
}

func TestReaderSkipsRecordStillBeingWritten(t *testing.T) {
	in := "2026-11-27T22:00:00.001Z stdout F done\n2026-11-27T22:00:00.002Z stdout F hal"
	recs, err := ReadAll(strings.NewReader(in))
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != 1 || recs[0].Content != "done" || recs[0].Stream != Stdout {
		t.Fatalf("got %+v", recs)
	}
	if !recs[0].Time.Equal(time.Date(2026, 11, 27, 22, 0, 0, 1e6, time.UTC)) {
		t.Fatalf("time %v", recs[0].Time)
	}
}

func TestParseRecordRejectsGarbage(t *testing.T) {
	for _, line := range []string{"", "nonsense", "2026-11-27T22:00:00Z stdout X hi", "yesterday stdout F hi"} {
		if _, err := ParseRecord([]byte(line)); err == nil {
			t.Errorf("ParseRecord(%q) accepted garbage", line)
		}
	}
	rec, err := ParseRecord([]byte("2026-11-27T22:00:00Z stderr F "))
	if err != nil || rec.Content != "" || rec.Stream != Stderr {
		t.Fatalf("empty line: %+v %v", rec, err)
	}
}

func TestConcurrentStreamsNeverInterleaveWithinARecord(t *testing.T) {
	var buf bytes.Buffer
	w := NewWriter(&buf, nil)
	pr1, pw1 := io.Pipe()
	pr2, pw2 := io.Pipe()
	done := make(chan error, 2)
	go func() { done <- w.Copy(Stdout, pr1) }()
	go func() { done <- w.Copy(Stderr, pr2) }()
	for i := 0; i < 200; i++ {
		io.WriteString(pw1, "out-line\n")
		io.WriteString(pw2, "err-line\n")
	}
	pw1.Close()
	pw2.Close()
	for i := 0; i < 2; i++ {
		if err := <-done; err != nil {
			t.Fatal(err)
		}
	}
	recs, err := ReadAll(&buf)
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != 400 {
		t.Fatalf("want 400 records, got %d", len(recs))
	}
	for _, r := range recs {
		if want := map[Stream]string{Stdout: "out-line", Stderr: "err-line"}[r.Stream]; r.Content != want {
			t.Fatalf("record %+v mixed streams", r)
		}
	}
}

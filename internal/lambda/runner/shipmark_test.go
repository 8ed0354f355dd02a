package runner

import (
	"context"
	"log/slog"
	"path/filepath"
	"testing"
	"time"
)

// A crash between a sandbox's output and its next ship loses nothing: the
// restarted Pool ships from the recorded offset (and only from there).
func TestLeftoverLinesShipAfterACrash(t *testing.T) {
	path := filepath.Join(t.TempDir(), "lambda-abc.log")
	dest := LogDestination{Account: "000000000000", Region: "us-east-1", Group: "/aws/lambda/f", Stream: "2026/11/28/[$LATEST]abc"}
	l, err := openSandboxLog(path, dest, time.Now)
	if err != nil {
		t.Fatal(err)
	}
	l.line("START RequestId: 1 Version: $LATEST")
	l.line("shipped before the crash")
	sink := &memorySink{}
	s := newShipper(sink, time.Hour, slog.New(slog.DiscardHandler))
	s.add(l)
	s.ship(context.Background(), l)
	l.line("written after the last ship")
	l.line("END RequestId: 1")
	l.close() // the process dies here: no ship, no remove

	restarted := &memorySink{}
	shipLeftovers(context.Background(), restarted, []string{path, filepath.Join(t.TempDir(), "no-mark.log")}, slog.New(slog.DiscardHandler))
	got := restarted.snapshot()[dest.Group+" "+dest.Stream]
	if len(got) != 2 || got[0].Message != "written after the last ship" || got[1].Message != "END RequestId: 1" {
		t.Fatalf("shipped after the restart: %+v", got)
	}
	// Shipping again ships nothing: the mark moved.
	again := &memorySink{}
	shipLeftovers(context.Background(), again, []string{path}, slog.New(slog.DiscardHandler))
	if n := len(again.snapshot()); n != 0 {
		t.Errorf("a second restart shipped %d streams again", n)
	}
}

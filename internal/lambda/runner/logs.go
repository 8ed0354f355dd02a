package runner

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nimbus-dev/nimbus/internal/sandboxlog"
)

// LogEvent is one line of a function's log.
type LogEvent struct {
	Time    time.Time
	Message string
}

// LogSink receives every sandbox's log lines, in order, a batch at a time:
// the function's own output and the runner's START, END and REPORT lines.
// CloudWatch Logs adapts to it (group Function.LogGroup, stream
// "YYYY/MM/DD/[VERSION]" and the sandbox's 32 hex digits). Ship is called
// from one goroutine per Pool, never on an invocation's path; an error is
// logged and the batch dropped.
type LogSink interface {
	Ship(ctx context.Context, dest LogDestination, events []LogEvent) error
}

// LogDestination is where a sandbox's lines go: the function's account and
// region, its log group and the sandbox's stream.
type LogDestination struct {
	Account, Region, Group, Stream string
}

// maxTail is how much of an invocation's log Request.Tail returns.
const maxTail = 4096

// sandboxLog is one sandbox's log file as the runner uses it: it appends
// the framing lines to the file the sandbox's output goes to (as whole
// records, so they interleave with the runtime's lines in order), and the
// shipper reads the file from where it last stopped.
type sandboxLog struct {
	path string
	dest LogDestination

	f *os.File
	w *sandboxlog.Writer

	dirty   atomic.Bool // written since last shipped
	shipMu  sync.Mutex  // one ship at a time
	shipped int64       // file offset shipped up to; guarded by shipMu
}

func openSandboxLog(path string, dest LogDestination, now func() time.Time) (*sandboxLog, error) {
	f, err := sandboxlog.OpenFile(path)
	if err != nil {
		return nil, fmt.Errorf("open sandbox log: %w", err)
	}
	l := &sandboxLog{path: path, dest: dest, f: f, w: sandboxlog.NewWriter(f, now)}
	l.dirty.Store(true) // the runtime's init output
	return l, nil
}

// line appends one line and returns the file offset just after it.
func (l *sandboxLog) line(s string) int64 {
	if err := l.w.WriteRecord(sandboxlog.Stdout, []byte(s), false); err != nil {
		return -1
	}
	l.dirty.Store(true)
	off, err := l.f.Seek(0, io.SeekCurrent) // O_APPEND: the end of our write
	if err != nil {
		return -1
	}
	return off
}

// since returns the lines written from off to the end of the file, whole
// records only, with the offset they end at.
func (l *sandboxLog) since(off int64) ([]sandboxlog.Record, int64, error) {
	f, err := os.Open(l.path)
	if err != nil {
		return nil, off, err
	}
	defer f.Close()
	buf, err := io.ReadAll(io.NewSectionReader(f, off, 1<<40))
	if err != nil {
		return nil, off, err
	}
	end := bytes.LastIndexByte(buf, '\n')
	if end < 0 {
		return nil, off, nil
	}
	var recs []sandboxlog.Record
	for _, ln := range bytes.Split(buf[:end], []byte{'\n'}) {
		r, err := sandboxlog.ParseRecord(ln)
		if err != nil {
			continue // not ours to judge; the file keeps it
		}
		recs = append(recs, r)
	}
	return recs, off + int64(end) + 1, nil
}

// tail is the last 4 KB of an invocation's lines: first (its START line,
// which the file holds just before off; none when empty) and everything
// after off.
func (l *sandboxLog) tail(first string, off int64) []byte {
	var b strings.Builder
	if first != "" {
		b.WriteString(first)
		b.WriteByte('\n')
	}
	if off >= 0 {
		recs, _, _ := l.since(off)
		for _, r := range recs {
			b.WriteString(r.Content)
			if !r.Partial {
				b.WriteByte('\n')
			}
		}
	}
	out := []byte(b.String())
	if len(out) > maxTail {
		out = out[len(out)-maxTail:]
	}
	return out
}

func (l *sandboxLog) close() { l.f.Close() }

// shipper sends new log lines of every live sandbox to the LogSink every
// interval, off the invocation path.
type shipper struct {
	sink  LogSink
	every time.Duration
	log   *slog.Logger

	mu   sync.Mutex
	logs map[*sandboxLog]bool
}

func newShipper(sink LogSink, every time.Duration, log *slog.Logger) *shipper {
	return &shipper{sink: sink, every: every, log: log, logs: map[*sandboxLog]bool{}}
}

func (s *shipper) add(l *sandboxLog) {
	if s.sink == nil {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.logs[l] = true
}

// remove ships what is left of l and stops following it.
func (s *shipper) remove(ctx context.Context, l *sandboxLog) {
	if s.sink == nil {
		return
	}
	s.mu.Lock()
	delete(s.logs, l)
	s.mu.Unlock()
	s.ship(ctx, l)
}

// run ships every interval until ctx ends.
func (s *shipper) run(ctx context.Context) {
	if s.sink == nil {
		return
	}
	tick := time.NewTicker(s.every)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		s.mu.Lock()
		var due []*sandboxLog
		for l := range s.logs {
			if l.dirty.Load() {
				due = append(due, l)
			}
		}
		s.mu.Unlock()
		for _, l := range due {
			s.ship(ctx, l)
		}
	}
}

func (s *shipper) ship(ctx context.Context, l *sandboxLog) {
	l.shipMu.Lock()
	defer l.shipMu.Unlock()
	l.dirty.Store(false)
	recs, end, err := l.since(l.shipped)
	if err != nil {
		s.log.Warn("lambda runner: read sandbox log", "path", l.path, "err", err)
		return
	}
	l.shipped = end
	if len(recs) == 0 {
		return
	}
	events := make([]LogEvent, 0, len(recs))
	for _, r := range recs {
		events = append(events, LogEvent{Time: r.Time, Message: r.Content})
	}
	if err := s.sink.Ship(ctx, l.dest, events); err != nil {
		s.log.Warn("lambda runner: ship log lines", "group", l.dest.Group, "stream", l.dest.Stream, "lines", len(events), "err", err)
	}
}

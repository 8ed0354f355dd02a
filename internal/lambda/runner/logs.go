package runner

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
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
	if err := writeShipMark(path, shipMark{Dest: dest}); err != nil {
		f.Close()
		return nil, err
	}
	return l, nil
}

// shipMark is what survives a crash of how far a sandbox's log was
// shipped, beside the log (<log>.ship): a restarted Pool ships the rest
// before it deletes the sandboxes a previous nimbus left. The log file is
// the source of truth; a crash between a ship and its mark ships those
// lines twice rather than losing them.
type shipMark struct {
	Dest   LogDestination `json:"dest"`
	Offset int64          `json:"offset"`
}

func shipMarkPath(logPath string) string { return logPath + ".ship" }

func writeShipMark(logPath string, m shipMark) error {
	b, err := json.Marshal(m)
	if err != nil {
		return err
	}
	tmp := shipMarkPath(logPath) + ".tmp"
	if err := os.WriteFile(tmp, b, 0o600); err != nil {
		return fmt.Errorf("record log shipping: %w", err)
	}
	if err := os.Rename(tmp, shipMarkPath(logPath)); err != nil {
		return fmt.Errorf("record log shipping: %w", err)
	}
	return nil
}

// shipLeftovers ships what the sandboxes of a previous nimbus wrote after
// its last ship. logPaths are their log files; those without a mark were
// never Lambda sandboxes with a destination and are left alone.
func shipLeftovers(ctx context.Context, sink LogSink, logPaths []string, log *slog.Logger) {
	if sink == nil {
		return
	}
	for _, path := range logPaths {
		b, err := os.ReadFile(shipMarkPath(path))
		if err != nil {
			continue
		}
		var m shipMark
		if json.Unmarshal(b, &m) != nil || m.Dest.Group == "" {
			continue
		}
		l := &sandboxLog{path: path, dest: m.Dest, shipped: m.Offset}
		recs, end, err := l.since(m.Offset)
		if err != nil || len(recs) == 0 {
			continue
		}
		events := make([]LogEvent, 0, len(recs))
		for _, r := range recs {
			events = append(events, LogEvent{Time: r.Time, Message: r.Content})
		}
		if err := sink.Ship(ctx, m.Dest, events); err != nil {
			log.Warn("lambda runner: ship a previous run's log lines", "group", m.Dest.Group, "stream", m.Dest.Stream, "err", err)
			continue
		}
		writeShipMark(path, shipMark{Dest: m.Dest, Offset: end})
		log.Info("lambda runner: shipped a previous run's log lines", "group", m.Dest.Group, "stream", m.Dest.Stream, "lines", len(events))
	}
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
	if errors.Is(err, fs.ErrNotExist) {
		return // its sandbox is gone with its log (a reset deletes sandboxes first)
	}
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
		return
	}
	if err := writeShipMark(l.path, shipMark{Dest: l.dest, Offset: end}); err != nil {
		s.log.Warn("lambda runner: record log shipping", "path", l.path, "err", err)
	}
}

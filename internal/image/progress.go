package image

import (
	"fmt"
	"io"
	"os"
	"sync"
	"time"

	"github.com/schollz/progressbar/v3"
	"golang.org/x/term"
)

// Progress hears about long work (import, pull, bootstrap). A Step starts a
// phase of known size in bytes (total <= 0: unknown); Add reports bytes done
// in it; Logf reports a milestone. Implementations must be safe for
// concurrent use.
type Progress interface {
	Step(name string, total int64)
	Add(n int64)
	Logf(format string, args ...any)
}

// NoProgress discards every report.
type NoProgress struct{}

func (NoProgress) Step(string, int64)  {}
func (NoProgress) Add(int64)           {}
func (NoProgress) Logf(string, ...any) {}

func orNoProgress(p Progress) Progress {
	if p == nil {
		return NoProgress{}
	}
	return p
}

// NewProgress reports to w: a progress bar when w is a terminal, plain log
// lines otherwise.
func NewProgress(w io.Writer) Progress {
	if f, ok := w.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		return &barProgress{w: w}
	}
	return &lineProgress{w: w, now: time.Now}
}

// lineProgress writes one line per step, per milestone and at most one line
// every few seconds of a long step, for logs and pipes.
type lineProgress struct {
	w   io.Writer
	now func() time.Time

	mu        sync.Mutex
	step      string
	total     int64
	done      int64
	lastPrint time.Time
}

const lineProgressEvery = 5 * time.Second

func (p *lineProgress) Step(name string, total int64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.step, p.total, p.done, p.lastPrint = name, total, 0, p.now()
	if total > 0 {
		fmt.Fprintf(p.w, "%s: %s\n", name, humanBytes(total))
	} else {
		fmt.Fprintf(p.w, "%s\n", name)
	}
}

func (p *lineProgress) Add(n int64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.done += n
	if now := p.now(); now.Sub(p.lastPrint) >= lineProgressEvery {
		p.lastPrint = now
		if p.total > 0 {
			fmt.Fprintf(p.w, "%s: %s of %s (%d%%)\n", p.step, humanBytes(p.done), humanBytes(p.total), p.done*100/p.total)
		} else {
			fmt.Fprintf(p.w, "%s: %s\n", p.step, humanBytes(p.done))
		}
	}
}

func (p *lineProgress) Logf(format string, args ...any) {
	p.mu.Lock()
	defer p.mu.Unlock()
	fmt.Fprintf(p.w, format+"\n", args...)
}

// barProgress draws a terminal progress bar per step.
type barProgress struct {
	w   io.Writer
	mu  sync.Mutex
	bar *progressbar.ProgressBar
}

func (p *barProgress) Step(name string, total int64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.finish()
	if total <= 0 {
		total = -1 // a spinner
	}
	p.bar = progressbar.NewOptions64(total,
		progressbar.OptionSetWriter(p.w),
		progressbar.OptionSetDescription(name),
		progressbar.OptionShowBytes(true),
		progressbar.OptionSetWidth(30),
		progressbar.OptionThrottle(100*time.Millisecond),
		progressbar.OptionOnCompletion(func() { fmt.Fprintln(p.w) }),
	)
}

func (p *barProgress) Add(n int64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.bar != nil {
		p.bar.Add64(n)
	}
}

func (p *barProgress) Logf(format string, args ...any) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.bar != nil {
		p.bar.Clear()
	}
	fmt.Fprintf(p.w, format+"\n", args...)
}

// Finish completes the current bar; the CLI calls it when the work is done.
func (p *barProgress) Finish() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.finish()
}

func (p *barProgress) finish() {
	if p.bar != nil {
		p.bar.Finish()
		p.bar = nil
	}
}

// humanBytes prints a byte count in binary units ("50.0 MiB").
func humanBytes(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}

// countingReader reports bytes read to a Progress.
type countingReader struct {
	r io.Reader
	p Progress
}

func (c *countingReader) Read(b []byte) (int, error) {
	n, err := c.r.Read(b)
	if n > 0 {
		c.p.Add(int64(n))
	}
	return n, err
}

package sandboxlog

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"sync"
	"time"
)

// Writer appends records to a log file. It is safe for concurrent use, so
// stdout and stderr copiers can share one.
type Writer struct {
	mu  sync.Mutex
	w   io.Writer
	now func() time.Time
	buf []byte
}

// NewWriter writes records to w. now stamps each record; nil means time.Now.
func NewWriter(w io.Writer, now func() time.Time) *Writer {
	if now == nil {
		now = time.Now
	}
	return &Writer{w: w, now: now}
}

// OpenFile opens (creating it if needed) the log file at path for appending.
func OpenFile(path string) (*os.File, error) {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o640)
	if err != nil {
		return nil, fmt.Errorf("open sandbox log: %w", err)
	}
	return f, nil
}

// WriteRecord writes one record, stamped now, as a single write so readers
// never see half a record.
func (w *Writer) WriteRecord(stream Stream, content []byte, partial bool) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	tag := byte('F')
	if partial {
		tag = 'P'
	}
	b := w.buf[:0]
	b = w.now().UTC().AppendFormat(b, time.RFC3339Nano)
	b = append(b, ' ')
	b = append(b, stream...)
	b = append(b, ' ', tag, ' ')
	b = append(b, content...)
	b = append(b, '\n')
	w.buf = b
	if _, err := w.w.Write(b); err != nil {
		return fmt.Errorf("write %s record: %w", stream, err)
	}
	return nil
}

// Copy reads r until EOF and writes a record per line. It returns nil at EOF.
func (w *Writer) Copy(stream Stream, r io.Reader) error {
	br := bufio.NewReaderSize(r, MaxLineBytes)
	for {
		line, err := br.ReadSlice('\n')
		switch {
		case err == nil:
			if werr := w.WriteRecord(stream, line[:len(line)-1], false); werr != nil {
				return werr
			}
		case errors.Is(err, bufio.ErrBufferFull):
			if werr := w.WriteRecord(stream, line, true); werr != nil {
				return werr
			}
		case errors.Is(err, io.EOF) || errors.Is(err, os.ErrClosed):
			if len(line) > 0 {
				return w.WriteRecord(stream, line, true)
			}
			return nil
		default:
			if len(line) > 0 {
				if werr := w.WriteRecord(stream, line, true); werr != nil {
					return werr
				}
			}
			return fmt.Errorf("read %s: %w", stream, err)
		}
	}
}

package sandboxlog

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"os"
	"strings"
	"time"
)

// Reader reads records one at a time. A record still being written (no
// trailing newline yet) is not returned, so a Reader on the file of a running
// sandbox only ever sees whole records.
type Reader struct {
	br   *bufio.Reader
	line int
}

// NewReader reads records from r.
func NewReader(r io.Reader) *Reader {
	return &Reader{br: bufio.NewReaderSize(r, MaxLineBytes+128)}
}

// Next returns the next record, or io.EOF when there are no more whole ones.
func (r *Reader) Next() (Record, error) {
	var line []byte
	for {
		chunk, err := r.br.ReadSlice('\n')
		line = append(line, chunk...)
		if err == bufio.ErrBufferFull {
			continue
		}
		if err != nil {
			if err == io.EOF {
				return Record{}, io.EOF
			}
			return Record{}, fmt.Errorf("read log: %w", err)
		}
		break
	}
	r.line++
	rec, err := ParseRecord(line[:len(line)-1])
	if err != nil {
		return Record{}, fmt.Errorf("log line %d: %w", r.line, err)
	}
	return rec, nil
}

// ParseRecord parses one record without its trailing newline.
func ParseRecord(line []byte) (Record, error) {
	fields := bytes.SplitN(line, []byte{' '}, 4)
	if len(fields) < 3 {
		return Record{}, fmt.Errorf("malformed record %q", line)
	}
	t, err := time.Parse(time.RFC3339Nano, string(fields[0]))
	if err != nil {
		return Record{}, fmt.Errorf("malformed timestamp: %w", err)
	}
	rec := Record{Time: t, Stream: Stream(fields[1])}
	switch string(fields[2]) {
	case "F":
	case "P":
		rec.Partial = true
	default:
		return Record{}, fmt.Errorf("malformed record tag %q", fields[2])
	}
	if len(fields) == 4 {
		rec.Content = string(fields[3])
	}
	return rec, nil
}

// ReadAll returns every whole record in r.
func ReadAll(r io.Reader) ([]Record, error) {
	rd := NewReader(r)
	var recs []Record
	for {
		rec, err := rd.Next()
		if err == io.EOF {
			return recs, nil
		}
		if err != nil {
			return recs, err
		}
		recs = append(recs, rec)
	}
}

// ReadFile returns every whole record in the log file at path.
func ReadFile(path string) ([]Record, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("open sandbox log: %w", err)
	}
	defer f.Close()
	return ReadAll(f)
}

// Lines joins partial records back into whole lines of one stream ("" for
// every stream), for callers that want text rather than records.
func Lines(recs []Record, stream Stream) []string {
	var lines []string
	var cur strings.Builder
	pending := false
	for _, rec := range recs {
		if stream != "" && rec.Stream != stream {
			continue
		}
		cur.WriteString(rec.Content)
		pending = true
		if !rec.Partial {
			lines = append(lines, cur.String())
			cur.Reset()
			pending = false
		}
	}
	if pending {
		lines = append(lines, cur.String())
	}
	return lines
}

package logs

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"os"
	"path/filepath"
	"syscall"
)

// A log group's events live in append-only segment files under its
// directory: seg-NNNNNNNNNN.log, numbered from 1. Each file starts with
// segmentMagic and holds records:
//
//	u32 payload length | u32 CRC-32C of the payload | payload
//
// and a payload is
//
//	u8 type | u64 stream number | i64 timestamp ms | i64 ingestion time ms | message bytes
//
// Type recordEvent is one log event; recordDropStream says the stream's
// earlier events are gone (DeleteLogStream), so a reopened log does not load
// them. The CRC lets a reopen tell a torn tail (kill -9 mid-write) from data:
// the log is cut at the first record that does not check.
const (
	segmentMagic     = "NLOGSEG1"
	recordHeaderSize = 8
	payloadFixedSize = 1 + 8 + 8 + 8
	recordEvent      = 1
	recordDropStream = 2
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// record is one decoded record; message aliases the segment's bytes.
type record struct {
	kind      byte
	stream    uint64
	timestamp int64
	ingestion int64
	message   []byte
}

// appendRecord encodes r onto buf.
func appendRecord(buf []byte, kind byte, stream uint64, timestamp, ingestion int64, message string) []byte {
	payloadLen := payloadFixedSize + len(message)
	start := len(buf)
	buf = binary.LittleEndian.AppendUint32(buf, uint32(payloadLen))
	buf = binary.LittleEndian.AppendUint32(buf, 0) // CRC, filled below
	buf = append(buf, kind)
	buf = binary.LittleEndian.AppendUint64(buf, stream)
	buf = binary.LittleEndian.AppendUint64(buf, uint64(timestamp))
	buf = binary.LittleEndian.AppendUint64(buf, uint64(ingestion))
	buf = append(buf, message...)
	crc := crc32.Checksum(buf[start+recordHeaderSize:], castagnoli)
	binary.LittleEndian.PutUint32(buf[start+4:], crc)
	return buf
}

var errTornRecord = errors.New("torn or corrupt record")

// decodeRecord reads the record at off in data, returning it and the
// offset of the next one.
func decodeRecord(data []byte, off int) (record, int, error) {
	if len(data)-off < recordHeaderSize {
		return record{}, off, errTornRecord
	}
	n := int(binary.LittleEndian.Uint32(data[off:]))
	crc := binary.LittleEndian.Uint32(data[off+4:])
	end := off + recordHeaderSize + n
	if n < payloadFixedSize || end > len(data) || end < off {
		return record{}, off, errTornRecord
	}
	p := data[off+recordHeaderSize : end]
	if crc32.Checksum(p, castagnoli) != crc {
		return record{}, off, errTornRecord
	}
	return record{
		kind:      p[0],
		stream:    binary.LittleEndian.Uint64(p[1:]),
		timestamp: int64(binary.LittleEndian.Uint64(p[9:])),
		ingestion: int64(binary.LittleEndian.Uint64(p[17:])),
		message:   p[payloadFixedSize:],
	}, end, nil
}

// messageAt returns the message of the event record at off (already
// validated when it was indexed).
func messageAt(data []byte, off uint32) []byte {
	n := binary.LittleEndian.Uint32(data[off:])
	return data[int(off)+recordHeaderSize+payloadFixedSize : int(off)+recordHeaderSize+int(n)]
}

// segment is one segment file. The active segment (the last) keeps a copy
// of its bytes on the heap and its file open for appending; a sealed one is
// memory-mapped read-only.
type segment struct {
	num     uint32
	path    string
	data    []byte   // the file's valid bytes: heap copy (active) or within mapping (sealed)
	mapping []byte   // the whole mmap of a sealed segment, to release
	file    *os.File // open for append while active; nil once sealed
	minTS   int64    // smallest event timestamp in the segment
	maxTS   int64    // largest event timestamp in the segment
	events  int      // event records
	live    int      // event records of streams not dropped
	opened  int64    // ingestion time of its first record, for rotation by age
}

func segmentPath(dir string, num uint32) string {
	return filepath.Join(dir, fmt.Sprintf("seg-%010d.log", num))
}

// createSegment makes a new, empty active segment and makes its existence
// durable (the directory entry is fsync'd too).
func createSegment(dir string, num uint32) (*segment, error) {
	path := segmentPath(dir, num)
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_EXCL|os.O_APPEND, 0o600)
	if err != nil {
		return nil, fmt.Errorf("create segment: %w", err)
	}
	if _, err := f.WriteString(segmentMagic); err != nil {
		f.Close()
		return nil, fmt.Errorf("write segment header %s: %w", path, err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return nil, fmt.Errorf("sync segment %s: %w", path, err)
	}
	if err := syncDir(dir); err != nil {
		f.Close()
		return nil, err
	}
	return &segment{num: num, path: path, data: []byte(segmentMagic), file: f, minTS: maxInt64, maxTS: minInt64}, nil
}

// append writes encoded records and returns once they are on disk.
func (s *segment) append(buf []byte) error {
	if err := s.write(buf); err != nil {
		return err
	}
	return s.sync()
}

func (s *segment) write(buf []byte) error {
	if _, err := s.file.Write(buf); err != nil {
		return fmt.Errorf("append to %s: %w", s.path, err)
	}
	return nil
}

func (s *segment) sync() error {
	if err := s.file.Sync(); err != nil {
		return fmt.Errorf("sync %s: %w", s.path, err)
	}
	return nil
}

// seal stops appending and maps the file, freeing the heap copy.
func (s *segment) seal() error {
	if s.file == nil {
		return nil
	}
	if err := s.file.Close(); err != nil {
		return fmt.Errorf("close segment %s: %w", s.path, err)
	}
	s.file = nil
	return s.mapFile()
}

func (s *segment) mapFile() error {
	m, err := mapFile(s.path)
	if err != nil {
		return err
	}
	s.data, s.mapping = m[:min(len(s.data), len(m))], m
	return nil
}

// mapFile maps a whole file read-only.
func mapFile(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("open segment: %w", err)
	}
	defer f.Close()
	info, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("stat segment: %w", err)
	}
	if info.Size() == 0 {
		return []byte{}, nil
	}
	m, err := syscall.Mmap(int(f.Fd()), 0, int(info.Size()), syscall.PROT_READ, syscall.MAP_SHARED)
	if err != nil {
		return nil, fmt.Errorf("map segment %s: %w", path, err)
	}
	return m, nil
}

// release closes and unmaps the segment; data must not be used afterwards.
func (s *segment) release() error {
	var err error
	if s.file != nil {
		err = s.file.Close()
		s.file = nil
	}
	if len(s.mapping) > 0 {
		if uerr := syscall.Munmap(s.mapping); uerr != nil && err == nil {
			err = uerr
		}
	}
	s.mapping = nil
	s.data = nil
	return err
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("open directory: %w", err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("sync directory %s: %w", dir, err)
	}
	return nil
}

const (
	maxInt64 = int64(^uint64(0) >> 1)
	minInt64 = -maxInt64 - 1
)

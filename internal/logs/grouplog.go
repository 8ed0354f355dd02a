package logs

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
)

const (
	// maxSegmentBytes bounds a segment, so retention frees space in steps
	// and the active segment's heap copy stays small.
	maxSegmentBytes = 32 << 20
	// maxSegmentAge seals a segment an hour after its first record, so
	// retention can delete old events of a quiet group too.
	maxSegmentAge = time.Hour
)

// entry locates one event. Its key, segment and offset together, is unique
// within the group and grows with every append, so (timestamp, key) orders
// a group's events totally and stably: tokens and event IDs are built on it.
type entry struct {
	ts     int64
	ingest int64
	seg    uint32
	off    uint32
}

func (e entry) key() uint64 { return uint64(e.seg)<<32 | uint64(e.off) }

func (e entry) pos() position { return position{ts: e.ts, key: e.key()} }

// position is a point in a group's (timestamp, key) order.
type position struct {
	ts  int64
	key uint64
}

func (p position) less(q position) bool {
	return p.ts < q.ts || p.ts == q.ts && p.key < q.key
}

var (
	beforeAll = position{ts: minInt64}
	afterAll  = position{ts: maxInt64, key: ^uint64(0)}
)

// streamIndex is one stream's events in (timestamp, key) order.
type streamIndex struct {
	entries    []entry
	lastIngest int64
}

// groupLog is one log group's events: its segments and an in-memory index
// per stream. Writers serialize on appendMu and write and sync outside mu,
// so readers wait only while an append is published.
type groupLog struct {
	dir string
	log *slog.Logger

	// queueMu guards the group commit queue (see append).
	queueMu    sync.Mutex
	queue      []*pendingAppend
	committing bool

	appendMu sync.Mutex // serializes writes to the active segment

	mu       sync.RWMutex
	segments map[uint32]*segment
	active   *segment // nil until the next append creates one
	lastSeg  uint32
	streams  map[uint64]*streamIndex
	closed   bool
}

// openGroupLog loads a group's segments, cutting a torn tail off the last
// one, and indexes their events.
func openGroupLog(dir string, log *slog.Logger) (*groupLog, error) {
	g := &groupLog{dir: dir, log: log, segments: map[uint32]*segment{}, streams: map[uint64]*streamIndex{}}
	names, err := filepath.Glob(filepath.Join(dir, "seg-*.log"))
	if err != nil {
		return nil, fmt.Errorf("list segments: %w", err)
	}
	var nums []uint32
	for _, name := range names {
		n, err := strconv.ParseUint(strings.TrimSuffix(strings.TrimPrefix(filepath.Base(name), "seg-"), ".log"), 10, 32)
		if err != nil {
			continue
		}
		nums = append(nums, uint32(n))
	}
	slices.Sort(nums)
	for i, num := range nums {
		last := i == len(nums)-1
		if err := g.loadSegment(num, last); err != nil {
			g.close()
			return nil, err
		}
		g.lastSeg = num
	}
	for _, s := range g.streams {
		sortEntries(s.entries)
	}
	return g, nil
}

// loadSegment reads one segment and indexes its records. The last segment
// becomes the active one again, its torn tail (if any) truncated.
func (g *groupLog) loadSegment(num uint32, last bool) error {
	path := segmentPath(g.dir, num)
	seg := &segment{num: num, path: path, minTS: maxInt64, maxTS: minInt64}
	// Sealed segments are indexed straight from their mapping; the last one
	// is read onto the heap, where appends go on.
	var data []byte
	var err error
	if last {
		data, err = os.ReadFile(path)
	} else {
		data, err = mapFile(path)
		seg.mapping = data
	}
	if err != nil {
		if !last {
			return err
		}
		return fmt.Errorf("read segment: %w", err)
	}
	if len(data) < len(segmentMagic) || string(data[:len(segmentMagic)]) != segmentMagic {
		if !last {
			seg.release()
			return fmt.Errorf("segment %s: bad header", path)
		}
		// A crash between creating the file and syncing its header.
		data = nil
	}
	off := len(segmentMagic)
	for data != nil && off < len(data) {
		r, next, err := decodeRecord(data, off)
		if err != nil {
			g.log.Warn("cutting torn log segment", "segment", path, "offset", off, "bytes_dropped", len(data)-off)
			break
		}
		switch r.kind {
		case recordEvent:
			seg.noteEvent(r.timestamp, r.ingestion)
			g.index(r.stream).add(entry{ts: r.timestamp, ingest: r.ingestion, seg: num, off: uint32(off)})
		case recordDropStream:
			g.dropIndex(r.stream)
		}
		off = next
	}
	if data == nil {
		if err := os.Remove(path); err != nil {
			return fmt.Errorf("remove empty segment: %w", err)
		}
		return nil
	}
	seg.data = data[:off]
	g.segments[num] = seg
	if !last {
		return nil
	}
	f, err := os.OpenFile(path, os.O_RDWR|os.O_APPEND, 0)
	if err != nil {
		return fmt.Errorf("open segment: %w", err)
	}
	if off < len(data) {
		if err := f.Truncate(int64(off)); err != nil {
			f.Close()
			return fmt.Errorf("truncate torn segment %s: %w", path, err)
		}
	}
	seg.file = f
	g.active = seg
	return nil
}

func (s *segment) noteEvent(ts, ingest int64) {
	s.events++
	s.live++
	s.minTS = min(s.minTS, ts)
	s.maxTS = max(s.maxTS, ts)
	if s.opened == 0 {
		s.opened = ingest
	}
}

func (g *groupLog) index(stream uint64) *streamIndex {
	s := g.streams[stream]
	if s == nil {
		s = &streamIndex{}
		g.streams[stream] = s
	}
	return s
}

func (s *streamIndex) add(e entry) {
	s.entries = append(s.entries, e)
	s.lastIngest = max(s.lastIngest, e.ingest)
}

func sortEntries(es []entry) {
	if sort.SliceIsSorted(es, func(i, j int) bool { return es[i].pos().less(es[j].pos()) }) {
		return
	}
	slices.SortFunc(es, func(a, b entry) int {
		switch {
		case a.pos().less(b.pos()):
			return -1
		case b.pos().less(a.pos()):
			return 1
		}
		return 0
	})
}

// mergeTail restores (timestamp, key) order after entries[n:] were
// appended to sorted entries[:n]: the new run is sorted (PutLogEvents
// batches already are) and merged into the part of the old entries it
// overlaps, so an in-order append costs nothing and a late batch costs only
// the events after it.
func mergeTail(es []entry, n int) []entry {
	sortEntries(es[n:])
	if n == 0 || n == len(es) || !es[n].pos().less(es[n-1].pos()) {
		return es
	}
	first := es[n].pos()
	i := sort.Search(n, func(i int) bool { return first.less(es[i].pos()) })
	// Merge es[i:n] and a copy of the run into es[i:], back to front: the
	// write index stays above the next old entry to read.
	run := append([]entry(nil), es[n:]...)
	a, b, w := n-1, len(run)-1, len(es)-1
	for b >= 0 {
		if a >= i && run[b].pos().less(es[a].pos()) {
			es[w] = es[a]
			a--
		} else {
			es[w] = run[b]
			b--
		}
		w--
	}
	return es
}

// dropIndex forgets a stream's events, counting them dead in their segments.
func (g *groupLog) dropIndex(stream uint64) {
	s := g.streams[stream]
	if s == nil {
		return
	}
	for _, e := range s.entries {
		if seg := g.segments[e.seg]; seg != nil {
			seg.live--
		}
	}
	delete(g.streams, stream)
}

// inputEvent is one event to append.
type inputEvent struct {
	ts  int64
	msg string
}

var errLogClosed = errors.New("log group storage closed")

// pendingAppend is one append waiting in the group commit queue.
type pendingAppend struct {
	stream uint64
	events []inputEvent
	buf    []byte // the encoded records
	ingest int64
	// wake is closed once the append is committed (committed, err set) or
	// when the append is made the next leader.
	wake      chan struct{}
	committed bool
	err       error
}

// append writes events of one stream and returns once they are durable.
// Concurrent appends to a group share one write and fsync (group commit):
// the first to arrive leads, committing every append queued meanwhile, and
// hands the lead to the first one queued after it.
func (g *groupLog) append(stream uint64, events []inputEvent, ingest int64) error {
	if len(events) == 0 {
		return nil
	}
	size := 0
	for _, e := range events {
		size += recordHeaderSize + payloadFixedSize + len(e.msg)
	}
	buf := make([]byte, 0, size)
	for _, e := range events {
		buf = appendRecord(buf, recordEvent, stream, e.ts, ingest, e.msg)
	}
	p := &pendingAppend{stream: stream, events: events, buf: buf, ingest: ingest, wake: make(chan struct{})}
	g.queueMu.Lock()
	g.queue = append(g.queue, p)
	lead := !g.committing
	g.committing = true
	g.queueMu.Unlock()
	if !lead {
		<-p.wake
		if p.committed {
			return p.err
		}
	}
	g.queueMu.Lock()
	batch := g.queue
	g.queue = nil
	g.queueMu.Unlock()
	g.commit(batch, p)
	g.queueMu.Lock()
	var next *pendingAppend
	if len(g.queue) > 0 {
		next = g.queue[0]
	} else {
		g.committing = false
	}
	g.queueMu.Unlock()
	if next != nil {
		close(next.wake)
	}
	return p.err
}

// commit writes a batch of appends, syncs once and publishes them to
// readers, then wakes every append of the batch but the leader's.
func (g *groupLog) commit(batch []*pendingAppend, leader *pendingAppend) {
	err := g.writeBatch(batch)
	for _, q := range batch {
		q.err, q.committed = err, true
		if q != leader {
			close(q.wake)
		}
	}
}

func (g *groupLog) writeBatch(batch []*pendingAppend) error {
	g.appendMu.Lock()
	defer g.appendMu.Unlock()
	size := 0
	var ingest int64
	for _, q := range batch {
		size += len(q.buf)
		ingest = max(ingest, q.ingest)
	}
	seg, err := g.segmentFor(size, ingest)
	if err != nil {
		return err
	}
	for _, q := range batch {
		if err = seg.write(q.buf); err != nil {
			break
		}
	}
	if err == nil {
		err = seg.sync()
	}
	if err != nil {
		// What reached the file is unknown: start the next append in a
		// fresh segment rather than after a partial record.
		if serr := g.sealActive(); serr != nil {
			g.log.Warn("sealing a log segment after a failed write", "err", serr)
		}
		return err
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	for _, q := range batch {
		off := len(seg.data)
		seg.data = append(seg.data, q.buf...)
		idx := g.index(q.stream)
		n := len(idx.entries)
		for _, e := range q.events {
			seg.noteEvent(e.ts, q.ingest)
			idx.add(entry{ts: e.ts, ingest: q.ingest, seg: seg.num, off: uint32(off)})
			off += recordHeaderSize + payloadFixedSize + len(e.msg)
		}
		idx.entries = mergeTail(idx.entries, n)
	}
	return nil
}

// segmentFor returns the active segment, sealing it and starting another
// when it is full or old. Called with appendMu held.
func (g *groupLog) segmentFor(size int, now int64) (*segment, error) {
	g.mu.RLock()
	seg, closed := g.active, g.closed
	g.mu.RUnlock()
	if closed {
		return nil, errLogClosed
	}
	if seg != nil && len(seg.data) > len(segmentMagic) &&
		(len(seg.data)+size > maxSegmentBytes || now-seg.opened > maxSegmentAge.Milliseconds()) {
		if err := g.sealActive(); err != nil {
			return nil, err
		}
		seg = nil
	}
	if seg != nil {
		return seg, nil
	}
	if err := os.MkdirAll(g.dir, 0o700); err != nil {
		return nil, fmt.Errorf("log group directory: %w", err)
	}
	seg, err := createSegment(g.dir, g.lastSeg+1)
	if err != nil {
		return nil, err
	}
	seg.opened = now
	g.mu.Lock()
	g.segments[seg.num] = seg
	g.active = seg
	g.lastSeg = seg.num
	g.mu.Unlock()
	return seg, nil
}

// sealActive maps the active segment and leaves none active. Called with
// appendMu held.
func (g *groupLog) sealActive() error {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.active == nil {
		return nil
	}
	err := g.active.seal()
	g.active = nil
	return err
}

// dropStream durably records that a stream's events are gone and forgets
// them.
func (g *groupLog) dropStream(stream uint64, now int64) error {
	g.appendMu.Lock()
	defer g.appendMu.Unlock()
	g.mu.RLock()
	_, known := g.streams[stream]
	g.mu.RUnlock()
	if !known {
		return nil
	}
	buf := appendRecord(nil, recordDropStream, stream, 0, now, "")
	seg, err := g.segmentFor(len(buf), now)
	if err != nil {
		return err
	}
	if err := seg.append(buf); err != nil {
		return err
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	seg.data = append(seg.data, buf...)
	g.dropIndex(stream)
	return g.removeSegmentsLocked(func(s *segment) bool { return s.live == 0 })
}

// expire deletes the sealed segments whose events are all older than
// cutoff, sealing the active one first when it is entirely old. Readers hide
// events older than the cutoff themselves, so a segment that still holds some
// newer events is simply kept.
func (g *groupLog) expire(cutoff int64) error {
	g.appendMu.Lock()
	defer g.appendMu.Unlock()
	g.mu.RLock()
	active := g.active
	g.mu.RUnlock()
	if active != nil && active.events > 0 && active.maxTS < cutoff {
		if err := g.sealActive(); err != nil {
			return err
		}
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.removeSegmentsLocked(func(s *segment) bool { return s.events > 0 && s.maxTS < cutoff || s.live == 0 })
}

// removeSegmentsLocked deletes sealed segments that dead reports true for,
// and their index entries. Called with mu (and appendMu) held.
func (g *groupLog) removeSegmentsLocked(dead func(*segment) bool) error {
	gone := map[uint32]bool{}
	for num, s := range g.segments {
		if s != g.active && dead(s) {
			gone[num] = true
		}
	}
	if len(gone) == 0 {
		return nil
	}
	for id, idx := range g.streams {
		idx.entries = slices.DeleteFunc(idx.entries, func(e entry) bool { return gone[e.seg] })
		if len(idx.entries) == 0 {
			delete(g.streams, id)
		}
	}
	var errs []error
	for num := range gone {
		s := g.segments[num]
		delete(g.segments, num)
		if err := s.release(); err != nil {
			errs = append(errs, err)
		}
		if err := os.Remove(s.path); err != nil && !errors.Is(err, os.ErrNotExist) {
			errs = append(errs, fmt.Errorf("remove segment: %w", err))
		}
	}
	return errors.Join(errs...)
}

// storedBytes is the size of the group's segments.
func (g *groupLog) storedBytes() int64 {
	g.mu.RLock()
	defer g.mu.RUnlock()
	var n int64
	for _, s := range g.segments {
		n += int64(len(s.data))
	}
	return n
}

// close releases every segment; later appends fail.
func (g *groupLog) close() error {
	g.appendMu.Lock()
	defer g.appendMu.Unlock()
	g.mu.Lock()
	defer g.mu.Unlock()
	g.closed = true
	var errs []error
	for _, s := range g.segments {
		if err := s.release(); err != nil {
			errs = append(errs, err)
		}
	}
	g.segments = map[uint32]*segment{}
	g.streams = map[uint64]*streamIndex{}
	g.active = nil
	return errors.Join(errs...)
}

package logs

import (
	"container/heap"
	"sort"
)

// maxResponseBytes bounds one GetLogEvents or FilterLogEvents page, counted
// as PutLogEvents counts a batch (message bytes plus 26 per event).
const (
	maxResponseBytes = 1 << 20
	eventOverhead    = 26
)

// storedEvent is one event read back.
type storedEvent struct {
	stream    uint64
	pos       position
	timestamp int64
	ingestion int64
	message   string
}

// A split is a point between events in (timestamp, key) order: the events
// before it are those whose position is below it. Paging tokens are splits,
// so a token stays valid while events are added anywhere in the stream.
func splitAfter(p position) position { return position{ts: p.ts, key: p.key + 1} }

// getQuery is a GetLogEvents read of one stream.
type getQuery struct {
	start, end int64 // [start, end) in ms
	cutoff     int64 // retention: events before it are gone
	forward    *position
	backward   *position
	fromHead   bool
	limit      int
}

type getResult struct {
	events            []storedEvent
	forward, backward position
}

// get reads a page of one stream's events.
func (g *groupLog) get(stream uint64, q getQuery) getResult {
	g.mu.RLock()
	defer g.mu.RUnlock()
	var es []entry
	if idx := g.streams[stream]; idx != nil {
		es = idx.entries
	}
	start := max(q.start, q.cutoff)
	lo := sort.Search(len(es), func(i int) bool { return es[i].ts >= start })
	hi := sort.Search(len(es), func(i int) bool { return es[i].ts >= q.end })
	hi = max(hi, lo)
	splitAt := func(i int) position {
		switch {
		case i < len(es):
			return es[i].pos()
		case len(es) > 0:
			return splitAfter(es[len(es)-1].pos())
		}
		return position{ts: start}
	}
	before := func(s position) int { return sort.Search(len(es), func(i int) bool { return !es[i].pos().less(s) }) }

	var from, to int // the page is es[from:to]
	switch {
	case q.forward != nil:
		from = min(max(lo, before(*q.forward)), hi)
		to = g.takeForward(es, from, hi, q.limit)
	case q.backward != nil:
		to = max(min(hi, before(*q.backward)), lo)
		from = g.takeBackward(es, lo, to, q.limit)
	case q.fromHead:
		from = lo
		to = g.takeForward(es, from, hi, q.limit)
	default:
		to = hi
		from = g.takeBackward(es, lo, to, q.limit)
	}
	res := getResult{events: make([]storedEvent, 0, to-from)}
	for _, e := range es[from:to] {
		res.events = append(res.events, g.read(stream, e))
	}
	if from == to {
		s := splitAt(from)
		switch {
		case q.forward != nil:
			s = *q.forward
		case q.backward != nil:
			s = *q.backward
		}
		res.forward, res.backward = s, s
		return res
	}
	res.forward = splitAfter(es[to-1].pos())
	res.backward = es[from].pos()
	return res
}

func (g *groupLog) takeForward(es []entry, from, hi, limit int) int {
	size := 0
	i := from
	for ; i < hi && i-from < limit; i++ {
		size += g.messageLen(es[i]) + eventOverhead
		if size > maxResponseBytes && i > from {
			break
		}
	}
	return i
}

func (g *groupLog) takeBackward(es []entry, lo, to, limit int) int {
	size := 0
	i := to
	for ; i > lo && to-i < limit; i-- {
		size += g.messageLen(es[i-1]) + eventOverhead
		if size > maxResponseBytes && i < to {
			break
		}
	}
	return i
}

func (g *groupLog) message(e entry) []byte {
	return messageAt(g.segments[e.seg].data, e.off)
}

func (g *groupLog) messageLen(e entry) int { return len(g.message(e)) }

func (g *groupLog) read(stream uint64, e entry) storedEvent {
	return storedEvent{stream: stream, pos: e.pos(), timestamp: e.ts, ingestion: e.ingest, message: string(g.message(e))}
}

// streamStats is what DescribeLogStreams reports of a stream's events.
type streamStats struct {
	first, last, lastIngest int64
	events                  int
}

func (g *groupLog) stats(stream uint64) streamStats {
	g.mu.RLock()
	defer g.mu.RUnlock()
	idx := g.streams[stream]
	if idx == nil || len(idx.entries) == 0 {
		return streamStats{}
	}
	return streamStats{first: idx.entries[0].ts, last: idx.entries[len(idx.entries)-1].ts,
		lastIngest: idx.lastIngest, events: len(idx.entries)}
}

// matcher decides whether an event's message passes a filter pattern.
type matcher interface {
	match(msg []byte) bool
}

// filterQuery is a FilterLogEvents read over several streams of a group.
type filterQuery struct {
	streams    []uint64
	start, end int64 // [start, end] in ms, inclusive as FilterLogEvents has it
	cutoff     int64
	from       position // resume at this split (beforeAll for the first page)
	match      matcher  // nil matches every event
	limit      int
}

type filterResult struct {
	events   []storedEvent
	more     bool     // further matches exist after the page
	next     position // where the next page starts
	complete []bool   // per stream in q.streams: every event was searched
}

// cursor walks one stream's events in a time window.
type cursor struct {
	stream uint64
	order  int // index in filterQuery.streams
	es     []entry
	i, end int
}

type cursorHeap []*cursor

func (h cursorHeap) Len() int { return len(h) }
func (h cursorHeap) Less(i, j int) bool {
	return h[i].es[h[i].i].pos().less(h[j].es[h[j].i].pos())
}
func (h cursorHeap) Swap(i, j int) { h[i], h[j] = h[j], h[i] }
func (h *cursorHeap) Push(x any)   { *h = append(*h, x.(*cursor)) }
func (h *cursorHeap) Pop() any {
	old := *h
	c := old[len(old)-1]
	*h = old[:len(old)-1]
	return c
}

// filter merges the streams' events in (timestamp, key) order, keeping
// those that match, up to the limit and the page size; it looks for one more
// match past a full page to tell whether there is a next page.
func (g *groupLog) filter(q filterQuery) filterResult {
	g.mu.RLock()
	defer g.mu.RUnlock()
	start := max(q.start, q.cutoff)
	h := make(cursorHeap, 0, len(q.streams))
	res := filterResult{complete: make([]bool, len(q.streams))}
	for n, id := range q.streams {
		idx := g.streams[id]
		if idx == nil {
			res.complete[n] = true
			continue
		}
		es := idx.entries
		lo := sort.Search(len(es), func(i int) bool { return es[i].ts >= start })
		if from := sort.Search(len(es), func(i int) bool { return !es[i].pos().less(q.from) }); from > lo {
			lo = from
		}
		hi := sort.Search(len(es), func(i int) bool { return es[i].ts > q.end })
		if lo >= hi {
			res.complete[n] = true
			continue
		}
		h = append(h, &cursor{stream: id, order: n, es: es, i: lo, end: hi})
	}
	heap.Init(&h)
	size := 0
	var segNum uint32
	var segData []byte
	for h.Len() > 0 {
		c := h[0]
		e := c.es[c.i]
		c.i++
		if c.i == c.end {
			heap.Pop(&h)
			res.complete[c.order] = true
		} else {
			heap.Fix(&h, 0)
		}
		if segData == nil || e.seg != segNum {
			segNum, segData = e.seg, g.segments[e.seg].data
		}
		msg := messageAt(segData, e.off)
		if q.match != nil && !q.match.match(msg) {
			continue
		}
		size += len(msg) + eventOverhead
		if len(res.events) >= q.limit || size > maxResponseBytes && len(res.events) > 0 {
			res.more = true
			res.complete[c.order] = false
			break
		}
		res.events = append(res.events, storedEvent{stream: c.stream, pos: e.pos(), timestamp: e.ts,
			ingestion: e.ingest, message: string(msg)})
		res.next = splitAfter(e.pos())
	}
	if res.more {
		for _, c := range h {
			res.complete[c.order] = false
		}
	}
	return res
}

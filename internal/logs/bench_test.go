package logs

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"time"
)

// BenchmarkPutLogEvents measures ingestion through the PutLogEvents handler
// (input decoding, validation, store lookups, append and fsync), in batches
// of the sizes agents send. The target is at least 50,000 events/s.
func BenchmarkPutLogEvents(b *testing.B) {
	for _, batch := range []int{100, 1000, 5000} {
		b.Run(fmt.Sprintf("batch=%d", batch), func(b *testing.B) {
			f := newFixture(b)
			f.group("g", "s")
			h, _ := f.logs.Service().Handler("PutLogEvents")
			base := f.nowMs() - 3600*1000
			docs := make([]map[string]any, 8)
			for d := range docs {
				evs := make([]any, batch)
				for i := range evs {
					evs[i] = map[string]any{"timestamp": base + int64(i), "message": fmt.Sprintf(
						"2026-11-28T12:00:00Z INFO request %d handled in %d ms by worker-%d status=200 path=/api/v1/items", i, i%97, d)}
				}
				docs[d] = map[string]any{"logGroupName": "g", "logStreamName": "s", "logEvents": evs}
			}
			b.ReportAllocs()
			b.ResetTimer()
			for n := 0; n < b.N; n++ {
				// Each batch is newer than the last, as an agent's are.
				doc := docs[n%len(docs)]
				for _, ev := range doc["logEvents"].([]any) {
					ev.(map[string]any)["timestamp"] = base + int64(n)
				}
				if _, err := h(f.ctx, doc); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.N*batch)/b.Elapsed().Seconds(), "events/s")
		})
	}
}

// BenchmarkFilterLogEvents searches one million events in ten streams of a
// group through the FilterLogEvents handler. The patterns match one event
// in a thousand, so each call scans every event. The target is under 1 s.
func BenchmarkFilterLogEvents(b *testing.B) {
	const total, streams = 1000000, 10
	f := newFixture(b)
	ctx := context.Background()
	start := f.now().Add(-12 * time.Hour)
	for s := 0; s < streams; s++ {
		per := total / streams
		for off := 0; off < per; off += 10000 {
			batch := make([]Event, 10000)
			for i := range batch {
				n := s*per + off + i
				msg := fmt.Sprintf(`{"level":"info","latency":%d,"path":"/api/v1/items/%d","msg":"request handled"}`, n%500, n)
				if n%1000 == 0 {
					msg = fmt.Sprintf(`{"level":"error","latency":%d,"path":"/api/v1/items/%d","msg":"ERROR upstream timeout"}`, 1000+n%7, n)
				}
				batch[i] = Event{Timestamp: start.Add(time.Duration(off+i) * 40 * time.Millisecond), Message: msg}
			}
			if err := f.logs.Ingest(ctx, testAccount, testRegion, "g", fmt.Sprintf("stream-%d", s), batch); err != nil {
				b.Fatal(err)
			}
		}
	}
	h, _ := f.logs.Service().Handler("FilterLogEvents")
	for _, c := range []struct{ name, pattern string }{
		{"all", ""},
		{"term", "ERROR"},
		{"terms", `?ERROR ?"upstream timeout" -debug`},
		{"json", `{ $.level = "error" && $.latency > 999 }`},
	} {
		b.Run(c.name, func(b *testing.B) {
			in := map[string]any{"logGroupName": "g", "filterPattern": c.pattern}
			b.ReportAllocs()
			matched := 0
			for n := 0; n < b.N; n++ {
				out, err := h(f.ctx, in)
				if err != nil {
					b.Fatal(err)
				}
				matched = len(out.(*filterLogEventsOutput).Events)
			}
			// Every event matches the empty pattern: a page is as many as
			// fit in 1 MB.
			want := total / 1000
			if c.pattern == "" {
				want = matched
			}
			if matched != want || matched == 0 {
				b.Fatalf("matched %d events, want %d", matched, want)
			}
		})
	}
}

// BenchmarkPutLogEventsConcurrent has 16 writers put batches of 100 events
// to their own streams of one group, as the sandboxes of a busy Lambda
// function do: group commit shares each fsync among them.
func BenchmarkPutLogEventsConcurrent(b *testing.B) {
	const batch = 100
	f := newFixture(b)
	f.group("g")
	h, _ := f.logs.Service().Handler("PutLogEvents")
	base := f.nowMs() - 3600*1000
	var next atomic.Int64
	b.SetParallelism(8)
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		stream := fmt.Sprintf("s-%d", next.Add(1))
		f.must("CreateLogStream", map[string]any{"logGroupName": "g", "logStreamName": stream})
		for i := 0; pb.Next(); i++ {
			evs := make([]any, batch)
			for j := range evs {
				evs[j] = map[string]any{"timestamp": base + int64(i), "message": "2026-11-28T12:00:00Z INFO request handled in 12 ms status=200 path=/api/v1/items"}
			}
			if _, err := h(f.ctx, map[string]any{"logGroupName": "g", "logStreamName": stream, "logEvents": evs}); err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.ReportMetric(float64(b.N*batch)/b.Elapsed().Seconds(), "events/s")
}

// BenchmarkReopenGroup measures what a restart costs a group of one million
// events: reading its segments and rebuilding the stream indexes, on the
// first request that touches it.
func BenchmarkReopenGroup(b *testing.B) {
	const total = 1000000
	f := newFixture(b)
	start := f.now().Add(-time.Hour)
	for off := 0; off < total; off += 10000 {
		batch := make([]Event, 10000)
		for i := range batch {
			batch[i] = Event{Timestamp: start.Add(time.Duration(off+i) * time.Millisecond),
				Message: fmt.Sprintf("2026-11-28T12:00:00Z INFO request %d handled in 12 ms status=200", off+i)}
		}
		if err := f.logs.Ingest(context.Background(), testAccount, testRegion, "g", fmt.Sprintf("s-%d", off%7), batch); err != nil {
			b.Fatal(err)
		}
	}
	id := f.storageID("g")
	b.ResetTimer()
	for n := 0; n < b.N; n++ {
		es := newEventStore(f.logs.events.root, f.logs.log)
		g, err := es.group(id)
		if err != nil {
			b.Fatal(err)
		}
		events := 0
		for _, s := range g.streams {
			events += len(s.entries)
		}
		if events != total {
			b.Fatalf("reopened %d events, want %d", events, total)
		}
		es.close()
	}
}

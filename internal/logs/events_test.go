package logs

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

func messages(out map[string]any) []string {
	var ms []string
	for _, e := range out["events"].([]any) {
		ms = append(ms, e.(map[string]any)["message"].(string))
	}
	return ms
}

func seq(prefix string, from, to int) []string {
	var out []string
	for i := from; i < to; i++ {
		out = append(out, fmt.Sprintf("%s%d", prefix, i))
	}
	return out
}

func (f *fixture) group(name string, streams ...string) {
	f.t.Helper()
	f.must("CreateLogGroup", map[string]any{"logGroupName": name})
	for _, s := range streams {
		f.must("CreateLogStream", map[string]any{"logGroupName": name, "logStreamName": s})
	}
}

func TestPutLogEventsRules(t *testing.T) {
	f := newFixture(t)
	now := f.nowMs()
	ev := func(ts int64, msg string) map[string]any { return map[string]any{"timestamp": ts, "message": msg} }
	put := func(evs ...any) (map[string]any, error) {
		return f.call("PutLogEvents", map[string]any{"logGroupName": "g", "logStreamName": "s", "logEvents": evs})
	}
	_, err := put(ev(now, "x"))
	wantCode(t, err, "ResourceNotFoundException")
	f.group("g")
	_, err = put(ev(now, "x"))
	wantCode(t, err, "ResourceNotFoundException")
	f.must("CreateLogStream", map[string]any{"logGroupName": "g", "logStreamName": "s"})

	_, err = put(ev(now, "b"), ev(now-1, "a"))
	wantCode(t, err, "InvalidParameterException")
	_, err = put(ev(now-25*3600*1000, "a"), ev(now, "b"))
	wantCode(t, err, "InvalidParameterException")
	_, err = put(ev(now, strings.Repeat("x", 600000)), ev(now, strings.Repeat("y", 600000)))
	wantCode(t, err, "InvalidParameterException")
	many := make([]any, maxBatchEvents+1)
	for i := range many {
		many[i] = ev(now, "m")
	}
	_, err = put(many...)
	wantCode(t, err, "InvalidParameterException")
	_, err = put(ev(now, ""))
	wantCode(t, err, "InvalidParameterException")
	// 1,048,576 bytes exactly, counting 26 per event, is allowed.
	f.must("CreateLogStream", map[string]any{"logGroupName": "g", "logStreamName": "big"})
	if _, err := f.call("PutLogEvents", map[string]any{"logGroupName": "g", "logStreamName": "big", "logEvents": []any{
		ev(now, strings.Repeat("z", maxBatchBytes-2*eventOverhead-1)), ev(now, "!")}}); err != nil {
		t.Errorf("a batch of exactly the limit: %v", err)
	}

	// Too old and too new events are reported, the rest stored; a sequence
	// token (ignored) does no harm.
	out, err := f.call("PutLogEvents", map[string]any{"logGroupName": "g", "logStreamName": "s", "sequenceToken": "bogus",
		"logEvents": []any{ev(now-15*24*3600*1000, "old"), ev(now-1000, "kept1"), ev(now, "kept2"), ev(now+3*3600*1000, "new")}})
	if err != nil {
		t.Fatal(err)
	}
	info, _ := out["rejectedLogEventsInfo"].(map[string]any)
	if info["tooOldLogEventEndIndex"] != int64(1) || info["tooNewLogEventStartIndex"] != int64(3) || info["expiredLogEventEndIndex"] != nil {
		t.Errorf("rejectedLogEventsInfo = %v", out)
	}
	if out["nextSequenceToken"] == "" {
		t.Errorf("no nextSequenceToken: %v", out)
	}
	got := f.must("GetLogEvents", map[string]any{"logGroupName": "g", "logStreamName": "s", "startTime": now - 1000})
	if ms := messages(got); !equal(ms, []string{"kept1", "kept2"}) {
		t.Errorf("stored = %q", ms)
	}

	// With a retention of one day, older events are expired.
	f.must("PutRetentionPolicy", map[string]any{"logGroupName": "g", "retentionInDays": int64(1)})
	out, err = put(ev(now-2*24*3600*1000, "expired"), ev(now-3*3600*1000, "ok"))
	if err != nil {
		t.Fatal(err)
	}
	info, _ = out["rejectedLogEventsInfo"].(map[string]any)
	if info["expiredLogEventEndIndex"] != int64(1) || info["tooOldLogEventEndIndex"] != nil {
		t.Errorf("rejectedLogEventsInfo = %v", out)
	}
	// A clean batch reports nothing rejected.
	out, err = put(ev(now, "fine"))
	if err != nil || out["rejectedLogEventsInfo"] != nil {
		t.Errorf("clean batch = %v, %v", out, err)
	}
}

func TestGetLogEventsTokens(t *testing.T) {
	f := newFixture(t)
	f.group("g", "s")
	base := f.nowMs() - 60000
	f.putEvents("g", "s", base, seq("m", 0, 25)...)
	get := func(in map[string]any) map[string]any {
		in["logGroupName"], in["logStreamName"] = "g", "s"
		return f.must("GetLogEvents", in)
	}
	// Without a token and startFromHead, the newest page comes first.
	tail := get(map[string]any{"limit": int64(10)})
	if ms := messages(tail); !equal(ms, seq("m", 15, 25)) {
		t.Fatalf("tail = %v", ms)
	}
	back := tail["nextBackwardToken"].(string)
	if !strings.HasPrefix(back, "b/") || !strings.HasPrefix(tail["nextForwardToken"].(string), "f/") {
		t.Fatalf("tokens = %v", tail)
	}
	prev := get(map[string]any{"limit": int64(10), "nextToken": back})
	if ms := messages(prev); !equal(ms, seq("m", 5, 15)) {
		t.Fatalf("backward page = %v", ms)
	}
	first := get(map[string]any{"limit": int64(10), "nextToken": prev["nextBackwardToken"]})
	if ms := messages(first); !equal(ms, seq("m", 0, 5)) {
		t.Fatalf("first page = %v", ms)
	}
	// At the start, a backward token comes back unchanged.
	again := get(map[string]any{"limit": int64(10), "nextToken": first["nextBackwardToken"]})
	if len(messages(again)) != 0 || again["nextBackwardToken"] != first["nextBackwardToken"] {
		t.Errorf("past the start = %v", again)
	}
	// Forward from the first page walks back to the end.
	fwd := get(map[string]any{"limit": int64(10), "nextToken": first["nextForwardToken"]})
	if ms := messages(fwd); !equal(ms, seq("m", 5, 15)) {
		t.Fatalf("forward page = %v", ms)
	}

	// From the head, forward to the end: the end token is the token given.
	head := get(map[string]any{"startFromHead": true, "limit": int64(20)})
	if ms := messages(head); !equal(ms, seq("m", 0, 20)) {
		t.Fatalf("head = %v", ms)
	}
	rest := get(map[string]any{"nextToken": head["nextForwardToken"]})
	if ms := messages(rest); !equal(ms, seq("m", 20, 25)) {
		t.Fatalf("rest = %v", ms)
	}
	end := get(map[string]any{"nextToken": rest["nextForwardToken"]})
	if len(messages(end)) != 0 || end["nextForwardToken"] != rest["nextForwardToken"] {
		t.Fatalf("end = %v, want same forward token %v", end, rest["nextForwardToken"])
	}
	// An event written later is picked up by the end token.
	f.putEvents("g", "s", base+100, "late")
	late := get(map[string]any{"nextToken": rest["nextForwardToken"]})
	if ms := messages(late); !equal(ms, []string{"late"}) {
		t.Fatalf("after a new event = %v", ms)
	}

	// startTime is inclusive, endTime exclusive.
	win := get(map[string]any{"startFromHead": true, "startTime": base + 3, "endTime": base + 6})
	if ms := messages(win); !equal(ms, seq("m", 3, 6)) {
		t.Errorf("window = %v", ms)
	}
	for _, bad := range []string{"x", "f/123", "q/" + strings.Repeat("1", 40)} {
		_, err := f.call("GetLogEvents", map[string]any{"logGroupName": "g", "logStreamName": "s", "nextToken": bad})
		wantCode(t, err, "InvalidParameterException")
	}
	_, err := f.call("GetLogEvents", map[string]any{"logGroupName": "g", "logStreamName": "nope"})
	wantCode(t, err, "ResourceNotFoundException")
	_, err = f.call("GetLogEvents", map[string]any{"logStreamName": "s"})
	wantCode(t, err, "InvalidParameterException")
	ev := get(map[string]any{"limit": int64(1)})["events"].([]any)[0].(map[string]any)
	if ev["ingestionTime"] != f.nowMs() || ev["timestamp"] != base+100 {
		t.Errorf("event = %v", ev)
	}
}

// putMany writes n events to a stream in batches of up to 10,000, one
// millisecond apart from base.
func (f *fixture) putMany(group, stream string, base int64, n int, msg func(i int) string) {
	f.t.Helper()
	for start := 0; start < n; start += maxBatchEvents {
		end := min(start+maxBatchEvents, n)
		evs := make([]any, 0, end-start)
		for i := start; i < end; i++ {
			evs = append(evs, map[string]any{"timestamp": base + int64(i), "message": msg(i)})
		}
		f.must("PutLogEvents", map[string]any{"logGroupName": group, "logStreamName": stream, "logEvents": evs})
	}
}

func TestPaginationOverTenThousandEvents(t *testing.T) {
	f := newFixture(t)
	f.group("g", "a", "b")
	const n = 12000
	base := f.nowMs() - 3600*1000
	f.putMany("g", "a", base, n, func(i int) string { return fmt.Sprintf("a %05d", i) })
	f.putMany("g", "b", base, n, func(i int) string { return fmt.Sprintf("b %05d", i) })

	// GetLogEvents forward from the head, 1,000 at a time.
	var got []string
	in := map[string]any{"logGroupName": "g", "logStreamName": "a", "startFromHead": true, "limit": int64(1000)}
	for pages := 0; ; pages++ {
		out := f.must("GetLogEvents", in)
		ms := messages(out)
		if len(ms) == 0 {
			if out["nextForwardToken"] != in["nextToken"] {
				t.Fatalf("end token changed")
			}
			break
		}
		got = append(got, ms...)
		in["nextToken"] = out["nextForwardToken"]
		if pages > 20 {
			t.Fatal("GetLogEvents never ends")
		}
	}
	if len(got) != n || got[0] != "a 00000" || got[n-1] != fmt.Sprintf("a %05d", n-1) {
		t.Fatalf("GetLogEvents pages: %d events", len(got))
	}
	for i, m := range got {
		if m != fmt.Sprintf("a %05d", i) {
			t.Fatalf("event %d = %q", i, m)
		}
	}

	// FilterLogEvents interleaves both streams by time, in pages of the
	// default 10,000.
	var all []map[string]any
	fin := map[string]any{"logGroupName": "g"}
	for pages := 0; ; pages++ {
		out := f.must("FilterLogEvents", fin)
		for _, e := range out["events"].([]any) {
			all = append(all, e.(map[string]any))
		}
		tok, _ := out["nextToken"].(string)
		if tok == "" {
			break
		}
		fin["nextToken"] = tok
		if pages > 5 {
			t.Fatal("FilterLogEvents never ends")
		}
	}
	if len(all) != 2*n {
		t.Fatalf("FilterLogEvents returned %d events, want %d", len(all), 2*n)
	}
	seen := map[string]bool{}
	for i, e := range all {
		if i > 0 && e["timestamp"].(int64) < all[i-1]["timestamp"].(int64) {
			t.Fatalf("event %d out of time order", i)
		}
		id := e["eventId"].(string)
		if seen[id] {
			t.Fatalf("event ID %s twice", id)
		}
		seen[id] = true
	}
	if all[0]["logStreamName"] != "a" || all[1]["logStreamName"] != "b" || all[0]["message"] != "a 00000" {
		t.Errorf("first events = %v %v", all[0], all[1])
	}
}

func TestFilterLogEvents(t *testing.T) {
	f := newFixture(t)
	f.group("g", "web-1", "web-2", "worker")
	base := f.nowMs() - 60000
	f.putEvents("g", "web-1", base, "GET /index 200", "ERROR timeout talking to db", `{"level":"error","latency":250}`)
	f.putEvents("g", "web-2", base, "GET /health 200", "WARN slow request", `{"level":"info","latency":20}`)
	f.putEvents("g", "worker", base, "ERROR job failed: Exiting", "job done", `{"level":"error","latency":5}`)
	filter := func(in map[string]any) map[string]any {
		in["logGroupName"] = "g"
		return f.must("FilterLogEvents", in)
	}
	cases := []struct {
		in   map[string]any
		want []string
	}{
		{map[string]any{"filterPattern": "ERROR"}, []string{"ERROR timeout talking to db", "ERROR job failed: Exiting"}},
		{map[string]any{"filterPattern": "ERROR -Exiting"}, []string{"ERROR timeout talking to db"}},
		{map[string]any{"filterPattern": "?WARN ?timeout"}, []string{"ERROR timeout talking to db", "WARN slow request"}},
		{map[string]any{"filterPattern": `"GET /health"`}, []string{"GET /health 200"}},
		{map[string]any{"filterPattern": `{ $.level = "error" && $.latency > 100 }`}, []string{`{"level":"error","latency":250}`}},
		{map[string]any{"filterPattern": "ERROR", "logStreamNamePrefix": "web"}, []string{"ERROR timeout talking to db"}},
		{map[string]any{"logStreamNames": []any{"web-2"}, "startTime": base + 1, "endTime": base + 2},
			[]string{"WARN slow request", `{"level":"info","latency":20}`}},
	}
	for _, c := range cases {
		got := messages(filter(c.in))
		if !equal(sortedCopy(got), sortedCopy(c.want)) {
			t.Errorf("FilterLogEvents(%v) = %q, want %q", c.in, got, c.want)
		}
	}
	out := filter(map[string]any{"logStreamNamePrefix": "web"})
	if s := names(out["searchedLogStreams"], "logStreamName"); !equal(s, []string{"web-1", "web-2"}) {
		t.Errorf("searchedLogStreams = %v", out["searchedLogStreams"])
	}
	for _, s := range out["searchedLogStreams"].([]any) {
		if s.(map[string]any)["searchedCompletely"] != true {
			t.Errorf("not searched completely: %v", s)
		}
	}
	// Pages of two follow time order across streams.
	var paged []string
	in := map[string]any{"limit": int64(2)}
	for {
		out := filter(in)
		paged = append(paged, messages(out)...)
		tok, _ := out["nextToken"].(string)
		if tok == "" {
			break
		}
		in["nextToken"] = tok
	}
	if len(paged) != 9 || paged[0] != "GET /index 200" || paged[8] != `{"level":"error","latency":5}` {
		t.Errorf("paged = %q", paged)
	}

	_, err := f.call("FilterLogEvents", map[string]any{"logGroupName": "g", "logStreamNames": []any{"a"}, "logStreamNamePrefix": "b"})
	wantCode(t, err, "InvalidParameterException")
	_, err = f.call("FilterLogEvents", map[string]any{"logGroupName": "g", "filterPattern": `{ $.a = `})
	wantCode(t, err, "InvalidParameterException")
	_, err = f.call("FilterLogEvents", map[string]any{"logGroupName": "nope"})
	wantCode(t, err, "ResourceNotFoundException")
	_, err = f.call("FilterLogEvents", map[string]any{"logGroupName": "g", "nextToken": "garbage"})
	wantCode(t, err, "InvalidParameterException")
}

func sortedCopy(s []string) []string {
	c := append([]string(nil), s...)
	for i := range c {
		for j := i + 1; j < len(c); j++ {
			if c[j] < c[i] {
				c[i], c[j] = c[j], c[i]
			}
		}
	}
	return c
}

func segmentFiles(t *testing.T, f *fixture) []string {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(f.dir, "logs", "*", "seg-*.log"))
	if err != nil {
		t.Fatal(err)
	}
	return files
}

func TestRetentionSweep(t *testing.T) {
	f := newFixture(t)
	f.group("g", "s")
	f.group("keep", "s")
	f.must("PutRetentionPolicy", map[string]any{"logGroupName": "g", "retentionInDays": int64(1)})
	f.putEvents("g", "s", f.nowMs()-1000, "old-1", "old-2")
	f.putEvents("keep", "s", f.nowMs()-1000, "kept")
	if n := len(segmentFiles(t, f)); n != 2 {
		t.Fatalf("%d segment files, want 2", n)
	}
	f.advance(36 * time.Hour)
	f.putEvents("g", "s", f.nowMs(), "new")
	// Reads hide expired events before the sweeper runs.
	got := f.must("GetLogEvents", map[string]any{"logGroupName": "g", "logStreamName": "s", "startFromHead": true})
	if ms := messages(got); !equal(ms, []string{"new"}) {
		t.Fatalf("after expiry = %v", ms)
	}
	if err := f.logs.sweep(context.Background()); err != nil {
		t.Fatal(err)
	}
	files := segmentFiles(t, f)
	if len(files) != 2 {
		t.Fatalf("after sweep: %v, want the new segment of g and keep's", files)
	}
	data, err := os.ReadFile(files[0])
	if err != nil {
		t.Fatal(err)
	}
	data2, _ := os.ReadFile(files[1])
	if strings.Contains(string(data)+string(data2), "old-1") {
		t.Errorf("expired events still on disk")
	}
	// The group without retention keeps everything; DescribeLogStreams
	// forgets the deleted events.
	got = f.must("FilterLogEvents", map[string]any{"logGroupName": "keep"})
	if ms := messages(got); !equal(ms, []string{"kept"}) {
		t.Errorf("keep = %v", ms)
	}
	st := f.must("DescribeLogStreams", map[string]any{"logGroupName": "g"})["logStreams"].([]any)[0].(map[string]any)
	if st["firstEventTimestamp"] != f.nowMs() {
		t.Errorf("stream after sweep = %v", st)
	}
	// A deleted group's directory left behind (a crash) is removed.
	orphan := filepath.Join(f.dir, "logs", "deadbeef")
	if err := os.MkdirAll(orphan, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := f.logs.sweep(context.Background()); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(orphan); !os.IsNotExist(err) {
		t.Errorf("orphan directory kept: %v", err)
	}
}

func TestRunStopsWithContext(t *testing.T) {
	f := newFixture(t)
	f.logs.sweepEvery = time.Millisecond
	f.group("g", "s")
	f.must("PutRetentionPolicy", map[string]any{"logGroupName": "g", "retentionInDays": int64(1)})
	f.putEvents("g", "s", f.nowMs(), "x")
	f.advance(48 * time.Hour)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- f.logs.Run(ctx) }()
	deadline := time.Now().Add(5 * time.Second)
	for len(segmentFiles(t, f)) > 0 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if files := segmentFiles(t, f); len(files) != 0 {
		t.Errorf("Run left expired segments: %v", files)
	}
}

func TestEventsSurviveRestart(t *testing.T) {
	f := newFixture(t)
	f.group("g", "a", "b", "gone")
	base := f.nowMs() - 10000
	f.putEvents("g", "a", base, "a0", "a1")
	f.putEvents("g", "b", base+5, "b0")
	f.putEvents("g", "gone", base, "g0")
	f.must("DeleteLogStream", map[string]any{"logGroupName": "g", "logStreamName": "gone"})
	f.putEvents("g", "a", base+2, "a2")
	before := f.must("FilterLogEvents", map[string]any{"logGroupName": "g"})

	f.restart()
	after := f.must("FilterLogEvents", map[string]any{"logGroupName": "g"})
	if !equal(messages(after), []string{"a0", "a1", "a2", "b0"}) || fmt.Sprint(after["events"]) != fmt.Sprint(before["events"]) {
		t.Fatalf("after restart = %v, before %v", after["events"], before["events"])
	}
	// The dropped stream's events are not loaded again.
	g, err := f.logs.events.group(f.storageID("g"))
	if err != nil {
		t.Fatal(err)
	}
	if len(g.streams) != 2 {
		t.Errorf("reopened log indexes %d streams, want 2", len(g.streams))
	}

	// A torn write at the tail (kill -9 mid-append) is cut off on reopen and
	// appending goes on after it.
	files := segmentFiles(t, f)
	fh, err := os.OpenFile(files[len(files)-1], os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	torn := appendRecord(nil, recordEvent, 1, base, base, "torn message")
	fh.Write(torn[:len(torn)-3])
	fh.Close()
	f.restart()
	f.putEvents("g", "b", base+6, "b1")
	f.restart()
	got := f.must("GetLogEvents", map[string]any{"logGroupName": "g", "logStreamName": "b", "startFromHead": true})
	if ms := messages(got); !equal(ms, []string{"b0", "b1"}) {
		t.Fatalf("after a torn tail = %v", ms)
	}
	st := f.must("DescribeLogStreams", map[string]any{"logGroupName": "g"})["logStreams"].([]any)[0].(map[string]any)
	if st["logStreamName"] != "a" || st["lastEventTimestamp"] != base+2 {
		t.Errorf("stream stats after restart = %v", st)
	}
}

func (f *fixture) storageID(group string) string {
	f.t.Helper()
	grp, err := f.logs.lookupGroup(f.ctx, testAccount, testRegion, group, "")
	if err != nil {
		f.t.Fatal(err)
	}
	return grp.StorageID
}

func TestSegmentRotation(t *testing.T) {
	f := newFixture(t)
	f.group("g", "s")
	f.putEvents("g", "s", f.nowMs(), "first")
	f.advance(maxSegmentAge + time.Minute)
	f.putEvents("g", "s", f.nowMs(), "second")
	if n := len(segmentFiles(t, f)); n != 2 {
		t.Fatalf("%d segments after an hour, want 2", n)
	}
	big := strings.Repeat("x", 1000)
	for i := 0; i < 40; i++ {
		batch := make([]Event, 1000)
		for j := range batch {
			batch[j] = Event{Timestamp: f.now(), Message: big}
		}
		if err := f.logs.Ingest(context.Background(), testAccount, testRegion, "g", "s", batch); err != nil {
			t.Fatal(err)
		}
	}
	if n := len(segmentFiles(t, f)); n < 3 {
		t.Fatalf("%d segments after 40 MB, want at least 3", n)
	}
	f.restart()
	got := f.must("FilterLogEvents", map[string]any{"logGroupName": "g", "limit": int64(3)})
	if ms := messages(got); len(ms) != 3 || ms[0] != "first" || ms[1] != "second" || ms[2] != big {
		t.Errorf("after rotation and restart = %.30q", ms)
	}
}

func TestIngest(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	t0 := f.now().Add(-time.Second)
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for i := 0; i < 8; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs <- f.logs.Ingest(ctx, testAccount, testRegion, "/aws/lambda/fn", "2026/11/28/[$LATEST]abc",
				[]Event{{Timestamp: t0, Message: fmt.Sprintf("START %d", i)}, {Message: ""}})
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	if err := f.logs.Ingest(ctx, testAccount, testRegion, "/aws/lambda/fn", "2026/11/28/[$LATEST]abc",
		[]Event{{Message: "REPORT RequestId: 1"}}); err != nil {
		t.Fatal(err)
	}
	out := f.must("GetLogEvents", map[string]any{"logGroupName": "/aws/lambda/fn", "logStreamName": "2026/11/28/[$LATEST]abc"})
	ms := messages(out)
	if len(ms) != 9 || ms[8] != "REPORT RequestId: 1" || !strings.HasPrefix(ms[0], "START ") {
		t.Fatalf("ingested = %v", ms)
	}
	if ts := out["events"].([]any)[8].(map[string]any)["timestamp"]; ts != f.nowMs() {
		t.Errorf("zero timestamp stored as %v, want now", ts)
	}
	groups := f.must("DescribeLogGroups", map[string]any{})
	if got := names(groups["logGroups"], "logGroupName"); !equal(got, []string{"/aws/lambda/fn"}) {
		t.Errorf("groups = %v", got)
	}
	if err := f.logs.Ingest(ctx, testAccount, testRegion, "bad group", "s", nil); err == nil {
		t.Error("Ingest accepted an invalid group name")
	}
}

func TestReset(t *testing.T) {
	f := newFixture(t)
	f.group("g", "s")
	f.putEvents("g", "s", f.nowMs(), "x")
	if err := f.logs.Service().Reset(context.Background()); err != nil {
		t.Fatal(err)
	}
	if files := segmentFiles(t, f); len(files) != 0 {
		t.Errorf("segments after reset: %v", files)
	}
	out := f.must("DescribeLogGroups", map[string]any{})
	if len(out["logGroups"].([]any)) != 0 {
		t.Errorf("groups after reset: %v", out)
	}
	f.group("g", "s")
	f.putEvents("g", "s", f.nowMs(), "y")
	if ms := messages(f.must("GetLogEvents", map[string]any{"logGroupName": "g", "logStreamName": "s"})); !equal(ms, []string{"y"}) {
		t.Errorf("after reset = %v", ms)
	}
}

package logs

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/nimbus-dev/nimbus/internal/awserr"
	"github.com/nimbus-dev/nimbus/internal/identity"
	"github.com/nimbus-dev/nimbus/internal/service"
	"github.com/nimbus-dev/nimbus/internal/store"
	"github.com/nimbus-dev/nimbus/internal/store/sqlitestore"
)

const (
	testAccount = "123456789012"
	testRegion  = "us-east-1"
)

// fixture is a Logs service over a real SQLite store and segment files,
// with a clock the test moves.
type fixture struct {
	t       testing.TB
	dir     string
	store   store.Store
	logs    *Logs
	ctx     context.Context
	mu      sync.Mutex
	nowTime time.Time
}

func newFixture(t testing.TB) *fixture {
	t.Helper()
	f := &fixture{t: t, dir: t.TempDir(), nowTime: time.Date(2026, 11, 28, 12, 0, 0, 0, time.UTC)}
	st, err := sqlitestore.Open(context.Background(), filepath.Join(f.dir, "nimbus.db"))
	if err != nil {
		t.Fatal(err)
	}
	f.store = st
	t.Cleanup(func() { st.Close() })
	f.open()
	f.ctx = callerContext(testAccount, testRegion)
	return f
}

// open (re)creates the service over the fixture's store and data directory,
// as a nimbus restart would.
func (f *fixture) open() {
	f.t.Helper()
	l, err := New(Options{Store: f.store, DataDir: f.dir, Now: f.now,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		f.t.Fatal(err)
	}
	if err := l.Service().Check(); err != nil {
		f.t.Fatal(err)
	}
	f.logs = l
	f.t.Cleanup(func() { l.Close() })
}

// restart closes the service and opens another over the same files.
func (f *fixture) restart() {
	f.t.Helper()
	if err := f.logs.Close(); err != nil {
		f.t.Fatal(err)
	}
	f.open()
}

func (f *fixture) now() time.Time {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.nowTime
}

func (f *fixture) advance(d time.Duration) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.nowTime = f.nowTime.Add(d)
}

func (f *fixture) nowMs() int64 { return f.now().UnixMilli() }

func callerContext(account, region string) context.Context {
	return identity.With(context.Background(), &identity.Call{Region: region, Principal: &identity.Principal{
		Type: identity.Root, Account: account, ARN: identity.RootARN(account), UserID: account}})
}

// call runs an operation through its registered handler with an input
// document, as the edge does, and returns the output document.
func (f *fixture) call(op string, in map[string]any) (map[string]any, error) {
	f.t.Helper()
	h, ok := f.logs.Service().Handler(op)
	if !ok {
		f.t.Fatalf("no handler for %s", op)
	}
	out, err := h(f.ctx, in)
	if err != nil {
		return nil, err
	}
	doc, err := service.ToDocument(out)
	if err != nil {
		f.t.Fatal(err)
	}
	return doc, nil
}

func (f *fixture) must(op string, in map[string]any) map[string]any {
	f.t.Helper()
	out, err := f.call(op, in)
	if err != nil {
		f.t.Fatalf("%s: %v", op, err)
	}
	return out
}

// wantCode checks that err is an AWS error with the given code and a 400.
func wantCode(t testing.TB, err error, code string) {
	t.Helper()
	var ae *awserr.Error
	if !errors.As(err, &ae) {
		t.Fatalf("error = %v, want %s", err, code)
	}
	if ae.Code != code || ae.Status != 400 {
		t.Fatalf("error = %s (%d) %q, want %s (400)", ae.Code, ae.Status, ae.Message, code)
	}
}

func names(items any, member string) []string {
	var out []string
	for _, it := range items.([]any) {
		out = append(out, it.(map[string]any)[member].(string))
	}
	return out
}

func TestCreateDescribeDeleteLogGroups(t *testing.T) {
	f := newFixture(t)
	for _, n := range []string{"/aws/lambda/b", "/aws/lambda/a", "/aws/batch/job", "app-Prod"} {
		f.must("CreateLogGroup", map[string]any{"logGroupName": n})
	}
	_, err := f.call("CreateLogGroup", map[string]any{"logGroupName": "/aws/lambda/a"})
	wantCode(t, err, "ResourceAlreadyExistsException")
	_, err = f.call("CreateLogGroup", map[string]any{"logGroupName": "bad name"})
	wantCode(t, err, "InvalidParameterException")

	out := f.must("DescribeLogGroups", map[string]any{})
	got := names(out["logGroups"], "logGroupName")
	want := []string{"/aws/batch/job", "/aws/lambda/a", "/aws/lambda/b", "app-Prod"}
	if !equal(got, want) {
		t.Fatalf("groups = %v, want %v", got, want)
	}
	g := out["logGroups"].([]any)[1].(map[string]any)
	if g["arn"] != "arn:aws:logs:us-east-1:123456789012:log-group:/aws/lambda/a:*" ||
		g["logGroupArn"] != "arn:aws:logs:us-east-1:123456789012:log-group:/aws/lambda/a" ||
		g["creationTime"] != f.nowMs() || g["logGroupClass"] != "STANDARD" {
		t.Errorf("group = %v", g)
	}
	if _, ok := g["retentionInDays"]; ok {
		t.Errorf("retentionInDays set without a policy: %v", g)
	}

	out = f.must("DescribeLogGroups", map[string]any{"logGroupNamePrefix": "/aws/lambda/"})
	if got := names(out["logGroups"], "logGroupName"); !equal(got, []string{"/aws/lambda/a", "/aws/lambda/b"}) {
		t.Errorf("prefix = %v", got)
	}
	out = f.must("DescribeLogGroups", map[string]any{"logGroupNamePattern": "PROD"})
	if got := names(out["logGroups"], "logGroupName"); !equal(got, []string{"app-Prod"}) {
		t.Errorf("pattern = %v", got)
	}
	_, err = f.call("DescribeLogGroups", map[string]any{"logGroupNamePrefix": "a", "logGroupNamePattern": "b"})
	wantCode(t, err, "InvalidParameterException")

	// Pages of one, following nextToken.
	var paged []string
	token := ""
	for i := 0; i < 10; i++ {
		in := map[string]any{"limit": int64(1)}
		if token != "" {
			in["nextToken"] = token
		}
		out := f.must("DescribeLogGroups", in)
		paged = append(paged, names(out["logGroups"], "logGroupName")...)
		tok, _ := out["nextToken"].(string)
		if tok == "" {
			break
		}
		token = tok
	}
	if !equal(paged, want) {
		t.Errorf("paged = %v, want %v", paged, want)
	}

	f.must("DeleteLogGroup", map[string]any{"logGroupName": "/aws/lambda/a"})
	_, err = f.call("DeleteLogGroup", map[string]any{"logGroupName": "/aws/lambda/a"})
	wantCode(t, err, "ResourceNotFoundException")
	out = f.must("DescribeLogGroups", map[string]any{"logGroupNamePrefix": "/aws/lambda/"})
	if got := names(out["logGroups"], "logGroupName"); !equal(got, []string{"/aws/lambda/b"}) {
		t.Errorf("after delete = %v", got)
	}

	// Another account sees none of them.
	f.ctx = callerContext("210987654321", testRegion)
	out = f.must("DescribeLogGroups", map[string]any{})
	if len(out["logGroups"].([]any)) != 0 {
		t.Errorf("other account sees %v", out["logGroups"])
	}
}

func TestRetentionPolicy(t *testing.T) {
	f := newFixture(t)
	f.must("CreateLogGroup", map[string]any{"logGroupName": "g"})
	f.must("PutRetentionPolicy", map[string]any{"logGroupName": "g", "retentionInDays": int64(7)})
	out := f.must("DescribeLogGroups", map[string]any{})
	if got := out["logGroups"].([]any)[0].(map[string]any)["retentionInDays"]; got != int64(7) {
		t.Errorf("retentionInDays = %v", got)
	}
	_, err := f.call("PutRetentionPolicy", map[string]any{"logGroupName": "g", "retentionInDays": int64(2)})
	wantCode(t, err, "InvalidParameterException")
	_, err = f.call("PutRetentionPolicy", map[string]any{"logGroupName": "nope", "retentionInDays": int64(7)})
	wantCode(t, err, "ResourceNotFoundException")
	f.must("DeleteRetentionPolicy", map[string]any{"logGroupName": "g"})
	out = f.must("DescribeLogGroups", map[string]any{})
	if _, ok := out["logGroups"].([]any)[0].(map[string]any)["retentionInDays"]; ok {
		t.Errorf("retention kept after DeleteRetentionPolicy: %v", out)
	}
	_, err = f.call("DeleteRetentionPolicy", map[string]any{"logGroupName": "nope"})
	wantCode(t, err, "ResourceNotFoundException")
}

func TestLogStreams(t *testing.T) {
	f := newFixture(t)
	_, err := f.call("CreateLogStream", map[string]any{"logGroupName": "g", "logStreamName": "s"})
	wantCode(t, err, "ResourceNotFoundException")
	f.must("CreateLogGroup", map[string]any{"logGroupName": "g"})
	for _, s := range []string{"2026/11/28/[$LATEST]b", "2026/11/28/[$LATEST]a", "job/default/c"} {
		f.must("CreateLogStream", map[string]any{"logGroupName": "g", "logStreamName": s})
	}
	_, err = f.call("CreateLogStream", map[string]any{"logGroupName": "g", "logStreamName": "job/default/c"})
	wantCode(t, err, "ResourceAlreadyExistsException")
	_, err = f.call("CreateLogStream", map[string]any{"logGroupName": "g", "logStreamName": "a:b"})
	wantCode(t, err, "InvalidParameterException")

	// Events make the stream's times appear; the last written sorts last by time.
	f.putEvents("g", "job/default/c", f.nowMs()-3000, "c1")
	f.putEvents("g", "2026/11/28/[$LATEST]a", f.nowMs()-1000, "a1")

	out := f.must("DescribeLogStreams", map[string]any{"logGroupName": "g"})
	if got := names(out["logStreams"], "logStreamName"); !equal(got, []string{"2026/11/28/[$LATEST]a", "2026/11/28/[$LATEST]b", "job/default/c"}) {
		t.Errorf("by name = %v", got)
	}
	a := out["logStreams"].([]any)[0].(map[string]any)
	if a["firstEventTimestamp"] != f.nowMs()-1000 || a["lastEventTimestamp"] != f.nowMs()-1000 ||
		a["lastIngestionTime"] != f.nowMs() || a["storedBytes"] != int64(0) ||
		a["arn"] != "arn:aws:logs:us-east-1:123456789012:log-group:g:log-stream:2026/11/28/[$LATEST]a" {
		t.Errorf("stream = %v", a)
	}
	if _, ok := out["logStreams"].([]any)[1].(map[string]any)["lastEventTimestamp"]; ok {
		t.Errorf("empty stream has lastEventTimestamp: %v", out["logStreams"])
	}
	out = f.must("DescribeLogStreams", map[string]any{"logGroupName": "g", "logStreamNamePrefix": "2026/"})
	if got := names(out["logStreams"], "logStreamName"); !equal(got, []string{"2026/11/28/[$LATEST]a", "2026/11/28/[$LATEST]b"}) {
		t.Errorf("prefix = %v", got)
	}
	out = f.must("DescribeLogStreams", map[string]any{"logGroupName": "g", "orderBy": "LastEventTime", "descending": true})
	if got := names(out["logStreams"], "logStreamName"); !equal(got, []string{"2026/11/28/[$LATEST]a", "job/default/c", "2026/11/28/[$LATEST]b"}) {
		t.Errorf("by last event, descending = %v", got)
	}
	_, err = f.call("DescribeLogStreams", map[string]any{"logGroupName": "g", "orderBy": "LastEventTime", "logStreamNamePrefix": "x"})
	wantCode(t, err, "InvalidParameterException")
	_, err = f.call("DescribeLogStreams", map[string]any{"logGroupName": "nope"})
	wantCode(t, err, "ResourceNotFoundException")
	out = f.must("DescribeLogStreams", map[string]any{"logGroupIdentifier": "arn:aws:logs:us-east-1:123456789012:log-group:g"})
	if len(out["logStreams"].([]any)) != 3 {
		t.Errorf("by identifier = %v", out)
	}

	// Descending pages of two.
	var paged []string
	in := map[string]any{"logGroupName": "g", "descending": true, "limit": int64(2)}
	for {
		out := f.must("DescribeLogStreams", in)
		paged = append(paged, names(out["logStreams"], "logStreamName")...)
		tok, _ := out["nextToken"].(string)
		if tok == "" {
			break
		}
		in["nextToken"] = tok
	}
	if !equal(paged, []string{"job/default/c", "2026/11/28/[$LATEST]b", "2026/11/28/[$LATEST]a"}) {
		t.Errorf("descending pages = %v", paged)
	}

	f.must("DeleteLogStream", map[string]any{"logGroupName": "g", "logStreamName": "job/default/c"})
	_, err = f.call("DeleteLogStream", map[string]any{"logGroupName": "g", "logStreamName": "job/default/c"})
	wantCode(t, err, "ResourceNotFoundException")
	// A stream created again under the old name starts empty.
	f.must("CreateLogStream", map[string]any{"logGroupName": "g", "logStreamName": "job/default/c"})
	got := f.must("GetLogEvents", map[string]any{"logGroupName": "g", "logStreamName": "job/default/c"})
	if len(got["events"].([]any)) != 0 {
		t.Errorf("recreated stream has old events: %v", got["events"])
	}
	// Deleting the group deletes its streams.
	f.must("DeleteLogGroup", map[string]any{"logGroupName": "g"})
	f.must("CreateLogGroup", map[string]any{"logGroupName": "g"})
	out = f.must("DescribeLogStreams", map[string]any{"logGroupName": "g"})
	if len(out["logStreams"].([]any)) != 0 {
		t.Errorf("recreated group has streams: %v", out["logStreams"])
	}
}

func TestTags(t *testing.T) {
	f := newFixture(t)
	f.must("CreateLogGroup", map[string]any{"logGroupName": "g", "tags": map[string]any{"team": "a"}})
	arn := "arn:aws:logs:us-east-1:123456789012:log-group:g"
	f.must("TagResource", map[string]any{"resourceArn": arn, "tags": map[string]any{"env": "prod"}})
	f.must("TagLogGroup", map[string]any{"logGroupName": "g", "tags": map[string]any{"cost": "1"}})
	out := f.must("ListTagsForResource", map[string]any{"resourceArn": arn + ":*"})
	if tags := out["tags"].(map[string]any); len(tags) != 3 || tags["team"] != "a" || tags["env"] != "prod" || tags["cost"] != "1" {
		t.Errorf("tags = %v", out)
	}
	f.must("UntagResource", map[string]any{"resourceArn": arn, "tagKeys": []any{"team"}})
	f.must("UntagLogGroup", map[string]any{"logGroupName": "g", "tags": []any{"cost"}})
	out = f.must("ListTagsLogGroup", map[string]any{"logGroupName": "g"})
	if tags := out["tags"].(map[string]any); len(tags) != 1 || tags["env"] != "prod" {
		t.Errorf("tags after untag = %v", out)
	}
	_, err := f.call("ListTagsForResource", map[string]any{"resourceArn": "arn:aws:logs:us-east-1:123456789012:log-group:nope"})
	wantCode(t, err, "ResourceNotFoundException")
	_, err = f.call("TagResource", map[string]any{"resourceArn": "arn:aws:s3:::bucket", "tags": map[string]any{"a": "b"}})
	wantCode(t, err, "InvalidParameterException")
	many := map[string]any{}
	for i := 0; i < 50; i++ {
		many[string(rune('A'+i%26))+string(rune('a'+i/26))] = "v"
	}
	_, err = f.call("TagResource", map[string]any{"resourceArn": arn, "tags": many})
	wantCode(t, err, "TooManyTagsException")
}

// putEvents writes one event per message, a millisecond apart from ts.
func (f *fixture) putEvents(group, stream string, ts int64, msgs ...string) map[string]any {
	f.t.Helper()
	evs := make([]any, len(msgs))
	for i, m := range msgs {
		evs[i] = map[string]any{"timestamp": ts + int64(i), "message": m}
	}
	return f.must("PutLogEvents", map[string]any{"logGroupName": group, "logStreamName": stream, "logEvents": evs})
}

func equal(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

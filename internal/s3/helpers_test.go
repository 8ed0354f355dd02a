package s3

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awscreds "github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/smithy-go"

	nimbuscreds "github.com/nimbus-dev/nimbus/internal/credentials"
	"github.com/nimbus-dev/nimbus/internal/edge"
	"github.com/nimbus-dev/nimbus/internal/region"
	"github.com/nimbus-dev/nimbus/internal/service"
	"github.com/nimbus-dev/nimbus/internal/store"
	"github.com/nimbus-dev/nimbus/internal/store/sqlitestore"
)

const (
	account      = "000000000000"
	otherAccount = "111111111111"
)

var ctx = context.Background()

// fixture is S3 behind a real edge on a loopback port: requests go through
// SigV4 verification and the rest-xml codec as they do in nimbus.
type fixture struct {
	api       *API
	store     store.Store
	dataDir   string
	url       string
	functions *fakeFunctions
	sink      *fakeSink
	http      *http.Client
	// payloadModes records each request's x-amz-content-sha256.
	payloadModes chan string
}

type fixtureOptions struct {
	store   store.Store
	dataDir string
	noSink  bool
	tls     bool // serve HTTPS, where the SDK streams aws-chunked with trailing checksums
}

func newFixture(t testing.TB, fo ...fixtureOptions) *fixture {
	t.Helper()
	var o fixtureOptions
	if len(fo) > 0 {
		o = fo[0]
	}
	if o.store == nil {
		o.store = sqlitestore.OpenTemp(t)
	}
	if o.dataDir == "" {
		o.dataDir = t.TempDir()
	}
	f := &fixture{store: o.store, dataDir: o.dataDir, functions: &fakeFunctions{allowed: map[string]bool{}}, sink: newFakeSink()}
	opts := Options{Store: o.store, DataDir: o.dataDir, Functions: f.functions, Events: f.sink,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}
	if o.noSink {
		opts.Events = nil
	}
	api, err := New(ctx, opts)
	if err != nil {
		t.Fatal(err)
	}
	if err := api.Service().Check(); err != nil {
		t.Fatal(err)
	}
	f.api = api
	creds := nimbuscreds.Root(account, "test", "test")
	for k, v := range nimbuscreds.Root(otherAccount, "other", "other") {
		creds[k] = v
	}
	regions, _ := region.NewCatalog(nil, false)
	srv, err := edge.New(edge.Options{
		Services: []*service.Service{api.Service()}, Credentials: creds, Account: account, Regions: regions,
		Region: "us-east-1", Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	if err != nil {
		t.Fatal(err)
	}
	f.payloadModes = make(chan string, 1000)
	record := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case f.payloadModes <- r.Header.Get("X-Amz-Content-Sha256"):
		default:
		}
		srv.ServeHTTP(w, r)
	})
	var hs *httptest.Server
	if o.tls {
		hs = httptest.NewTLSServer(record)
	} else {
		hs = httptest.NewServer(record)
	}
	t.Cleanup(hs.Close)
	f.url, f.http = hs.URL, hs.Client()
	return f
}

// fakeFunctions stands in for Lambda's function lookup and resource policy.
type fakeFunctions struct {
	mu      sync.Mutex
	allowed map[string]bool // function ARN -> S3 may invoke it
	asked   []string        // bucket ARNs asked about
}

func (f *fakeFunctions) AllowsS3Invoke(_ context.Context, functionARN, bucketARN, owner string) (bool, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.asked = append(f.asked, bucketARN+" "+owner)
	return f.allowed[functionARN], nil
}

func (f *fakeFunctions) allow(arn string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.allowed[arn] = true
}

// fakeSink records what the outbox hands over; it fails while failing is
// above zero, counting down.
type fakeSink struct {
	mu      sync.Mutex
	failing int
	events  chan sunkEvent
}

type sunkEvent struct {
	arn     string
	payload []byte
}

func newFakeSink() *fakeSink { return &fakeSink{events: make(chan sunkEvent, 100)} }

func (s *fakeSink) EnqueueEvent(_ context.Context, arn string, payload []byte) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.failing > 0 {
		s.failing--
		return errors.New("sink unavailable")
	}
	if strings.HasSuffix(arn, ":deleted") {
		return fmt.Errorf("function %s: %w", arn, ErrUndeliverable)
	}
	s.events <- sunkEvent{arn: arn, payload: bytes.Clone(payload)}
	return nil
}

func (s *fakeSink) next(t *testing.T) sunkEvent {
	t.Helper()
	select {
	case e := <-s.events:
		return e
	case <-time.After(10 * time.Second):
		t.Fatal("no event delivered within 10s")
	}
	return sunkEvent{}
}

func (s *fakeSink) none(t *testing.T, wait time.Duration) {
	t.Helper()
	select {
	case e := <-s.events:
		t.Fatalf("unexpected event for %s: %s", e.arn, e.payload)
	case <-time.After(wait):
	}
}

// runOutbox runs the outbox worker until the test ends.
func (f *fixture) runOutbox(t *testing.T) {
	c, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		f.api.Run(c)
	}()
	t.Cleanup(func() { cancel(); <-done })
}

// client returns an SDK client for key (test: account, other: otherAccount).
func (f *fixture) client(key string, mods ...func(*s3.Options)) *s3.Client {
	return s3.New(s3.Options{
		Region:           "us-east-1",
		Credentials:      awscreds.NewStaticCredentialsProvider(key, key, ""),
		BaseEndpoint:     aws.String(f.url),
		HTTPClient:       f.http,
		UsePathStyle:     true,
		RetryMaxAttempts: 1,
		// What config.LoadDefaultConfig resolves by default since 2025.
		RequestChecksumCalculation: aws.RequestChecksumCalculationWhenSupported,
		ResponseChecksumValidation: aws.ResponseChecksumValidationWhenSupported,
	}, mods...)
}

// virtualHostClient addresses buckets as BUCKET.s3.localhost, dialling the
// test server whatever the host.
func (f *fixture) virtualHostClient() *s3.Client {
	_, port, _ := net.SplitHostPort(f.url[len("http://"):])
	addr := f.url[len("http://"):]
	tr := &http.Transport{DialContext: func(c context.Context, network, _ string) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(c, network, addr)
	}}
	return s3.New(s3.Options{
		Region:           "us-east-1",
		Credentials:      awscreds.NewStaticCredentialsProvider("test", "test", ""),
		BaseEndpoint:     aws.String("http://s3.localhost:" + port),
		HTTPClient:       &http.Client{Transport: tr},
		RetryMaxAttempts: 1,
	})
}

// errorCode is the AWS error code of err, "" when it has none.
func errorCode(err error) string {
	var ae smithy.APIError
	if errors.As(err, &ae) {
		return ae.ErrorCode()
	}
	return ""
}

// wantCode fails the test unless err carries code.
func wantCode(t *testing.T, err error, code string) {
	t.Helper()
	if got := errorCode(err); got != code {
		t.Fatalf("error %v: code %q, want %q", err, got, code)
	}
}

// httpStatus is the HTTP status of an SDK error.
func httpStatus(err error) int {
	var re interface{ HTTPStatusCode() int }
	if errors.As(err, &re) {
		return re.HTTPStatusCode()
	}
	return 0
}

// countBlobs is the number of object and part files on disk.
func countBlobs(t testing.TB, f *fixture) int {
	t.Helper()
	entries, err := os.ReadDir(f.api.blobs.dir)
	if err != nil {
		t.Fatal(err)
	}
	return len(entries)
}

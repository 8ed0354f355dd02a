package lambda

import (
	"archive/zip"
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/lambda/types"
	"github.com/aws/smithy-go"
	smithyhttp "github.com/aws/smithy-go/transport/http"

	nimbuscreds "github.com/nimbus-dev/nimbus/internal/credentials"
	"github.com/nimbus-dev/nimbus/internal/edge"
	"github.com/nimbus-dev/nimbus/internal/lambda/runner"
	"github.com/nimbus-dev/nimbus/internal/region"
	"github.com/nimbus-dev/nimbus/internal/service"
	"github.com/nimbus-dev/nimbus/internal/store"
	"github.com/nimbus-dev/nimbus/internal/store/sqlitestore"
)

const (
	testAccount = "000000000000"
	testRegion  = "us-east-1"
	testRole    = "arn:aws:iam::000000000000:role/lambda-role"
)

var ctx = context.Background()

// fakeInvoker records invocations and answers them with answer.
type fakeInvoker struct {
	mu      sync.Mutex
	calls   []invocation
	retired []string
	answer  func(fn *runner.Function, req *runner.Request) (*runner.Result, error)
	// prepared are the runtimes PrepareRuntime was asked for, in order.
	prepared []string
}

func (f *fakeInvoker) PrepareRuntime(runtime string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.prepared = append(f.prepared, runtime)
}

func (f *fakeInvoker) preparedRuntimes() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.prepared...)
}

type invocation struct {
	fn  runner.Function
	req runner.Request
}

func newFakeInvoker() *fakeInvoker {
	return &fakeInvoker{}
}

func (f *fakeInvoker) Invoke(ctx context.Context, fn *runner.Function, req *runner.Request) (*runner.Result, error) {
	f.mu.Lock()
	f.calls = append(f.calls, invocation{fn: *fn, req: *req})
	answer := f.answer
	f.mu.Unlock()
	if answer != nil {
		return answer(fn, req)
	}
	return &runner.Result{Payload: req.Payload, ExecutedVersion: fn.Version}, nil
}

func (f *fakeInvoker) Retire(ctx context.Context, account, region, name string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.retired = append(f.retired, name)
	return nil
}

func (f *fakeInvoker) setAnswer(a func(fn *runner.Function, req *runner.Request) (*runner.Result, error)) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.answer = a
}

func (f *fakeInvoker) invocations() []invocation {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]invocation(nil), f.calls...)
}

// harness is the Lambda API behind a real edge, driven by aws-sdk-go-v2.
type harness struct {
	api     *API
	invoker *fakeInvoker
	store   store.Store
	client  *lambda.Client
	url     string
	dataDir string
}

// newHarness starts the API over a temporary store; tweak adjusts the
// options (functions are Active at once unless it sets SettleDelay).
func newHarness(t testing.TB, tweak func(*Options)) *harness {
	t.Helper()
	st := sqlitestore.OpenTemp(t)
	return newHarnessOn(t, st, t.TempDir(), tweak)
}

func newHarnessOn(t testing.TB, st store.Store, dataDir string, tweak func(*Options)) *harness {
	t.Helper()
	inv := newFakeInvoker()
	opts := Options{Store: st, DataDir: dataDir, Invoker: inv, SettleDelay: -1,
		RetryBaseDelay: 20 * time.Millisecond, ThrottleRetryDelay: 10 * time.Millisecond}
	if tweak != nil {
		tweak(&opts)
	}
	api, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	if err := api.Service().Check(); err != nil {
		t.Fatal(err)
	}
	regions, _ := region.NewCatalog(nil, false)
	srv, err := edge.New(edge.Options{
		Services:    []*service.Service{api.Service()},
		Credentials: nimbuscreds.Root(testAccount, "test", "test"),
		Account:     testAccount, Regions: regions, Region: testRegion,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
		Hosts:  []edge.HostRoute{{Match: IsFunctionURLHost, Handler: api.URLHandler()}},
	})
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(srv)
	t.Cleanup(hs.Close)
	client := lambda.NewFromConfig(aws.Config{Region: testRegion, BaseEndpoint: aws.String(hs.URL), RetryMaxAttempts: 1,
		Credentials: credentials.NewStaticCredentialsProvider("test", "test", "")})
	return &harness{api: api, invoker: inv, store: st, client: client, url: hs.URL, dataDir: dataDir}
}

// runDispatcher runs the async dispatcher until the test ends.
func (h *harness) runDispatcher(t testing.TB) {
	t.Helper()
	runCtx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- h.api.Run(runCtx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	})
}

// zipOf builds a deployment package holding files (name -> content).
func zipOf(t testing.TB, files map[string]string) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for name, content := range files {
		h := &zip.FileHeader{Name: name, Method: zip.Deflate}
		h.SetMode(0o755)
		w, err := zw.CreateHeader(h)
		if err != nil {
			t.Fatal(err)
		}
		w.Write([]byte(content))
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// createFunction makes a provided.al2023 function and returns its config.
func (h *harness) createFunction(t testing.TB, name string, mod func(*lambda.CreateFunctionInput)) *lambda.CreateFunctionOutput {
	t.Helper()
	in := &lambda.CreateFunctionInput{
		FunctionName: aws.String(name), Runtime: types.RuntimeProvidedal2023, Role: aws.String(testRole),
		Handler: aws.String("bootstrap"), Code: &types.FunctionCode{ZipFile: zipOf(t, map[string]string{"bootstrap": "#!/bin/sh\n"})},
	}
	if mod != nil {
		mod(in)
	}
	out, err := h.client.CreateFunction(ctx, in)
	if err != nil {
		t.Fatalf("CreateFunction %s: %v", name, err)
	}
	return out
}

// wantAPIError checks err is an AWS error with code and HTTP status.
func wantAPIError(t testing.TB, err error, code string, status int) {
	t.Helper()
	var api smithy.APIError
	if !errors.As(err, &api) {
		t.Fatalf("got %v, want %s", err, code)
	}
	if api.ErrorCode() != code {
		t.Fatalf("got %s (%s), want %s", api.ErrorCode(), api.ErrorMessage(), code)
	}
	var re *smithyhttp.ResponseError
	if !errors.As(err, &re) || re.HTTPStatusCode() != status {
		t.Fatalf("%s: status %v, want %d", code, err, status)
	}
}

// newTestServer serves h until the test ends and returns its base URL.
func newTestServer(t testing.TB, h http.Handler) string {
	t.Helper()
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return srv.URL
}

// countEvents is how many async events are queued in the store.
func countEvents(t testing.TB, h *harness) int {
	t.Helper()
	n := 0
	err := h.store.View(ctx, func(tx store.Tx) error {
		return tx.List(store.Query{Kind: kindEvent, AllAccounts: true, AllRegions: true}, func(store.Object) error {
			n++
			return nil
		})
	})
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func (f *fakeInvoker) retiredNames() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.retired...)
}

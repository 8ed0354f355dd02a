package batch

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http/httptest"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/batch"
	"github.com/aws/aws-sdk-go-v2/service/batch/types"
	"github.com/aws/smithy-go"
	smithyhttp "github.com/aws/smithy-go/transport/http"

	"github.com/nimbus-dev/nimbus/internal/batch/scheduler"
	nimbuscreds "github.com/nimbus-dev/nimbus/internal/credentials"
	"github.com/nimbus-dev/nimbus/internal/edge"
	"github.com/nimbus-dev/nimbus/internal/logs"
	"github.com/nimbus-dev/nimbus/internal/region"
	"github.com/nimbus-dev/nimbus/internal/sandbox/fake"
	"github.com/nimbus-dev/nimbus/internal/service"
	"github.com/nimbus-dev/nimbus/internal/store"
	"github.com/nimbus-dev/nimbus/internal/store/sqlitestore"
	"github.com/nimbus-dev/nimbus/internal/substrate"
)

const (
	testAccount = "000000000000"
	testRegion  = "us-east-1"
)

var ctx = context.Background()

// memoryLogs keeps what Ingest is given, by stream.
type memoryLogs struct {
	mu      sync.Mutex
	streams map[string]ingested
}

type ingested struct {
	group, stream string
	events        []logs.Event
}

func (m *memoryLogs) Ingest(_ context.Context, account, region, group, stream string, events []logs.Event) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	cur := m.streams[stream]
	m.streams[stream] = ingested{group: group, stream: stream, events: append(cur.events, events...)}
	return nil
}

// harness is the Batch API behind a real edge, driven by aws-sdk-go-v2,
// over a substrate Host with the given driver.
type harness struct {
	api    *API
	store  store.Store
	host   *substrate.Host
	client *batch.Client
	logs   *memoryLogs
	stop   func()
}

func newHarness(t testing.TB, driver string, tweak func(*Options)) *harness {
	t.Helper()
	st := sqlitestore.OpenTemp(t)
	dir := t.TempDir()
	hostOpts := substrate.Options{DataDir: filepath.Join(dir, "data"), Store: st, Driver: driver, NoNetwork: true}
	if driver == substrate.DriverFake {
		hostOpts.SandboxDriver = fake.New(fake.WithHost(fake.NewHost()))
	}
	host, err := substrate.Open(ctx, hostOpts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		host.Reset(context.Background(), nil)
		host.Close()
	})
	return newHarnessOn(t, st, host, tweak)
}

func newHarnessOn(t testing.TB, st store.Store, host *substrate.Host, tweak func(*Options)) *harness {
	t.Helper()
	ml := &memoryLogs{streams: map[string]ingested{}}
	opts := Options{Store: st, Host: host, Logs: ml, SettleDelay: -1, Tick: 20 * time.Millisecond, StopGrace: time.Second,
		Capacity: scheduler.Resources{MilliCPU: 8000, MemoryMiB: 8192}}
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
	})
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(srv)
	t.Cleanup(hs.Close)
	client := batch.NewFromConfig(aws.Config{Region: testRegion, BaseEndpoint: aws.String(hs.URL),
		// The SDK's default of 3 attempts absorbs its own race on very fast
		// answers (aws-sdk-go-v2#2737), as the e2e harness does.
		RetryMaxAttempts: 3,
		Credentials:      credentials.NewStaticCredentialsProvider("test", "test", "")})
	return &harness{api: api, store: st, host: host, client: client, logs: ml}
}

// run runs the controller until stop is called or the test ends.
func (h *harness) run(t testing.TB) {
	t.Helper()
	runCtx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- h.api.Run(runCtx) }()
	stopped := false
	h.stop = func() {
		if stopped {
			return
		}
		stopped = true
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	}
	t.Cleanup(h.stop)
}

// setup makes a compute environment (maxvCpus 4) and a queue.
func (h *harness) setup(t testing.TB, queue string, priority int32) string {
	t.Helper()
	ce := queue + "-ce"
	_, err := h.client.CreateComputeEnvironment(ctx, &batch.CreateComputeEnvironmentInput{
		ComputeEnvironmentName: aws.String(ce), Type: types.CETypeManaged,
		ComputeResources: &types.ComputeResource{Type: types.CRTypeFargate, MaxvCpus: aws.Int32(4), Subnets: []string{"subnet-1"}},
	})
	if err != nil {
		t.Fatalf("CreateComputeEnvironment: %v", err)
	}
	out, err := h.client.CreateJobQueue(ctx, &batch.CreateJobQueueInput{JobQueueName: aws.String(queue), Priority: aws.Int32(priority),
		ComputeEnvironmentOrder: []types.ComputeEnvironmentOrder{{Order: aws.Int32(1), ComputeEnvironment: aws.String(ce)}}})
	if err != nil {
		t.Fatalf("CreateJobQueue: %v", err)
	}
	return *out.JobQueueArn
}

// jobDef registers a job definition running command in image.
func (h *harness) jobDef(t testing.TB, name, image string, command []string, mod func(*batch.RegisterJobDefinitionInput)) string {
	t.Helper()
	in := &batch.RegisterJobDefinitionInput{JobDefinitionName: aws.String(name), Type: types.JobDefinitionTypeContainer,
		ContainerProperties: &types.ContainerProperties{Image: aws.String(image), Command: command,
			ResourceRequirements: []types.ResourceRequirement{{Type: types.ResourceTypeVcpu, Value: aws.String("1")},
				{Type: types.ResourceTypeMemory, Value: aws.String("64")}}}}
	if mod != nil {
		mod(in)
	}
	out, err := h.client.RegisterJobDefinition(ctx, in)
	if err != nil {
		t.Fatalf("RegisterJobDefinition: %v", err)
	}
	return *out.JobDefinitionArn
}

func (h *harness) submit(t testing.TB, in *batch.SubmitJobInput) string {
	t.Helper()
	out, err := h.client.SubmitJob(ctx, in)
	if err != nil {
		t.Fatalf("SubmitJob: %v", err)
	}
	return *out.JobId
}

func (h *harness) describe(t testing.TB, id string) types.JobDetail {
	t.Helper()
	out, err := h.client.DescribeJobs(ctx, &batch.DescribeJobsInput{Jobs: []string{id}})
	if err != nil {
		t.Fatalf("DescribeJobs: %v", err)
	}
	if len(out.Jobs) != 1 {
		t.Fatalf("DescribeJobs %s: %d jobs", id, len(out.Jobs))
	}
	return out.Jobs[0]
}

// waitStatus polls until the job reaches status (or fails the test).
func (h *harness) waitStatus(t testing.TB, id string, status types.JobStatus, within time.Duration) types.JobDetail {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		j := h.describe(t, id)
		if j.Status == status {
			return j
		}
		if time.Now().After(deadline) {
			t.Fatalf("job %s is %s (%s), want %s", id, j.Status, aws.ToString(j.StatusReason), status)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func wantClientError(t testing.TB, err error) {
	t.Helper()
	var api smithy.APIError
	if !errors.As(err, &api) {
		t.Fatalf("got %v, want ClientException", err)
	}
	if api.ErrorCode() != "ClientException" {
		t.Fatalf("got %s (%s), want ClientException", api.ErrorCode(), api.ErrorMessage())
	}
	var re *smithyhttp.ResponseError
	if !errors.As(err, &re) || re.HTTPStatusCode() != 400 {
		t.Fatalf("ClientException status %v, want 400", err)
	}
}

func waitFor(t testing.TB, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not met in 10s")
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// ingestedFor waits for the job output ingested for stream.
func (h *harness) ingestedFor(t testing.TB, stream string) ingested {
	t.Helper()
	var got ingested
	waitFor(t, func() bool {
		h.logs.mu.Lock()
		defer h.logs.mu.Unlock()
		var ok bool
		got, ok = h.logs.streams[stream]
		return ok
	})
	return got
}

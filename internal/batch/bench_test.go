package batch

import (
	"fmt"
	"runtime"
	"slices"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/batch"
	"github.com/aws/aws-sdk-go-v2/service/batch/types"

	"github.com/nimbus-dev/nimbus/internal/batch/scheduler"
	"github.com/nimbus-dev/nimbus/internal/store"
	"github.com/nimbus-dev/nimbus/internal/substrate"
)

// BenchmarkOCIJobs submits trivial busybox jobs (0.25 vCPU each, so the
// capacity never limits them) through the API and waits for all of them,
// each in a runc sandbox: jobs/s end to end, and the submit-to-RUNNING
// median. Run it with a fixed count, e.g. -benchtime=200x.
func BenchmarkOCIJobs(b *testing.B) {
	requireRunc(b)
	benchJobs(b, substrate.DriverOCI)
}

// BenchmarkFakeJobs is BenchmarkOCIJobs over the fake driver: what the API,
// the store and the controller cost without the sandboxes.
func BenchmarkFakeJobs(b *testing.B) { benchJobs(b, substrate.DriverFake) }

func benchJobs(b *testing.B, driver string) {
	h := newHarness(b, driver, func(o *Options) {
		o.Capacity = scheduler.Resources{MilliCPU: 256_000, MemoryMiB: 1 << 20}
		o.Logs = nil
	})
	_, err := h.client.CreateComputeEnvironment(ctx, &batch.CreateComputeEnvironmentInput{ComputeEnvironmentName: aws.String("ce"),
		Type: types.CETypeManaged, ComputeResources: &types.ComputeResource{Type: types.CRTypeFargate, MaxvCpus: aws.Int32(256), Subnets: []string{"s"}}})
	if err != nil {
		b.Fatal(err)
	}
	if _, err := h.client.CreateJobQueue(ctx, &batch.CreateJobQueueInput{JobQueueName: aws.String("q"), Priority: aws.Int32(1),
		ComputeEnvironmentOrder: []types.ComputeEnvironmentOrder{{Order: aws.Int32(1), ComputeEnvironment: aws.String("ce")}}}); err != nil {
		b.Fatal(err)
	}
	h.jobDef(b, "true", "busybox", []string{"true"}, func(in *batch.RegisterJobDefinitionInput) {
		in.ContainerProperties.ResourceRequirements[0].Value = aws.String("0.25")
		in.ContainerProperties.ResourceRequirements[1].Value = aws.String("16")
	})
	h.run(b)
	// One job first, so the busybox image is in the store before timing.
	h.waitStatus(b, h.submit(b, &batch.SubmitJobInput{JobName: aws.String("warm"), JobQueue: aws.String("q"), JobDefinition: aws.String("true")}),
		types.JobStatusSucceeded, time.Minute)
	b.ResetTimer()
	start := time.Now()
	ids := make([]string, 0, b.N)
	for range b.N {
		ids = append(ids, h.submit(b, &batch.SubmitJobInput{JobName: aws.String("t"), JobQueue: aws.String("q"), JobDefinition: aws.String("true")}))
	}
	var latencies []int64
	for i := 0; i < len(ids); {
		end := min(i+100, len(ids))
		out, err := h.client.DescribeJobs(ctx, &batch.DescribeJobsInput{Jobs: ids[i:end]})
		if err != nil {
			b.Fatal(err)
		}
		done := true
		for _, j := range out.Jobs {
			if j.Status == types.JobStatusFailed {
				b.Fatalf("job failed: %s", aws.ToString(j.StatusReason))
			}
			if j.Status != types.JobStatusSucceeded {
				done = false
			}
		}
		if !done {
			time.Sleep(20 * time.Millisecond)
			continue
		}
		for _, j := range out.Jobs {
			latencies = append(latencies, aws.ToInt64(j.StartedAt)-aws.ToInt64(j.CreatedAt))
		}
		i = end
	}
	elapsed := time.Since(start)
	b.StopTimer()
	slices.Sort(latencies)
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "jobs/s")
	b.ReportMetric(float64(latencies[len(latencies)/2]), "ms-submit-to-running-p50")
}

// BenchmarkControllerQueuedMemory loads 100,000 RUNNABLE jobs from the
// store into a controller, as a restart does, and reports the heap that
// holding them takes (the records and the scheduler's queues).
func BenchmarkControllerQueuedMemory(b *testing.B) {
	const queued = 100_000
	h := newHarness(b, substrate.DriverFake, nil)
	h.setup(b, "q", 1)
	h.jobDef(b, "jd", "busybox", []string{"true"}, nil)
	template := h.submit(b, &batch.SubmitJobInput{JobName: aws.String("t"), JobQueue: aws.String("q"), JobDefinition: aws.String("jd")})
	var rec jobRecord
	if err := h.store.View(ctx, func(tx store.Tx) error {
		_, err := tx.Get(store.Key{Account: testAccount, Region: testRegion, Kind: kindJob, ID: template}, &rec)
		return err
	}); err != nil {
		b.Fatal(err)
	}
	err := h.store.Update(ctx, func(tx store.Tx) error {
		for i := range queued {
			j := rec
			j.JobID = fmt.Sprintf("%s-%06d", template[:20], i)
			j.Status, j.RunnableAt = scheduler.Runnable, rec.CreatedAt
			if _, err := tx.Put(j.key(), &j, 0); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		b.Fatal(err)
	}
	var heapMiB float64
	for b.Loop() {
		c := newController(h.api)
		runtime.GC()
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		if err := c.load(ctx); err != nil {
			b.Fatal(err)
		}
		runtime.GC()
		runtime.ReadMemStats(&after)
		if c.sched.Waiting() < queued {
			b.Fatalf("%d jobs waiting", c.sched.Waiting())
		}
		heapMiB = float64(after.HeapAlloc-before.HeapAlloc) / (1 << 20)
		runtime.KeepAlive(c)
	}
	b.ReportMetric(heapMiB, "MiB/100k-jobs")
}

package batch

import (
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/batch"
	"github.com/aws/aws-sdk-go-v2/service/batch/types"

	"github.com/nimbus-dev/nimbus/internal/sandbox/fake"
	"github.com/nimbus-dev/nimbus/internal/substrate"
)

func fakeCmd(b fake.Behavior) []string { return fake.Command(b) }

func TestJobSucceedsWithLogs(t *testing.T) {
	h := newHarness(t, substrate.DriverFake, nil)
	h.setup(t, "q", 1)
	h.jobDef(t, "hello", "busybox", []string{"fake", "exit=0", "Ref::greeting"}, nil)
	h.run(t)
	id := h.submit(t, &batch.SubmitJobInput{JobName: aws.String("j"), JobQueue: aws.String("q"), JobDefinition: aws.String("hello"),
		Parameters: map[string]string{"greeting": "stdout=hi"}})
	j := h.waitStatus(t, id, types.JobStatusSucceeded, 10*time.Second)
	if len(j.Attempts) != 1 || aws.ToInt32(j.Attempts[0].Container.ExitCode) != 0 {
		t.Fatalf("attempts %+v", j.Attempts)
	}
	stream := aws.ToString(j.Container.LogStreamName)
	if !strings.HasPrefix(stream, "hello/default/batch-") || aws.ToString(j.Attempts[0].Container.LogStreamName) != stream {
		t.Fatalf("log stream %q", stream)
	}
	if j.StartedAt == nil || j.StoppedAt == nil || aws.ToString(j.StatusReason) != reasonExited {
		t.Fatalf("times/reason %+v", j)
	}
	if got := j.Container.Command; len(got) != 3 || got[2] != "stdout=hi" {
		t.Fatalf("command after Ref:: substitution: %v", got)
	}
	if in := h.ingestedFor(t, stream); in.group != LogGroup || len(in.events) != 1 || in.events[0].Message != "hi" {
		t.Fatalf("logs %+v", in)
	}
	list, err := h.client.ListJobs(ctx, &batch.ListJobsInput{JobQueue: aws.String("q"), JobStatus: types.JobStatusSucceeded})
	if err != nil || len(list.JobSummaryList) != 1 || aws.ToString(list.JobSummaryList[0].JobId) != id {
		t.Fatalf("ListJobs: %v %+v", err, list)
	}
	none, err := h.client.ListJobs(ctx, &batch.ListJobsInput{JobQueue: aws.String("q")}) // RUNNING by default
	if err != nil || len(none.JobSummaryList) != 0 {
		t.Fatalf("ListJobs RUNNING: %v %+v", err, none)
	}
	byName, err := h.client.ListJobs(ctx, &batch.ListJobsInput{JobQueue: aws.String("q"),
		Filters: []types.KeyValuesPair{{Name: aws.String("JOB_NAME"), Values: []string{"j*"}}}})
	if err != nil || len(byName.JobSummaryList) != 1 {
		t.Fatalf("ListJobs by name: %v %+v", err, byName)
	}
}

func TestRetryOnExitCode(t *testing.T) {
	h := newHarness(t, substrate.DriverFake, nil)
	h.setup(t, "q", 1)
	h.jobDef(t, "flaky", "busybox", fakeCmd(fake.Behavior{ExitCode: 3}), func(in *batch.RegisterJobDefinitionInput) {
		in.RetryStrategy = &types.RetryStrategy{Attempts: aws.Int32(3),
			EvaluateOnExit: []types.EvaluateOnExit{{OnExitCode: aws.String("3"), Action: types.RetryActionRetry}, {OnExitCode: aws.String("*"), Action: types.RetryActionExit}}}
	})
	h.jobDef(t, "fatal", "busybox", fakeCmd(fake.Behavior{ExitCode: 4}), func(in *batch.RegisterJobDefinitionInput) {
		in.RetryStrategy = &types.RetryStrategy{Attempts: aws.Int32(3),
			EvaluateOnExit: []types.EvaluateOnExit{{OnExitCode: aws.String("3"), Action: types.RetryActionRetry}, {OnExitCode: aws.String("*"), Action: types.RetryActionExit}}}
	})
	h.run(t)
	flaky := h.submit(t, &batch.SubmitJobInput{JobName: aws.String("f"), JobQueue: aws.String("q"), JobDefinition: aws.String("flaky")})
	fatal := h.submit(t, &batch.SubmitJobInput{JobName: aws.String("g"), JobQueue: aws.String("q"), JobDefinition: aws.String("fatal")})
	j := h.waitStatus(t, flaky, types.JobStatusFailed, 10*time.Second)
	if len(j.Attempts) != 3 {
		t.Fatalf("flaky: %d attempts, want 3", len(j.Attempts))
	}
	g := h.waitStatus(t, fatal, types.JobStatusFailed, 10*time.Second)
	if len(g.Attempts) != 1 || aws.ToInt32(g.Attempts[0].Container.ExitCode) != 4 {
		t.Fatalf("fatal: %+v", g.Attempts)
	}
}

func TestTimeoutAndTerminate(t *testing.T) {
	h := newHarness(t, substrate.DriverFake, nil)
	h.api.timeoutUnit = 5 * time.Millisecond // 60 "seconds" = 300 ms
	h.setup(t, "q", 1)
	h.jobDef(t, "sleepy", "busybox", fakeCmd(fake.Behavior{Duration: fake.Forever}), nil)
	h.run(t)
	timed := h.submit(t, &batch.SubmitJobInput{JobName: aws.String("t"), JobQueue: aws.String("q"), JobDefinition: aws.String("sleepy"),
		Timeout: &types.JobTimeout{AttemptDurationSeconds: aws.Int32(60)}})
	j := h.waitStatus(t, timed, types.JobStatusFailed, 10*time.Second)
	if aws.ToString(j.StatusReason) != reasonTimeout {
		t.Fatalf("timeout reason %q", aws.ToString(j.StatusReason))
	}
	term := h.submit(t, &batch.SubmitJobInput{JobName: aws.String("x"), JobQueue: aws.String("q"), JobDefinition: aws.String("sleepy")})
	h.waitStatus(t, term, types.JobStatusRunning, 10*time.Second)
	// CancelJob leaves a running job alone; TerminateJob stops it.
	if _, err := h.client.CancelJob(ctx, &batch.CancelJobInput{JobId: aws.String(term), Reason: aws.String("nope")}); err != nil {
		t.Fatal(err)
	}
	if _, err := h.client.TerminateJob(ctx, &batch.TerminateJobInput{JobId: aws.String(term), Reason: aws.String("stop it")}); err != nil {
		t.Fatal(err)
	}
	j = h.waitStatus(t, term, types.JobStatusFailed, 10*time.Second)
	if aws.ToString(j.StatusReason) != "stop it" || !aws.ToBool(j.IsTerminated) {
		t.Fatalf("terminated job %+v", j)
	}
	_, err := h.client.TerminateJob(ctx, &batch.TerminateJobInput{JobId: aws.String("missing"), Reason: aws.String("x")})
	wantClientError(t, err)
}

func TestUnknownImageFailsToPull(t *testing.T) {
	h := newHarness(t, substrate.DriverFake, nil)
	h.setup(t, "q", 1)
	h.jobDef(t, "ghost", "no-such-image:1", []string{"true"}, nil)
	h.run(t)
	id := h.submit(t, &batch.SubmitJobInput{JobName: aws.String("g"), JobQueue: aws.String("q"), JobDefinition: aws.String("ghost")})
	j := h.waitStatus(t, id, types.JobStatusFailed, 10*time.Second)
	if !strings.HasPrefix(aws.ToString(j.StatusReason), "CannotPullContainerError") {
		t.Fatalf("reason %q", aws.ToString(j.StatusReason))
	}
}

func TestDependenciesAndArrays(t *testing.T) {
	h := newHarness(t, substrate.DriverFake, nil)
	h.setup(t, "q", 1)
	h.jobDef(t, "ok", "busybox", fakeCmd(fake.Behavior{Duration: 20 * time.Millisecond}), nil)
	h.jobDef(t, "bad", "busybox", fakeCmd(fake.Behavior{ExitCode: 1}), nil)
	h.run(t)
	bad := h.submit(t, &batch.SubmitJobInput{JobName: aws.String("bad"), JobQueue: aws.String("q"), JobDefinition: aws.String("bad")})
	after := h.submit(t, &batch.SubmitJobInput{JobName: aws.String("after"), JobQueue: aws.String("q"), JobDefinition: aws.String("ok"),
		DependsOn: []types.JobDependency{{JobId: aws.String(bad)}}})
	j := h.waitStatus(t, after, types.JobStatusFailed, 10*time.Second)
	if aws.ToString(j.StatusReason) != reasonDepFail || len(j.Attempts) != 0 {
		t.Fatalf("dependent of a failed job: %+v", j)
	}
	first := h.submit(t, &batch.SubmitJobInput{JobName: aws.String("a"), JobQueue: aws.String("q"), JobDefinition: aws.String("ok"),
		ArrayProperties: &types.ArrayProperties{Size: aws.Int32(3)}})
	second := h.submit(t, &batch.SubmitJobInput{JobName: aws.String("b"), JobQueue: aws.String("q"), JobDefinition: aws.String("ok"),
		ArrayProperties: &types.ArrayProperties{Size: aws.Int32(3)},
		DependsOn:       []types.JobDependency{{JobId: aws.String(first), Type: types.ArrayJobDependencyNToN}}})
	seq := h.submit(t, &batch.SubmitJobInput{JobName: aws.String("s"), JobQueue: aws.String("q"), JobDefinition: aws.String("ok"),
		ArrayProperties: &types.ArrayProperties{Size: aws.Int32(2)},
		DependsOn:       []types.JobDependency{{Type: types.ArrayJobDependencySequential}}})
	for _, id := range []string{first, second, seq} {
		p := h.waitStatus(t, id, types.JobStatusSucceeded, 15*time.Second)
		if p.ArrayProperties == nil || p.ArrayProperties.StatusSummary["SUCCEEDED"] != aws.ToInt32(p.ArrayProperties.Size) {
			t.Fatalf("array %s: %+v", id, p.ArrayProperties)
		}
	}
	// N_TO_N: child i of the second array started after child i of the first ended.
	for i := range 3 {
		a := h.describe(t, first+":"+string(rune('0'+i)))
		b := h.describe(t, second+":"+string(rune('0'+i)))
		if aws.ToInt32(a.ArrayProperties.Index) != int32(i) || *b.StartedAt < *a.StoppedAt {
			t.Fatalf("child %d: b started %d before a stopped %d", i, *b.StartedAt, *a.StoppedAt)
		}
	}
	kids, err := h.client.ListJobs(ctx, &batch.ListJobsInput{ArrayJobId: aws.String(first), JobStatus: types.JobStatusSucceeded})
	if err != nil || len(kids.JobSummaryList) != 3 {
		t.Fatalf("children: %v %+v", err, kids)
	}
}

func TestPrioritiesAndCapacity(t *testing.T) {
	h := newHarness(t, substrate.DriverFake, nil)
	h.setup(t, "low", 1)
	h.setup(t, "high", 10)
	h.jobDef(t, "slow", "busybox", fakeCmd(fake.Behavior{Duration: 200 * time.Millisecond}), func(in *batch.RegisterJobDefinitionInput) {
		in.ContainerProperties.ResourceRequirements[0].Value = aws.String("4")
	})
	h.jobDef(t, "gpu", "busybox", []string{"true"}, func(in *batch.RegisterJobDefinitionInput) {
		in.ContainerProperties.ResourceRequirements = append(in.ContainerProperties.ResourceRequirements,
			types.ResourceRequirement{Type: types.ResourceTypeGpu, Value: aws.String("1")})
	})
	// Submitted before the controller runs, so one pass sees them all.
	lowID := h.submit(t, &batch.SubmitJobInput{JobName: aws.String("l"), JobQueue: aws.String("low"), JobDefinition: aws.String("slow")})
	highID := h.submit(t, &batch.SubmitJobInput{JobName: aws.String("h"), JobQueue: aws.String("high"), JobDefinition: aws.String("slow")})
	gpuID := h.submit(t, &batch.SubmitJobInput{JobName: aws.String("g"), JobQueue: aws.String("low"), JobDefinition: aws.String("gpu")})
	h.api.capacity.MilliCPU = 4000 // room for one slow job at a time
	h.run(t)
	hi := h.waitStatus(t, highID, types.JobStatusSucceeded, 10*time.Second)
	lo := h.waitStatus(t, lowID, types.JobStatusSucceeded, 10*time.Second)
	if *lo.StartedAt < *hi.StoppedAt {
		t.Fatalf("low-priority job started at %d, before the high one stopped at %d", *lo.StartedAt, *hi.StoppedAt)
	}
	g := h.describe(t, gpuID)
	if g.Status != types.JobStatusRunnable || !strings.Contains(aws.ToString(g.StatusReason), "GPU") {
		t.Fatalf("gpu job %s %q", g.Status, aws.ToString(g.StatusReason))
	}
	if _, err := h.client.CancelJob(ctx, &batch.CancelJobInput{JobId: aws.String(gpuID), Reason: aws.String("no gpus")}); err != nil {
		t.Fatal(err)
	}
	g = h.waitStatus(t, gpuID, types.JobStatusFailed, 5*time.Second)
	if !aws.ToBool(g.IsCancelled) {
		t.Fatalf("cancelled job %+v", g)
	}
}

// TestRestartReadoptsRunningJob stops the controller mid-run and starts a
// new API over the same store and host: the attempt is adopted, not rerun.
func TestRestartReadoptsRunningJob(t *testing.T) {
	h := newHarness(t, substrate.DriverFake, nil)
	h.setup(t, "q", 1)
	h.jobDef(t, "long", "busybox", fakeCmd(fake.Behavior{Duration: 700 * time.Millisecond}), nil)
	h.run(t)
	id := h.submit(t, &batch.SubmitJobInput{JobName: aws.String("r"), JobQueue: aws.String("q"), JobDefinition: aws.String("long")})
	running := h.waitStatus(t, id, types.JobStatusRunning, 10*time.Second)
	h.stop()
	h2 := newHarnessOn(t, h.store, h.host, nil)
	h2.run(t)
	j := h2.waitStatus(t, id, types.JobStatusSucceeded, 10*time.Second)
	if len(j.Attempts) != 1 || *j.StartedAt != *running.StartedAt {
		t.Fatalf("after restart: %d attempts, started %d (was %d)", len(j.Attempts), *j.StartedAt, *running.StartedAt)
	}
}

func TestArrayChildrenRetryThenParentFails(t *testing.T) {
	h := newHarness(t, substrate.DriverFake, nil)
	h.setup(t, "q", 1)
	h.jobDef(t, "bad", "busybox", fakeCmd(fake.Behavior{ExitCode: 1}), func(in *batch.RegisterJobDefinitionInput) {
		in.RetryStrategy = &types.RetryStrategy{Attempts: aws.Int32(2)}
	})
	h.run(t)
	id := h.submit(t, &batch.SubmitJobInput{JobName: aws.String("a"), JobQueue: aws.String("q"), JobDefinition: aws.String("bad"),
		ArrayProperties: &types.ArrayProperties{Size: aws.Int32(2)}})
	p := h.waitStatus(t, id, types.JobStatusFailed, 10*time.Second)
	if p.ArrayProperties.StatusSummary["FAILED"] != 2 {
		t.Fatalf("summary %+v", p.ArrayProperties.StatusSummary)
	}
	for _, c := range []string{id + ":0", id + ":1"} {
		if n := len(h.describe(t, c).Attempts); n != 2 {
			t.Fatalf("child %s: %d attempts", c, n)
		}
	}
}

func TestFairShareQueue(t *testing.T) {
	h := newHarness(t, substrate.DriverFake, nil)
	pol, err := h.client.CreateSchedulingPolicy(ctx, &batch.CreateSchedulingPolicyInput{Name: aws.String("fair"),
		FairsharePolicy: &types.FairsharePolicy{ShareDistribution: []types.ShareAttributes{{ShareIdentifier: aws.String("A"), WeightFactor: aws.Float32(1)}}}})
	if err != nil {
		t.Fatal(err)
	}
	h.setup(t, "fifo", 1)
	_, err = h.client.CreateJobQueue(ctx, &batch.CreateJobQueueInput{JobQueueName: aws.String("fair"), Priority: aws.Int32(1),
		SchedulingPolicyArn:     pol.Arn,
		ComputeEnvironmentOrder: []types.ComputeEnvironmentOrder{{Order: aws.Int32(1), ComputeEnvironment: aws.String("fifo-ce")}}})
	if err != nil {
		t.Fatal(err)
	}
	h.jobDef(t, "ok", "busybox", []string{"true"}, nil)
	_, err = h.client.SubmitJob(ctx, &batch.SubmitJobInput{JobName: aws.String("x"), JobQueue: aws.String("fair"), JobDefinition: aws.String("ok")})
	wantClientError(t, err) // a fair-share queue needs a share identifier
	h.run(t)
	id := h.submit(t, &batch.SubmitJobInput{JobName: aws.String("x"), JobQueue: aws.String("fair"), JobDefinition: aws.String("ok"),
		ShareIdentifier: aws.String("A"), SchedulingPriorityOverride: aws.Int32(5)})
	j := h.waitStatus(t, id, types.JobStatusSucceeded, 10*time.Second)
	if aws.ToString(j.ShareIdentifier) != "A" || aws.ToInt32(j.SchedulingPriority) != 5 {
		t.Fatalf("fair-share job %+v", j)
	}
	_, err = h.client.DeleteSchedulingPolicy(ctx, &batch.DeleteSchedulingPolicyInput{Arn: pol.Arn})
	wantClientError(t, err) // a queue uses it
}

func TestJobStateTimeLimitCancels(t *testing.T) {
	h := newHarness(t, substrate.DriverFake, nil)
	h.api.timeoutUnit = time.Millisecond // 600 "seconds" = 600 ms
	h.setup(t, "q", 1)
	_, err := h.client.UpdateJobQueue(ctx, &batch.UpdateJobQueueInput{JobQueue: aws.String("q"), JobStateTimeLimitActions: []types.JobStateTimeLimitAction{{
		Reason: aws.String("MISCONFIGURATION:JOB_RESOURCE_REQUIREMENT"), State: types.JobStateTimeLimitActionsStateRunnable,
		MaxTimeSeconds: aws.Int32(600), Action: types.JobStateTimeLimitActionsActionCancel}}})
	if err != nil {
		t.Fatal(err)
	}
	_, err = h.client.UpdateJobQueue(ctx, &batch.UpdateJobQueueInput{JobQueue: aws.String("q"), JobStateTimeLimitActions: []types.JobStateTimeLimitAction{{
		Reason: aws.String("x"), State: types.JobStateTimeLimitActionsStateRunnable, MaxTimeSeconds: aws.Int32(5), Action: types.JobStateTimeLimitActionsActionCancel}}})
	wantClientError(t, err)
	h.jobDef(t, "gpu", "busybox", []string{"true"}, func(in *batch.RegisterJobDefinitionInput) {
		in.ContainerProperties.ResourceRequirements = append(in.ContainerProperties.ResourceRequirements,
			types.ResourceRequirement{Type: types.ResourceTypeGpu, Value: aws.String("1")})
	})
	h.run(t)
	id := h.submit(t, &batch.SubmitJobInput{JobName: aws.String("g"), JobQueue: aws.String("q"), JobDefinition: aws.String("gpu")})
	h.waitStatus(t, id, types.JobStatusRunnable, 5*time.Second)
	j := h.waitStatus(t, id, types.JobStatusFailed, 10*time.Second)
	if aws.ToString(j.StatusReason) != "MISCONFIGURATION:JOB_RESOURCE_REQUIREMENT" || !aws.ToBool(j.IsCancelled) {
		t.Fatalf("cancelled by time limit: %q %v", aws.ToString(j.StatusReason), aws.ToBool(j.IsCancelled))
	}
}

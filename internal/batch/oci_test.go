package batch

import (
	"context"
	"os"
	"os/exec"
	"path"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/batch"
	"github.com/aws/aws-sdk-go-v2/service/batch/types"

	"github.com/nimbus-dev/nimbus/internal/substrate"
)

// requireRunc skips tests that run real sandboxes where they cannot run.
func requireRunc(t testing.TB) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("runs Batch jobs in runc sandboxes: needs root")
	}
	for _, bin := range []string{"runc", "busybox"} {
		if _, err := exec.LookPath(bin); err != nil {
			t.Skipf("runs Batch jobs in runc sandboxes of the busybox image: %s not found", bin)
		}
	}
}

func ociHarness(t *testing.T) *harness {
	requireRunc(t)
	h := newHarness(t, substrate.DriverOCI, func(o *Options) {
		o.RoleCredentials = func(_ context.Context, roleARN, session string) (*Credentials, error) {
			return &Credentials{AccessKeyID: "ASIA" + strings.ToUpper(path.Base(roleARN)), SecretAccessKey: "s", SessionToken: "t"}, nil
		}
	})
	h.api.timeoutUnit = 10 * time.Millisecond
	h.setup(t, "q", 1)
	h.run(t)
	return h
}

// logLines is the job output ingested for stream.
func (h *harness) logLines(t *testing.T, stream string) []string {
	t.Helper()
	var out []string
	for _, e := range h.ingestedFor(t, stream).events {
		out = append(out, e.Message)
	}
	return out
}

func TestOCIJobEchoes(t *testing.T) {
	h := ociHarness(t)
	h.jobDef(t, "echo", "busybox", []string{"sh", "-c", "echo hello $AWS_BATCH_JOB_ID $AWS_BATCH_JQ_NAME $AWS_BATCH_JOB_ATTEMPT $GREETING $AWS_ACCESS_KEY_ID"},
		func(in *batch.RegisterJobDefinitionInput) {
			in.ContainerProperties.Environment = []types.KeyValuePair{{Name: aws.String("GREETING"), Value: aws.String("there")}}
			in.ContainerProperties.JobRoleArn = aws.String("arn:aws:iam::000000000000:role/worker")
		})
	id := h.submit(t, &batch.SubmitJobInput{JobName: aws.String("e"), JobQueue: aws.String("q"), JobDefinition: aws.String("echo")})
	j := h.waitStatus(t, id, types.JobStatusSucceeded, 30*time.Second)
	lines := h.logLines(t, aws.ToString(j.Container.LogStreamName))
	want := "hello " + id + " q 1 there ASIAWORKER"
	if len(lines) != 1 || lines[0] != want {
		t.Fatalf("output %q, want %q", lines, want)
	}
}

func TestOCIRetryOnExitCode(t *testing.T) {
	h := ociHarness(t)
	h.jobDef(t, "fail", "busybox", []string{"sh", "-c", "echo attempt $AWS_BATCH_JOB_ATTEMPT; exit 3"}, func(in *batch.RegisterJobDefinitionInput) {
		in.RetryStrategy = &types.RetryStrategy{Attempts: aws.Int32(2),
			EvaluateOnExit: []types.EvaluateOnExit{{OnExitCode: aws.String("3"), Action: types.RetryActionRetry}}}
	})
	id := h.submit(t, &batch.SubmitJobInput{JobName: aws.String("f"), JobQueue: aws.String("q"), JobDefinition: aws.String("fail")})
	j := h.waitStatus(t, id, types.JobStatusFailed, 30*time.Second)
	if len(j.Attempts) != 2 {
		t.Fatalf("%d attempts, want 2", len(j.Attempts))
	}
	for i, a := range j.Attempts {
		if aws.ToInt32(a.Container.ExitCode) != 3 {
			t.Fatalf("attempt %d exit code %d", i, aws.ToInt32(a.Container.ExitCode))
		}
	}
	if got := h.logLines(t, aws.ToString(j.Attempts[1].Container.LogStreamName)); len(got) != 1 || got[0] != "attempt 2" {
		t.Fatalf("second attempt's output %q", got)
	}
}

func TestOCITimeout(t *testing.T) {
	h := ociHarness(t)
	h.jobDef(t, "sleep", "busybox", []string{"sleep", "600"}, nil)
	start := time.Now()
	id := h.submit(t, &batch.SubmitJobInput{JobName: aws.String("s"), JobQueue: aws.String("q"), JobDefinition: aws.String("sleep"),
		Timeout: &types.JobTimeout{AttemptDurationSeconds: aws.Int32(60)}}) // 600 ms here
	j := h.waitStatus(t, id, types.JobStatusFailed, 30*time.Second)
	if aws.ToString(j.StatusReason) != reasonTimeout {
		t.Fatalf("reason %q", aws.ToString(j.StatusReason))
	}
	if took := time.Since(start); took > 20*time.Second {
		t.Fatalf("timeout took %s", took)
	}
}

func TestOCIArrayNToN(t *testing.T) {
	h := ociHarness(t)
	h.jobDef(t, "idx", "busybox", []string{"sh", "-c", "echo index $AWS_BATCH_JOB_ARRAY_INDEX"}, nil)
	first := h.submit(t, &batch.SubmitJobInput{JobName: aws.String("a"), JobQueue: aws.String("q"), JobDefinition: aws.String("idx"),
		ArrayProperties: &types.ArrayProperties{Size: aws.Int32(2)}})
	second := h.submit(t, &batch.SubmitJobInput{JobName: aws.String("b"), JobQueue: aws.String("q"), JobDefinition: aws.String("idx"),
		ArrayProperties: &types.ArrayProperties{Size: aws.Int32(2)},
		DependsOn:       []types.JobDependency{{JobId: aws.String(first), Type: types.ArrayJobDependencyNToN}}})
	h.waitStatus(t, second, types.JobStatusSucceeded, 60*time.Second)
	for _, parent := range []string{first, second} {
		for i, idx := range []string{"0", "1"} {
			c := h.describe(t, parent+":"+idx)
			if c.Status != types.JobStatusSucceeded {
				t.Fatalf("child %s:%d is %s", parent, i, c.Status)
			}
			if parent == second {
				a := h.describe(t, first+":"+idx)
				if *c.StartedAt < *a.StoppedAt {
					t.Fatalf("child %s started before its N_TO_N dependency stopped", idx)
				}
			}
			if got := h.logLines(t, aws.ToString(c.Container.LogStreamName)); len(got) != 1 || !strings.HasSuffix(got[0], "index "+idx) {
				t.Fatalf("child %s output %q", idx, got)
			}
		}
	}
}

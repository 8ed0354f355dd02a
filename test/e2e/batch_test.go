package e2e

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/batch"
	batchtypes "github.com/aws/aws-sdk-go-v2/service/batch/types"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
)

func batchClient(n *Nimbus) *batch.Client { return batch.NewFromConfig(n.cfg()) }

// requireBatch skips while the binary does not serve Batch yet (the server
// wires internal/batch in separately).
func requireBatch(t *testing.T, c *batch.Client) {
	t.Helper()
	_, err := c.DescribeJobQueues(context.Background(), &batch.DescribeJobQueuesInput{})
	switch code := apiErrorCode(err); {
	case err == nil:
	case code == "UnknownService" || code == "UnknownOperation" || code == "NotImplemented" || code == "InvalidAction":
		t.Skipf("this nimbus binary does not serve AWS Batch yet (%s): wire internal/batch into internal/server", code)
	default:
		t.Fatalf("DescribeJobQueues: %v", err)
	}
}

// batchEnv makes a Fargate compute environment and a queue on it.
func batchEnv(t *testing.T, c *batch.Client, queue string, priority int32) {
	t.Helper()
	ctx := context.Background()
	ce := queue + "-ce"
	_, err := c.CreateComputeEnvironment(ctx, &batch.CreateComputeEnvironmentInput{ComputeEnvironmentName: aws.String(ce),
		Type: batchtypes.CETypeManaged, ComputeResources: &batchtypes.ComputeResource{Type: batchtypes.CRTypeFargate,
			MaxvCpus: aws.Int32(4), Subnets: []string{"subnet-00000000"}}})
	if err != nil {
		t.Fatalf("CreateComputeEnvironment: %v", err)
	}
	waitFor(t, 30*time.Second, func() bool {
		out, err := c.DescribeComputeEnvironments(ctx, &batch.DescribeComputeEnvironmentsInput{ComputeEnvironments: []string{ce}})
		return err == nil && len(out.ComputeEnvironments) == 1 && out.ComputeEnvironments[0].Status == batchtypes.CEStatusValid
	})
	_, err = c.CreateJobQueue(ctx, &batch.CreateJobQueueInput{JobQueueName: aws.String(queue), Priority: aws.Int32(priority),
		ComputeEnvironmentOrder: []batchtypes.ComputeEnvironmentOrder{{Order: aws.Int32(1), ComputeEnvironment: aws.String(ce)}}})
	if err != nil {
		t.Fatalf("CreateJobQueue: %v", err)
	}
}

func waitFor(t *testing.T, within time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(within)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("condition not met within %s", within)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func waitJob(t *testing.T, c *batch.Client, id string, want batchtypes.JobStatus, within time.Duration) batchtypes.JobDetail {
	t.Helper()
	var last batchtypes.JobDetail
	deadline := time.Now().Add(within)
	for {
		out, err := c.DescribeJobs(context.Background(), &batch.DescribeJobsInput{Jobs: []string{id}})
		if err != nil {
			t.Fatalf("DescribeJobs: %v", err)
		}
		if len(out.Jobs) == 1 {
			last = out.Jobs[0]
			if last.Status == want {
				return last
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("job %s is %s (%s), want %s", id, last.Status, aws.ToString(last.StatusReason), want)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// TestBatchSDK runs busybox jobs for real with aws-sdk-go-v2: priorities,
// a retry on exit code, an N_TO_N array, output in CloudWatch Logs, and a
// job that survives kill -9 of nimbus in the middle of its run.
func TestBatchSDK(t *testing.T) {
	requireRealSandboxes(t)
	dataDir := t.TempDir()
	n := startRealNimbus(t, dataDir)
	c := batchClient(n)
	requireBatch(t, c)
	ctx := context.Background()
	batchEnv(t, c, "work", 10)
	_, err := c.RegisterJobDefinition(ctx, &batch.RegisterJobDefinitionInput{JobDefinitionName: aws.String("echo"),
		Type: batchtypes.JobDefinitionTypeContainer, Parameters: map[string]string{"word": "default"},
		ContainerProperties: &batchtypes.ContainerProperties{Image: aws.String("busybox"),
			Command: []string{"sh", "-c", "echo said $0 index=$AWS_BATCH_JOB_ARRAY_INDEX; sleep ${NAP:-0}; exit ${CODE:-0}", "Ref::word"},
			ResourceRequirements: []batchtypes.ResourceRequirement{{Type: batchtypes.ResourceTypeVcpu, Value: aws.String("1")},
				{Type: batchtypes.ResourceTypeMemory, Value: aws.String("64")}}}})
	if err != nil {
		t.Fatalf("RegisterJobDefinition: %v", err)
	}
	submit := func(in *batch.SubmitJobInput) string {
		t.Helper()
		in.JobQueue, in.JobDefinition = aws.String("work"), aws.String("echo")
		out, err := c.SubmitJob(ctx, in)
		if err != nil {
			t.Fatalf("SubmitJob %s: %v", aws.ToString(in.JobName), err)
		}
		return aws.ToString(out.JobId)
	}
	hello := submit(&batch.SubmitJobInput{JobName: aws.String("hello"), Parameters: map[string]string{"word": "hi"}})
	j := waitJob(t, c, hello, batchtypes.JobStatusSucceeded, 60*time.Second)
	stream := aws.ToString(j.Container.LogStreamName)
	var messages []string
	waitFor(t, 20*time.Second, func() bool {
		out, err := cloudwatchlogs.NewFromConfig(n.cfg()).GetLogEvents(ctx, &cloudwatchlogs.GetLogEventsInput{
			LogGroupName: aws.String("/aws/batch/job"), LogStreamName: aws.String(stream), StartFromHead: aws.Bool(true)})
		if err != nil {
			return false
		}
		messages = messages[:0]
		for _, e := range out.Events {
			messages = append(messages, aws.ToString(e.Message))
		}
		return len(messages) > 0
	})
	if messages[0] != "said hi index=" {
		t.Fatalf("job output %q", messages)
	}

	retried := submit(&batch.SubmitJobInput{JobName: aws.String("retried"),
		ContainerOverrides: &batchtypes.ContainerOverrides{Environment: []batchtypes.KeyValuePair{{Name: aws.String("CODE"), Value: aws.String("7")}}},
		RetryStrategy: &batchtypes.RetryStrategy{Attempts: aws.Int32(2),
			EvaluateOnExit: []batchtypes.EvaluateOnExit{{OnExitCode: aws.String("7"), Action: batchtypes.RetryActionRetry}}}})
	j = waitJob(t, c, retried, batchtypes.JobStatusFailed, 60*time.Second)
	if len(j.Attempts) != 2 || aws.ToInt32(j.Attempts[1].Container.ExitCode) != 7 {
		t.Fatalf("retried job attempts %+v", j.Attempts)
	}

	first := submit(&batch.SubmitJobInput{JobName: aws.String("first"), ArrayProperties: &batchtypes.ArrayProperties{Size: aws.Int32(2)}})
	second := submit(&batch.SubmitJobInput{JobName: aws.String("second"), ArrayProperties: &batchtypes.ArrayProperties{Size: aws.Int32(2)},
		DependsOn: []batchtypes.JobDependency{{JobId: aws.String(first), Type: batchtypes.ArrayJobDependencyNToN}}})
	j = waitJob(t, c, second, batchtypes.JobStatusSucceeded, 90*time.Second)
	if j.ArrayProperties == nil || j.ArrayProperties.StatusSummary["SUCCEEDED"] != 2 {
		t.Fatalf("array summary %+v", j.ArrayProperties)
	}

	// A job running while nimbus is killed finishes after the restart, in
	// its one attempt.
	slow := submit(&batch.SubmitJobInput{JobName: aws.String("slow"),
		ContainerOverrides: &batchtypes.ContainerOverrides{Environment: []batchtypes.KeyValuePair{{Name: aws.String("NAP"), Value: aws.String("4")}}}})
	running := waitJob(t, c, slow, batchtypes.JobStatusRunning, 60*time.Second)
	n.Kill()
	n = startRealNimbus(t, dataDir)
	c = batchClient(n)
	j = waitJob(t, c, slow, batchtypes.JobStatusSucceeded, 60*time.Second)
	if len(j.Attempts) != 1 || aws.ToInt64(j.StartedAt) != aws.ToInt64(running.StartedAt) {
		t.Fatalf("after kill -9: %d attempts, started %d (was %d)", len(j.Attempts), aws.ToInt64(j.StartedAt), aws.ToInt64(running.StartedAt))
	}
}

// TestBatchCLI is one scenario with Debian's AWS CLI: a compute
// environment, a queue, a job definition, a job that runs and succeeds,
// and a ClientException for a queue that does not exist.
func TestBatchCLI(t *testing.T) {
	requireRealSandboxes(t)
	n := startRealNimbus(t, "")
	requireBatch(t, batchClient(n))
	if _, err := n.cli(t, nil, "batch", "create-compute-environment", "--compute-environment-name", "cli-ce", "--type", "MANAGED",
		"--compute-resources", "type=FARGATE,maxvCpus=2,subnets=subnet-00000000"); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 30*time.Second, func() bool {
		var out struct {
			ComputeEnvironments []struct{ Status string } `json:"computeEnvironments"`
		}
		_, err := n.cli(t, &out, "batch", "describe-compute-environments", "--compute-environments", "cli-ce")
		return err == nil && len(out.ComputeEnvironments) == 1 && out.ComputeEnvironments[0].Status == "VALID"
	})
	if _, err := n.cli(t, nil, "batch", "create-job-queue", "--job-queue-name", "cli-q", "--priority", "1",
		"--compute-environment-order", "order=1,computeEnvironment=cli-ce"); err != nil {
		t.Fatal(err)
	}
	props, _ := json.Marshal(map[string]any{"image": "busybox", "command": []string{"echo", "from the cli"},
		"resourceRequirements": []map[string]string{{"type": "VCPU", "value": "1"}, {"type": "MEMORY", "value": "64"}}})
	var reg struct {
		Revision int `json:"revision"`
	}
	if _, err := n.cli(t, &reg, "batch", "register-job-definition", "--job-definition-name", "cli-jd", "--type", "container",
		"--container-properties", string(props)); err != nil || reg.Revision != 1 {
		t.Fatalf("register-job-definition: %v (revision %d)", err, reg.Revision)
	}
	var sub struct {
		JobID string `json:"jobId"`
	}
	if _, err := n.cli(t, &sub, "batch", "submit-job", "--job-name", "cli-job", "--job-queue", "cli-q", "--job-definition", "cli-jd:1"); err != nil {
		t.Fatal(err)
	}
	waitJob(t, batchClient(n), sub.JobID, batchtypes.JobStatusSucceeded, 60*time.Second)
	var list struct {
		JobSummaryList []struct {
			JobID  string `json:"jobId"`
			Status string `json:"status"`
		} `json:"jobSummaryList"`
	}
	if _, err := n.cli(t, &list, "batch", "list-jobs", "--job-queue", "cli-q", "--job-status", "SUCCEEDED"); err != nil {
		t.Fatal(err)
	}
	if len(list.JobSummaryList) != 1 || list.JobSummaryList[0].JobID != sub.JobID {
		t.Fatalf("list-jobs %+v", list)
	}
	stderr, err := n.cli(t, nil, "batch", "submit-job", "--job-name", "x", "--job-queue", "missing", "--job-definition", "cli-jd")
	if err == nil || !strings.Contains(stderr, "ClientException") {
		t.Fatalf("submit to a missing queue: %v %s", err, stderr)
	}
}

// TestBatchEC2ComputeEnvironment checks that an EC2 compute environment
// launches instances visible to DescribeInstances while its jobs run, and
// terminates them down to minvCpus afterwards, on runc: the instances and
// the job are real sandboxes.
func TestBatchEC2ComputeEnvironment(t *testing.T) {
	requireRealSandboxes(t)
	n := startRealNimbus(t, "")
	c := batchClient(n)
	requireBatch(t, c)
	ctx := context.Background()
	ec2c := ec2.NewFromConfig(n.cfg())
	_, err := c.CreateComputeEnvironment(ctx, &batch.CreateComputeEnvironmentInput{ComputeEnvironmentName: aws.String("ec2-ce"),
		Type: batchtypes.CETypeManaged, ComputeResources: &batchtypes.ComputeResource{Type: batchtypes.CRTypeEc2,
			MinvCpus: aws.Int32(0), MaxvCpus: aws.Int32(8), InstanceTypes: []string{"optimal"},
			InstanceRole: aws.String("ecsInstanceRole"), Subnets: []string{"subnet-00000000"}}})
	if err != nil {
		t.Fatalf("CreateComputeEnvironment: %v", err)
	}
	waitFor(t, 30*time.Second, func() bool {
		out, err := c.DescribeComputeEnvironments(ctx, &batch.DescribeComputeEnvironmentsInput{ComputeEnvironments: []string{"ec2-ce"}})
		return err == nil && len(out.ComputeEnvironments) == 1 && out.ComputeEnvironments[0].Status == batchtypes.CEStatusValid
	})
	if _, err := c.CreateJobQueue(ctx, &batch.CreateJobQueueInput{JobQueueName: aws.String("ec2-q"), Priority: aws.Int32(1),
		ComputeEnvironmentOrder: []batchtypes.ComputeEnvironmentOrder{{Order: aws.Int32(1), ComputeEnvironment: aws.String("ec2-ce")}}}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.RegisterJobDefinition(ctx, &batch.RegisterJobDefinitionInput{JobDefinitionName: aws.String("nap"),
		Type: batchtypes.JobDefinitionTypeContainer, ContainerProperties: &batchtypes.ContainerProperties{Image: aws.String("busybox"),
			Command: []string{"sh", "-c", "sleep 3; echo napped on $(nproc) cpus"},
			ResourceRequirements: []batchtypes.ResourceRequirement{{Type: batchtypes.ResourceTypeVcpu, Value: aws.String("2")},
				{Type: batchtypes.ResourceTypeMemory, Value: aws.String("64")}}}}); err != nil {
		t.Fatal(err)
	}
	batchInstances := func() []string {
		out, err := ec2c.DescribeInstances(ctx, &ec2.DescribeInstancesInput{Filters: []ec2types.Filter{
			{Name: aws.String("tag:AWSBatchServiceTag"), Values: []string{"ec2-ce"}},
			{Name: aws.String("instance-state-name"), Values: []string{"pending", "running"}}}})
		if err != nil {
			t.Fatalf("DescribeInstances: %v", err)
		}
		var ids []string
		for _, r := range out.Reservations {
			for _, i := range r.Instances {
				ids = append(ids, aws.ToString(i.InstanceId))
			}
		}
		return ids
	}
	out, err := c.SubmitJob(ctx, &batch.SubmitJobInput{JobName: aws.String("nap"), JobQueue: aws.String("ec2-q"), JobDefinition: aws.String("nap")})
	if err != nil {
		t.Fatal(err)
	}
	waitJob(t, c, aws.ToString(out.JobId), batchtypes.JobStatusRunning, 30*time.Second)
	waitFor(t, 10*time.Second, func() bool { return len(batchInstances()) == 1 })
	done := waitJob(t, c, aws.ToString(out.JobId), batchtypes.JobStatusSucceeded, 30*time.Second)
	waitFor(t, 20*time.Second, func() bool {
		logs, err := cloudwatchlogs.NewFromConfig(n.cfg()).GetLogEvents(ctx, &cloudwatchlogs.GetLogEventsInput{
			LogGroupName: aws.String("/aws/batch/job"), LogStreamName: done.Container.LogStreamName, StartFromHead: aws.Bool(true)})
		return err == nil && len(logs.Events) == 1 && strings.HasPrefix(aws.ToString(logs.Events[0].Message), "napped on ")
	})
	waitFor(t, 15*time.Second, func() bool { return len(batchInstances()) == 0 })
}

// TestBatchSpotInterruptionRetries runs a job on a SPOT compute environment
// on runc, takes its instance's room with an on-demand launch, and checks
// Batch's answer: the attempt ends with "Host EC2 (instance i-...)
// terminated." naming the reclaimed instance, and the retry strategy's
// onStatusReason rule runs the job again, to success.
func TestBatchSpotInterruptionRetries(t *testing.T) {
	requireRealSandboxes(t)
	// Room for one t3.micro (2 vCPUs), and a short notice.
	n := startRealNimbus(t, "", "--ec2-vcpus", "2", "--ec2-spot-warning", "1s")
	c := batchClient(n)
	requireBatch(t, c)
	ctx := context.Background()
	ec2c := ec2.NewFromConfig(n.cfg())
	_, err := c.CreateComputeEnvironment(ctx, &batch.CreateComputeEnvironmentInput{ComputeEnvironmentName: aws.String("spot-ce"),
		Type: batchtypes.CETypeManaged, ComputeResources: &batchtypes.ComputeResource{Type: batchtypes.CRTypeSpot,
			MinvCpus: aws.Int32(0), MaxvCpus: aws.Int32(2), InstanceTypes: []string{"t3.micro"},
			AllocationStrategy: batchtypes.CRAllocationStrategySpotCapacityOptimized,
			InstanceRole:       aws.String("ecsInstanceRole"), Subnets: []string{"subnet-00000000"}}})
	if err != nil {
		t.Fatalf("CreateComputeEnvironment: %v", err)
	}
	waitFor(t, 30*time.Second, func() bool {
		out, err := c.DescribeComputeEnvironments(ctx, &batch.DescribeComputeEnvironmentsInput{ComputeEnvironments: []string{"spot-ce"}})
		return err == nil && len(out.ComputeEnvironments) == 1 && out.ComputeEnvironments[0].Status == batchtypes.CEStatusValid
	})
	if _, err := c.CreateJobQueue(ctx, &batch.CreateJobQueueInput{JobQueueName: aws.String("spot-q"), Priority: aws.Int32(1),
		ComputeEnvironmentOrder: []batchtypes.ComputeEnvironmentOrder{{Order: aws.Int32(1), ComputeEnvironment: aws.String("spot-ce")}}}); err != nil {
		t.Fatal(err)
	}
	// The first attempt would outlast the test; the second ends at once.
	if _, err := c.RegisterJobDefinition(ctx, &batch.RegisterJobDefinitionInput{JobDefinitionName: aws.String("patient"),
		Type: batchtypes.JobDefinitionTypeContainer, ContainerProperties: &batchtypes.ContainerProperties{Image: aws.String("busybox"),
			Command: []string{"sh", "-c", `echo attempt $AWS_BATCH_JOB_ATTEMPT; [ "$AWS_BATCH_JOB_ATTEMPT" = 1 ] && sleep 120; exit 0`},
			ResourceRequirements: []batchtypes.ResourceRequirement{{Type: batchtypes.ResourceTypeVcpu, Value: aws.String("2")},
				{Type: batchtypes.ResourceTypeMemory, Value: aws.String("64")}}},
		RetryStrategy: &batchtypes.RetryStrategy{Attempts: aws.Int32(2), EvaluateOnExit: []batchtypes.EvaluateOnExit{
			{OnStatusReason: aws.String("Host EC2*"), Action: batchtypes.RetryActionRetry},
			{OnReason: aws.String("*"), Action: batchtypes.RetryActionExit}}}}); err != nil {
		t.Fatal(err)
	}
	out, err := c.SubmitJob(ctx, &batch.SubmitJobInput{JobName: aws.String("patient"), JobQueue: aws.String("spot-q"), JobDefinition: aws.String("patient")})
	if err != nil {
		t.Fatal(err)
	}
	job := aws.ToString(out.JobId)
	waitJob(t, c, job, batchtypes.JobStatusRunning, 30*time.Second)
	var spotInstance string
	waitFor(t, 20*time.Second, func() bool {
		d, err := ec2c.DescribeInstances(ctx, &ec2.DescribeInstancesInput{Filters: []ec2types.Filter{
			{Name: aws.String("tag:AWSBatchServiceTag"), Values: []string{"spot-ce"}},
			{Name: aws.String("instance-state-name"), Values: []string{"running"}}}})
		if err != nil || len(d.Reservations) != 1 {
			return false
		}
		i := d.Reservations[0].Instances[0]
		if i.InstanceLifecycle != ec2types.InstanceLifecycleTypeSpot {
			t.Fatalf("instance of a SPOT compute environment has lifecycle %q", i.InstanceLifecycle)
		}
		spotInstance = aws.ToString(i.InstanceId)
		return true
	})
	// Give the scaler a pass to count the attempt against the instance.
	time.Sleep(1500 * time.Millisecond)

	ami := busyboxAMI(t, ec2c)
	od, err := ec2c.RunInstances(ctx, &ec2.RunInstancesInput{ImageId: aws.String(ami), InstanceType: ec2types.InstanceTypeT3Micro,
		MinCount: aws.Int32(1), MaxCount: aws.Int32(1)})
	if err != nil {
		t.Fatalf("on-demand launch that needs the spot instance's room: %v", err)
	}
	onDemand := aws.ToString(od.Instances[0].InstanceId)
	done := waitJob(t, c, job, batchtypes.JobStatusSucceeded, 60*time.Second)
	if len(done.Attempts) != 2 {
		t.Fatalf("attempts = %d, want 2 (one lost with its instance, one that succeeded): %+v", len(done.Attempts), done.Attempts)
	}
	if got, want := aws.ToString(done.Attempts[0].StatusReason), "Host EC2 (instance "+spotInstance+") terminated."; got != want {
		t.Errorf("first attempt's status reason = %q, want %q", got, want)
	}
	if got := aws.ToString(done.Attempts[1].StatusReason); got != "Essential container in task exited" {
		t.Errorf("second attempt's status reason = %q", got)
	}
	if _, err := ec2c.TerminateInstances(ctx, &ec2.TerminateInstancesInput{InstanceIds: []string{onDemand}}); err != nil {
		t.Fatal(err)
	}
	waitTerminated(t, ec2c, onDemand)
}

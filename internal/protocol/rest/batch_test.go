package rest

import (
	"errors"
	"reflect"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/batch"
	batchtypes "github.com/aws/aws-sdk-go-v2/service/batch/types"

	"github.com/nimbus-dev/nimbus/internal/awserr"
	"github.com/nimbus-dev/nimbus/internal/awsmodel"
	"github.com/nimbus-dev/nimbus/internal/protocol/protocoltest"
)

func TestBatchSubmitJobRoundTrip(t *testing.T) {
	ct := newTransport(t, "batch", func(op *awsmodel.Operation, in map[string]any) (map[string]any, *awserr.Error) {
		return map[string]any{
			"jobArn":  "arn:aws:batch:us-east-1:000000000000:job/6e3f",
			"jobName": in["jobName"],
			"jobId":   "6e3f",
		}, nil
	})
	out, err := batch.NewFromConfig(protocoltest.ClientConfig(ct)).SubmitJob(ctx, &batch.SubmitJobInput{
		JobName:         aws.String("render"),
		JobQueue:        aws.String("queue-1"),
		JobDefinition:   aws.String("render-def:3"),
		ArrayProperties: &batchtypes.ArrayProperties{Size: aws.Int32(10)},
		DependsOn: []batchtypes.JobDependency{
			{JobId: aws.String("1111"), Type: batchtypes.ArrayJobDependencyNToN},
			{JobId: aws.String("2222")},
		},
		ContainerOverrides: &batchtypes.ContainerOverrides{
			Command:     []string{"python", "render.py", "--frame", "Ref::frame"},
			Environment: []batchtypes.KeyValuePair{{Name: aws.String("MODE"), Value: aws.String("fast")}},
			ResourceRequirements: []batchtypes.ResourceRequirement{
				{Type: batchtypes.ResourceTypeVcpu, Value: aws.String("2")},
				{Type: batchtypes.ResourceTypeMemory, Value: aws.String("2048")},
			},
		},
		Parameters:    map[string]string{"frame": "1"},
		RetryStrategy: &batchtypes.RetryStrategy{Attempts: aws.Int32(3)},
		Timeout:       &batchtypes.JobTimeout{AttemptDurationSeconds: aws.Int32(600)},
	})
	if err != nil {
		t.Fatalf("SubmitJob: %v", err)
	}
	op, in := ct.last()
	if op.Name != "SubmitJob" {
		t.Fatalf("resolved %s", op.Name)
	}
	want := map[string]any{
		"jobName":         "render",
		"jobQueue":        "queue-1",
		"jobDefinition":   "render-def:3",
		"arrayProperties": map[string]any{"size": int64(10)},
		"dependsOn": []any{
			map[string]any{"jobId": "1111", "type": "N_TO_N"},
			map[string]any{"jobId": "2222"},
		},
		"containerOverrides": map[string]any{
			"command":     []any{"python", "render.py", "--frame", "Ref::frame"},
			"environment": []any{map[string]any{"name": "MODE", "value": "fast"}},
			"resourceRequirements": []any{
				map[string]any{"type": "VCPU", "value": "2"},
				map[string]any{"type": "MEMORY", "value": "2048"},
			},
		},
		"parameters":    map[string]any{"frame": "1"},
		"retryStrategy": map[string]any{"attempts": int64(3)},
		"timeout":       map[string]any{"attemptDurationSeconds": int64(600)},
	}
	if !reflect.DeepEqual(in, want) {
		t.Errorf("decoded %#v\nwant    %#v", in, want)
	}
	if aws.ToString(out.JobId) != "6e3f" || aws.ToString(out.JobName) != "render" {
		t.Errorf("SDK decoded %+v", out)
	}
}

func TestBatchDescribeJobsNestedAttempts(t *testing.T) {
	ct := newTransport(t, "batch", func(op *awsmodel.Operation, in map[string]any) (map[string]any, *awserr.Error) {
		return map[string]any{"jobs": []any{map[string]any{
			"jobName": "render", "jobId": field(in, "jobs", 0), "jobQueue": "queue-1", "status": "FAILED",
			"startedAt": int64(1700000000000), "jobDefinition": "render-def:3",
			"attempts": []any{
				map[string]any{
					"container": map[string]any{"exitCode": 137, "logStreamName": "render/default/1", "reason": "OutOfMemoryError"},
					"startedAt": int64(1700000000000), "stoppedAt": int64(1700000060000), "statusReason": "Essential container in task exited",
				},
				map[string]any{"container": map[string]any{"exitCode": 0}},
			},
			"arrayProperties": map[string]any{"statusSummary": map[string]any{"SUCCEEDED": 9, "FAILED": 1}, "size": 10},
		}}}, nil
	})
	out, err := batch.NewFromConfig(protocoltest.ClientConfig(ct)).DescribeJobs(ctx, &batch.DescribeJobsInput{Jobs: []string{"6e3f"}})
	if err != nil {
		t.Fatalf("DescribeJobs: %v", err)
	}
	if op, in := ct.last(); op.Name != "DescribeJobs" || !reflect.DeepEqual(in["jobs"], []any{"6e3f"}) {
		t.Errorf("decoded %s %#v", op.Name, in)
	}
	if len(out.Jobs) != 1 || len(out.Jobs[0].Attempts) != 2 {
		t.Fatalf("SDK decoded %+v", out.Jobs)
	}
	job := out.Jobs[0]
	a := job.Attempts[0]
	if aws.ToString(job.JobId) != "6e3f" || job.Status != batchtypes.JobStatusFailed || aws.ToInt64(job.StartedAt) != 1700000000000 ||
		aws.ToInt32(a.Container.ExitCode) != 137 || aws.ToString(a.Container.LogStreamName) != "render/default/1" ||
		aws.ToInt64(a.StoppedAt) != 1700000060000 || aws.ToString(a.StatusReason) != "Essential container in task exited" ||
		aws.ToInt32(job.Attempts[1].Container.ExitCode) != 0 || job.ArrayProperties.StatusSummary["SUCCEEDED"] != 9 {
		t.Errorf("SDK decoded %+v attempt %+v", job, a)
	}
}

func TestBatchClientException(t *testing.T) {
	ct := newTransport(t, "batch", func(op *awsmodel.Operation, in map[string]any) (map[string]any, *awserr.Error) {
		return nil, &awserr.Error{Kind: awserr.Validation, Code: "ClientException", Message: "JobQueue queue-9 not found"}
	})
	_, err := batch.NewFromConfig(protocoltest.ClientConfig(ct)).SubmitJob(ctx, &batch.SubmitJobInput{
		JobName: aws.String("j"), JobQueue: aws.String("queue-9"), JobDefinition: aws.String("d"),
	})
	var ce *batchtypes.ClientException
	if !errors.As(err, &ce) || ce.ErrorMessage() != "JobQueue queue-9 not found" {
		t.Fatalf("error %T %v, want ClientException", err, err)
	}
}

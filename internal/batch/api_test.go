package batch

import (
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/batch"
	"github.com/aws/aws-sdk-go-v2/service/batch/types"

	"github.com/nimbus-dev/nimbus/internal/substrate"
)

func TestComputeEnvironmentLifecycle(t *testing.T) {
	h := newHarness(t, substrate.DriverFake, nil)
	h.setup(t, "q1", 1)
	out, err := h.client.DescribeComputeEnvironments(ctx, &batch.DescribeComputeEnvironmentsInput{ComputeEnvironments: []string{"q1-ce"}})
	if err != nil {
		t.Fatal(err)
	}
	if len(out.ComputeEnvironments) != 1 {
		t.Fatalf("got %d compute environments", len(out.ComputeEnvironments))
	}
	ce := out.ComputeEnvironments[0]
	if ce.Status != types.CEStatusValid || ce.State != types.CEStateEnabled || aws.ToInt32(ce.ComputeResources.MaxvCpus) != 4 {
		t.Fatalf("compute environment %+v", ce)
	}
	want := "arn:aws:batch:us-east-1:000000000000:compute-environment/q1-ce"
	if aws.ToString(ce.ComputeEnvironmentArn) != want {
		t.Fatalf("arn %s", aws.ToString(ce.ComputeEnvironmentArn))
	}
	// A name taken, an EC2 environment without instance types, deleting an
	// ENABLED one, and deleting one a queue uses are refused.
	_, err = h.client.CreateComputeEnvironment(ctx, &batch.CreateComputeEnvironmentInput{ComputeEnvironmentName: aws.String("q1-ce"),
		Type: types.CETypeUnmanaged})
	wantClientError(t, err)
	_, err = h.client.CreateComputeEnvironment(ctx, &batch.CreateComputeEnvironmentInput{ComputeEnvironmentName: aws.String("ec2"),
		Type: types.CETypeManaged, ComputeResources: &types.ComputeResource{Type: types.CRTypeEc2, MaxvCpus: aws.Int32(4), Subnets: []string{"s"}}})
	wantClientError(t, err)
	_, err = h.client.DeleteComputeEnvironment(ctx, &batch.DeleteComputeEnvironmentInput{ComputeEnvironment: aws.String("q1-ce")})
	wantClientError(t, err)
	_, err = h.client.UpdateComputeEnvironment(ctx, &batch.UpdateComputeEnvironmentInput{ComputeEnvironment: aws.String("q1-ce"),
		State: types.CEStateDisabled, ComputeResources: &types.ComputeResourceUpdate{MaxvCpus: aws.Int32(8)}})
	if err != nil {
		t.Fatal(err)
	}
	_, err = h.client.DeleteComputeEnvironment(ctx, &batch.DeleteComputeEnvironmentInput{ComputeEnvironment: aws.String("q1-ce")})
	wantClientError(t, err) // the queue still uses it
	if _, err := h.client.UpdateJobQueue(ctx, &batch.UpdateJobQueueInput{JobQueue: aws.String("q1"), State: types.JQStateDisabled}); err != nil {
		t.Fatal(err)
	}
	if _, err := h.client.DeleteJobQueue(ctx, &batch.DeleteJobQueueInput{JobQueue: aws.String("q1")}); err != nil {
		t.Fatal(err)
	}
	qs, err := h.client.DescribeJobQueues(ctx, &batch.DescribeJobQueuesInput{JobQueues: []string{"q1"}})
	if err != nil || len(qs.JobQueues) != 1 || qs.JobQueues[0].Status != types.JQStatusDeleted {
		t.Fatalf("deleted queue: %v %+v", err, qs)
	}
	// The controller removes what finished deleting; then the environment
	// can go.
	h.run(t)
	waitFor(t, func() bool {
		qs, _ := h.client.DescribeJobQueues(ctx, &batch.DescribeJobQueuesInput{})
		return qs != nil && len(qs.JobQueues) == 0
	})
	if _, err := h.client.DeleteComputeEnvironment(ctx, &batch.DeleteComputeEnvironmentInput{ComputeEnvironment: aws.String(want)}); err != nil {
		t.Fatal(err)
	}
}

func TestJobQueueErrors(t *testing.T) {
	h := newHarness(t, substrate.DriverFake, nil)
	h.setup(t, "q", 1)
	cases := []*batch.CreateJobQueueInput{
		{JobQueueName: aws.String("x"), Priority: aws.Int32(1)}, // no compute environments
		{JobQueueName: aws.String("x"), Priority: aws.Int32(1), ComputeEnvironmentOrder: []types.ComputeEnvironmentOrder{{Order: aws.Int32(1), ComputeEnvironment: aws.String("missing")}}},
		{JobQueueName: aws.String("q"), Priority: aws.Int32(1), ComputeEnvironmentOrder: []types.ComputeEnvironmentOrder{{Order: aws.Int32(1), ComputeEnvironment: aws.String("q-ce")}}},
		{JobQueueName: aws.String("bad name!"), Priority: aws.Int32(1), ComputeEnvironmentOrder: []types.ComputeEnvironmentOrder{{Order: aws.Int32(1), ComputeEnvironment: aws.String("q-ce")}}},
		{JobQueueName: aws.String("x"), Priority: aws.Int32(1), SchedulingPolicyArn: aws.String("arn:aws:batch:us-east-1:000000000000:scheduling-policy/none"),
			ComputeEnvironmentOrder: []types.ComputeEnvironmentOrder{{Order: aws.Int32(1), ComputeEnvironment: aws.String("q-ce")}}},
	}
	for i, in := range cases {
		_, err := h.client.CreateJobQueue(ctx, in)
		if err == nil {
			t.Fatalf("case %d: no error", i)
		}
		wantClientError(t, err)
	}
	_, err := h.client.DeleteJobQueue(ctx, &batch.DeleteJobQueueInput{JobQueue: aws.String("q")})
	wantClientError(t, err) // ENABLED
}

func TestJobDefinitionRevisions(t *testing.T) {
	h := newHarness(t, substrate.DriverFake, nil)
	first := h.jobDef(t, "jd", "busybox", []string{"true"}, nil)
	second := h.jobDef(t, "jd", "busybox", []string{"false"}, nil)
	if first != "arn:aws:batch:us-east-1:000000000000:job-definition/jd:1" || second[len(second)-4:] != "jd:2" {
		t.Fatalf("arns %s %s", first, second)
	}
	if _, err := h.client.DeregisterJobDefinition(ctx, &batch.DeregisterJobDefinitionInput{JobDefinition: aws.String("jd:2")}); err != nil {
		t.Fatal(err)
	}
	out, err := h.client.DescribeJobDefinitions(ctx, &batch.DescribeJobDefinitionsInput{JobDefinitionName: aws.String("jd"), Status: aws.String("ACTIVE")})
	if err != nil || len(out.JobDefinitions) != 1 || aws.ToInt32(out.JobDefinitions[0].Revision) != 1 {
		t.Fatalf("active revisions: %v %+v", err, out)
	}
	all, err := h.client.DescribeJobDefinitions(ctx, &batch.DescribeJobDefinitionsInput{})
	if err != nil || len(all.JobDefinitions) != 2 || aws.ToString(all.JobDefinitions[1].Status) != "INACTIVE" {
		t.Fatalf("all revisions: %v %+v", err, all)
	}
	bad := []*batch.RegisterJobDefinitionInput{
		{JobDefinitionName: aws.String("x"), Type: types.JobDefinitionTypeContainer},
		{JobDefinitionName: aws.String("x"), Type: types.JobDefinitionTypeContainer, ContainerProperties: &types.ContainerProperties{}},
		{JobDefinitionName: aws.String("x"), Type: types.JobDefinitionTypeContainer, ContainerProperties: &types.ContainerProperties{Image: aws.String("busybox"), Privileged: aws.Bool(true)}},
		{JobDefinitionName: aws.String("x"), Type: types.JobDefinitionTypeContainer, ContainerProperties: &types.ContainerProperties{Image: aws.String("busybox")},
			RetryStrategy: &types.RetryStrategy{Attempts: aws.Int32(11)}},
		{JobDefinitionName: aws.String("x"), Type: types.JobDefinitionTypeContainer, ContainerProperties: &types.ContainerProperties{Image: aws.String("busybox")},
			Timeout: &types.JobTimeout{AttemptDurationSeconds: aws.Int32(5)}},
		{JobDefinitionName: aws.String("x"), Type: types.JobDefinitionTypeContainer, ContainerProperties: &types.ContainerProperties{Image: aws.String("busybox"),
			ResourceRequirements: []types.ResourceRequirement{{Type: types.ResourceTypeVcpu, Value: aws.String("lots")}}}},
	}
	for i, in := range bad {
		if _, err := h.client.RegisterJobDefinition(ctx, in); err == nil {
			t.Fatalf("case %d: no error", i)
		} else {
			wantClientError(t, err)
		}
	}
}

func TestSubmitJobErrors(t *testing.T) {
	h := newHarness(t, substrate.DriverFake, nil)
	h.setup(t, "q", 1)
	h.jobDef(t, "jd", "busybox", []string{"true"}, nil)
	h.jobDef(t, "nores", "busybox", []string{"true"}, func(in *batch.RegisterJobDefinitionInput) {
		in.ContainerProperties.ResourceRequirements = nil
	})
	cases := []*batch.SubmitJobInput{
		{JobName: aws.String("j"), JobQueue: aws.String("missing"), JobDefinition: aws.String("jd")},
		{JobName: aws.String("j"), JobQueue: aws.String("q"), JobDefinition: aws.String("missing")},
		{JobName: aws.String("j"), JobQueue: aws.String("q"), JobDefinition: aws.String("jd:9")},
		{JobName: aws.String("j"), JobQueue: aws.String("q"), JobDefinition: aws.String("nores")},
		{JobName: aws.String("j"), JobQueue: aws.String("q"), JobDefinition: aws.String("jd"), ArrayProperties: &types.ArrayProperties{Size: aws.Int32(1)}},
		{JobName: aws.String("j"), JobQueue: aws.String("q"), JobDefinition: aws.String("jd"), ArrayProperties: &types.ArrayProperties{Size: aws.Int32(10001)}},
		{JobName: aws.String("j"), JobQueue: aws.String("q"), JobDefinition: aws.String("jd"), DependsOn: []types.JobDependency{{JobId: aws.String("nope")}}},
		{JobName: aws.String("j"), JobQueue: aws.String("q"), JobDefinition: aws.String("jd"), DependsOn: []types.JobDependency{{Type: types.ArrayJobDependencySequential}}},
		{JobName: aws.String("j"), JobQueue: aws.String("q"), JobDefinition: aws.String("jd"), ShareIdentifier: aws.String("A")},
		{JobName: aws.String("j"), JobQueue: aws.String("q"), JobDefinition: aws.String("jd"),
			ContainerOverrides: &types.ContainerOverrides{Environment: []types.KeyValuePair{{Name: aws.String("AWS_BATCH_X"), Value: aws.String("1")}}}},
	}
	for i, in := range cases {
		if _, err := h.client.SubmitJob(ctx, in); err == nil {
			t.Fatalf("case %d: no error", i)
		} else {
			wantClientError(t, err)
		}
	}
}

func TestSchedulingPoliciesAndTags(t *testing.T) {
	h := newHarness(t, substrate.DriverFake, nil)
	out, err := h.client.CreateSchedulingPolicy(ctx, &batch.CreateSchedulingPolicyInput{Name: aws.String("fair"),
		FairsharePolicy: &types.FairsharePolicy{ShareDistribution: []types.ShareAttributes{{ShareIdentifier: aws.String("A"), WeightFactor: aws.Float32(0.5)}}},
		Tags:            map[string]string{"team": "x"}})
	if err != nil {
		t.Fatal(err)
	}
	policyARN := aws.ToString(out.Arn)
	_, err = h.client.CreateSchedulingPolicy(ctx, &batch.CreateSchedulingPolicyInput{Name: aws.String("fair")})
	wantClientError(t, err)
	if _, err := h.client.UpdateSchedulingPolicy(ctx, &batch.UpdateSchedulingPolicyInput{Arn: aws.String(policyARN),
		FairsharePolicy: &types.FairsharePolicy{ShareDecaySeconds: aws.Int32(60)}}); err != nil {
		t.Fatal(err)
	}
	d, err := h.client.DescribeSchedulingPolicies(ctx, &batch.DescribeSchedulingPoliciesInput{Arns: []string{policyARN}})
	if err != nil || len(d.SchedulingPolicies) != 1 || aws.ToInt32(d.SchedulingPolicies[0].FairsharePolicy.ShareDecaySeconds) != 60 {
		t.Fatalf("describe: %v %+v", err, d)
	}
	l, err := h.client.ListSchedulingPolicies(ctx, &batch.ListSchedulingPoliciesInput{})
	if err != nil || len(l.SchedulingPolicies) != 1 {
		t.Fatalf("list: %v %+v", err, l)
	}
	if _, err := h.client.TagResource(ctx, &batch.TagResourceInput{ResourceArn: aws.String(policyARN), Tags: map[string]string{"env": "test"}}); err != nil {
		t.Fatal(err)
	}
	if _, err := h.client.UntagResource(ctx, &batch.UntagResourceInput{ResourceArn: aws.String(policyARN), TagKeys: []string{"team"}}); err != nil {
		t.Fatal(err)
	}
	tags, err := h.client.ListTagsForResource(ctx, &batch.ListTagsForResourceInput{ResourceArn: aws.String(policyARN)})
	if err != nil || len(tags.Tags) != 1 || tags.Tags["env"] != "test" {
		t.Fatalf("tags: %v %+v", err, tags)
	}
	_, err = h.client.ListTagsForResource(ctx, &batch.ListTagsForResourceInput{ResourceArn: aws.String("arn:aws:batch:us-east-1:000000000000:job-queue/none")})
	wantClientError(t, err)
	_, err = h.client.TagResource(ctx, &batch.TagResourceInput{ResourceArn: aws.String(policyARN), Tags: map[string]string{"aws:x": "y"}})
	wantClientError(t, err)
	if _, err := h.client.DeleteSchedulingPolicy(ctx, &batch.DeleteSchedulingPolicyInput{Arn: aws.String(policyARN)}); err != nil {
		t.Fatal(err)
	}
	_, err = h.client.DeleteSchedulingPolicy(ctx, &batch.DeleteSchedulingPolicyInput{Arn: aws.String(policyARN)})
	wantClientError(t, err)
}

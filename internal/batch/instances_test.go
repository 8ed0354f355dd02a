package batch

import (
	"context"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/batch"
	"github.com/aws/aws-sdk-go-v2/service/batch/types"

	"github.com/nimbus-dev/nimbus/internal/ec2"
	"github.com/nimbus-dev/nimbus/internal/region"
	"github.com/nimbus-dev/nimbus/internal/sandbox/fake"
	"github.com/nimbus-dev/nimbus/internal/service"
	"github.com/nimbus-dev/nimbus/internal/substrate"
)

// batchInstances lists the instances EC2 holds for a compute environment.
func batchInstances(t *testing.T, svc *service.Service, ce string) []ec2Instance {
	t.Helper()
	s := newScaler(svc)
	list, err := s.instances(asRoot(context.Background(), testAccount, testRegion), ce)
	if err != nil {
		t.Fatal(err)
	}
	return list
}

func TestEC2ComputeEnvironmentScales(t *testing.T) {
	var ec2Svc *service.Service
	h := newHarness(t, substrate.DriverFake, func(o *Options) {
		regions, _ := region.NewCatalog(nil, false)
		var err error
		ec2Svc, err = ec2.New(ec2.Options{Store: o.Store, Regions: regions, Host: o.Host.(*substrate.Host)})
		if err != nil {
			t.Fatal(err)
		}
		o.EC2 = ec2Svc
	})
	_, err := h.client.CreateComputeEnvironment(ctx, &batch.CreateComputeEnvironmentInput{ComputeEnvironmentName: aws.String("ec2-ce"),
		Type: types.CETypeManaged, ComputeResources: &types.ComputeResource{Type: types.CRTypeEc2, MinvCpus: aws.Int32(0), MaxvCpus: aws.Int32(8),
			InstanceTypes: []string{"optimal"}, InstanceRole: aws.String("ecsInstanceRole"), Subnets: []string{"subnet-1"},
			Tags: map[string]string{"Name": "batch-worker"}}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := h.client.CreateJobQueue(ctx, &batch.CreateJobQueueInput{JobQueueName: aws.String("q"), Priority: aws.Int32(1),
		ComputeEnvironmentOrder: []types.ComputeEnvironmentOrder{{Order: aws.Int32(1), ComputeEnvironment: aws.String("ec2-ce")}}}); err != nil {
		t.Fatal(err)
	}
	h.jobDef(t, "work", "busybox", fakeCmd(fake.Behavior{Duration: 1500 * time.Millisecond}), func(in *batch.RegisterJobDefinitionInput) {
		in.ContainerProperties.ResourceRequirements[0].Value = aws.String("3")
	})
	h.run(t)
	if n := len(batchInstances(t, ec2Svc, "ec2-ce")); n != 0 {
		t.Fatalf("%d instances before any job (minvCpus 0)", n)
	}
	id := h.submit(t, &batch.SubmitJobInput{JobName: aws.String("w"), JobQueue: aws.String("q"), JobDefinition: aws.String("work")})
	h.waitStatus(t, id, types.JobStatusRunning, 10*time.Second)
	// 3 vCPUs on m5.large (2 vCPUs each): two instances.
	waitFor(t, func() bool { return len(batchInstances(t, ec2Svc, "ec2-ce")) == 2 })
	for _, inst := range batchInstances(t, ec2Svc, "ec2-ce") {
		if inst.InstanceType != "m5.large" {
			t.Fatalf("instance type %s", inst.InstanceType)
		}
	}
	h.waitStatus(t, id, types.JobStatusSucceeded, 10*time.Second)
	waitFor(t, func() bool { return len(batchInstances(t, ec2Svc, "ec2-ce")) == 0 })
}

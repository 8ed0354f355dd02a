package e2e

import (
	"context"
	"strconv"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
)

// TestEC2SpotSDK launches a spot instance, reads its request, requests and
// cancels more, and reads the spot price history, with aws-sdk-go-v2.
func TestEC2SpotSDK(t *testing.T) {
	n := startNimbus(t, "")
	ctx := context.Background()
	client := instancesClient(n)
	ami := busyboxAMI(t, client)

	run, err := client.RunInstances(ctx, &ec2.RunInstancesInput{ImageId: aws.String(ami), InstanceType: ec2types.InstanceTypeT3Micro,
		MinCount: aws.Int32(1), MaxCount: aws.Int32(1),
		InstanceMarketOptions: &ec2types.InstanceMarketOptionsRequest{MarketType: ec2types.MarketTypeSpot,
			SpotOptions: &ec2types.SpotMarketOptions{MaxPrice: aws.String("0.05")}}})
	if err != nil {
		t.Fatal(err)
	}
	id := aws.ToString(run.Instances[0].InstanceId)
	if run.Instances[0].InstanceLifecycle != ec2types.InstanceLifecycleTypeSpot || aws.ToString(run.Instances[0].SpotInstanceRequestId) == "" {
		t.Errorf("spot instance = lifecycle %q request %q", run.Instances[0].InstanceLifecycle, aws.ToString(run.Instances[0].SpotInstanceRequestId))
	}
	waitRunning(t, client, id)
	spotOnly, err := client.DescribeInstances(ctx, &ec2.DescribeInstancesInput{Filters: []ec2types.Filter{
		{Name: aws.String("instance-lifecycle"), Values: []string{"spot"}}}})
	if err != nil || len(spotOnly.Reservations) != 1 {
		t.Errorf("instance-lifecycle=spot = %+v, %v", spotOnly, err)
	}
	reqs, err := client.DescribeSpotInstanceRequests(ctx, &ec2.DescribeSpotInstanceRequestsInput{
		SpotInstanceRequestIds: []string{aws.ToString(run.Instances[0].SpotInstanceRequestId)}})
	if err != nil || len(reqs.SpotInstanceRequests) != 1 {
		t.Fatalf("DescribeSpotInstanceRequests = %+v, %v", reqs, err)
	}
	r := reqs.SpotInstanceRequests[0]
	if r.State != ec2types.SpotInstanceStateActive || aws.ToString(r.Status.Code) != "fulfilled" || aws.ToString(r.InstanceId) != id ||
		aws.ToString(r.SpotPrice) != "0.05" || r.Type != ec2types.SpotInstanceTypeOneTime {
		t.Errorf("spot request = %+v", r)
	}

	low, err := client.RequestSpotInstances(ctx, &ec2.RequestSpotInstancesInput{SpotPrice: aws.String("0.000001"), InstanceCount: aws.Int32(1),
		LaunchSpecification: &ec2types.RequestSpotLaunchSpecification{ImageId: aws.String(ami), InstanceType: ec2types.InstanceTypeT3Nano}})
	if err != nil || len(low.SpotInstanceRequests) != 1 || low.SpotInstanceRequests[0].State != ec2types.SpotInstanceStateOpen ||
		aws.ToString(low.SpotInstanceRequests[0].Status.Code) != "price-too-low" {
		t.Fatalf("RequestSpotInstances below the price = %+v, %v", low, err)
	}
	cancelled, err := client.CancelSpotInstanceRequests(ctx, &ec2.CancelSpotInstanceRequestsInput{
		SpotInstanceRequestIds: []string{aws.ToString(low.SpotInstanceRequests[0].SpotInstanceRequestId)}})
	if err != nil || len(cancelled.CancelledSpotInstanceRequests) != 1 ||
		cancelled.CancelledSpotInstanceRequests[0].State != ec2types.CancelSpotInstanceRequestStateCancelled {
		t.Errorf("CancelSpotInstanceRequests = %+v, %v", cancelled, err)
	}

	hist, err := client.DescribeSpotPriceHistory(ctx, &ec2.DescribeSpotPriceHistoryInput{InstanceTypes: []ec2types.InstanceType{"m5.large"},
		AvailabilityZone: aws.String("us-east-1a"), StartTime: aws.Time(time.Now().Add(-3 * time.Hour)), EndTime: aws.Time(time.Now())})
	if err != nil || len(hist.SpotPriceHistory) < 3 {
		t.Fatalf("DescribeSpotPriceHistory = %+v, %v", hist, err)
	}
	for _, p := range hist.SpotPriceHistory {
		price, err := strconv.ParseFloat(aws.ToString(p.SpotPrice), 64)
		if err != nil || price <= 0 || price >= 0.096 || p.Timestamp == nil || aws.ToString(p.AvailabilityZone) != "us-east-1a" {
			t.Errorf("price point = %+v", p)
		}
	}

	if _, err := client.TerminateInstances(ctx, &ec2.TerminateInstancesInput{InstanceIds: []string{id}}); err != nil {
		t.Fatal(err)
	}
	waitTerminated(t, client, id)
	reqs, err = client.DescribeSpotInstanceRequests(ctx, &ec2.DescribeSpotInstanceRequestsInput{Filters: []ec2types.Filter{
		{Name: aws.String("instance-id"), Values: []string{id}}}})
	if err != nil || len(reqs.SpotInstanceRequests) != 1 || reqs.SpotInstanceRequests[0].State != ec2types.SpotInstanceStateClosed ||
		aws.ToString(reqs.SpotInstanceRequests[0].Status.Code) != "instance-terminated-by-user" {
		t.Errorf("request after terminate = %+v, %v", reqs, err)
	}
}

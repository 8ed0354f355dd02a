package query

import (
	"context"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	iamtypes "github.com/aws/aws-sdk-go-v2/service/iam/types"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	ststypes "github.com/aws/aws-sdk-go-v2/service/sts/types"
	"github.com/google/go-cmp/cmp"

	"github.com/nimbus-dev/nimbus/internal/protocol/protocoltest"
)

// TestDecodeSDKRequests sends requests through the SDK's serializers and
// checks the decoded document is what the call passed.
func TestDecodeSDKRequests(t *testing.T) {
	start := time.Date(2024, 3, 4, 5, 6, 7, 0, time.UTC)
	cases := []struct {
		name    string
		service string
		call    func(context.Context, aws.Config) error
		want    map[string]any
	}{
		{
			name: "sts AssumeRole with tags and duration", service: "sts",
			call: func(ctx context.Context, cfg aws.Config) error {
				_, err := sts.NewFromConfig(cfg).AssumeRole(ctx, &sts.AssumeRoleInput{
					RoleArn: aws.String("arn:aws:iam::000000000000:role/r"), RoleSessionName: aws.String("sess"),
					DurationSeconds:   aws.Int32(3600),
					Tags:              []ststypes.Tag{{Key: aws.String("team"), Value: aws.String("a b&c")}, {Key: aws.String("env"), Value: aws.String("prod")}},
					TransitiveTagKeys: []string{"team"},
					PolicyArns:        []ststypes.PolicyDescriptorType{{Arn: aws.String("arn:aws:iam::aws:policy/ReadOnlyAccess")}},
				})
				return err
			},
			want: map[string]any{
				"RoleArn": "arn:aws:iam::000000000000:role/r", "RoleSessionName": "sess", "DurationSeconds": int64(3600),
				"Tags":              []any{map[string]any{"Key": "team", "Value": "a b&c"}, map[string]any{"Key": "env", "Value": "prod"}},
				"TransitiveTagKeys": []any{"team"},
				"PolicyArns":        []any{map[string]any{"arn": "arn:aws:iam::aws:policy/ReadOnlyAccess"}},
			},
		},
		{
			name: "iam CreateUser with tags", service: "iam",
			call: func(ctx context.Context, cfg aws.Config) error {
				_, err := iam.NewFromConfig(cfg).CreateUser(ctx, &iam.CreateUserInput{
					UserName: aws.String("alice"), Path: aws.String("/eng/"),
					Tags: []iamtypes.Tag{{Key: aws.String("k"), Value: aws.String("v")}},
				})
				return err
			},
			want: map[string]any{"UserName": "alice", "Path": "/eng/", "Tags": []any{map[string]any{"Key": "k", "Value": "v"}}},
		},
		{
			name: "iam CreateUser with an empty tag list", service: "iam",
			call: func(ctx context.Context, cfg aws.Config) error {
				_, err := iam.NewFromConfig(cfg).CreateUser(ctx, &iam.CreateUserInput{UserName: aws.String("bob"), Tags: []iamtypes.Tag{}})
				return err
			},
			want: map[string]any{"UserName": "bob", "Tags": []any{}},
		},
		{
			name: "ec2 RunInstances with block devices, tag specifications and groups", service: "ec2",
			call: func(ctx context.Context, cfg aws.Config) error {
				_, err := ec2.NewFromConfig(cfg).RunInstances(ctx, &ec2.RunInstancesInput{
					ImageId: aws.String("ami-123"), InstanceType: ec2types.InstanceTypeT3Micro,
					MinCount: aws.Int32(1), MaxCount: aws.Int32(2),
					BlockDeviceMappings: []ec2types.BlockDeviceMapping{{
						DeviceName: aws.String("/dev/xvda"),
						Ebs:        &ec2types.EbsBlockDevice{VolumeSize: aws.Int32(20), DeleteOnTermination: aws.Bool(true), VolumeType: ec2types.VolumeTypeGp3},
					}},
					TagSpecifications: []ec2types.TagSpecification{{
						ResourceType: ec2types.ResourceTypeInstance,
						Tags:         []ec2types.Tag{{Key: aws.String("Name"), Value: aws.String("web")}, {Key: aws.String("team"), Value: aws.String("x")}},
					}},
					SecurityGroupIds: []string{"sg-1", "sg-2"},
					UserData:         aws.String("IyEvYmluL3NoCg=="),
					DryRun:           aws.Bool(false),
					ClientToken:      aws.String("tok-1"),
				})
				return err
			},
			want: map[string]any{
				"ImageId": "ami-123", "InstanceType": "t3.micro", "MinCount": int64(1), "MaxCount": int64(2),
				"BlockDeviceMappings": []any{map[string]any{"DeviceName": "/dev/xvda", "Ebs": map[string]any{"VolumeSize": int64(20), "DeleteOnTermination": true, "VolumeType": "gp3"}}},
				"TagSpecifications": []any{map[string]any{"ResourceType": "instance", "Tags": []any{
					map[string]any{"Key": "Name", "Value": "web"}, map[string]any{"Key": "team", "Value": "x"}}}},
				"SecurityGroupIds": []any{"sg-1", "sg-2"},
				"UserData":         "IyEvYmluL3NoCg==",
				"DryRun":           false,
				"ClientToken":      "tok-1",
			},
		},
		{
			name: "ec2 DescribeInstances with filters", service: "ec2",
			call: func(ctx context.Context, cfg aws.Config) error {
				_, err := ec2.NewFromConfig(cfg).DescribeInstances(ctx, &ec2.DescribeInstancesInput{
					Filters:     []ec2types.Filter{{Name: aws.String("instance-state-name"), Values: []string{"running", "pending"}}, {Name: aws.String("tag:Name"), Values: []string{"web"}}},
					InstanceIds: []string{"i-1"}, MaxResults: aws.Int32(50),
				})
				return err
			},
			want: map[string]any{
				"Filters": []any{
					map[string]any{"Name": "instance-state-name", "Values": []any{"running", "pending"}},
					map[string]any{"Name": "tag:Name", "Values": []any{"web"}},
				},
				"InstanceIds": []any{"i-1"}, "MaxResults": int64(50),
			},
		},
		{
			name: "ec2 DescribeSpotPriceHistory with timestamps", service: "ec2",
			call: func(ctx context.Context, cfg aws.Config) error {
				_, err := ec2.NewFromConfig(cfg).DescribeSpotPriceHistory(ctx, &ec2.DescribeSpotPriceHistoryInput{
					StartTime: aws.Time(start), EndTime: aws.Time(start.Add(90 * time.Minute)), InstanceTypes: []ec2types.InstanceType{"m5.large"},
				})
				return err
			},
			want: map[string]any{"StartTime": start, "EndTime": start.Add(90 * time.Minute), "InstanceTypes": []any{"m5.large"}},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var got map[string]any
			if err := tc.call(context.Background(), protocoltest.SDKConfig(t, New, tc.service, protocoltest.Capture(&got, nil))); err != nil {
				t.Fatalf("SDK call: %v", err)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("decoded document (-want +got):\n%s", diff)
			}
		})
	}
}

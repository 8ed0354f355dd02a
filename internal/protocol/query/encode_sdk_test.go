package query

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/aws/smithy-go"

	"github.com/nimbus-dev/nimbus/internal/awserr"
	"github.com/nimbus-dev/nimbus/internal/awsmodel"
	"github.com/nimbus-dev/nimbus/internal/protocol/protocoltest"
)

func TestEncodeEC2DescribeInstances(t *testing.T) {
	launch := time.Date(2024, 2, 3, 4, 5, 6, 0, time.UTC)
	out := map[string]any{
		"Reservations": []any{map[string]any{
			"ReservationId": "r-1", "OwnerId": "000000000000",
			"Instances": []any{map[string]any{
				"InstanceId": "i-1", "ImageId": "ami-1", "InstanceType": "t3.micro",
				"LaunchTime": launch,
				"State":      map[string]any{"Code": 16, "Name": "running"},
				"Tags":       []any{map[string]any{"Key": "Name", "Value": "web<1>"}},
				// Handlers may build documents through encoding/json: lower-case
				// names, json.Number, RFC 3339 strings.
				"amiLaunchIndex":   json.Number("0"),
				"privateIpAddress": "10.0.0.5",
				"ebsOptimized":     false,
			}, map[string]any{
				"InstanceId": "i-2", "LaunchTime": launch.Format(time.RFC3339), "State": map[string]any{"Code": int32(80), "Name": "stopped"},
			}},
		}},
	}
	got, err := ec2.NewFromConfig(protocoltest.SDKConfig(t, New, "ec2", protocoltest.Answer(out))).DescribeInstances(context.Background(), &ec2.DescribeInstancesInput{})
	if err != nil {
		t.Fatal(err)
	}
	if len(got.Reservations) != 1 || len(got.Reservations[0].Instances) != 2 {
		t.Fatalf("reservations: %+v", got.Reservations)
	}
	r := got.Reservations[0]
	if aws.ToString(r.ReservationId) != "r-1" || aws.ToString(r.OwnerId) != "000000000000" {
		t.Errorf("reservation: %+v", r)
	}
	i1, i2 := r.Instances[0], r.Instances[1]
	if aws.ToString(i1.InstanceId) != "i-1" || i1.InstanceType != ec2types.InstanceTypeT3Micro || !aws.ToTime(i1.LaunchTime).Equal(launch) {
		t.Errorf("instance 1: %+v", i1)
	}
	if i1.State == nil || aws.ToInt32(i1.State.Code) != 16 || i1.State.Name != ec2types.InstanceStateNameRunning {
		t.Errorf("instance 1 state: %+v", i1.State)
	}
	if len(i1.Tags) != 1 || aws.ToString(i1.Tags[0].Key) != "Name" || aws.ToString(i1.Tags[0].Value) != "web<1>" {
		t.Errorf("instance 1 tags: %+v", i1.Tags)
	}
	if aws.ToInt32(i1.AmiLaunchIndex) != 0 || i1.AmiLaunchIndex == nil || aws.ToString(i1.PrivateIpAddress) != "10.0.0.5" || i1.EbsOptimized == nil || *i1.EbsOptimized {
		t.Errorf("instance 1 lenient members: launchIndex %v ip %v ebs %v", i1.AmiLaunchIndex, i1.PrivateIpAddress, i1.EbsOptimized)
	}
	if !aws.ToTime(i2.LaunchTime).Equal(launch) || i2.State.Name != ec2types.InstanceStateNameStopped || aws.ToInt32(i2.State.Code) != 80 {
		t.Errorf("instance 2: %+v", i2)
	}
}

func TestEncodeEC2DescribeRegions(t *testing.T) {
	out := map[string]any{"Regions": []any{
		map[string]any{"RegionName": "us-east-1", "Endpoint": "ec2.us-east-1.amazonaws.com", "OptInStatus": "opt-in-not-required"},
		map[string]any{"RegionName": "eu-west-1", "Endpoint": "ec2.eu-west-1.amazonaws.com"},
	}}
	got, err := ec2.NewFromConfig(protocoltest.SDKConfig(t, New, "ec2", protocoltest.Answer(out))).DescribeRegions(context.Background(), &ec2.DescribeRegionsInput{})
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, r := range got.Regions {
		names = append(names, aws.ToString(r.RegionName)+"="+aws.ToString(r.Endpoint))
	}
	if strings.Join(names, ",") != "us-east-1=ec2.us-east-1.amazonaws.com,eu-west-1=ec2.eu-west-1.amazonaws.com" {
		t.Errorf("regions: %v", names)
	}
	if aws.ToString(got.Regions[0].OptInStatus) != "opt-in-not-required" {
		t.Errorf("opt-in status: %v", got.Regions[0].OptInStatus)
	}
}

func TestEncodeSTSGetCallerIdentity(t *testing.T) {
	out := map[string]any{"Account": "000000000000", "Arn": "arn:aws:iam::000000000000:root", "UserId": "000000000000"}
	got, err := sts.NewFromConfig(protocoltest.SDKConfig(t, New, "sts", protocoltest.Answer(out))).GetCallerIdentity(context.Background(), &sts.GetCallerIdentityInput{})
	if err != nil {
		t.Fatal(err)
	}
	if aws.ToString(got.Account) != "000000000000" || aws.ToString(got.Arn) != "arn:aws:iam::000000000000:root" || aws.ToString(got.UserId) != "000000000000" {
		t.Errorf("identity: %+v", got)
	}
}

func TestEncodeIAMListUsers(t *testing.T) {
	created := time.Date(2023, 7, 8, 9, 10, 11, 0, time.UTC)
	out := map[string]any{
		"Users": []any{
			map[string]any{"UserName": "alice", "UserId": "AIDA1", "Arn": "arn:aws:iam::000000000000:user/alice", "Path": "/", "CreateDate": created,
				"Tags": []any{map[string]any{"Key": "team", "Value": "eng"}}},
			map[string]any{"UserName": "bob", "UserId": "AIDA2", "Arn": "arn:aws:iam::000000000000:user/bob", "Path": "/", "CreateDate": created.Format(time.RFC3339)},
		},
		"IsTruncated": true, "Marker": "m2",
	}
	got, err := iam.NewFromConfig(protocoltest.SDKConfig(t, New, "iam", protocoltest.Answer(out))).ListUsers(context.Background(), &iam.ListUsersInput{})
	if err != nil {
		t.Fatal(err)
	}
	if len(got.Users) != 2 || !got.IsTruncated || aws.ToString(got.Marker) != "m2" {
		t.Fatalf("list: %+v", got)
	}
	a := got.Users[0]
	if aws.ToString(a.UserName) != "alice" || !aws.ToTime(a.CreateDate).Equal(created) || len(a.Tags) != 1 || aws.ToString(a.Tags[0].Value) != "eng" {
		t.Errorf("alice: %+v", a)
	}
	if !aws.ToTime(got.Users[1].CreateDate).Equal(created) {
		t.Errorf("bob created %v", got.Users[1].CreateDate)
	}
}

// TestErrorEnvelopes checks the SDK reads each envelope into the code,
// message and status the error resolved to.
func TestErrorEnvelopes(t *testing.T) {
	cases := []struct {
		name       string
		service    string
		err        error
		wantCode   string
		wantStatus int
	}{
		{"ec2 not found", "ec2", awserr.New(awserr.NotFound, "InvalidInstanceID.NotFound", "The instance ID 'i-9' does not exist"), "InvalidInstanceID.NotFound", 400},
		{"ec2 validation from kind", "ec2", awserr.Validationf("Value (x) for parameter y is invalid"), "InvalidParameterValue", 400},
		{"ec2 access denied", "ec2", &awserr.Error{Kind: awserr.AccessDenied, Message: "You are not authorized to perform this operation."}, "UnauthorizedOperation", 403},
		{"ec2 internal hides its cause", "ec2", awserr.Internalf(errors.New("disk full"), "store"), "InternalError", 500},
		{"sts access denied", "sts", &awserr.Error{Kind: awserr.AccessDenied, Message: "not authorized to perform sts:AssumeRole"}, "AccessDenied", 403},
		{"iam not found", "iam", &awserr.Error{Kind: awserr.NotFound, Message: "The user with name x cannot be found."}, "NoSuchEntity", 400},
		{"iam throttled", "iam", &awserr.Error{Kind: awserr.Throttled, Message: "Rate exceeded"}, "Throttling", 429},
		{"iam internal", "iam", &awserr.Error{Kind: awserr.Internal, Message: "boom"}, "InternalFailure", 500},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			fail := func(*awsmodel.Operation, map[string]any) (map[string]any, error) { return nil, tc.err }
			cfg := protocoltest.SDKConfig(t, New, tc.service, fail)
			var err error
			switch tc.service {
			case "ec2":
				_, err = ec2.NewFromConfig(cfg).DescribeInstances(context.Background(), &ec2.DescribeInstancesInput{})
			case "sts":
				_, err = sts.NewFromConfig(cfg).GetCallerIdentity(context.Background(), &sts.GetCallerIdentityInput{})
			case "iam":
				_, err = iam.NewFromConfig(cfg).ListUsers(context.Background(), &iam.ListUsersInput{})
			}
			var apiErr smithy.APIError
			if !errors.As(err, &apiErr) {
				t.Fatalf("error %v is not an API error", err)
			}
			want := awserr.Resolve(New(awsmodel.MustLoad(tc.service)).Family(), awserr.As(tc.err))
			if apiErr.ErrorCode() != tc.wantCode || apiErr.ErrorMessage() != want.Message {
				t.Errorf("got %s %q, want %s %q", apiErr.ErrorCode(), apiErr.ErrorMessage(), tc.wantCode, want.Message)
			}
			var respErr *awshttp.ResponseError
			if !errors.As(err, &respErr) || respErr.HTTPStatusCode() != tc.wantStatus {
				t.Errorf("status: %v, want %d", err, tc.wantStatus)
			}
			if respErr != nil && respErr.ServiceRequestID() != protocoltest.RequestID {
				t.Errorf("request id %q", respErr.ServiceRequestID())
			}
		})
	}
}

func TestEncodeEC2WithoutOutputAnswersTrue(t *testing.T) {
	c := New(awsmodel.MustLoad("ec2"))
	rec := httptest.NewRecorder()
	if err := c.Encode(rec, awsmodel.MustLoad("ec2").Operations["DeleteTags"], nil, "rid"); err != nil {
		t.Fatal(err)
	}
	want := `<DeleteTagsResponse xmlns="http://ec2.amazonaws.com/doc/2016-11-15/"><requestId>rid</requestId><return>true</return></DeleteTagsResponse>`
	if rec.Body.String() != want || rec.Code != http.StatusOK || rec.Header().Get("x-amzn-RequestId") != "rid" {
		t.Errorf("got %d %s", rec.Code, rec.Body)
	}
}

package jsonrpc

import (
	"context"
	"errors"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs"
	logstypes "github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs/types"
	"github.com/aws/smithy-go"
	"github.com/google/go-cmp/cmp"

	"github.com/nimbus-dev/nimbus/internal/awserr"
	"github.com/nimbus-dev/nimbus/internal/awsmodel"
	"github.com/nimbus-dev/nimbus/internal/protocol/protocoltest"
)

// TestDecodeSDKRequests sends requests through the SDK's serializers and
// checks the decoded document is what the call passed.
func TestDecodeSDKRequests(t *testing.T) {
	cases := []struct {
		name string
		call func(context.Context, *cloudwatchlogs.Client) error
		want map[string]any
	}{
		{
			name: "PutLogEvents",
			call: func(ctx context.Context, c *cloudwatchlogs.Client) error {
				_, err := c.PutLogEvents(ctx, &cloudwatchlogs.PutLogEventsInput{
					LogGroupName: aws.String("/aws/batch/job"), LogStreamName: aws.String("s1"),
					LogEvents: []logstypes.InputLogEvent{
						{Timestamp: aws.Int64(1700000000123), Message: aws.String("hello \"world\"\n")},
						{Timestamp: aws.Int64(1700000000456), Message: aws.String("ünïcode ✓")},
					},
				})
				return err
			},
			want: map[string]any{
				"logGroupName": "/aws/batch/job", "logStreamName": "s1",
				"logEvents": []any{
					map[string]any{"timestamp": int64(1700000000123), "message": "hello \"world\"\n"},
					map[string]any{"timestamp": int64(1700000000456), "message": "ünïcode ✓"},
				},
			},
		},
		{
			name: "FilterLogEvents",
			call: func(ctx context.Context, c *cloudwatchlogs.Client) error {
				_, err := c.FilterLogEvents(ctx, &cloudwatchlogs.FilterLogEventsInput{
					LogGroupName: aws.String("g"), LogStreamNames: []string{"a", "b"}, StartTime: aws.Int64(1),
					EndTime: aws.Int64(2000), FilterPattern: aws.String("ERROR"), Limit: aws.Int32(100), Interleaved: aws.Bool(true),
				})
				return err
			},
			want: map[string]any{
				"logGroupName": "g", "logStreamNames": []any{"a", "b"}, "startTime": int64(1), "endTime": int64(2000),
				"filterPattern": "ERROR", "limit": int64(100), "interleaved": true,
			},
		},
		{
			name: "CreateLogGroup with a tag map",
			call: func(ctx context.Context, c *cloudwatchlogs.Client) error {
				_, err := c.CreateLogGroup(ctx, &cloudwatchlogs.CreateLogGroupInput{LogGroupName: aws.String("g"), Tags: map[string]string{"team": "a", "env": "prod"}})
				return err
			},
			want: map[string]any{"logGroupName": "g", "tags": map[string]any{"team": "a", "env": "prod"}},
		},
		{
			name: "DescribeLogGroups with no members",
			call: func(ctx context.Context, c *cloudwatchlogs.Client) error {
				_, err := c.DescribeLogGroups(ctx, &cloudwatchlogs.DescribeLogGroupsInput{})
				return err
			},
			want: map[string]any{},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var got map[string]any
			client := cloudwatchlogs.NewFromConfig(protocoltest.SDKConfig(t, New, "logs", protocoltest.Capture(&got, nil)))
			if err := tc.call(context.Background(), client); err != nil {
				t.Fatalf("SDK call: %v", err)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("decoded document (-want +got):\n%s", diff)
			}
		})
	}
}

func TestEncodeGetLogEvents(t *testing.T) {
	out := map[string]any{
		"events": []any{
			map[string]any{"timestamp": int64(1700000000123), "message": "line 1\t\x01", "ingestionTime": 1700000000200.0},
			// Lenient forms: member names in another case, json.Number.
			map[string]any{"Timestamp": "1700000000999", "MESSAGE": "line 2 \xff"},
		},
		"nextForwardToken": "f/1", "nextBackwardToken": nil,
	}
	got, err := cloudwatchlogs.NewFromConfig(protocoltest.SDKConfig(t, New, "logs", protocoltest.Answer(out))).GetLogEvents(context.Background(),
		&cloudwatchlogs.GetLogEventsInput{LogGroupName: aws.String("g"), LogStreamName: aws.String("s")})
	if err != nil {
		t.Fatal(err)
	}
	if len(got.Events) != 2 || aws.ToString(got.NextForwardToken) != "f/1" || got.NextBackwardToken != nil {
		t.Fatalf("output: %+v", got)
	}
	e1, e2 := got.Events[0], got.Events[1]
	if aws.ToInt64(e1.Timestamp) != 1700000000123 || aws.ToString(e1.Message) != "line 1\t\x01" || aws.ToInt64(e1.IngestionTime) != 1700000000200 {
		t.Errorf("event 1: %+v", e1)
	}
	if aws.ToInt64(e2.Timestamp) != 1700000000999 || aws.ToString(e2.Message) != "line 2 \uFFFD" {
		t.Errorf("event 2: %+v", e2)
	}
}

// TestErrorEnvelopes checks the SDK reads the __type envelope into the code,
// message, status and typed exception the error resolved to.
func TestErrorEnvelopes(t *testing.T) {
	cases := []struct {
		name       string
		err        error
		wantCode   string
		wantStatus int
	}{
		{"not found by kind", &awserr.Error{Kind: awserr.NotFound, Message: "The specified log group does not exist."}, "ResourceNotFoundException", 404},
		{"modelled code", awserr.New(awserr.AlreadyExists, "ResourceAlreadyExistsException", "The specified log group already exists"), "ResourceAlreadyExistsException", 409},
		{"validation", awserr.Validationf("1 validation error detected"), "ValidationException", 400},
		{"throttled", &awserr.Error{Kind: awserr.Throttled, Message: "Rate exceeded"}, "TooManyRequestsException", 429},
		{"internal", awserr.Internalf(errors.New("disk"), "store"), "ServiceException", 500},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			fail := func(*awsmodel.Operation, map[string]any) (map[string]any, error) { return nil, tc.err }
			_, err := cloudwatchlogs.NewFromConfig(protocoltest.SDKConfig(t, New, "logs", fail)).CreateLogGroup(context.Background(), &cloudwatchlogs.CreateLogGroupInput{LogGroupName: aws.String("g")})
			var apiErr smithy.APIError
			if !errors.As(err, &apiErr) {
				t.Fatalf("error %v is not an API error", err)
			}
			want := awserr.Resolve(awserr.FamilyJSON, awserr.As(tc.err))
			if apiErr.ErrorCode() != tc.wantCode || apiErr.ErrorMessage() != want.Message {
				t.Errorf("got %s %q, want %s %q", apiErr.ErrorCode(), apiErr.ErrorMessage(), tc.wantCode, want.Message)
			}
			var respErr *awshttp.ResponseError
			if !errors.As(err, &respErr) || respErr.HTTPStatusCode() != tc.wantStatus || respErr.ServiceRequestID() != protocoltest.RequestID {
				t.Errorf("status/request id: %v, want %d", err, tc.wantStatus)
			}
			if tc.wantCode == "ResourceAlreadyExistsException" {
				var typed *logstypes.ResourceAlreadyExistsException
				if !errors.As(err, &typed) {
					t.Errorf("SDK did not map %s to its typed exception: %T", tc.wantCode, apiErr)
				}
			}
		})
	}
}

package logs

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awscreds "github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs/types"
)

// TestSDK drives the service with aws-sdk-go-v2 through the edge: the
// wire shapes of answers and of errors, as a Go program sees them.
func TestSDK(t *testing.T) {
	f := newFixture(t)
	f.logs.now = time.Now
	c := cloudwatchlogs.NewFromConfig(aws.Config{Region: testRegion, BaseEndpoint: aws.String(edgeURL(t, f)), RetryMaxAttempts: 1,
		Credentials: awscreds.NewStaticCredentialsProvider("AKIDTEST", "secret", "")})
	ctx := context.Background()
	if _, err := c.CreateLogGroup(ctx, &cloudwatchlogs.CreateLogGroupInput{LogGroupName: aws.String("/aws/batch/job")}); err != nil {
		t.Fatal(err)
	}
	_, err := c.CreateLogGroup(ctx, &cloudwatchlogs.CreateLogGroupInput{LogGroupName: aws.String("/aws/batch/job")})
	var exists *types.ResourceAlreadyExistsException
	if !errors.As(err, &exists) {
		t.Fatalf("second CreateLogGroup = %v, want ResourceAlreadyExistsException", err)
	}
	_, err = c.CreateLogStream(ctx, &cloudwatchlogs.CreateLogStreamInput{LogGroupName: aws.String("nope"), LogStreamName: aws.String("s")})
	var notFound *types.ResourceNotFoundException
	if !errors.As(err, &notFound) {
		t.Fatalf("CreateLogStream in a missing group = %v, want ResourceNotFoundException", err)
	}
	if _, err := c.CreateLogStream(ctx, &cloudwatchlogs.CreateLogStreamInput{LogGroupName: aws.String("/aws/batch/job"),
		LogStreamName: aws.String("def/default/1")}); err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	put, err := c.PutLogEvents(ctx, &cloudwatchlogs.PutLogEventsInput{LogGroupName: aws.String("/aws/batch/job"),
		LogStreamName: aws.String("def/default/1"), LogEvents: []types.InputLogEvent{
			{Timestamp: aws.Int64(now.Add(-time.Second).UnixMilli()), Message: aws.String("hello")},
			{Timestamp: aws.Int64(now.UnixMilli()), Message: aws.String("world")},
			{Timestamp: aws.Int64(now.Add(3 * time.Hour).UnixMilli()), Message: aws.String("future")},
		}})
	if err != nil {
		t.Fatal(err)
	}
	if put.RejectedLogEventsInfo == nil || aws.ToInt32(put.RejectedLogEventsInfo.TooNewLogEventStartIndex) != 2 {
		t.Errorf("rejected = %+v", put.RejectedLogEventsInfo)
	}
	_, err = c.PutLogEvents(ctx, &cloudwatchlogs.PutLogEventsInput{LogGroupName: aws.String("/aws/batch/job"),
		LogStreamName: aws.String("def/default/1"), LogEvents: []types.InputLogEvent{
			{Timestamp: aws.Int64(now.UnixMilli()), Message: aws.String("b")},
			{Timestamp: aws.Int64(now.Add(-time.Second).UnixMilli()), Message: aws.String("a")},
		}})
	var invalid *types.InvalidParameterException
	if !errors.As(err, &invalid) {
		t.Fatalf("out-of-order PutLogEvents = %v, want InvalidParameterException", err)
	}
	got, err := c.GetLogEvents(ctx, &cloudwatchlogs.GetLogEventsInput{LogGroupName: aws.String("/aws/batch/job"),
		LogStreamName: aws.String("def/default/1"), StartFromHead: aws.Bool(true)})
	if err != nil {
		t.Fatal(err)
	}
	if len(got.Events) != 2 || aws.ToString(got.Events[1].Message) != "world" || aws.ToInt64(got.Events[1].IngestionTime) == 0 {
		t.Errorf("GetLogEvents = %+v", got.Events)
	}
	streams, err := c.DescribeLogStreams(ctx, &cloudwatchlogs.DescribeLogStreamsInput{LogGroupName: aws.String("/aws/batch/job"),
		OrderBy: types.OrderByLastEventTime, Descending: aws.Bool(true)})
	if err != nil {
		t.Fatal(err)
	}
	if len(streams.LogStreams) != 1 || aws.ToInt64(streams.LogStreams[0].LastEventTimestamp) != now.UnixMilli() {
		t.Errorf("DescribeLogStreams = %+v", streams.LogStreams)
	}
	filtered, err := c.FilterLogEvents(ctx, &cloudwatchlogs.FilterLogEventsInput{LogGroupName: aws.String("/aws/batch/job"),
		FilterPattern: aws.String("wor")})
	if err != nil {
		t.Fatal(err)
	}
	if len(filtered.Events) != 1 || aws.ToString(filtered.Events[0].LogStreamName) != "def/default/1" ||
		aws.ToString(filtered.Events[0].EventId) == "" || len(filtered.SearchedLogStreams) != 1 {
		t.Errorf("FilterLogEvents = %+v", filtered)
	}
}

// TestConcurrentWritesAndReads appends to several streams of a group while
// others filter and read it and the sweeper runs (meant for -race).
func TestConcurrentWritesAndReads(t *testing.T) {
	f := newFixture(t)
	f.group("g")
	f.must("PutRetentionPolicy", map[string]any{"logGroupName": "g", "retentionInDays": int64(1)})
	ctx := context.Background()
	const writers, batches = 4, 20
	var wg sync.WaitGroup
	errs := make(chan error, 64)
	for w := 0; w < writers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for b := 0; b < batches; b++ {
				evs := []Event{{Message: "one"}, {Message: "two"}}
				if err := f.logs.Ingest(ctx, testAccount, testRegion, "g", string(rune('a'+w)), evs); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	stop := make(chan struct{})
	var readers sync.WaitGroup
	for r := 0; r < 2; r++ {
		readers.Add(1)
		go func() {
			defer readers.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				if _, err := f.call("FilterLogEvents", map[string]any{"logGroupName": "g", "filterPattern": "two"}); err != nil {
					errs <- err
					return
				}
				if err := f.logs.sweep(ctx); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(stop)
	readers.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	out := f.must("FilterLogEvents", map[string]any{"logGroupName": "g", "filterPattern": "two"})
	if n := len(out["events"].([]any)); n != writers*batches {
		t.Errorf("%d events match, want %d", n, writers*batches)
	}
}

package s3

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/nimbus-dev/nimbus/internal/store"
)

const functionARN = "arn:aws:lambda:us-east-1:000000000000:function:preprocess"

func notificationConfiguration(arn string, events []types.Event, rules ...types.FilterRule) *types.NotificationConfiguration {
	cfg := types.LambdaFunctionConfiguration{Id: aws.String("on-upload"), LambdaFunctionArn: aws.String(arn), Events: events}
	if len(rules) > 0 {
		cfg.Filter = &types.NotificationConfigurationFilter{Key: &types.S3KeyFilter{FilterRules: rules}}
	}
	return &types.NotificationConfiguration{LambdaFunctionConfigurations: []types.LambdaFunctionConfiguration{cfg}}
}

// s3Event is the event JSON as a Lambda function reads it.
type s3Event struct {
	Records []struct {
		EventVersion, EventSource, AWSRegion, EventTime, EventName string
		UserIdentity                                               struct{ PrincipalID string }
		RequestParameters                                          struct{ SourceIPAddress string }
		ResponseElements                                           map[string]string
		S3                                                         struct {
			S3SchemaVersion, ConfigurationID string
			Bucket                           struct {
				Name          string
				OwnerIdentity struct{ PrincipalID string }
				ARN           string
			}
			Object struct {
				Key       string
				Size      *int64
				ETag      string
				Sequencer string
			}
		}
	}
}

func decodeEvent(t *testing.T, e sunkEvent) s3Event {
	t.Helper()
	var ev s3Event
	if err := json.Unmarshal(e.payload, &ev); err != nil || len(ev.Records) != 1 {
		t.Fatalf("event %s: %v", e.payload, err)
	}
	return ev
}

func TestNotificationConfigurationNeedsPermission(t *testing.T) {
	f := newFixture(t)
	c := f.client("test")
	createBucket(t, c, "uploads")
	_, err := c.PutBucketNotificationConfiguration(ctx, &s3.PutBucketNotificationConfigurationInput{Bucket: aws.String("uploads"),
		NotificationConfiguration: notificationConfiguration(functionARN, []types.Event{"s3:ObjectCreated:*"})})
	wantCode(t, err, "InvalidArgument")
	if !strings.Contains(err.Error(), "Unable to validate the following destination configurations") {
		t.Errorf("message: %v", err)
	}
	f.functions.allow(functionARN)
	_, err = c.PutBucketNotificationConfiguration(ctx, &s3.PutBucketNotificationConfigurationInput{Bucket: aws.String("uploads"),
		NotificationConfiguration: notificationConfiguration(functionARN, []types.Event{"s3:ObjectRestore:Post"})})
	wantCode(t, err, "InvalidArgument")
	_, err = c.PutBucketNotificationConfiguration(ctx, &s3.PutBucketNotificationConfigurationInput{Bucket: aws.String("uploads"),
		NotificationConfiguration: notificationConfiguration(functionARN, []types.Event{"s3:ObjectCreated:*"},
			types.FilterRule{Name: "prefix", Value: aws.String("a/")}, types.FilterRule{Name: "prefix", Value: aws.String("b/")})})
	wantCode(t, err, "InvalidArgument")
	_, err = c.PutBucketNotificationConfiguration(ctx, &s3.PutBucketNotificationConfigurationInput{Bucket: aws.String("uploads"),
		NotificationConfiguration: notificationConfiguration(functionARN, []types.Event{"s3:ObjectCreated:*", "s3:ObjectRemoved:Delete"},
			types.FilterRule{Name: "prefix", Value: aws.String("incoming/")}, types.FilterRule{Name: "suffix", Value: aws.String(".csv")})})
	if err != nil {
		t.Fatalf("PutBucketNotificationConfiguration: %v", err)
	}
	if got := f.functions.asked[len(f.functions.asked)-1]; got != "arn:aws:s3:::uploads "+account {
		t.Errorf("asked Lambda about %q", got)
	}
	got, err := c.GetBucketNotificationConfiguration(ctx, &s3.GetBucketNotificationConfigurationInput{Bucket: aws.String("uploads")})
	if err != nil || len(got.LambdaFunctionConfigurations) != 1 {
		t.Fatalf("GetBucketNotificationConfiguration: %+v %v", got, err)
	}
	lc := got.LambdaFunctionConfigurations[0]
	if aws.ToString(lc.Id) != "on-upload" || aws.ToString(lc.LambdaFunctionArn) != functionARN || len(lc.Events) != 2 ||
		lc.Filter == nil || len(lc.Filter.Key.FilterRules) != 2 || lc.Filter.Key.FilterRules[0].Name != "Prefix" ||
		aws.ToString(lc.Filter.Key.FilterRules[1].Value) != ".csv" {
		t.Errorf("configuration read back: %+v", lc)
	}
	// An empty configuration turns notifications off.
	if _, err := c.PutBucketNotificationConfiguration(ctx, &s3.PutBucketNotificationConfigurationInput{Bucket: aws.String("uploads"),
		NotificationConfiguration: &types.NotificationConfiguration{}}); err != nil {
		t.Fatal(err)
	}
	got, err = c.GetBucketNotificationConfiguration(ctx, &s3.GetBucketNotificationConfigurationInput{Bucket: aws.String("uploads")})
	if err != nil || len(got.LambdaFunctionConfigurations) != 0 {
		t.Fatalf("after clearing: %+v %v", got, err)
	}
}

func TestNotificationsDeliverS3Events(t *testing.T) {
	f := newFixture(t)
	f.functions.allow(functionARN)
	f.runOutbox(t)
	c := f.client("test")
	createBucket(t, c, "uploads")
	_, err := c.PutBucketNotificationConfiguration(ctx, &s3.PutBucketNotificationConfigurationInput{Bucket: aws.String("uploads"),
		NotificationConfiguration: notificationConfiguration(functionARN, []types.Event{"s3:ObjectCreated:*", "s3:ObjectRemoved:*"},
			types.FilterRule{Name: "prefix", Value: aws.String("in/")})})
	if err != nil {
		t.Fatal(err)
	}
	put, err := c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("uploads"), Key: aws.String("in/my photo.jpg"), Body: strings.NewReader("pixels")})
	if err != nil {
		t.Fatal(err)
	}
	e := f.sink.next(t)
	if e.arn != functionARN {
		t.Errorf("delivered to %s", e.arn)
	}
	ev := decodeEvent(t, e)
	r := ev.Records[0]
	if r.EventVersion != "2.1" || r.EventSource != "aws:s3" || r.AWSRegion != "us-east-1" || r.EventName != "ObjectCreated:Put" ||
		r.S3.S3SchemaVersion != "1.0" || r.S3.ConfigurationID != "on-upload" || r.S3.Bucket.Name != "uploads" ||
		r.S3.Bucket.ARN != "arn:aws:s3:::uploads" || r.S3.Bucket.OwnerIdentity.PrincipalID != account ||
		r.S3.Object.Key != "in/my+photo.jpg" || r.S3.Object.Size == nil || *r.S3.Object.Size != 6 ||
		r.S3.Object.ETag != strings.Trim(aws.ToString(put.ETag), `"`) || r.S3.Object.Sequencer == "" ||
		r.RequestParameters.SourceIPAddress != "127.0.0.1" || r.ResponseElements["x-amz-request-id"] == "" || r.UserIdentity.PrincipalID == "" {
		t.Errorf("event: %s", e.payload)
	}
	if _, err := time.Parse("2006-01-02T15:04:05.000Z", r.EventTime); err != nil {
		t.Errorf("eventTime %q: %v", r.EventTime, err)
	}
	first := r.S3.Object.Sequencer

	// Outside the prefix: no event.
	if _, err := c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("uploads"), Key: aws.String("out/x"), Body: strings.NewReader("x")}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.CopyObject(ctx, &s3.CopyObjectInput{Bucket: aws.String("uploads"), Key: aws.String("in/copy"), CopySource: aws.String("uploads/out/x")}); err != nil {
		t.Fatal(err)
	}
	cp := decodeEvent(t, f.sink.next(t)).Records[0]
	if cp.EventName != "ObjectCreated:Copy" || cp.S3.Object.Key != "in/copy" || cp.S3.Object.Sequencer <= first {
		t.Errorf("copy event %+v (first sequencer %s)", cp, first)
	}
	if _, err := c.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String("uploads"), Key: aws.String("in/copy")}); err != nil {
		t.Fatal(err)
	}
	del := decodeEvent(t, f.sink.next(t)).Records[0]
	if del.EventName != "ObjectRemoved:Delete" || del.S3.Object.Key != "in/copy" || del.S3.Object.Size != nil || del.S3.Object.ETag != "" {
		t.Errorf("delete event %+v", del)
	}
	uploadID, parts := uploadParts(t, c, "uploads", "in/multi", [][]byte{[]byte("one part")})
	if _, err := c.CompleteMultipartUpload(ctx, &s3.CompleteMultipartUploadInput{Bucket: aws.String("uploads"), Key: aws.String("in/multi"),
		UploadId: &uploadID, MultipartUpload: &types.CompletedMultipartUpload{Parts: parts}}); err != nil {
		t.Fatal(err)
	}
	mp := decodeEvent(t, f.sink.next(t)).Records[0]
	if mp.EventName != "ObjectCreated:CompleteMultipartUpload" || !strings.HasSuffix(mp.S3.Object.ETag, "-1") {
		t.Errorf("multipart event %+v", mp)
	}
	f.sink.none(t, 200*time.Millisecond)
}

func TestOutboxRetriesAndSurvivesRestart(t *testing.T) {
	f := newFixture(t, fixtureOptions{noSink: true})
	f.functions.allow(functionARN)
	c := f.client("test")
	createBucket(t, c, "durable")
	_, err := c.PutBucketNotificationConfiguration(ctx, &s3.PutBucketNotificationConfigurationInput{Bucket: aws.String("durable"),
		NotificationConfiguration: notificationConfiguration(functionARN, []types.Event{"s3:ObjectCreated:Put"},
			types.FilterRule{Name: "suffix", Value: aws.String(".csv")})})
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"a.csv", "b.txt", "c.csv"} {
		if _, err := c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("durable"), Key: aws.String(k), Body: strings.NewReader(k)}); err != nil {
			t.Fatal(err)
		}
	}
	// A new S3 over the same store and data directory, as after a restart
	// that happened before anything was handed over; its sink fails twice.
	g := newFixture(t, fixtureOptions{store: f.store, dataDir: f.dataDir})
	g.sink.failing = 2
	g.runOutbox(t)
	var keys []string
	for range 2 {
		keys = append(keys, decodeEvent(t, g.sink.next(t)).Records[0].S3.Object.Key)
	}
	if strings.Join(keys, ",") != "a.csv,c.csv" {
		t.Errorf("delivered %v, want a.csv then c.csv", keys)
	}
	g.sink.none(t, 300*time.Millisecond)
	got, _ := getBody(t, g.client("test"), &s3.GetObjectInput{Bucket: aws.String("durable"), Key: aws.String("c.csv")})
	if string(got) != "c.csv" {
		t.Errorf("object after restart: %q", got)
	}
}

func TestLambdaConfigMatches(t *testing.T) {
	c := lambdaConfig{Events: []string{"s3:ObjectCreated:*", "s3:ObjectRemoved:Delete"},
		Rules: []filterRule{{Name: "Prefix", Value: "in/"}, {Name: "Suffix", Value: ".csv"}}}
	for _, tc := range []struct {
		event, key string
		want       bool
	}{
		{"ObjectCreated:Put", "in/a.csv", true},
		{"ObjectCreated:CompleteMultipartUpload", "in/a.csv", true},
		{"ObjectRemoved:Delete", "in/a.csv", true},
		{"ObjectRemoved:DeleteMarkerCreated", "in/a.csv", false},
		{"ObjectCreated:Put", "out/a.csv", false},
		{"ObjectCreated:Put", "in/a.txt", false},
	} {
		if got := c.matches(tc.event, tc.key); got != tc.want {
			t.Errorf("matches(%s, %s) = %v", tc.event, tc.key, got)
		}
	}
}

// TestOutboxDropsUndeliverableEvents: an event for a function deleted since
// its configuration was accepted is dropped, and does not hold back the
// events queued after it.
func TestOutboxDropsUndeliverableEvents(t *testing.T) {
	f := newFixture(t)
	deleted := "arn:aws:lambda:us-east-1:000000000000:function:deleted"
	f.functions.allow(deleted)
	f.functions.allow(functionARN)
	c := f.client("test")
	createBucket(t, c, "gone")
	createBucket(t, c, "live")
	for bucket, arn := range map[string]string{"gone": deleted, "live": functionARN} {
		_, err := c.PutBucketNotificationConfiguration(ctx, &s3.PutBucketNotificationConfigurationInput{Bucket: aws.String(bucket),
			NotificationConfiguration: notificationConfiguration(arn, []types.Event{"s3:ObjectCreated:*"})})
		if err != nil {
			t.Fatal(err)
		}
	}
	for _, bucket := range []string{"gone", "live"} {
		if _, err := c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(bucket), Key: aws.String("k"), Body: strings.NewReader("x")}); err != nil {
			t.Fatal(err)
		}
	}
	f.runOutbox(t)
	if e := f.sink.next(t); e.arn != functionARN {
		t.Fatalf("delivered to %s", e.arn)
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		n := 0
		err := f.store.View(ctx, func(tx store.Tx) error {
			return tx.List(store.Query{Kind: kindEvent, Account: globalAccount}, func(store.Object) error { n++; return nil })
		})
		if err != nil {
			t.Fatal(err)
		}
		if n == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d events still queued", n)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

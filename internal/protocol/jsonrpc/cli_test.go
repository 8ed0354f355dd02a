package jsonrpc

import (
	"context"
	"encoding/json"
	"net/http/httptest"
	"os/exec"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/nimbus-dev/nimbus/internal/awsmodel"
)

// awsCLI runs the AWS CLI (botocore, a second real client beside the Go
// SDK) against a server that answers through a codec.
func awsCLI(t *testing.T, service string, handle handlerFunc, args ...string) []byte {
	t.Helper()
	bin, err := exec.LookPath("/usr/bin/aws")
	if err != nil {
		if bin, err = exec.LookPath("aws"); err != nil {
			t.Skip("the AWS CLI is not installed")
		}
	}
	if testing.Short() {
		t.Skip("the AWS CLI takes seconds to start; skipped with -short")
	}
	srv := httptest.NewServer(codecTransport{codec: New(awsmodel.MustLoad(service)), handle: handle}.handler())
	defer srv.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, append([]string{"--endpoint-url", srv.URL, "--region", "us-east-1", "--output", "json"}, args...)...)
	cmd.Env = []string{"AWS_ACCESS_KEY_ID=AKIDTEST", "AWS_SECRET_ACCESS_KEY=secret", "AWS_CONFIG_FILE=/dev/null",
		"AWS_SHARED_CREDENTIALS_FILE=/dev/null", "AWS_PAGER=", "HOME=" + t.TempDir(), "PATH=/usr/bin:/bin"}
	out, err := cmd.Output()
	if err != nil {
		var stderr []byte
		if ee, ok := err.(*exec.ExitError); ok {
			stderr = ee.Stderr
		}
		t.Fatalf("aws %v: %v\n%s", args, err, stderr)
	}
	return out
}

func TestAWSCLI(t *testing.T) {
	t.Run("logs put-log-events request", func(t *testing.T) {
		t.Parallel()
		decoded := make(chan map[string]any, 1) // the server's goroutine hands the input over
		handle := func(op *awsmodel.Operation, in map[string]any) (map[string]any, error) {
			decoded <- in
			return map[string]any{"nextSequenceToken": "2"}, nil
		}
		awsCLI(t, "logs", handle, "logs", "put-log-events", "--log-group-name", "g", "--log-stream-name", "s",
			"--log-events", `[{"timestamp":1700000000123,"message":"hello"}]`)
		want := map[string]any{"logGroupName": "g", "logStreamName": "s",
			"logEvents": []any{map[string]any{"timestamp": int64(1700000000123), "message": "hello"}}}
		if diff := cmp.Diff(want, <-decoded); diff != "" {
			t.Errorf("decoded (-want +got):\n%s", diff)
		}
	})
	t.Run("logs get-log-events response", func(t *testing.T) {
		t.Parallel()
		out := awsCLI(t, "logs", answer(map[string]any{"events": []any{map[string]any{"timestamp": int64(1700000000123), "message": "hi"}}, "nextForwardToken": "f/1"}),
			"logs", "get-log-events", "--log-group-name", "g", "--log-stream-name", "s")
		var resp struct {
			Events []struct {
				Timestamp int64
				Message   string
			} `json:"events"`
			NextForwardToken string `json:"nextForwardToken"`
		}
		if err := json.Unmarshal(out, &resp); err != nil || len(resp.Events) != 1 || resp.Events[0].Timestamp != 1700000000123 ||
			resp.Events[0].Message != "hi" || resp.NextForwardToken != "f/1" {
			t.Errorf("CLI printed %s (%v)", out, err)
		}
	})
}

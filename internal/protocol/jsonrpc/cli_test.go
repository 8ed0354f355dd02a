package jsonrpc

import (
	"encoding/json"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/nimbus-dev/nimbus/internal/awsmodel"
	"github.com/nimbus-dev/nimbus/internal/protocol/protocoltest"
)

func TestAWSCLI(t *testing.T) {
	t.Run("logs put-log-events request", func(t *testing.T) {
		t.Parallel()
		decoded := make(chan map[string]any, 1) // the server's goroutine hands the input over
		handle := func(op *awsmodel.Operation, in map[string]any) (map[string]any, error) {
			decoded <- in
			return map[string]any{"nextSequenceToken": "2"}, nil
		}
		protocoltest.AWSCLI(t, New, "logs", handle, "logs", "put-log-events", "--log-group-name", "g", "--log-stream-name", "s",
			"--log-events", `[{"timestamp":1700000000123,"message":"hello"}]`)
		want := map[string]any{"logGroupName": "g", "logStreamName": "s",
			"logEvents": []any{map[string]any{"timestamp": int64(1700000000123), "message": "hello"}}}
		if diff := cmp.Diff(want, <-decoded); diff != "" {
			t.Errorf("decoded (-want +got):\n%s", diff)
		}
	})
	t.Run("logs get-log-events response", func(t *testing.T) {
		t.Parallel()
		out := protocoltest.AWSCLI(t, New, "logs", protocoltest.Answer(map[string]any{"events": []any{map[string]any{"timestamp": int64(1700000000123), "message": "hi"}}, "nextForwardToken": "f/1"}),
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

package jsonrpc

import (
	"testing"

	"github.com/nimbus-dev/nimbus/internal/awsmodel"
	"github.com/nimbus-dev/nimbus/internal/protocol/protocoltest"
)

func BenchmarkLogsPutLogEvents(b *testing.B) {
	body := []byte(`{"logGroupName":"/aws/batch/job","logStreamName":"default/1","logEvents":[{"timestamp":1700000000123,"message":"hello"},{"timestamp":1700000000124,"message":"world"}]}`)
	out := map[string]any{"nextSequenceToken": "49590000000000000000000000000000000000000000000000000001"}
	protocoltest.BenchmarkRoundTrip(b, New(awsmodel.MustLoad("logs")), targetRequest("Logs_20140328.PutLogEvents"), body, out)
}

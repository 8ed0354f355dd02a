package jsonrpc

import (
	"encoding/json"
	"errors"
	"testing"
	"unicode/utf8"

	"github.com/nimbus-dev/nimbus/internal/awserr"
	"github.com/nimbus-dev/nimbus/internal/awsmodel"
)

// FuzzDecode checks two things: no body, however malformed, makes Decode
// panic or fail with anything but an *awserr.Error; and a well-formed
// DescribeLogStreams request is rejected exactly when its values break the
// model's constraints, and otherwise decodes to the values sent.
func FuzzDecode(f *testing.F) {
	logs := awsmodel.MustLoad("logs")
	c := New(logs)
	ops := []*awsmodel.Operation{logs.Operations["PutLogEvents"], logs.Operations["FilterLogEvents"], logs.Operations["CreateLogGroup"]}
	f.Add([]byte(`{"logGroupName":"g","logStreamName":"s","logEvents":[{"timestamp":1,"message":"m"}]}`), "g", int64(5))
	f.Add([]byte(`{"logGroupName":"g","logStreamNames":["a"],"startTime":1e3,"interleaved":true}`), "/aws/lambda/f", int64(50))
	f.Add([]byte(`{"logGroupName":"g","tags":{"k":"v"}}`), "", int64(0))
	f.Add([]byte(`{"a":[[[[{}]]]],"limit":-1e400}`), "\xff", int64(51))
	r := targetRequest("Logs_20140328.DescribeLogStreams")
	f.Fuzz(func(t *testing.T, body []byte, group string, limit int64) {
		for _, op := range ops {
			if _, err := c.Decode(r, body, op); err != nil {
				var ae *awserr.Error
				if !errors.As(err, &ae) {
					t.Fatalf("error %v is not an *awserr.Error", err)
				}
			}
		}

		valid, err := json.Marshal(map[string]any{"logGroupName": group, "limit": limit})
		if err != nil {
			t.Fatal(err)
		}
		doc, err := c.Decode(r, valid, logs.Operations["DescribeLogStreams"])
		// json.Marshal, like a []rune conversion, turns each invalid byte into U+FFFD.
		n := utf8.RuneCountInString(group)
		inRange := n >= 1 && n <= 512 && limit >= 1 && limit <= 50
		if inRange && err != nil {
			t.Fatalf("valid request %s rejected: %v", valid, err)
		}
		if !inRange && err == nil {
			t.Fatalf("request %s outside the model's constraints accepted", valid)
		}
		if err == nil && (doc["logGroupName"] != string([]rune(group)) || doc["limit"] != limit) {
			t.Fatalf("decoded %v from %s", doc, valid)
		}
	})
}

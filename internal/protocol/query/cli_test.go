package query

import (
	"encoding/json"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/nimbus-dev/nimbus/internal/awsmodel"
	"github.com/nimbus-dev/nimbus/internal/protocol/protocoltest"
)

func TestAWSCLI(t *testing.T) {
	t.Run("ec2 run-instances request and response", func(t *testing.T) {
		t.Parallel()
		decoded := make(chan map[string]any, 1) // the server's goroutine hands the input over
		handle := func(op *awsmodel.Operation, in map[string]any) (map[string]any, error) {
			decoded <- in
			return map[string]any{"Instances": []any{map[string]any{"InstanceId": "i-1", "State": map[string]any{"Code": 0, "Name": "pending"},
				"Tags": []any{map[string]any{"Key": "Name", "Value": "web"}}}}}, nil
		}
		out := protocoltest.AWSCLI(t, New, "ec2", handle, "ec2", "run-instances", "--image-id", "ami-1", "--count", "2",
			"--block-device-mappings", `[{"DeviceName":"/dev/xvda","Ebs":{"VolumeSize":8,"DeleteOnTermination":true}}]`,
			"--tag-specifications", `ResourceType=instance,Tags=[{Key=Name,Value=web}]`)
		want := map[string]any{"ImageId": "ami-1", "MinCount": int64(2), "MaxCount": int64(2),
			"BlockDeviceMappings": []any{map[string]any{"DeviceName": "/dev/xvda", "Ebs": map[string]any{"VolumeSize": int64(8), "DeleteOnTermination": true}}},
			"TagSpecifications":   []any{map[string]any{"ResourceType": "instance", "Tags": []any{map[string]any{"Key": "Name", "Value": "web"}}}}}
		got := <-decoded
		delete(got, "ClientToken") // botocore fills the idempotency token
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("decoded (-want +got):\n%s", diff)
		}
		var resp struct {
			Instances []struct {
				InstanceID string `json:"InstanceId"`
				State      struct{ Name string }
				Tags       []struct{ Key, Value string }
			}
		}
		if err := json.Unmarshal(out, &resp); err != nil || len(resp.Instances) != 1 || resp.Instances[0].InstanceID != "i-1" ||
			resp.Instances[0].State.Name != "pending" || len(resp.Instances[0].Tags) != 1 {
			t.Errorf("CLI printed %s (%v)", out, err)
		}
	})
	t.Run("sts get-caller-identity", func(t *testing.T) {
		t.Parallel()
		out := protocoltest.AWSCLI(t, New, "sts", protocoltest.Answer(map[string]any{"Account": "000000000000", "Arn": "arn:aws:iam::000000000000:root", "UserId": "000000000000"}),
			"sts", "get-caller-identity")
		var resp map[string]string
		if err := json.Unmarshal(out, &resp); err != nil || resp["Account"] != "000000000000" || resp["Arn"] != "arn:aws:iam::000000000000:root" {
			t.Errorf("CLI printed %s (%v)", out, err)
		}
	})
}

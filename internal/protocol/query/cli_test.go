package query

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
	t.Run("ec2 run-instances request and response", func(t *testing.T) {
		t.Parallel()
		decoded := make(chan map[string]any, 1) // the server's goroutine hands the input over
		handle := func(op *awsmodel.Operation, in map[string]any) (map[string]any, error) {
			decoded <- in
			return map[string]any{"Instances": []any{map[string]any{"InstanceId": "i-1", "State": map[string]any{"Code": 0, "Name": "pending"},
				"Tags": []any{map[string]any{"Key": "Name", "Value": "web"}}}}}, nil
		}
		out := awsCLI(t, "ec2", handle, "ec2", "run-instances", "--image-id", "ami-1", "--count", "2",
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
		out := awsCLI(t, "sts", answer(map[string]any{"Account": "000000000000", "Arn": "arn:aws:iam::000000000000:root", "UserId": "000000000000"}),
			"sts", "get-caller-identity")
		var resp map[string]string
		if err := json.Unmarshal(out, &resp); err != nil || resp["Account"] != "000000000000" || resp["Arn"] != "arn:aws:iam::000000000000:root" {
			t.Errorf("CLI printed %s (%v)", out, err)
		}
	})
}

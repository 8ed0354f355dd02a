package protocoltest

import (
	"context"
	"errors"
	"net/http/httptest"
	"os/exec"
	"testing"
	"time"

	"github.com/nimbus-dev/nimbus/internal/awsmodel"
)

// AWSCLI runs the AWS CLI (botocore, a second real client beside the Go
// SDK) with args against a server that answers through the codec newCodec
// builds for service, and returns what it printed. It skips the test where
// the CLI is not installed, and with -short, since the CLI takes seconds to
// start.
func AWSCLI(t *testing.T, newCodec CodecFor, service string, handle Handler, args ...string) []byte {
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
	srv := httptest.NewServer(Transport{Codec: newCodec(awsmodel.MustLoad(service)), Handle: handle}.HTTPHandler())
	defer srv.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, append([]string{"--endpoint-url", srv.URL, "--region", "us-east-1", "--output", "json"}, args...)...)
	cmd.Env = []string{"AWS_ACCESS_KEY_ID=AKIDTEST", "AWS_SECRET_ACCESS_KEY=secret", "AWS_CONFIG_FILE=/dev/null",
		"AWS_SHARED_CREDENTIALS_FILE=/dev/null", "AWS_PAGER=", "HOME=" + t.TempDir(), "PATH=/usr/bin:/bin"}
	out, err := cmd.Output()
	if err != nil {
		var stderr []byte
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			stderr = ee.Stderr
		}
		t.Fatalf("aws %v: %v\n%s", args, err, stderr)
	}
	return out
}

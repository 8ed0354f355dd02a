package lambda

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestAWSCLI drives the API with the unmodified AWS CLI: create a function
// from a zip file, wait for it with function-active-v2, invoke it with the
// log tail. Skipped with -short: each CLI start takes seconds here.
func TestAWSCLI(t *testing.T) {
	if testing.Short() {
		t.Skip("the AWS CLI takes seconds to start")
	}
	cli, err := exec.LookPath("aws")
	if err != nil {
		t.Skip("the AWS CLI (aws) is not installed")
	}
	h := newHarness(t, func(o *Options) { o.SettleDelay = 300 * time.Millisecond })
	dir := t.TempDir()
	zipPath := filepath.Join(dir, "fn.zip")
	if err := os.WriteFile(zipPath, zipOf(t, map[string]string{"bootstrap": "#!/bin/sh\n"}), 0o644); err != nil {
		t.Fatal(err)
	}
	run := func(args ...string) string {
		t.Helper()
		cmd := exec.Command(cli, append([]string{"--endpoint-url", h.url, "--region", testRegion, "--output", "json", "lambda"}, args...)...)
		cmd.Env = append(os.Environ(), "AWS_ACCESS_KEY_ID=test", "AWS_SECRET_ACCESS_KEY=test", "AWS_PAGER=", "AWS_CONFIG_FILE=/dev/null", "AWS_SHARED_CREDENTIALS_FILE=/dev/null")
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("aws lambda %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		return string(out)
	}
	out := run("create-function", "--function-name", "cli", "--runtime", "provided.al2023", "--handler", "bootstrap",
		"--role", testRole, "--zip-file", "fileb://"+zipPath)
	if !strings.Contains(out, `"State": "Pending"`) {
		t.Errorf("create-function answered %s", out)
	}
	run("wait", "function-active-v2", "--function-name", "cli")
	resultPath := filepath.Join(dir, "out.json")
	out = run("invoke", "--function-name", "cli", "--payload", `{"hi":1}`, "--log-type", "Tail", resultPath)
	if !strings.Contains(out, `"StatusCode": 200`) || !strings.Contains(out, `"ExecutedVersion": "$LATEST"`) {
		t.Errorf("invoke answered %s", out)
	}
	if b, err := os.ReadFile(resultPath); err != nil || string(b) != `{"hi":1}` {
		t.Errorf("invoke wrote %q %v", b, err)
	}
}

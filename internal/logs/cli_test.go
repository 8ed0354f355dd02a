package logs

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nimbus-dev/nimbus/internal/credentials"
	"github.com/nimbus-dev/nimbus/internal/edge"
	"github.com/nimbus-dev/nimbus/internal/metrics"
	"github.com/nimbus-dev/nimbus/internal/region"
	"github.com/nimbus-dev/nimbus/internal/service"
)

// edgeURL serves the fixture's Logs service through the real edge (json
// 1.1 codec, SigV4 with key AKIDTEST/secret for the test account).
func edgeURL(t *testing.T, f *fixture) string {
	t.Helper()
	regions, err := region.NewCatalog(nil, false)
	if err != nil {
		t.Fatal(err)
	}
	srv, err := edge.New(edge.Options{
		Services:    []*service.Service{f.logs.Service()},
		Credentials: credentials.Root(testAccount, "AKIDTEST", "secret"),
		Account:     testAccount,
		Regions:     regions,
		Region:      testRegion,
		Logger:      slog.New(slog.NewTextHandler(io.Discard, nil)),
		Metrics:     metrics.New(),
	})
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(srv)
	t.Cleanup(hs.Close)
	return hs.URL
}

// cliServer serves the fixture through the edge and returns functions that
// run the AWS CLI against it.
func cliServer(t *testing.T, f *fixture) (aws func(args ...string) []byte, command func(ctx context.Context, args ...string) *exec.Cmd) {
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
	url := edgeURL(t, f)
	home := t.TempDir()
	command = func(ctx context.Context, args ...string) *exec.Cmd {
		cmd := exec.CommandContext(ctx, bin, append([]string{"--endpoint-url", url, "--region", testRegion, "--output", "json"}, args...)...)
		cmd.Env = []string{"AWS_ACCESS_KEY_ID=AKIDTEST", "AWS_SECRET_ACCESS_KEY=secret", "AWS_CONFIG_FILE=/dev/null",
			"AWS_SHARED_CREDENTIALS_FILE=/dev/null", "AWS_PAGER=", "HOME=" + home, "PATH=/usr/bin:/bin"}
		return cmd
	}
	aws = func(args ...string) []byte {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		defer cancel()
		out, err := command(ctx, args...).Output()
		if err != nil {
			var ee *exec.ExitError
			if errors.As(err, &ee) {
				t.Fatalf("aws %v: %v\n%s", args, err, ee.Stderr)
			}
			t.Fatalf("aws %v: %v", args, err)
		}
		return out
	}
	return aws, command
}

func TestAWSCLI(t *testing.T) {
	f := newFixture(t)
	f.logs.now = time.Now // the CLI's --since is relative to the real clock
	aws, command := cliServer(t, f)
	ctx := context.Background()
	const group, stream = "/aws/lambda/demo", "2026/11/28/[$LATEST]0123"
	now := time.Now()
	if err := f.logs.Ingest(ctx, testAccount, testRegion, group, stream, []Event{
		{Timestamp: now.Add(-2 * time.Minute), Message: "START RequestId: 1 Version: $LATEST"},
		{Timestamp: now.Add(-2 * time.Minute), Message: "ERROR something broke"},
	}); err != nil {
		t.Fatal(err)
	}

	events := filepath.Join(t.TempDir(), "events.json")
	body, _ := json.Marshal([]map[string]any{
		{"timestamp": now.Add(-time.Minute).UnixMilli(), "message": "REPORT RequestId: 1 Duration: 1.00 ms"}})
	if err := os.WriteFile(events, body, 0o600); err != nil {
		t.Fatal(err)
	}
	var put struct {
		NextSequenceToken string `json:"nextSequenceToken"`
	}
	mustJSON(t, aws("logs", "put-log-events", "--log-group-name", group, "--log-stream-name", stream, "--log-events", "file://"+events), &put)
	if put.NextSequenceToken == "" {
		t.Errorf("put-log-events returned no nextSequenceToken")
	}

	var got struct {
		Events []struct {
			Message   string `json:"message"`
			Timestamp int64  `json:"timestamp"`
		} `json:"events"`
		NextForwardToken string `json:"nextForwardToken"`
	}
	mustJSON(t, aws("logs", "get-log-events", "--log-group-name", group, "--log-stream-name", stream, "--start-from-head"), &got)
	if len(got.Events) != 3 || got.Events[2].Message != "REPORT RequestId: 1 Duration: 1.00 ms" || !strings.HasPrefix(got.NextForwardToken, "f/") {
		t.Fatalf("get-log-events = %+v", got)
	}

	var filtered struct {
		Events []struct {
			Message string `json:"message"`
		} `json:"events"`
	}
	mustJSON(t, aws("logs", "filter-log-events", "--log-group-name", group, "--filter-pattern", "?ERROR ?REPORT"), &filtered)
	if len(filtered.Events) != 2 || filtered.Events[0].Message != "ERROR something broke" {
		t.Fatalf("filter-log-events = %+v", filtered)
	}

	// The CLI follows nextToken across pages of 10,000 by itself.
	big := make([]Event, 12000)
	for i := range big {
		big[i] = Event{Timestamp: now.Add(-3 * time.Minute), Message: fmt.Sprintf("line %d", i)}
	}
	if err := f.logs.Ingest(ctx, testAccount, testRegion, group, "bulk", big); err != nil {
		t.Fatal(err)
	}
	var count int
	mustJSON(t, aws("logs", "filter-log-events", "--log-group-name", group, "--log-stream-names", "bulk", "--query", "length(events)"), &count)
	if count != len(big) {
		t.Fatalf("filter-log-events over pages returned %d events, want %d", count, len(big))
	}

	// aws logs tail --follow prints what is there, then what arrives.
	tailCtx, cancel := context.WithTimeout(ctx, 25*time.Second)
	defer cancel()
	cmd := command(tailCtx, "logs", "tail", group, "--follow", "--since", "5m", "--log-stream-names", stream,
		"--format", "short", "--color", "off")
	// The CLI writes events without flushing; unbuffered, they reach the
	// pipe as they are printed.
	cmd.Env = append(cmd.Env, "PYTHONUNBUFFERED=1")
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		cancel()
		cmd.Wait()
	}()
	lines := make(chan string, 16)
	go func() {
		defer close(lines)
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			lines <- sc.Text()
		}
	}()
	expect := func(want string) {
		t.Helper()
		for {
			select {
			case line, ok := <-lines:
				if !ok {
					t.Fatalf("aws logs tail ended before %q; stderr: %s", want, stderr.String())
				}
				if strings.HasSuffix(line, want) {
					return
				}
			case <-tailCtx.Done():
				t.Fatalf("aws logs tail never printed %q; stderr: %s", want, stderr.String())
			}
		}
	}
	expect("START RequestId: 1 Version: $LATEST")
	expect("REPORT RequestId: 1 Duration: 1.00 ms")
	if err := f.logs.Ingest(ctx, testAccount, testRegion, group, stream, []Event{{Message: "END RequestId: 2"}}); err != nil {
		t.Fatal(err)
	}
	expect("END RequestId: 2")
}

func mustJSON(t *testing.T, data []byte, v any) {
	t.Helper()
	if err := json.Unmarshal(data, v); err != nil {
		t.Fatalf("decode %s: %v", data, err)
	}
}

package server

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/nimbus-dev/nimbus/internal/config"
	"github.com/nimbus-dev/nimbus/internal/sandbox/fake"
	"github.com/nimbus-dev/nimbus/internal/substrate"
)

func startServer(t *testing.T) (string, *Server, context.CancelFunc, chan error) {
	t.Helper()
	cfg := &config.Config{Listen: "127.0.0.1:0", DataDir: t.TempDir(), LogFormat: "text", Auth: config.AuthStrict,
		AccountID: "000000000000", Driver: "fake", Region: "us-east-1"}
	if err := cfg.Finish(); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	srv, err := New(ctx, cfg, "test", slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx, l) }()
	return "http://" + l.Addr().String(), srv, cancel, done
}

func TestHealthResetAndShutdown(t *testing.T) {
	url, srv, cancel, done := startServer(t)
	// A sandbox of an owner no controller claims (EC2's would delete an
	// instance sandbox without an instance record as an orphan).
	sb, err := srv.host.Run(context.Background(), substrate.RunSpec{
		Owner:   substrate.Owner{Kind: "test-sandbox", Account: "000000000000", Region: "us-east-1", ResourceID: "t-1"},
		RootDir: t.TempDir(), Command: fake.Command(fake.Behavior{Duration: fake.Forever}),
	})
	if err != nil {
		t.Fatal(err)
	}
	var health map[string]any
	resp, err := http.Get(url + "/_nimbus/health")
	if err != nil {
		t.Fatal(err)
	}
	json.NewDecoder(resp.Body).Decode(&health)
	resp.Body.Close()
	drivers, _ := health["drivers"].(map[string]any)
	if health["status"] != "ok" || drivers["driver"] != "fake" || health["auth"] != "strict" {
		t.Errorf("health = %v", health)
	}
	if n, _ := drivers["sandboxes"].(map[string]any)["running"].(float64); n != 1 {
		t.Errorf("health sandboxes = %v", drivers["sandboxes"])
	}
	resp, err = http.Post(url+"/_nimbus/reset?service=ec2", "", nil)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.Contains(string(body), `"ec2"`) {
		t.Errorf("reset: %d %s", resp.StatusCode, body)
	}
	if _, err := srv.host.Get(context.Background(), sb.ID); err != nil {
		t.Errorf("a reset of EC2 deleted a sandbox EC2 does not own: %v", err)
	}
	resp, err = http.Post(url+"/_nimbus/reset", "", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if _, err := srv.host.Get(context.Background(), sb.ID); err == nil {
		t.Error("a full reset left a sandbox")
	}
	resp, err = http.Post(url+"/_nimbus/reset?service=nope", "", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 500 {
		t.Errorf("reset of an unknown service: %d", resp.StatusCode)
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("shutdown: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no shutdown")
	}
}

package s3

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/nimbus-dev/nimbus/internal/identity"
	"github.com/nimbus-dev/nimbus/internal/store/sqlitestore"
)

// rootContext is a request context of the test account's root user, for
// calling handlers without the edge.
func rootContext() context.Context {
	return identity.With(context.Background(), &identity.Call{Region: "us-east-1", RequestID: "test-request",
		Principal: &identity.Principal{Type: identity.Root, Account: account, ARN: identity.RootARN(account), UserID: account}})
}

func openAPI(t testing.TB, dir string) (*API, func()) {
	t.Helper()
	st, err := sqlitestore.Open(context.Background(), filepath.Join(dir, "nimbus.db"))
	if err != nil {
		t.Fatal(err)
	}
	a, err := New(context.Background(), Options{Store: st, DataDir: dir, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		st.Close()
		t.Fatal(err)
	}
	return a, func() { st.Close() }
}

// stallingReader yields n bytes, then blocks for ever: an upload whose
// client stopped sending while nimbus was killed.
type stallingReader struct{ n int }

func (r *stallingReader) Read(p []byte) (int, error) {
	if r.n == 0 {
		select {}
	}
	k := min(len(p), r.n)
	for i := range p[:k] {
		p[i] = 'x'
	}
	r.n -= k
	return k, nil
}

// TestCrashWriterProcess is the process TestCrashDuringPutKeepsOldObject
// kills with SIGKILL in the middle of a PutObject.
func TestCrashWriterProcess(t *testing.T) {
	dir := os.Getenv("NIMBUS_S3_CRASH_DIR")
	if dir == "" {
		t.Skip("helper process for TestCrashDuringPutKeepsOldObject; runs only when that test starts it")
	}
	a, closeStore := openAPI(t, dir)
	defer closeStore()
	_, err := a.putObject(rootContext(), map[string]any{"Bucket": "crash", "Key": "obj", "Body": io.Reader(&stallingReader{n: 4 << 20})})
	t.Fatalf("PutObject returned (%v) from a body that never ends", err)
}

func TestCrashDuringPutKeepsOldObject(t *testing.T) {
	dir := t.TempDir()
	a, closeStore := openAPI(t, dir)
	c := rootContext()
	if _, err := a.createBucket(c, map[string]any{"Bucket": "crash"}); err != nil {
		t.Fatal(err)
	}
	old := []byte("the acknowledged version")
	if _, err := a.putObject(c, map[string]any{"Bucket": "crash", "Key": "obj", "Body": io.Reader(bytes.NewReader(old))}); err != nil {
		t.Fatal(err)
	}
	closeStore()

	cmd := exec.Command(os.Args[0], "-test.run=^TestCrashWriterProcess$", "-test.count=1")
	cmd.Env = append(os.Environ(), "NIMBUS_S3_CRASH_DIR="+dir)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	// Kill it once the new version's bytes are on disk but not complete.
	deadline := time.Now().Add(20 * time.Second)
	for {
		entries, _ := os.ReadDir(filepath.Join(dir, "s3", "tmp"))
		partial := false
		for _, e := range entries {
			if info, err := e.Info(); err == nil && info.Size() >= 4<<20 {
				partial = true
			}
		}
		if partial {
			break
		}
		if time.Now().After(deadline) {
			cmd.Process.Kill()
			cmd.Wait()
			t.Fatal("the writer process never wrote the partial object")
		}
		time.Sleep(10 * time.Millisecond)
	}
	if err := cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	cmd.Wait()

	// An orphan as a crash between a blob's rename and its commit leaves.
	orphan := filepath.Join(dir, "s3", "blobs", newBlobName())
	if err := os.WriteFile(orphan, []byte("never committed"), 0o600); err != nil {
		t.Fatal(err)
	}

	a, closeStore = openAPI(t, dir)
	defer closeStore()
	out, err := a.getObject(c, map[string]any{"Bucket": "crash", "Key": "obj"})
	if err != nil {
		t.Fatal(err)
	}
	rc := out.(map[string]any)["Body"].(io.ReadCloser)
	got, _ := io.ReadAll(rc)
	rc.Close()
	if !bytes.Equal(got, old) {
		t.Fatalf("after a crash mid-PUT the object reads %d bytes %.20q, want the old version", len(got), got)
	}
	if entries, _ := os.ReadDir(filepath.Join(dir, "s3", "tmp")); len(entries) != 0 {
		t.Errorf("%d temporary files left after restart", len(entries))
	}
	if _, err := os.Stat(orphan); !os.IsNotExist(err) {
		t.Errorf("orphan blob not swept: %v", err)
	}
	if entries, _ := os.ReadDir(filepath.Join(dir, "s3", "blobs")); len(entries) != 1 {
		t.Errorf("%d blobs after restart, want the old version's 1", len(entries))
	}
}

package runner

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/nimbus-dev/nimbus/internal/network/nettest"
	"github.com/nimbus-dev/nimbus/internal/sandbox/oci"
	"github.com/nimbus-dev/nimbus/internal/store/sqlitestore"
	"github.com/nimbus-dev/nimbus/internal/substrate"
)

// TestMain lets the test binary serve as the oci driver's sandbox shim and
// as the Runtime API proxy, as the nimbus binary does.
func TestMain(m *testing.M) {
	if len(os.Args) > 1 && os.Args[1] == oci.ShimCommand {
		os.Exit(oci.ShimMain(os.Args[2:]))
	}
	if len(os.Args) > 1 && os.Args[1] == ProxyCommand {
		os.Exit(ProxyMain(os.Args[2:]))
	}
	os.Exit(m.Run())
}

const (
	testAccount = "123456789012"
	testRegion  = "us-east-1"
)

// memorySink is a LogSink that keeps what it is sent.
type memorySink struct {
	mu      sync.Mutex
	streams map[string][]LogEvent // by group + " " + stream
}

func (s *memorySink) Ship(ctx context.Context, dest LogDestination, events []LogEvent) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.streams == nil {
		s.streams = map[string][]LogEvent{}
	}
	if dest.Account == "" || dest.Region == "" {
		return fmt.Errorf("lines for %s without an account or region", dest.Group)
	}
	key := dest.Group + " " + dest.Stream
	s.streams[key] = append(s.streams[key], events...)
	return nil
}

func (s *memorySink) snapshot() map[string][]LogEvent {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := map[string][]LogEvent{}
	for k, v := range s.streams {
		out[k] = append([]LogEvent(nil), v...)
	}
	return out
}

// ociPool is a Pool over a real Host (runc, a test-private network).
func ociPool(tb testing.TB, opts Options) *Pool {
	tb.Helper()
	nettest.RequireHost(tb, "runs Lambda sandboxes with runc on a private network", "runc", "nft")
	netOpts := nettest.Private(tb, "nbl", 230, 10)
	netOpts.NetNSDir = filepath.Join("/run/nimbus", "runner-test-"+strings.TrimPrefix(netOpts.TableName, "nbl"), "netns")
	dir := tb.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	st, err := sqlitestore.Open(ctx, filepath.Join(dir, "nimbus.db"), sqlitestore.WithoutFsync())
	if err != nil {
		tb.Fatalf("open store: %v", err)
	}
	h, err := substrate.Open(ctx, substrate.Options{DataDir: filepath.Join(dir, "data"), Store: st, Driver: substrate.DriverOCI, Runtime: "runc", Network: netOpts})
	if err != nil {
		st.Close()
		tb.Fatalf("open host: %v", err)
	}
	if h.Network() == nil {
		tb.Fatalf("networking unavailable: %s", h.Info().NetworkReason)
	}
	opts.Host = h
	opts.DataDir = filepath.Join(dir, "data")
	opts.RuntimeAPIPort = netOpts.MetadataPort + 1
	p, err := New(ctx, opts)
	if err != nil {
		tb.Fatalf("New: %v", err)
	}
	tb.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if err := p.Close(ctx); err != nil {
			tb.Errorf("close pool: %v", err)
		}
		if left, _ := h.List(ctx, map[string]string{substrate.LabelKind: OwnerKind}); len(left) != 0 {
			tb.Errorf("Close left %d sandboxes", len(left))
		}
		if err := h.Reset(ctx, nil); err != nil {
			tb.Errorf("reset: %v", err)
		}
		if m := h.Network(); m != nil {
			if err := m.Teardown(ctx); err != nil {
				tb.Errorf("network teardown: %v", err)
			}
		}
		h.Close()
		st.Close()
		unix.Unmount(netOpts.NetNSDir, unix.MNT_DETACH)
		os.RemoveAll(filepath.Dir(netOpts.NetNSDir))
	})
	return p
}

// codeDir writes a function's files into a directory the sandbox user can
// read, as an unpacked deployment package is.
func codeDir(tb testing.TB, files map[string]string) string {
	tb.Helper()
	dir := filepath.Join(tb.TempDir(), "code")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		tb.Fatal(err)
	}
	for name, content := range files {
		mode := os.FileMode(0o644)
		if name == "bootstrap" {
			mode = 0o755
		}
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), mode); err != nil {
			tb.Fatal(err)
		}
	}
	// t.TempDir's own directories are 0700; the sandbox user must get in.
	for d := dir; d != "/" && d != os.TempDir(); d = filepath.Dir(d) {
		os.Chmod(d, 0o755)
	}
	return dir
}

var goHello struct {
	once sync.Once
	path string
	err  error
}

// goHelloCode is a code directory whose bootstrap is lambdart's gohello,
// an unmodified aws-lambda-go function, built once per test binary.
func goHelloCode(tb testing.TB) string {
	tb.Helper()
	goHello.once.Do(func() {
		dir, err := os.MkdirTemp("", "runner-gohello-")
		if err != nil {
			goHello.err = err
			return
		}
		os.Chmod(dir, 0o755)
		_, self, _, _ := runtime.Caller(0)
		src := filepath.Join(filepath.Dir(self), "..", "..", "lambdart", "testfunctions", "gohello")
		cmd := exec.Command("go", "build", "-o", filepath.Join(dir, "bootstrap"), ".")
		cmd.Dir = src
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		if out, err := cmd.CombinedOutput(); err != nil {
			goHello.err = fmt.Errorf("go build gohello: %w\n%s", err, out)
			return
		}
		goHello.path = dir
	})
	if goHello.err != nil {
		tb.Fatal(goHello.err)
	}
	return goHello.path
}

// function is a test function of the given runtime over code.
func function(name, rt, handler, code string) *Function {
	return &Function{
		Account: testAccount, Region: testRegion, Name: name, Version: "$LATEST",
		ARN:     "arn:aws:lambda:" + testRegion + ":" + testAccount + ":function:" + name,
		Runtime: rt, Handler: handler, CodeDir: code,
		MemoryMB: 256, Timeout: 5 * time.Second, EphemeralMB: 512,
		LogGroup: "/aws/lambda/" + name, Revision: "r1", UnreservedPool: 100,
	}
}

func newRequestID() string {
	b := make([]byte, 16)
	rand.Read(b)
	h := hex.EncodeToString(b)
	return h[:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}

func request(payload string) *Request {
	return &Request{RequestID: newRequestID(), Payload: []byte(payload)}
}

func mustInvoke(tb testing.TB, p *Pool, fn *Function, req *Request) *Result {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	res, err := p.Invoke(ctx, fn, req)
	if err != nil {
		tb.Fatalf("invoke %s: %v", fn.Name, err)
	}
	return res
}

// hostPython is the python3.X runtime name of the host's Debian python3.
func hostRuntimeName(tb testing.TB, probe string, args ...string) string {
	tb.Helper()
	out, err := exec.Command(probe, args...).Output()
	if err != nil {
		tb.Skipf("needs %s: %v", probe, err)
	}
	return strings.TrimSpace(string(out))
}

func pythonRuntime(tb testing.TB) string {
	return hostRuntimeName(tb, "/usr/bin/python3", "-c", `import sys; print("python%d.%d" % sys.version_info[:2])`)
}

func nodeRuntime(tb testing.TB) string {
	return hostRuntimeName(tb, "/usr/bin/node", "-e", `console.log("nodejs" + process.versions.node.split(".")[0] + ".x")`)
}

func eventually(tb testing.TB, d time.Duration, what string, ok func() bool) {
	tb.Helper()
	deadline := time.Now().Add(d)
	for !ok() {
		if time.Now().After(deadline) {
			tb.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// viaProxy is Options whose zip-packaged sandboxes reach the Runtime API
// through the in-sandbox proxy (this test binary) instead of a network.
func viaProxy(tb testing.TB, opts Options) Options {
	tb.Helper()
	exe, err := os.Executable()
	if err != nil {
		tb.Fatal(err)
	}
	opts.RuntimeAPIProxy = exe
	return opts
}

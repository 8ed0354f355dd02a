package imds

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"sync"
	"testing"
	"time"
)

// fakeLookup is a Lookup over a map, safe for concurrent use.
type fakeLookup struct {
	mu        sync.Mutex
	instances map[string]*Instance // by sandbox ID
	err       error                // returned for every lookup when set
}

func (f *fakeLookup) InstanceForSandbox(_ context.Context, sandboxID string) (*Instance, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.err != nil {
		return nil, f.err
	}
	in, ok := f.instances[sandboxID]
	if !ok {
		return nil, ErrNotFound
	}
	return in, nil
}

type sandboxKey struct{}

// withSandbox marks a request as coming from a sandbox, as the network
// layer does.
func withSandbox(r *http.Request, id string) *http.Request {
	return r.WithContext(context.WithValue(r.Context(), sandboxKey{}, id))
}

func callerFromTestContext(ctx context.Context) (string, bool) {
	id, ok := ctx.Value(sandboxKey{}).(string)
	return id, ok
}

// testClock is a settable clock.
type testClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *testClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *testClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

var launch = time.Date(2026, 11, 27, 21, 4, 5, 0, time.UTC)

func sampleInstance() *Instance {
	return &Instance{
		AccountID:          "123456789012",
		Region:             "us-east-1",
		AvailabilityZone:   "us-east-1a",
		AvailabilityZoneID: "use1-az1",
		InstanceID:         "i-0123456789abcdef0",
		InstanceType:       "t3.micro",
		ImageID:            "ami-0abcdef1234567890",
		LaunchIndex:        2,
		ReservationID:      "r-0fedcba9876543210",
		PendingTime:        launch,
		PrivateIP:          netip.MustParseAddr("10.213.0.5"),
		MAC:                "0E:49:61:0F:C3:11",
		InterfaceID:        "eni-0a1b2c3d4e5f60718",
		SubnetID:           "subnet-0aa",
		SubnetCIDR:         "172.31.0.0/20",
		VPCID:              "vpc-0bb",
		VPCCIDR:            "172.31.0.0/16",
		SecurityGroups: []SecurityGroup{
			{ID: "sg-0001", Name: "default"},
			{ID: "sg-0002", Name: "web"},
		},
		PublicKeys: []PublicKey{{Name: "my-key", OpenSSH: "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIExample my-key"}},
		EBSDevices: map[string]string{"ebs1": "sdf"},
		UserData:   []byte("#!/bin/sh\necho hello\n"),
		Tags:       map[string]string{"Name": "web-1", "env": "test"},
	}
}

type harness struct {
	t      testing.TB
	h      *Handler
	lookup *fakeLookup
	clock  *testClock
}

func newHarness(t testing.TB, instances map[string]*Instance, opts ...Option) *harness {
	clock := &testClock{now: launch.Add(time.Hour)}
	lookup := &fakeLookup{instances: instances}
	opts = append([]Option{WithClock(clock.Now), WithCaller(callerFromTestContext)}, opts...)
	return &harness{t: t, h: New(lookup, opts...), lookup: lookup, clock: clock}
}

type response struct {
	status int
	header http.Header
	body   string
}

// do sends one request from sandbox through the handler; headers are
// name, value pairs.
func (hs *harness) do(sandbox, method, path string, headers ...string) response {
	hs.t.Helper()
	r := httptest.NewRequest(method, "http://169.254.169.254"+path, nil)
	for i := 0; i+1 < len(headers); i += 2 {
		r.Header.Add(headers[i], headers[i+1])
	}
	if sandbox != "" {
		r = withSandbox(r, sandbox)
	}
	w := httptest.NewRecorder()
	hs.h.ServeHTTP(w, r)
	res := w.Result()
	body, err := io.ReadAll(res.Body)
	if err != nil {
		hs.t.Fatal(err)
	}
	return response{status: res.StatusCode, header: res.Header, body: string(body)}
}

func (hs *harness) token(sandbox string, ttl string) string {
	hs.t.Helper()
	res := hs.do(sandbox, http.MethodPut, "/latest/api/token", HeaderTokenTTL, ttl)
	if res.status != http.StatusOK || res.body == "" {
		hs.t.Fatalf("PUT token: %d %q", res.status, res.body)
	}
	return res.body
}

var errBackend = errors.New("store unavailable")

func mustAddr(t testing.TB, s string) netip.Addr {
	t.Helper()
	a, err := netip.ParseAddr(s)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

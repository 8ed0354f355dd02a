package imds

import (
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"syscall"
	"testing"
	"time"
)

// ttlRecordingListener hands out connections that report their socket's
// IP_TTL when closed, which is after the handler wrote its response.
type ttlRecordingListener struct {
	net.Listener
	ttls chan int
}

func (l ttlRecordingListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return &ttlRecordingConn{TCPConn: c.(*net.TCPConn), ttls: l.ttls}, nil
}

type ttlRecordingConn struct {
	*net.TCPConn
	ttls chan int
}

func (c *ttlRecordingConn) Close() error {
	if raw, err := c.SyscallConn(); err == nil {
		raw.Control(func(fd uintptr) {
			if v, err := syscall.GetsockoptInt(int(fd), syscall.IPPROTO_IP, syscall.IP_TTL); err == nil {
				select {
				case c.ttls <- v:
				default:
				}
			}
		})
	}
	return c.TCPConn.Close()
}

// The hop limit is applied as the IP TTL of the token response's socket.
// That such a response then dies one routing hop away is shown by
// TestHopLimitThroughNestedNamespace (root only); this test runs anywhere.
func TestTokenResponseHopLimit(t *testing.T) {
	in := sampleInstance()
	lookup := &fakeLookup{instances: map[string]*Instance{"sb-1": in}}
	h := New(lookup, WithCaller(func(context.Context) (string, bool) { return "sb-1", true }))
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ttls := make(chan int, 1)
	srv := httptest.NewUnstartedServer(h)
	srv.Listener.Close()
	srv.Listener = ttlRecordingListener{Listener: ln, ttls: ttls}
	srv.Start()
	defer srv.Close()

	for _, hops := range []int{0, 1, 3, 64} {
		t.Run(strconv.Itoa(hops), func(t *testing.T) {
			lookup.mu.Lock()
			in.Options.HTTPPutResponseHopLimit = hops
			lookup.mu.Unlock()
			req, err := http.NewRequest(http.MethodPut, srv.URL+"/latest/api/token", nil)
			if err != nil {
				t.Fatal(err)
			}
			req.Header.Set(HeaderTokenTTL, "120")
			resp, err := srv.Client().Do(req)
			if err != nil {
				t.Fatal(err)
			}
			token, err := io.ReadAll(resp.Body)
			resp.Body.Close()
			if err != nil || resp.StatusCode != http.StatusOK || len(token) == 0 {
				t.Fatalf("PUT token: %d %q %v", resp.StatusCode, token, err)
			}
			if got := resp.Header.Get(HeaderTokenTTL); got != "120" {
				t.Errorf("TTL header %q, want 120", got)
			}
			if _, err := h.tokens.verify(string(token), in.InstanceID, time.Now()); err != nil {
				t.Errorf("token from the hijacked response does not verify: %v", err)
			}
			want := max(hops, 1)
			select {
			case got := <-ttls:
				if got != want {
					t.Errorf("token response socket TTL %d, want %d", got, want)
				}
			case <-time.After(5 * time.Second):
				t.Fatal("token connection was not closed")
			}
		})
	}

	// Ordinary GETs keep the default TTL and a keep-alive connection.
	resp, err := srv.Client().Get(srv.URL + "/latest/meta-data/instance-id")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if string(body) != in.InstanceID {
		t.Errorf("GET after token requests: %q", body)
	}
}

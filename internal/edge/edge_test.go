package edge_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/aws/smithy-go"

	"github.com/nimbus-dev/nimbus/internal/awserr"
	nimbuscreds "github.com/nimbus-dev/nimbus/internal/credentials"
	nimbusec2 "github.com/nimbus-dev/nimbus/internal/ec2"
	"github.com/nimbus-dev/nimbus/internal/edge"
	"github.com/nimbus-dev/nimbus/internal/identity"
	"github.com/nimbus-dev/nimbus/internal/metrics"
	"github.com/nimbus-dev/nimbus/internal/region"
	"github.com/nimbus-dev/nimbus/internal/service"
	"github.com/nimbus-dev/nimbus/internal/sigv4"
	"github.com/nimbus-dev/nimbus/internal/store/sqlitestore"
	nimbussts "github.com/nimbus-dev/nimbus/internal/sts"
)

type fixture struct {
	url     string
	metrics *metrics.Registry
}

func newFixture(t testing.TB, anyAuth bool, extra ...*service.Service) *fixture {
	t.Helper()
	st, err := sqlitestore.Open(context.Background(), filepath.Join(t.TempDir(), "nimbus.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	regions, _ := region.NewCatalog(nil, false)
	stsSvc, err := nimbussts.New()
	if err != nil {
		t.Fatal(err)
	}
	ec2Svc, err := nimbusec2.New(nimbusec2.Options{Store: st, Regions: regions})
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range append([]*service.Service{stsSvc, ec2Svc}, extra...) {
		if err := s.Check(); err != nil {
			t.Fatal(err)
		}
	}
	reg := metrics.New()
	srv, err := edge.New(edge.Options{
		Services:    append([]*service.Service{stsSvc, ec2Svc}, extra...),
		Credentials: nimbuscreds.Root("000000000000", "test", "test"),
		AnyAuth:     anyAuth,
		Account:     "000000000000",
		Regions:     regions,
		Region:      "us-east-1",
		Logger:      slog.New(slog.NewTextHandler(io.Discard, nil)),
		Metrics:     reg,
	})
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(srv)
	t.Cleanup(hs.Close)
	return &fixture{url: hs.URL, metrics: reg}
}

func (f *fixture) cfg(key, secret string) aws.Config {
	return aws.Config{Region: "us-east-1", BaseEndpoint: aws.String(f.url), RetryMaxAttempts: 1,
		Credentials: credentials.NewStaticCredentialsProvider(key, secret, "")}
}

func TestConcurrentRequests(t *testing.T) {
	f := newFixture(t, false)
	stsc := sts.NewFromConfig(f.cfg("test", "test"))
	ec2c := ec2.NewFromConfig(f.cfg("test", "test"))
	var wg sync.WaitGroup
	errs := make(chan error, 64)
	for i := 0; i < 16; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := 0; j < 10; j++ {
				if _, err := stsc.GetCallerIdentity(context.Background(), &sts.GetCallerIdentityInput{}); err != nil {
					errs <- err
					return
				}
				if _, err := ec2c.DescribeRegions(context.Background(), &ec2.DescribeRegionsInput{}); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	var b strings.Builder
	f.metrics.Write(&b)
	if !strings.Contains(b.String(), `nimbus_requests_total{service="sts",operation="GetCallerIdentity",code="200"} 160`) {
		t.Errorf("metrics:\n%s", b.String())
	}
}

func TestRequestIDHeaderAndFormat(t *testing.T) {
	f := newFixture(t, false)
	_, err := sts.NewFromConfig(f.cfg("test", "wrong")).GetCallerIdentity(context.Background(), &sts.GetCallerIdentityInput{})
	var re interface{ ServiceRequestID() string }
	if !errors.As(err, &re) || len(re.ServiceRequestID()) != 36 {
		t.Fatalf("no request ID on an error: %v", err)
	}
	seen := map[string]bool{}
	for i := 0; i < 1000; i++ {
		id := edge.NewRequestID()
		if seen[id] || id[14] != '4' || strings.Count(id, "-") != 4 {
			t.Fatalf("bad or repeated request ID %q", id)
		}
		seen[id] = true
	}
}

func TestAnyAuthAcceptsEveryKey(t *testing.T) {
	f := newFixture(t, true)
	out, err := sts.NewFromConfig(f.cfg("AKIAANYTHING", "whatever")).GetCallerIdentity(context.Background(), &sts.GetCallerIdentityInput{})
	if err != nil || aws.ToString(out.Arn) != "arn:aws:iam::000000000000:root" {
		t.Fatalf("any auth: %+v %v", out, err)
	}
}

// A handler's error kinds reach the client as each protocol's codes.
func TestHandlerErrorsAndPanicsStayInside(t *testing.T) {
	boom, err := service.New("sts")
	if err != nil {
		t.Fatal(err)
	}
	// Replace GetCallerIdentity on a second STS service mounted alone.
	boom.Handle("GetCallerIdentity", func(ctx context.Context, in map[string]any) (any, error) {
		if identity.From(ctx).Region == "eu-west-1" {
			return nil, errors.New("disk on fire")
		}
		return nil, awserr.New(awserr.Throttled, "", "slow down")
	})
	regions, _ := region.NewCatalog(nil, false)
	srv, err := edge.New(edge.Options{Services: []*service.Service{boom}, Regions: regions,
		Credentials: nimbuscreds.Root("000000000000", "test", "test"), Account: "000000000000",
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(srv)
	defer hs.Close()
	f := &fixture{url: hs.URL}
	_, err = sts.NewFromConfig(f.cfg("test", "test")).GetCallerIdentity(context.Background(), &sts.GetCallerIdentityInput{})
	var ae smithy.APIError
	if !errors.As(err, &ae) || ae.ErrorCode() != "Throttling" {
		t.Errorf("throttled: %v", err)
	}
	cfg := f.cfg("test", "test")
	cfg.Region = "eu-west-1"
	_, err = sts.NewFromConfig(cfg).GetCallerIdentity(context.Background(), &sts.GetCallerIdentityInput{})
	if !errors.As(err, &ae) || ae.ErrorCode() != "InternalFailure" || strings.Contains(ae.ErrorMessage(), "fire") {
		t.Errorf("internal error leaked or mis-coded: %v", err)
	}
	resp, err := http.Get(hs.URL + "/_nimbus/health")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode < 400 || resp.StatusCode >= 500 {
		t.Errorf("internal path without an internal handler: %d", resp.StatusCode)
	}
}

func BenchmarkGetCallerIdentity(b *testing.B) {
	f := newFixture(b, false)
	c := sts.NewFromConfig(f.cfg("test", "test"))
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := c.GetCallerIdentity(context.Background(), &sts.GetCallerIdentityInput{}); err != nil {
				b.Fatal(err)
			}
		}
	})
}

func BenchmarkDescribeRegions(b *testing.B) {
	f := newFixture(b, false)
	c := ec2.NewFromConfig(f.cfg("test", "test"))
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := c.DescribeRegions(context.Background(), &ec2.DescribeRegionsInput{}); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// A host route takes its requests before any API routing or SigV4; other
// hosts still reach the APIs.
func TestHostRoutesComeFirst(t *testing.T) {
	svc, err := service.New("sts")
	if err != nil {
		t.Fatal(err)
	}
	svc.Handle("GetCallerIdentity", func(ctx context.Context, in map[string]any) (any, error) {
		return map[string]any{"Account": "000000000000"}, nil
	})
	regions, _ := region.NewCatalog(nil, false)
	srv, err := edge.New(edge.Options{Services: []*service.Service{svc}, Regions: regions,
		Credentials: nimbuscreds.Root("000000000000", "test", "test"), Account: "000000000000",
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
		Hosts: []edge.HostRoute{{
			Match: func(host string) bool { return strings.HasPrefix(host, "fn.") },
			Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.WriteHeader(http.StatusTeapot)
				io.WriteString(w, r.Host+" "+r.URL.Path)
			}),
		}}})
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(srv)
	defer hs.Close()
	req, _ := http.NewRequest(http.MethodGet, hs.URL+"/hello", nil)
	req.Host = "fn.lambda-url.us-east-1.localhost"
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusTeapot || string(body) != "fn.lambda-url.us-east-1.localhost /hello" {
		t.Errorf("host route: %d %q", resp.StatusCode, body)
	}
	f := &fixture{url: hs.URL}
	out, err := sts.NewFromConfig(f.cfg("test", "test")).GetCallerIdentity(context.Background(), &sts.GetCallerIdentityInput{})
	if err != nil || aws.ToString(out.Account) != "000000000000" {
		t.Errorf("API request beside a host route: %v %v", out, err)
	}
}

// Authenticate checks a host route's signed request and leaves its body for
// the handler.
func TestAuthenticateForHostRoutes(t *testing.T) {
	regions, _ := region.NewCatalog(nil, false)
	var srv *edge.Server
	type answer struct {
		arn, body string
		err       error
	}
	got := make(chan answer, 1)
	srv, err := edge.New(edge.Options{Regions: regions,
		Credentials: nimbuscreds.Root("000000000000", "test", "test"), Account: "000000000000",
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
		Hosts: []edge.HostRoute{{
			Match: func(host string) bool { return strings.HasPrefix(host, "fn.") },
			Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				p, err := srv.Authenticate(r)
				body, _ := io.ReadAll(r.Body)
				a := answer{body: string(body), err: err}
				if p != nil {
					a.arn = p.ARN
				}
				got <- a
			}),
		}}})
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(srv)
	defer hs.Close()
	send := func(secret string, sign bool) answer {
		t.Helper()
		body := `{"hello":"url"}`
		req, _ := http.NewRequest(http.MethodPost, hs.URL+"/x", strings.NewReader(body))
		req.Host = "fn.lambda-url.us-east-1.localhost"
		if sign {
			sum := sha256.Sum256([]byte(body))
			signer := v4.NewSigner()
			if err := signer.SignHTTP(context.Background(), aws.Credentials{AccessKeyID: "test", SecretAccessKey: secret},
				req, hex.EncodeToString(sum[:]), "lambda", "us-east-1", time.Now()); err != nil {
				t.Fatal(err)
			}
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return <-got
	}
	if a := send("test", true); a.err != nil || a.arn != "arn:aws:iam::000000000000:root" || a.body != `{"hello":"url"}` {
		t.Errorf("signed: %+v", a)
	}
	if a := send("wrong", true); !errors.Is(a.err, sigv4.ErrSignatureMismatch) {
		t.Errorf("wrong secret: %+v", a)
	}
	if a := send("", false); !errors.Is(a.err, sigv4.ErrNoAuth) {
		t.Errorf("unsigned: %+v", a)
	}
}

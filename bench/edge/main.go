// Command edge measures the foundation's figures against a real nimbus
// binary: start to first answered request, idle resident memory, and the
// throughput and latency of STS GetCallerIdentity and EC2 DescribeRegions
// through aws-sdk-go-v2 with SigV4 over loopback.
//
//	go run ./bench/edge -bin bin/nimbus -duration 10s -concurrency 32
package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/sts"
)

func main() {
	bin := flag.String("bin", os.Getenv("NIMBUS_BIN"), "nimbus binary")
	duration := flag.Duration("duration", 10*time.Second, "load duration per operation")
	conc := flag.Int("concurrency", 32, "concurrent clients")
	flag.Parse()
	if *bin == "" {
		*bin = "bin/nimbus"
	}
	if err := run(*bin, *duration, *conc); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

func freeAddr() string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		panic(err)
	}
	defer l.Close()
	return l.Addr().String()
}

func rssKiB(pid int) int {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return -1
	}
	for _, line := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(line, "VmRSS:") {
			f := strings.Fields(line)
			v, _ := strconv.Atoi(f[1])
			return v
		}
	}
	return -1
}

func run(bin string, duration time.Duration, conc int) error {
	data, err := os.MkdirTemp("", "nimbus-bench")
	if err != nil {
		return err
	}
	defer os.RemoveAll(data)
	addr := freeAddr()
	url := "http://" + addr

	// Start to first answered request: exec until /_nimbus/health answers.
	start := time.Now()
	cmd := exec.Command(bin, "serve", "--listen", addr, "--data", data, "--log-level", "warn")
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		return err
	}
	defer func() { cmd.Process.Kill(); cmd.Wait() }()
	hc := &http.Client{Timeout: time.Second}
	for {
		resp, err := hc.Get(url + "/_nimbus/health")
		if err == nil {
			resp.Body.Close()
			break
		}
		if time.Since(start) > 10*time.Second {
			return fmt.Errorf("nimbus did not start")
		}
		time.Sleep(time.Millisecond)
	}
	startup := time.Since(start)
	time.Sleep(2 * time.Second)
	idle := rssKiB(cmd.Process.Pid)

	cfg := aws.Config{
		Region:           "us-east-1",
		Credentials:      credentials.NewStaticCredentialsProvider("test", "test", ""),
		BaseEndpoint:     aws.String(url),
		RetryMaxAttempts: 1,
		HTTPClient: &http.Client{Transport: &http.Transport{
			MaxIdleConns: conc * 2, MaxIdleConnsPerHost: conc * 2, IdleConnTimeout: time.Minute,
		}},
	}
	stsc := sts.NewFromConfig(cfg)
	ec2c := ec2.NewFromConfig(cfg)
	ops := []struct {
		name string
		call func(context.Context) error
	}{
		{"sts GetCallerIdentity", func(ctx context.Context) error {
			_, err := stsc.GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
			return err
		}},
		{"ec2 DescribeRegions", func(ctx context.Context) error {
			_, err := ec2c.DescribeRegions(ctx, &ec2.DescribeRegionsInput{})
			return err
		}},
	}
	fmt.Printf("start to first answered request: %.1f ms\n", float64(startup.Microseconds())/1000)
	fmt.Printf("idle resident memory: %.1f MiB\n", float64(idle)/1024)
	fmt.Printf("%-24s %11s %9s %9s %9s %7s\n", "operation", "requests/s", "p50 ms", "p99 ms", "max ms", "errors")
	for _, op := range ops {
		// Warm up connections and models.
		for i := 0; i < 200; i++ {
			if err := op.call(context.Background()); err != nil {
				return fmt.Errorf("%s: %w", op.name, err)
			}
		}
		call := op.call
		res, err := measure(conc, duration, func() (func() error, func(), error) {
			return func() error { return call(context.Background()) }, func() {}, nil
		})
		if err != nil {
			return fmt.Errorf("%s: %w", op.name, err)
		}
		fmt.Printf("%-24s %11.0f %9.2f %9.2f %9.2f %7d\n", op.name, res.rate, res.p50, res.p99, res.max, res.errors)
	}
	fmt.Printf("resident memory after SDK load: %.1f MiB\n", float64(rssKiB(cmd.Process.Pid))/1024)

	// Server capacity without the SDK's client-side cost: each request was
	// signed once by the SDK's signer and is replayed byte for byte over
	// keep-alive connections; nimbus still verifies every signature.
	fmt.Printf("\nreplayed signed requests (server capacity, SigV4 verified each time):\n")
	fmt.Printf("%-24s %11s %9s %9s %9s %7s\n", "operation", "requests/s", "p50 ms", "p99 ms", "max ms", "errors")
	for _, rq := range []struct{ name, body string }{
		{"sts GetCallerIdentity", "Action=GetCallerIdentity&Version=2011-06-15"},
		{"ec2 DescribeRegions", "Action=DescribeRegions&Version=2016-11-15"},
	} {
		service := strings.Fields(rq.name)[0]
		raw, err := signedRequest(addr, service, rq.body)
		if err != nil {
			return err
		}
		res, err := replay(addr, raw, conc, duration)
		if err != nil {
			return fmt.Errorf("%s: %w", rq.name, err)
		}
		fmt.Printf("%-24s %11.0f %9.2f %9.2f %9.2f %7d\n", rq.name, res.rate, res.p50, res.p99, res.max, res.errors)
	}
	fmt.Printf("resident memory after replay load: %.1f MiB\n", float64(rssKiB(cmd.Process.Pid))/1024)
	return nil
}

// signedRequest returns the wire bytes of a SigV4-signed form POST.
func signedRequest(addr, service, body string) ([]byte, error) {
	req, err := http.NewRequest("POST", "http://"+addr+"/", strings.NewReader(body))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded; charset=utf-8")
	sum := sha256.Sum256([]byte(body))
	creds := aws.Credentials{AccessKeyID: "test", SecretAccessKey: "test"}
	if err := v4.NewSigner().SignHTTP(context.Background(), creds, req, hex.EncodeToString(sum[:]), service, "us-east-1", time.Now()); err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	if err := req.Write(&buf); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

type result struct {
	rate, p50, p99, max float64
	errors              int
}

// replay sends raw over conc keep-alive connections for d.
func replay(addr string, raw []byte, conc int, d time.Duration) (result, error) {
	return measure(conc, d, func() (func() error, func(), error) {
		conn, err := net.Dial("tcp", addr)
		if err != nil {
			return nil, nil, err
		}
		br := bufio.NewReader(conn)
		call := func() error {
			if _, err := conn.Write(raw); err != nil {
				return err
			}
			resp, err := http.ReadResponse(br, nil)
			if err != nil {
				return err
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode != 200 {
				return fmt.Errorf("status %d", resp.StatusCode)
			}
			return nil
		}
		return call, func() { conn.Close() }, nil
	})
}

// measure runs conc workers for d, each calling its own call in a loop, and
// returns the rate and latency percentiles. A worker whose call fails with
// a broken connection stops; other failures are counted.
func measure(conc int, d time.Duration, newWorker func() (call func() error, done func(), err error)) (result, error) {
	var mu sync.Mutex
	var lat []time.Duration
	errs := 0
	deadline := time.Now().Add(d)
	var wg sync.WaitGroup
	t0 := time.Now()
	for c := 0; c < conc; c++ {
		call, done, err := newWorker()
		if err != nil {
			return result{}, err
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer done()
			local := make([]time.Duration, 0, 1<<15)
			e := 0
			for time.Now().Before(deadline) {
				s := time.Now()
				if err := call(); err != nil {
					e++
					var ne net.Error
					if errors.As(err, &ne) || errors.Is(err, io.EOF) {
						break
					}
				}
				local = append(local, time.Since(s))
			}
			mu.Lock()
			lat = append(lat, local...)
			errs += e
			mu.Unlock()
		}()
	}
	wg.Wait()
	elapsed := time.Since(t0)
	if len(lat) == 0 {
		return result{}, fmt.Errorf("no request completed")
	}
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	pct := func(p float64) float64 { return float64(lat[int(float64(len(lat)-1)*p)].Microseconds()) / 1000 }
	return result{rate: float64(len(lat)) / elapsed.Seconds(), p50: pct(0.5), p99: pct(0.99), max: pct(1), errors: errs}, nil
}

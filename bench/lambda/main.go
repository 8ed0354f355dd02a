// Command lambda measures Lambda's figures end to end against a real nimbus
// binary on runc: cold and warm Invoke latency through aws-sdk-go-v2 with
// SigV4 over loopback, for an aws-lambda-go function (provided.al2023),
// Python and Node.js, and warm throughput with concurrent clients.
//
//	go run ./bench/lambda -bin bin/nimbus -cold 15 -warm 1000
package main

import (
	"archive/zip"
	"bytes"
	"context"
	"flag"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/lambda/types"
)

const role = "arn:aws:iam::000000000000:role/bench"

type runtimeCase struct {
	name, runtime, handler string
	files                  map[string][]byte
}

func main() {
	bin := flag.String("bin", os.Getenv("NIMBUS_BIN"), "nimbus binary")
	cold := flag.Int("cold", 15, "cold starts per runtime")
	warm := flag.Int("warm", 1000, "sequential warm invokes per runtime")
	conc := flag.Int("concurrency", 4, "clients for the throughput run")
	duration := flag.Duration("duration", 5*time.Second, "throughput run length")
	memory := flag.Int("memory", 1769, "function memory (MB); 1769 is one vCPU")
	logLevel := flag.String("log-level", "warn", "nimbus log level")
	flag.Parse()
	if *bin == "" {
		fail("-bin (or NIMBUS_BIN) is required")
	}
	if os.Geteuid() != 0 {
		fmt.Println("lambda bench: skipped: real sandboxes need root")
		return
	}
	dir, err := os.MkdirTemp("", "nimbus-bench-lambda")
	if err != nil {
		fail(err.Error())
	}
	defer os.RemoveAll(dir)
	goBin := filepath.Join(dir, "bootstrap")
	build := exec.Command("go", "build", "-o", goBin, "github.com/nimbus-dev/nimbus/internal/lambdart/testfunctions/gohello")
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		fail(fmt.Sprintf("build gohello: %v\n%s", err, out))
	}
	goCode, _ := os.ReadFile(goBin)

	addr := freeAddr()
	cmd := exec.Command(*bin, "serve", "--listen", addr, "--data", filepath.Join(dir, "data"), "--log-level", *logLevel, "--driver", "oci")
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		fail(err.Error())
	}
	defer func() {
		http.Post("http://"+addr+"/_nimbus/reset", "application/json", nil)
		cmd.Process.Signal(os.Interrupt)
		cmd.Wait()
	}()
	waitHealthy("http://" + addr)
	client := lambda.NewFromConfig(aws.Config{Region: "us-east-1", BaseEndpoint: aws.String("http://" + addr),
		Credentials: credentials.NewStaticCredentialsProvider("test", "test", ""), RetryMaxAttempts: 3})

	cases := []runtimeCase{
		{"go (aws-lambda-go)", "provided.al2023", "bootstrap", map[string][]byte{"bootstrap": goCode}},
		{"python3.11", "python3.11", "app.handler", map[string][]byte{"app.py": []byte("def handler(e, c):\n    return {'ok': True}\n")}},
		{"nodejs20.x", "nodejs20.x", "index.handler", map[string][]byte{"index.js": []byte("exports.handler = async (e) => ({ok: true});\n")}},
	}
	fmt.Printf("%-20s %10s %10s %10s %10s %12s\n", "runtime", "cold p50", "cold p99", "warm p50", "warm p99", "warm inv/s")
	for i, c := range cases {
		pkg := zipOf(c.files)
		var colds []time.Duration
		for j := 0; j < *cold; j++ {
			name := fmt.Sprintf("cold-%d-%d", i, j)
			create(client, name, c, pkg, *memory)
			colds = append(colds, timeInvoke(client, name))
		}
		name := fmt.Sprintf("warm-%d", i)
		create(client, name, c, pkg, *memory)
		timeInvoke(client, name) // the cold start
		var warms []time.Duration
		for j := 0; j < *warm; j++ {
			warms = append(warms, timeInvoke(client, name))
		}
		rate := throughput(client, name, *conc, *duration)
		fmt.Printf("%-20s %10s %10s %10s %10s %12.0f\n", c.name, pct(colds, 50), pct(colds, 99), pct(warms, 50), pct(warms, 99), rate)
	}
}

func create(client *lambda.Client, name string, c runtimeCase, pkg []byte, memory int) {
	ctx := context.Background()
	if _, err := client.CreateFunction(ctx, &lambda.CreateFunctionInput{FunctionName: aws.String(name), Role: aws.String(role),
		Runtime: types.Runtime(c.runtime), Handler: aws.String(c.handler), MemorySize: aws.Int32(int32(memory)),
		Code: &types.FunctionCode{ZipFile: pkg}}); err != nil {
		fail(fmt.Sprintf("create %s: %v", name, err))
	}
	w := lambda.NewFunctionActiveV2Waiter(client, func(o *lambda.FunctionActiveV2WaiterOptions) { o.MinDelay = 50 * time.Millisecond })
	if err := w.Wait(ctx, &lambda.GetFunctionInput{FunctionName: aws.String(name)}, time.Minute); err != nil {
		fail(fmt.Sprintf("wait %s: %v", name, err))
	}
}

func timeInvoke(client *lambda.Client, name string) time.Duration {
	start := time.Now()
	out, err := client.Invoke(context.Background(), &lambda.InvokeInput{FunctionName: aws.String(name), Payload: []byte(`{"message":"hi"}`)})
	d := time.Since(start)
	if err != nil || out.FunctionError != nil {
		fail(fmt.Sprintf("invoke %s: %v %s", name, err, out.Payload))
	}
	return d
}

func throughput(client *lambda.Client, name string, conc int, d time.Duration) float64 {
	var n atomic.Int64
	deadline := time.Now().Add(d)
	var wg sync.WaitGroup
	for i := 0; i < conc; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for time.Now().Before(deadline) {
				if _, err := client.Invoke(context.Background(), &lambda.InvokeInput{FunctionName: aws.String(name), Payload: []byte(`{}`)}); err == nil {
					n.Add(1)
				}
			}
		}()
	}
	wg.Wait()
	return float64(n.Load()) / d.Seconds()
}

func pct(ds []time.Duration, p int) string {
	if len(ds) == 0 {
		return "-"
	}
	s := append([]time.Duration(nil), ds...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	i := (len(s)*p+99)/100 - 1
	return fmt.Sprintf("%.1f ms", float64(s[max(i, 0)].Microseconds())/1000)
}

func zipOf(files map[string][]byte) []byte {
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for name, body := range files {
		h := &zip.FileHeader{Name: name, Method: zip.Deflate}
		h.SetMode(0o644)
		if name == "bootstrap" {
			h.SetMode(0o755)
		}
		w, _ := zw.CreateHeader(h)
		w.Write(body)
	}
	zw.Close()
	return buf.Bytes()
}

func freeAddr() string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		fail(err.Error())
	}
	defer l.Close()
	return l.Addr().String()
}

func waitHealthy(url string) {
	for i := 0; i < 300; i++ {
		if resp, err := http.Get(url + "/_nimbus/health"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	fail("nimbus did not become healthy")
}

func fail(msg string) {
	fmt.Fprintln(os.Stderr, "lambda bench:", msg)
	os.Exit(1)
}

package runner

import (
	"context"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"
)

// Benchmarks through Pool.Invoke on real runc sandboxes. Functions get
// 1769 MB, one full vCPU as in Lambda: at 128 MB the CFS quota (72
// thousandths of a CPU) and not nimbus sets the pace.
//
//	go test -run '^$' -bench . -benchtime 30x ./internal/lambda/runner

type benchRuntime struct {
	name, runtime, handler string
	code                   func(tb testing.TB) string
}

func benchRuntimes(b *testing.B) []benchRuntime {
	return []benchRuntime{
		{"go", "provided.al2023", "bootstrap", goHelloCode},
		{"python", pythonRuntime(b), "app.handler", func(tb testing.TB) string {
			return codeDir(tb, map[string]string{"app.py": "def handler(event, context):\n    return event\n"})
		}},
		{"node", nodeRuntime(b), "index.handler", func(tb testing.TB) string {
			return codeDir(tb, map[string]string{"index.js": "exports.handler = async (event) => event;\n"})
		}},
	}
}

// reportPercentiles adds p50 and p99 in ms of samples.
func reportPercentiles(b *testing.B, samples []time.Duration) {
	if len(samples) == 0 {
		return
	}
	slices.Sort(samples)
	at := func(q float64) float64 {
		return float64(samples[min(int(q*float64(len(samples))), len(samples)-1)]) / float64(time.Millisecond)
	}
	b.ReportMetric(at(0.50), "p50-ms")
	b.ReportMetric(at(0.99), "p99-ms")
}

// benchModes are the two ways a sandbox reaches its Runtime API, and the
// default one without warm spares (a cold start that finds none ready).
var benchModes = []struct {
	name string
	opts func(tb testing.TB) Options
}{
	{"network", func(testing.TB) Options { return Options{} }},
	{"network-nospare", func(testing.TB) Options { return Options{SparesPerShape: -1} }},
	{"proxy", func(tb testing.TB) Options { return viaProxy(tb, Options{}) }},
}

// sparesSettled waits until no spare is starting: the spares a cold start
// refills are made once, in the background, in the second or so after it;
// warm figures are those of the steady state after.
func sparesSettled(tb testing.TB, p *Pool) {
	eventually(tb, 30*time.Second, "spares started", func() bool {
		p.mu.Lock()
		defer p.mu.Unlock()
		for _, n := range p.spares.starting {
			if n > 0 {
				return false
			}
		}
		return true
	})
}

// waitSpare waits until a warm spare of fn's shape is ready, where the
// Pool keeps spares: a cold start of a function whose cold starts are not
// back to back finds one.
func waitSpare(tb testing.TB, p *Pool, fn *Function) {
	if !p.sparesEnabled() {
		return
	}
	eventually(tb, 30*time.Second, "a warm spare ready", func() bool {
		p.mu.Lock()
		defer p.mu.Unlock()
		return len(p.spares.ready[shapeOf(fn)]) > 0
	})
}

func BenchmarkColdStart(b *testing.B) {
	for _, mode := range benchModes {
		b.Run(mode.name, func(b *testing.B) { benchColdStart(b, ociPool(b, mode.opts(b)), true) })
	}
}

// BenchmarkColdStartUnpaced starts the next cold start as soon as the last
// sandbox is deleted, whether or not its replacement spare is ready yet.
func BenchmarkColdStartUnpaced(b *testing.B) {
	benchColdStart(b, ociPool(b, Options{}), false)
}

func benchColdStart(b *testing.B, p *Pool, paced bool) {
	for _, rt := range benchRuntimes(b) {
		b.Run(rt.name, func(b *testing.B) {
			fn := function("bench-cold-"+rt.name, rt.runtime, rt.handler, rt.code(b))
			fn.MemoryMB = mbPerVCPU
			retire := func() {
				p.Retire(context.Background(), testAccount, testRegion, fn.Name)
				eventually(b, 30*time.Second, "sandbox removed", func() bool {
					left, _ := p.host.List(context.Background(), map[string]string{LabelFunction: fn.Name})
					return len(left) == 0
				})
			}
			// The shape's first cold start, untimed: it teaches the Pool
			// the shape, as any earlier cold start of any function does.
			fn.Revision = "first"
			mustInvoke(b, p, fn, request(`{}`))
			retire()
			var samples, inits []time.Duration
			b.ResetTimer()
			for i := 0; b.Loop(); i++ {
				if paced {
					b.StopTimer()
					waitSpare(b, p, fn)
					b.StartTimer()
				}
				fn.Revision = strconv.Itoa(i) // every invoke a cold start
				began := time.Now()
				res := mustInvoke(b, p, fn, request(`{"n":1}`))
				samples = append(samples, time.Since(began))
				inits = append(inits, res.InitDuration)
				if !res.ColdStart || res.FunctionError != "" {
					b.Fatalf("invoke %d: cold %v %s", i, res.ColdStart, res.Payload)
				}
				// Tear the sandbox down outside the measured time, so
				// deletions do not compete with the next start.
				b.StopTimer()
				retire()
				b.StartTimer()
			}
			reportPercentiles(b, samples)
			// The runtime's own part of it (Lambda's Init Duration).
			slices.Sort(inits)
			b.ReportMetric(float64(inits[len(inits)/2])/float64(time.Millisecond), "init-p50-ms")
		})
	}
}

func BenchmarkWarmInvoke(b *testing.B) {
	for _, mode := range benchModes {
		b.Run(mode.name, func(b *testing.B) { benchWarmInvoke(b, ociPool(b, mode.opts(b))) })
	}
}

func benchWarmInvoke(b *testing.B, p *Pool) {
	for _, rt := range benchRuntimes(b) {
		b.Run(rt.name, func(b *testing.B) {
			fn := function("bench-warm-"+rt.name, rt.runtime, rt.handler, rt.code(b))
			fn.MemoryMB = mbPerVCPU
			mustInvoke(b, p, fn, request(`{}`))
			sparesSettled(b, p)
			samples := make([]time.Duration, 0, b.N)
			ctx := context.Background()
			b.ResetTimer()
			for b.Loop() {
				began := time.Now()
				res, err := p.Invoke(ctx, fn, request(`{"n":1}`))
				samples = append(samples, time.Since(began))
				if err != nil || res.ColdStart || res.FunctionError != "" {
					b.Fatalf("warm invoke: %v %+v", err, res)
				}
			}
			b.StopTimer()
			reportPercentiles(b, samples)
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "invokes/s")
		})
	}
}

// BenchmarkWarmInvokeParallel drives four warm sandboxes of a Go function
// at once: throughput on the host's cores.
func BenchmarkWarmInvokeParallel(b *testing.B) {
	p := ociPool(b, Options{})
	fn := function("bench-parallel", "provided.al2023", "bootstrap", goHelloCode(b))
	fn.MemoryMB = mbPerVCPU
	const workers = 4
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() { defer wg.Done(); mustInvoke(b, p, fn, request(`{"op":"sleep","sleepMs":200}`)) }()
	}
	wg.Wait()
	sparesSettled(b, p)
	var mu sync.Mutex
	var samples []time.Duration
	b.ResetTimer()
	b.SetParallelism(1)
	b.RunParallel(func(pb *testing.PB) {
		var mine []time.Duration
		for pb.Next() {
			began := time.Now()
			res, err := p.Invoke(context.Background(), fn, request(`{}`))
			mine = append(mine, time.Since(began))
			if err != nil || res.FunctionError != "" {
				b.Errorf("invoke: %v", err)
				return
			}
		}
		mu.Lock()
		samples = append(samples, mine...)
		mu.Unlock()
	})
	b.StopTimer()
	reportPercentiles(b, samples)
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "invokes/s")
}

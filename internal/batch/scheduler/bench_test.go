package scheduler

import (
	"runtime"
	"strconv"
	"testing"
)

const benchQueued = 100_000

// fillQueue queues n one-vCPU jobs across two queues and two shares.
func fillQueue(s *Scheduler, n int, from int) {
	for i := from; i < from+n; i++ {
		q := "high"
		if i%2 == 1 {
			q = "low"
		}
		s.Add(Job{ID: "job-" + strconv.Itoa(i), Queue: q, Share: "share" + strconv.Itoa(i%2), Need: vcpu(1), RunnableSince: t0})
	}
}

func benchScheduler() *Scheduler {
	s := New(Options{Host: Resources{MilliCPU: 256_000, MemoryMiB: 1 << 30}})
	s.SetComputeEnv(ce("ce-a", 128))
	s.SetComputeEnv(ce("ce-b", 128))
	s.SetQueue(Queue{Name: "high", Priority: 10, Enabled: true, ComputeEnvs: []string{"ce-a", "ce-b"}})
	s.SetQueue(Queue{Name: "low", Priority: 1, Enabled: true, ComputeEnvs: []string{"ce-b", "ce-a"},
		FairShare: &FairShare{Weights: map[string]float64{"share0": 1, "share1": 2}}})
	return s
}

// BenchmarkPlacement measures placement decisions per second with 100,000
// jobs queued: each round places what the capacity holds (256 vCPUs), the
// placed jobs finish, and as many new ones are submitted.
func BenchmarkPlacement(b *testing.B) {
	s := benchScheduler()
	fillQueue(s, benchQueued, 0)
	next := benchQueued
	placements := 0
	b.ResetTimer()
	for b.Loop() {
		placed, _ := s.Plan(t0)
		placements += len(placed)
		for _, p := range placed {
			s.Remove(p.JobID)
		}
		fillQueue(s, len(placed), next)
		next += len(placed)
	}
	b.ReportMetric(float64(placements)/b.Elapsed().Seconds(), "placements/s")
}

// BenchmarkQueuedMemory measures the heap that 100,000 queued jobs hold.
func BenchmarkQueuedMemory(b *testing.B) {
	var heapMiB float64
	for b.Loop() {
		runtime.GC()
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		s := benchScheduler()
		fillQueue(s, benchQueued, 0)
		runtime.GC()
		runtime.ReadMemStats(&after)
		heapMiB = float64(after.HeapAlloc-before.HeapAlloc) / (1 << 20)
		runtime.KeepAlive(s)
	}
	b.ReportMetric(heapMiB, "MiB/100k-jobs")
}

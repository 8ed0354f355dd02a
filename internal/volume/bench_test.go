package volume

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"
)

// BenchmarkCreateAttach1GiB measures making a 1 GiB volume ready for a
// sandbox: sparse file, mkfs.ext4, loop device, mount. Detach and Delete
// run outside the timer. Reports the median besides the mean.
func BenchmarkCreateAttach1GiB(b *testing.B) {
	requireBlockHost(b)
	m := newTestManager(b)
	ctx := context.Background()
	var took []time.Duration
	for i := 0; b.Loop(); i++ {
		id := fmt.Sprintf("vol-bench-%d", i)
		start := time.Now()
		if err := m.Create(ctx, id, 1<<30); err != nil {
			b.Fatal(err)
		}
		if _, err := m.Attach(ctx, id); err != nil {
			b.Fatal(err)
		}
		took = append(took, time.Since(start))
		b.StopTimer()
		if err := m.Detach(ctx, id); err != nil {
			b.Fatal(err)
		}
		if err := m.Delete(ctx, id); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
	}
	slices.Sort(took)
	b.ReportMetric(float64(took[len(took)/2].Microseconds())/1000, "p50-ms")
}

// BenchmarkAttachDetach measures attaching and detaching an existing volume.
func BenchmarkAttachDetach(b *testing.B) {
	requireBlockHost(b)
	m := newTestManager(b)
	ctx := context.Background()
	if err := m.Create(ctx, "vol-ad", 1<<30); err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		if _, err := m.Attach(ctx, "vol-ad"); err != nil {
			b.Fatal(err)
		}
		if err := m.Detach(ctx, "vol-ad"); err != nil {
			b.Fatal(err)
		}
	}
}

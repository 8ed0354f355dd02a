package network

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"
)

// BenchmarkAttachDetach measures one sandbox's network life: netns, CNI
// loopback and bridge ADD, then DEL and namespace removal. Besides the mean
// it reports the median, as plugin exec times have a long tail.
func BenchmarkAttachDetach(b *testing.B) {
	requireHost(b)
	m := newTestManager(b, testOptions(b))
	n, err := m.Network(m.opts.Networks[0].Name)
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	var took []time.Duration
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		id := fmt.Sprintf("bench-%d", i)
		start := time.Now()
		if _, err := m.Attach(ctx, id, n.Name, AttachOptions{}); err != nil {
			b.Fatal(err)
		}
		if err := m.Detach(ctx, id); err != nil {
			b.Fatal(err)
		}
		took = append(took, time.Since(start))
	}
	slices.Sort(took)
	b.ReportMetric(float64(took[len(took)/2].Microseconds())/1000, "p50-ms")
}

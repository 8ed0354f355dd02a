package network

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"
)

// BenchmarkAttachDetach measures one sandbox's network life: Attach, then
// Detach (CNI DEL, namespace removal, nftables rebuild), with the pool off
// (netns, CNI loopback and bridge ADD, nftables rebuild on every Attach) and
// on (Attach claims a prepared spare; the refill is left to finish between
// iterations, off the clock, as it does between sandbox starts that are not
// a burst). Besides the mean it reports medians of the attach alone, which
// is what a starting sandbox waits for, and of attach+detach, as plugin exec
// times have a long tail.
func BenchmarkAttachDetach(b *testing.B) {
	requireHost(b)
	for _, bc := range []struct {
		name     string
		poolSize int
	}{{"pool=off", NoPool}, {"pool=on", DefaultPoolSize}} {
		b.Run(bc.name, func(b *testing.B) {
			opts := testOptions(b)
			opts.PoolSize = bc.poolSize
			m := newTestManager(b, opts)
			n, err := m.Network(m.opts.Networks[0].Name)
			if err != nil {
				b.Fatal(err)
			}
			ctx := context.Background()
			var attach, life []time.Duration
			claimed := 0
			b.ResetTimer()
			for i := range b.N {
				if m.poolSize > 0 && i > 0 {
					b.StopTimer()
					waitForPool(b, m, n.Name)
					b.StartTimer()
				}
				id := fmt.Sprintf("bench-%d", i)
				start := time.Now()
				na, err := m.Attach(ctx, id, n.Name, AttachOptions{})
				if err != nil {
					b.Fatal(err)
				}
				attached := time.Now()
				if err := m.Detach(ctx, id); err != nil {
					b.Fatal(err)
				}
				attach = append(attach, attached.Sub(start))
				life = append(life, time.Since(start))
				if na.NetNSPath != m.opts.NetNSDir+"/"+id {
					claimed++
				}
			}
			b.StopTimer()
			slices.Sort(attach)
			slices.Sort(life)
			b.ReportMetric(float64(attach[len(attach)/2].Microseconds())/1000, "attach-p50-ms")
			b.ReportMetric(float64(life[len(life)/2].Microseconds())/1000, "p50-ms")
			b.ReportMetric(float64(claimed)/float64(b.N), "claimed/op")
		})
	}
}

// waitForPool waits until network's pool is full.
func waitForPool(b *testing.B, m *Manager, network string) {
	deadline := time.Now().Add(30 * time.Second)
	for m.ReadySpares(network) < m.poolSize {
		if time.Now().After(deadline) {
			b.Fatalf("pool of %s holds %d spares after 30s, want %d", network, m.ReadySpares(network), m.poolSize)
		}
		time.Sleep(time.Millisecond)
	}
}

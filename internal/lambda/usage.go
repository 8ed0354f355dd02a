package lambda

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/nimbus-dev/nimbus/internal/lambda/runner"
	"github.com/nimbus-dev/nimbus/internal/store"
)

// Lambda bills requests and compute: GB-seconds of the configured memory,
// at 1 ms granularity, init included (as AWS bills on-demand init since
// August 2025). Usage is metered per invocation but written as one record
// per function version, memory size, architecture and minute: a store write
// per invocation would cost a warm invoke more than the invocation itself.
// Buckets are flushed every usageFlush, so a crash loses at most that much
// metering, never a request.

const (
	kindUsage  = "lambda:usage"
	usageFlush = 2 * time.Second
)

// UsageRecord is one minute of one function version's use, for the cost
// report.
type UsageRecord struct {
	Account, Region string
	Function        string
	Version         string
	Architecture    string
	MemoryMB        int
	Minute          time.Time // start of the minute (UTC)
	Requests        int64
	BilledMs        int64   // sum of billed durations, init included
	GBSeconds       float64 // BilledMs x MemoryMB / 1024 / 1000
}

type usageKey struct {
	account, region, function, version, arch string
	memoryMB                                 int
	minute                                   int64 // Unix minutes
}

func (k usageKey) id() string {
	return fmt.Sprintf("%s/%s/%s/%d/%d", k.function, k.version, k.arch, k.memoryMB, k.minute)
}

type usageBucket struct {
	requests, billedMs int64
}

// meter collects usage in memory until it is flushed to the store.
type meter struct {
	now func() time.Time

	mu      sync.Mutex
	pending map[usageKey]*usageBucket
}

func newMeter(now func() time.Time) *meter {
	return &meter{now: now, pending: map[usageKey]*usageBucket{}}
}

// record adds one invocation.
func (m *meter) record(fn *runner.Function, res *runner.Result) {
	// Init is billed rounded up to the millisecond, as the duration is.
	initMs := (res.InitDuration + time.Millisecond - 1) / time.Millisecond
	billed := res.BilledDuration + initMs*time.Millisecond
	arch := fn.Architecture
	if arch == "" {
		arch = "x86_64"
	}
	k := usageKey{account: fn.Account, region: fn.Region, function: fn.Name, version: fn.Version, arch: arch,
		memoryMB: fn.MemoryMB, minute: m.now().Unix() / 60}
	m.mu.Lock()
	defer m.mu.Unlock()
	b := m.pending[k]
	if b == nil {
		b = &usageBucket{}
		m.pending[k] = b
	}
	b.requests++
	b.billedMs += billed.Milliseconds()
}

// flush adds the pending buckets to their records in one transaction.
func (m *meter) flush(ctx context.Context, st store.Store) error {
	m.mu.Lock()
	pending := m.pending
	m.pending = map[usageKey]*usageBucket{}
	m.mu.Unlock()
	if len(pending) == 0 {
		return nil
	}
	err := st.Update(ctx, func(tx store.Tx) error {
		for k, b := range pending {
			key := store.Key{Account: k.account, Region: k.region, Kind: kindUsage, ID: k.id()}
			var rec UsageRecord
			meta, err := tx.Get(key, &rec)
			switch {
			case errors.Is(err, store.ErrNotFound):
				rec = UsageRecord{Account: k.account, Region: k.region, Function: k.function, Version: k.version,
					Architecture: k.arch, MemoryMB: k.memoryMB, Minute: time.Unix(k.minute*60, 0).UTC()}
			case err != nil:
				return err
			}
			rec.Requests += b.requests
			rec.BilledMs += b.billedMs
			rec.GBSeconds = float64(rec.BilledMs) * float64(rec.MemoryMB) / 1024 / 1000
			if _, err := tx.Put(key, &rec, meta.Version); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		// Put the buckets back so the next flush tries again.
		m.mu.Lock()
		for k, b := range pending {
			if cur := m.pending[k]; cur != nil {
				cur.requests += b.requests
				cur.billedMs += b.billedMs
			} else {
				m.pending[k] = b
			}
		}
		m.mu.Unlock()
		return fmt.Errorf("lambda usage: %w", err)
	}
	return nil
}

// run flushes every usageFlush until ctx ends, then once more.
func (m *meter) run(ctx context.Context, st store.Store, log func(error)) {
	tick := time.NewTicker(usageFlush)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			if err := m.flush(context.WithoutCancel(ctx), st); err != nil {
				log(err)
			}
			return
		case <-tick.C:
			if err := m.flush(ctx, st); err != nil {
				log(err)
			}
		}
	}
}

// meteredInvoker records the usage of every invocation that ran.
type meteredInvoker struct {
	runner.Invoker
	m *meter
}

func (mi meteredInvoker) Invoke(ctx context.Context, fn *runner.Function, req *runner.Request) (*runner.Result, error) {
	res, err := mi.Invoker.Invoke(ctx, fn, req)
	if err == nil && res != nil {
		mi.m.record(fn, res)
	}
	return res, err
}

// Usage returns the account's metered use from minutes in [from, to), in
// every region, for the cost report; usage not yet flushed is included.
func (a *API) Usage(ctx context.Context, account string, from, to time.Time) ([]UsageRecord, error) {
	if err := a.meter.flush(ctx, a.store); err != nil {
		return nil, err
	}
	var out []UsageRecord
	err := a.store.View(ctx, func(tx store.Tx) error {
		return tx.List(store.Query{Kind: kindUsage, Account: account, AllRegions: true}, func(o store.Object) error {
			var rec UsageRecord
			if err := o.Decode(&rec); err != nil {
				return err
			}
			if !rec.Minute.Before(from) && rec.Minute.Before(to) {
				out = append(out, rec)
			}
			return nil
		})
	})
	return out, err
}

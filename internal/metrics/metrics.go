// Package metrics counts requests and their latency by service and operation,
// and writes them in the Prometheus text exposition format at /metrics.
package metrics

import (
	"fmt"
	"io"
	"sort"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// Buckets are latency upper bounds in seconds.
var Buckets = []float64{0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10}

type key struct{ service, operation, code string }

type series struct {
	count   atomic.Uint64
	sumNano atomic.Uint64
	buckets []atomic.Uint64 // cumulative counts are computed when written
}

// Registry holds request metrics. The zero value is not usable; use New.
type Registry struct {
	mu     sync.RWMutex
	series map[key]*series
	start  time.Time
}

// New returns an empty registry.
func New() *Registry { return &Registry{series: map[key]*series{}, start: time.Now()} }

func (r *Registry) get(k key) *series {
	r.mu.RLock()
	s := r.series[k]
	r.mu.RUnlock()
	if s != nil {
		return s
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if s = r.series[k]; s == nil {
		s = &series{buckets: make([]atomic.Uint64, len(Buckets))}
		r.series[k] = s
	}
	return s
}

// Observe records one request.
func (r *Registry) Observe(service, operation string, status int, d time.Duration) {
	s := r.get(key{service, operation, strconv.Itoa(status)})
	s.count.Add(1)
	s.sumNano.Add(uint64(d.Nanoseconds()))
	sec := d.Seconds()
	for i, b := range Buckets {
		if sec <= b {
			s.buckets[i].Add(1)
			break
		}
	}
}

// Write writes every series in the Prometheus text format.
func (r *Registry) Write(w io.Writer) error {
	r.mu.RLock()
	keys := make([]key, 0, len(r.series))
	for k := range r.series {
		keys = append(keys, k)
	}
	r.mu.RUnlock()
	sort.Slice(keys, func(i, j int) bool {
		a, b := keys[i], keys[j]
		if a.service != b.service {
			return a.service < b.service
		}
		if a.operation != b.operation {
			return a.operation < b.operation
		}
		return a.code < b.code
	})
	fmt.Fprintln(w, "# HELP nimbus_requests_total AWS API requests by service, operation and HTTP status.")
	fmt.Fprintln(w, "# TYPE nimbus_requests_total counter")
	for _, k := range keys {
		s := r.get(k)
		fmt.Fprintf(w, "nimbus_requests_total{service=%q,operation=%q,code=%q} %d\n", k.service, k.operation, k.code, s.count.Load())
	}
	fmt.Fprintln(w, "# HELP nimbus_request_duration_seconds AWS API request latency.")
	fmt.Fprintln(w, "# TYPE nimbus_request_duration_seconds histogram")
	for _, k := range keys {
		s := r.get(k)
		labels := fmt.Sprintf("service=%q,operation=%q,code=%q", k.service, k.operation, k.code)
		var cum uint64
		for i, b := range Buckets {
			cum += s.buckets[i].Load()
			fmt.Fprintf(w, "nimbus_request_duration_seconds_bucket{%s,le=\"%g\"} %d\n", labels, b, cum)
		}
		fmt.Fprintf(w, "nimbus_request_duration_seconds_bucket{%s,le=\"+Inf\"} %d\n", labels, s.count.Load())
		fmt.Fprintf(w, "nimbus_request_duration_seconds_sum{%s} %g\n", labels, float64(s.sumNano.Load())/1e9)
		fmt.Fprintf(w, "nimbus_request_duration_seconds_count{%s} %d\n", labels, s.count.Load())
	}
	fmt.Fprintln(w, "# HELP nimbus_uptime_seconds Seconds since nimbus started.")
	fmt.Fprintln(w, "# TYPE nimbus_uptime_seconds gauge")
	_, err := fmt.Fprintf(w, "nimbus_uptime_seconds %g\n", time.Since(r.start).Seconds())
	return err
}

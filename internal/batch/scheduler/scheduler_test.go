package scheduler

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"
)

var t0 = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

func vcpu(n int64) Resources { return Resources{MilliCPU: n * 1000, MemoryMiB: 128} }

func ce(name string, maxvCPU int64) ComputeEnv {
	return ComputeEnv{Name: name, Enabled: true, Max: Resources{MilliCPU: maxvCPU * 1000, MemoryMiB: Unlimited, GPUs: Unlimited}}
}

func host(vcpus int64, gpus int64) Options {
	return Options{Host: Resources{MilliCPU: vcpus * 1000, MemoryMiB: 1 << 20, GPUs: gpus}}
}

func ids(ps []Placement) []string {
	out := make([]string, len(ps))
	for i, p := range ps {
		out[i] = p.JobID
	}
	return out
}

func TestTransitions(t *testing.T) {
	legal := map[[2]State]bool{
		{Submitted, Pending}: true, {Submitted, Runnable}: true, {Submitted, Failed}: true,
		{Pending, Runnable}: true, {Pending, Failed}: true,
		{Runnable, Starting}: true, {Runnable, Failed}: true,
		{Starting, Running}: true, {Starting, Runnable}: true, {Starting, Failed}: true,
		{Running, Succeeded}: true, {Running, Failed}: true, {Running, Runnable}: true,
	}
	for _, from := range States {
		for _, to := range States {
			if got := CanTransition(from, to); got != legal[[2]State{from, to}] {
				t.Errorf("CanTransition(%s, %s) = %v", from, to, got)
			}
		}
	}
	if !Succeeded.Done() || !Failed.Done() || Running.Done() {
		t.Error("Done is wrong")
	}
	if State("BOGUS").Valid() || !Runnable.Valid() {
		t.Error("Valid is wrong")
	}
}

func TestResolve(t *testing.T) {
	cases := []struct {
		in   []State
		want Readiness
	}{
		{nil, Ready},
		{[]State{Succeeded, Succeeded}, Ready},
		{[]State{Succeeded, Running}, Wait},
		{[]State{Pending, Failed}, DependencyFailed},
		{[]State{Runnable}, Wait},
	}
	for _, c := range cases {
		if got := Resolve(c.in); got != c.want {
			t.Errorf("Resolve(%v) = %v, want %v", c.in, got, c.want)
		}
	}
}

func TestChildDependencies(t *testing.T) {
	cases := []struct {
		name  string
		index int
		deps  []Dependency
		want  []string
	}{
		{"n-to-n", 3, []Dependency{{JobID: "a", Type: DependNToN}}, []string{"a:3"}},
		{"sequential first", 0, []Dependency{{JobID: "p", Type: DependSequential}}, nil},
		{"sequential", 2, []Dependency{{JobID: "p", Type: DependSequential}}, []string{"p:1"}},
		{"plain", 1, []Dependency{{JobID: "x"}}, []string{"x"}},
	}
	for _, c := range cases {
		if got := ChildDependencies("p", c.index, c.deps); !slices.Equal(got, c.want) {
			t.Errorf("%s: got %v, want %v", c.name, got, c.want)
		}
	}
}

func TestPlan(t *testing.T) {
	type sub struct {
		id, queue, share string
		prio             int
		need             Resources
		age              time.Duration
	}
	cases := []struct {
		name        string
		opts        Options
		ces         []ComputeEnv
		queues      []Queue
		jobs        []sub
		want        []string
		wantBlocked []string // job IDs
	}{
		{
			name:   "fifo within a queue",
			opts:   host(8, 0),
			ces:    []ComputeEnv{ce("ce", 2)},
			queues: []Queue{{Name: "q", Priority: 1, Enabled: true, ComputeEnvs: []string{"ce"}}},
			jobs:   []sub{{id: "a", queue: "q", need: vcpu(1)}, {id: "b", queue: "q", need: vcpu(1)}, {id: "c", queue: "q", need: vcpu(1)}},
			want:   []string{"a", "b"},
		},
		{
			name: "higher priority queue first",
			opts: host(8, 0),
			ces:  []ComputeEnv{ce("ce", 2)},
			queues: []Queue{{Name: "low", Priority: 1, Enabled: true, ComputeEnvs: []string{"ce"}},
				{Name: "high", Priority: 10, Enabled: true, ComputeEnvs: []string{"ce"}}},
			jobs: []sub{{id: "l1", queue: "low", need: vcpu(1)}, {id: "l2", queue: "low", need: vcpu(1)}, {id: "h1", queue: "high", need: vcpu(1)}},
			want: []string{"h1", "l1"},
		},
		{
			name:   "disabled queue waits",
			opts:   host(8, 0),
			ces:    []ComputeEnv{ce("ce", 2)},
			queues: []Queue{{Name: "q", Priority: 1, Enabled: false, ComputeEnvs: []string{"ce"}}},
			jobs:   []sub{{id: "a", queue: "q", need: vcpu(1)}},
			want:   []string{},
		},
		{
			name:   "second compute environment takes the overflow",
			opts:   host(8, 0),
			ces:    []ComputeEnv{ce("first", 1), ce("second", 1)},
			queues: []Queue{{Name: "q", Priority: 1, Enabled: true, ComputeEnvs: []string{"first", "second"}}},
			jobs:   []sub{{id: "a", queue: "q", need: vcpu(1)}, {id: "b", queue: "q", need: vcpu(1)}, {id: "c", queue: "q", need: vcpu(1)}},
			want:   []string{"a", "b"},
		},
		{
			name:   "host capacity bounds the compute environment",
			opts:   host(1, 0),
			ces:    []ComputeEnv{ce("ce", 16)},
			queues: []Queue{{Name: "q", Priority: 1, Enabled: true, ComputeEnvs: []string{"ce"}}},
			jobs:   []sub{{id: "a", queue: "q", need: vcpu(1)}, {id: "b", queue: "q", need: vcpu(1)}},
			want:   []string{"a"},
		},
		{
			name:   "small jobs backfill past a young big one",
			opts:   Options{Host: Resources{MilliCPU: 3000, MemoryMiB: 1 << 20}, StarvationLimit: time.Hour},
			ces:    []ComputeEnv{ce("ce", 3)},
			queues: []Queue{{Name: "q", Priority: 1, Enabled: true, ComputeEnvs: []string{"ce"}}},
			jobs:   []sub{{id: "run", queue: "q", need: vcpu(2)}, {id: "big", queue: "q", need: vcpu(3)}, {id: "small", queue: "q", need: vcpu(1)}},
			want:   []string{"run", "small"},
		},
		{
			name:   "a starving big job holds back smaller ones",
			opts:   Options{Host: Resources{MilliCPU: 3000, MemoryMiB: 1 << 20}, StarvationLimit: time.Minute},
			ces:    []ComputeEnv{ce("ce", 3)},
			queues: []Queue{{Name: "q", Priority: 1, Enabled: true, ComputeEnvs: []string{"ce"}}},
			jobs:   []sub{{id: "run", queue: "q", need: vcpu(2), age: time.Hour}, {id: "big", queue: "q", need: vcpu(3), age: time.Hour}, {id: "small", queue: "q", need: vcpu(1)}},
			want:   []string{"run"},
		},
		{
			name:        "gpu job on a host without gpus is blocked",
			opts:        host(8, 0),
			ces:         []ComputeEnv{ce("ce", 8)},
			queues:      []Queue{{Name: "q", Priority: 1, Enabled: true, ComputeEnvs: []string{"ce"}}},
			jobs:        []sub{{id: "gpu", queue: "q", need: Resources{MilliCPU: 1000, MemoryMiB: 1, GPUs: 1}}, {id: "cpu", queue: "q", need: vcpu(1)}},
			want:        []string{"cpu"},
			wantBlocked: []string{"gpu"},
		},
		{
			name:        "job larger than maxvCpus is blocked",
			opts:        host(64, 0),
			ces:         []ComputeEnv{ce("ce", 4)},
			queues:      []Queue{{Name: "q", Priority: 1, Enabled: true, ComputeEnvs: []string{"ce"}}},
			jobs:        []sub{{id: "huge", queue: "q", need: vcpu(8)}},
			want:        []string{},
			wantBlocked: []string{"huge"},
		},
		{
			name: "fair share serves the lighter weight more",
			opts: host(64, 0),
			ces:  []ComputeEnv{ce("ce", 4)},
			queues: []Queue{{Name: "q", Priority: 1, Enabled: true, ComputeEnvs: []string{"ce"},
				FairShare: &FairShare{Weights: map[string]float64{"A": 1, "B": 3}}}},
			jobs: []sub{{id: "a1", queue: "q", share: "A", need: vcpu(1)}, {id: "a2", queue: "q", share: "A", need: vcpu(1)},
				{id: "a3", queue: "q", share: "A", need: vcpu(1)}, {id: "a4", queue: "q", share: "A", need: vcpu(1)},
				{id: "b1", queue: "q", share: "B", need: vcpu(1)}, {id: "b2", queue: "q", share: "B", need: vcpu(1)}},
			want: []string{"a1", "b1", "a2", "a3"},
		},
		{
			name: "scheduling priority orders a share",
			opts: host(64, 0),
			ces:  []ComputeEnv{ce("ce", 1)},
			queues: []Queue{{Name: "q", Priority: 1, Enabled: true, ComputeEnvs: []string{"ce"},
				FairShare: &FairShare{}}},
			jobs: []sub{{id: "low", queue: "q", share: "A", prio: 1, need: vcpu(1)}, {id: "high", queue: "q", share: "A", prio: 9, need: vcpu(1)}},
			want: []string{"high"},
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s := New(c.opts)
			for _, e := range c.ces {
				s.SetComputeEnv(e)
			}
			for _, q := range c.queues {
				s.SetQueue(q)
			}
			for _, j := range c.jobs {
				s.Add(Job{ID: j.id, Queue: j.queue, Share: j.share, Priority: j.prio, Need: j.need, RunnableSince: t0.Add(-j.age)})
			}
			placed, blocked := s.Plan(t0)
			if got := ids(placed); !slices.Equal(got, c.want) && !(len(got) == 0 && len(c.want) == 0) {
				t.Errorf("placed %v, want %v", got, c.want)
			}
			var gotBlocked []string
			for _, b := range blocked {
				if !strings.HasPrefix(b.Reason, "MISCONFIGURATION:") {
					t.Errorf("blocked reason %q", b.Reason)
				}
				gotBlocked = append(gotBlocked, b.JobID)
			}
			if !slices.Equal(gotBlocked, c.wantBlocked) {
				t.Errorf("blocked %v, want %v", gotBlocked, c.wantBlocked)
			}
			if s.Running() != len(placed) || s.Waiting() != len(c.jobs)-len(placed) {
				t.Errorf("running %d waiting %d after placing %d of %d", s.Running(), s.Waiting(), len(placed), len(c.jobs))
			}
		})
	}
}

func TestRemoveFreesCapacity(t *testing.T) {
	s := New(host(8, 0))
	s.SetComputeEnv(ce("ce", 1))
	s.SetQueue(Queue{Name: "q", Enabled: true, ComputeEnvs: []string{"ce"}})
	s.Add(Job{ID: "a", Queue: "q", Need: vcpu(1), RunnableSince: t0})
	s.Add(Job{ID: "b", Queue: "q", Need: vcpu(1), RunnableSince: t0})
	if p, _ := s.Plan(t0); !slices.Equal(ids(p), []string{"a"}) {
		t.Fatalf("first plan %v", ids(p))
	}
	if p, _ := s.Plan(t0); len(p) != 0 {
		t.Fatalf("plan with no capacity placed %v", ids(p))
	}
	if got := s.Used("ce").MilliCPU; got != 1000 {
		t.Fatalf("used %d", got)
	}
	s.Remove("a")
	if p, _ := s.Plan(t0); !slices.Equal(ids(p), []string{"b"}) {
		t.Fatalf("after release %v", ids(p))
	}
	// A re-adopted job holds capacity as a placed one does.
	s.Remove("b")
	s.AddRunning(Job{ID: "old", Queue: "q", Need: vcpu(1)}, "ce")
	s.Add(Job{ID: "c", Queue: "q", Need: vcpu(1), RunnableSince: t0})
	if p, _ := s.Plan(t0); len(p) != 0 {
		t.Fatalf("placed %v over a re-adopted job", ids(p))
	}
}

func TestRemoveManyCompacts(t *testing.T) {
	s := New(host(1, 0))
	s.SetComputeEnv(ce("ce", 1))
	s.SetQueue(Queue{Name: "q", Enabled: true, ComputeEnvs: []string{"ce"}})
	for i := range 1000 {
		s.Add(Job{ID: fmt.Sprint(i), Queue: "q", Need: vcpu(1), RunnableSince: t0})
	}
	for i := range 999 {
		s.Remove(fmt.Sprint(i))
	}
	if n := len(s.queues["q"].shares[""].items); n > 200 {
		t.Fatalf("list still holds %d entries for 1 live job", n)
	}
	if p, _ := s.Plan(t0); !slices.Equal(ids(p), []string{"999"}) {
		t.Fatalf("placed %v", ids(p))
	}
}

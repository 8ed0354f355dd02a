package scheduler

import (
	"fmt"
	"sort"
	"time"
)

// Job is a RUNNABLE job waiting for capacity.
type Job struct {
	ID    string
	Queue string // the queue's Name
	// Share is the job's share identifier (fair-share queues).
	Share string
	// Priority is the job's scheduling priority: higher runs first within
	// its share (fair-share queues only, as Batch).
	Priority int
	Need     Resources
	// RunnableSince is when the job became RUNNABLE; a job that has waited
	// longer than Options.StarvationLimit stops smaller jobs from taking the
	// capacity it waits for.
	RunnableSince time.Time
}

// ComputeEnv is a compute environment's capacity.
type ComputeEnv struct {
	Name    string
	Enabled bool
	// Max is what the environment may run at once: maxvCpus, with memory
	// and GPUs Unlimited unless the caller knows better.
	Max Resources
}

// Placement runs a job on a compute environment.
type Placement struct {
	JobID      string
	ComputeEnv string
	Need       Resources
	QueueName  string
	Share      string
}

// Blocked reports a waiting job that no compute environment of its queue
// could ever run, and why, in Batch's words; it stays RUNNABLE.
type Blocked struct {
	JobID  string
	Reason string
}

// Options configure a Scheduler.
type Options struct {
	// Host is the machine's capacity, shared by every compute environment.
	Host Resources
	// StarvationLimit is how long a job that does not fit may wait before
	// it holds back the jobs behind it (one minute when zero; negative:
	// at once, strict first in, first out).
	StarvationLimit time.Duration
}

// Scheduler holds the waiting jobs, the running ones' use of capacity, and
// the queues and compute environments. It is not safe for concurrent use:
// its owner (the batch controller) serializes calls.
type Scheduler struct {
	host     Resources
	hostUsed Resources
	starve   time.Duration
	ces      map[string]*ceState
	queues   map[string]*queueState
	ordered  []*queueState // by priority, highest first; nil when stale
	waiting  map[string]*entry
	running  map[string]*entry
	seq      uint64
}

type ceState struct {
	ComputeEnv
	used Resources
	// closed is set during a Plan once a starving job reserves it.
	closed bool
}

type entry struct {
	Job
	seq     uint64
	rank    int // Priority under fair share, else 0
	removed bool
	ce      string // where it runs, once placed
	blocked string // the reason last reported by Plan
}

// New returns an empty Scheduler.
func New(opts Options) *Scheduler {
	starve := opts.StarvationLimit
	if starve == 0 {
		starve = time.Minute
	}
	return &Scheduler{host: opts.Host, starve: starve, ces: map[string]*ceState{}, queues: map[string]*queueState{},
		waiting: map[string]*entry{}, running: map[string]*entry{}}
}

// SetHost changes the machine's capacity.
func (s *Scheduler) SetHost(r Resources) { s.host = r }

// SetComputeEnv adds or replaces a compute environment, keeping its use.
func (s *Scheduler) SetComputeEnv(ce ComputeEnv) {
	if cur, ok := s.ces[ce.Name]; ok {
		cur.ComputeEnv = ce
		return
	}
	s.ces[ce.Name] = &ceState{ComputeEnv: ce}
}

// RemoveComputeEnv forgets a compute environment.
func (s *Scheduler) RemoveComputeEnv(name string) { delete(s.ces, name) }

// SetQueue adds or replaces a queue, keeping its waiting jobs. Switching
// between first in, first out and fair share re-sorts them.
func (s *Scheduler) SetQueue(q Queue) {
	qs, ok := s.queues[q.Name]
	if !ok {
		qs = newQueueState(q.Name)
		s.queues[q.Name] = qs
	}
	regroup := (qs.FairShare == nil) != (q.FairShare == nil)
	qs.Queue = q
	s.ordered = nil
	if regroup {
		old := qs.shares
		qs.shares = map[string]*jobList{}
		for _, l := range old {
			for _, e := range l.items {
				if !e.removed {
					s.enqueue(qs, e)
				}
			}
		}
	}
}

// RemoveQueue forgets a queue and its waiting jobs.
func (s *Scheduler) RemoveQueue(name string) {
	qs, ok := s.queues[name]
	if !ok {
		return
	}
	for _, l := range qs.shares {
		for _, e := range l.items {
			if !e.removed {
				delete(s.waiting, e.ID)
			}
		}
	}
	delete(s.queues, name)
	s.ordered = nil
}

// Add queues a RUNNABLE job. Adding a job already known replaces it.
func (s *Scheduler) Add(j Job) {
	s.Remove(j.ID)
	qs, ok := s.queues[j.Queue]
	if !ok {
		qs = newQueueState(j.Queue) // disabled until SetQueue names it
		s.queues[j.Queue] = qs
		s.ordered = nil
	}
	s.seq++
	e := &entry{Job: j, seq: s.seq}
	s.waiting[j.ID] = e
	s.enqueue(qs, e)
}

func (s *Scheduler) enqueue(qs *queueState, e *entry) {
	e.rank = 0
	if qs.FairShare != nil {
		e.rank = e.Priority
	}
	share := qs.shareOf(e)
	l := qs.shares[share]
	if l == nil {
		l = &jobList{}
		qs.shares[share] = l
	}
	l.insert(e)
}

// AddRunning records a job already running on a compute environment (one
// re-adopted after a restart), so its capacity is counted.
func (s *Scheduler) AddRunning(j Job, ce string) {
	s.Remove(j.ID)
	e := &entry{Job: j, ce: ce}
	s.running[j.ID] = e
	s.use(e, +1)
}

// Remove forgets a job: a waiting one leaves its queue, a running one gives
// its capacity back. Unknown IDs are ignored.
func (s *Scheduler) Remove(id string) {
	if e, ok := s.waiting[id]; ok {
		delete(s.waiting, id)
		e.removed = true
		if qs, ok := s.queues[e.Queue]; ok {
			if l := qs.shares[qs.shareOf(e)]; l != nil {
				l.markRemoved()
				l.compact()
			}
		}
		return
	}
	if e, ok := s.running[id]; ok {
		delete(s.running, id)
		s.use(e, -1)
	}
}

func (s *Scheduler) use(e *entry, sign int64) {
	need := Resources{e.Need.MilliCPU * sign, e.Need.MemoryMiB * sign, e.Need.GPUs * sign}
	s.hostUsed = s.hostUsed.Add(need)
	if ce, ok := s.ces[e.ce]; ok {
		ce.used = ce.used.Add(need)
	}
	if qs, ok := s.queues[e.Queue]; ok {
		qs.usage[e.Share] += need.MilliCPU
	}
}

// Waiting is how many jobs wait; Running how many run.
func (s *Scheduler) Waiting() int { return len(s.waiting) }

// Running is how many jobs the scheduler counts as running.
func (s *Scheduler) Running() int { return len(s.running) }

// Used is the capacity a compute environment's running jobs hold.
func (s *Scheduler) Used(ce string) Resources {
	if c, ok := s.ces[ce]; ok {
		return c.used
	}
	return Resources{}
}

func (s *Scheduler) queueOrder() []*queueState {
	if s.ordered == nil {
		s.ordered = make([]*queueState, 0, len(s.queues))
		for _, q := range s.queues {
			s.ordered = append(s.ordered, q)
		}
		sort.Slice(s.ordered, func(i, j int) bool {
			a, b := s.ordered[i], s.ordered[j]
			if a.Priority != b.Priority {
				return a.Priority > b.Priority
			}
			return a.Name < b.Name
		})
	}
	return s.ordered
}

// Plan places as many waiting jobs as fit, queue by queue from the highest
// priority, and returns the placements (now counted as running) and the
// jobs newly found impossible to place.
func (s *Scheduler) Plan(now time.Time) ([]Placement, []Blocked) {
	for _, ce := range s.ces {
		ce.closed = false
	}
	var placed []Placement
	var blocked []Blocked
	for _, qs := range s.queueOrder() {
		if !qs.Enabled {
			continue
		}
		r := round{s: s, qs: qs, now: now}
		for _, name := range qs.ComputeEnvs {
			if ce, ok := s.ces[name]; ok && ce.Enabled {
				r.ces = append(r.ces, ce)
			}
		}
		if qs.FairShare == nil {
			if l := qs.shares[""]; l != nil {
				r.serveFIFO(l)
			}
		} else {
			r.serveFairShare()
		}
		for _, l := range qs.shares {
			l.compact()
		}
		placed = append(placed, r.placed...)
		blocked = append(blocked, r.blocked...)
	}
	return placed, blocked
}

// round is one queue's turn in a Plan.
type round struct {
	s       *Scheduler
	qs      *queueState
	ces     []*ceState
	now     time.Time
	placed  []Placement
	blocked []Blocked
}

// outcome of trying one job.
type outcome int

const (
	skipped outcome = iota // does not fit now; later jobs may
	placedJob
	stop // the queue can place nothing more this round
)

func (r *round) serveFIFO(l *jobList) {
	for i := 0; i < len(l.items); i++ {
		e := l.items[i]
		if e.removed {
			continue
		}
		if r.try(e) == stop {
			return
		}
	}
}

func (r *round) serveFairShare() {
	type cursor struct {
		share string
		list  *jobList
		next  int
	}
	var open []*cursor
	for share, l := range r.qs.shares {
		if l.live() > 0 {
			open = append(open, &cursor{share: share, list: l})
		}
	}
	sort.Slice(open, func(i, j int) bool { return open[i].share < open[j].share })
	fs := r.qs.FairShare
	for len(open) > 0 {
		// The share using least of the capacity, scaled by its weight.
		best := 0
		for i, c := range open {
			if float64(r.qs.usage[c.share])*fs.weight(c.share) < float64(r.qs.usage[open[best].share])*fs.weight(open[best].share) {
				best = i
			}
		}
		c := open[best]
		result := skipped
		for c.next < len(c.list.items) && result == skipped {
			e := c.list.items[c.next]
			c.next++
			if !e.removed {
				result = r.try(e)
			}
		}
		switch {
		case result == stop:
			return
		case result == skipped: // the share has nothing that fits
			open = append(open[:best], open[best+1:]...)
		}
	}
}

// try places e if it fits; it reports stop when no compute environment of
// the queue has room left, or a starving job has reserved them.
func (r *round) try(e *entry) outcome {
	s := r.s
	if reason := r.never(e); reason != "" {
		if e.blocked != reason {
			e.blocked = reason
			r.blocked = append(r.blocked, Blocked{JobID: e.ID, Reason: reason})
		}
		return skipped
	}
	e.blocked = ""
	for _, ce := range r.ces {
		if ce.closed {
			continue
		}
		if ce.used.Add(e.Need).Within(ce.Max) && s.hostUsed.Add(e.Need).Within(s.host) {
			r.place(e, ce)
			if r.full() {
				return stop
			}
			return placedJob
		}
	}
	if s.starve < 0 || r.now.Sub(e.RunnableSince) >= s.starve {
		// No backfill past a job that has waited too long: it gets the
		// capacity as soon as the running jobs free it.
		for _, ce := range r.ces {
			ce.closed = true
		}
		return stop
	}
	return skipped
}

// never explains why no compute environment of the queue could run e even
// when idle, or returns "".
func (r *round) never(e *entry) string {
	if len(r.ces) == 0 {
		return "MISCONFIGURATION:COMPUTE_ENVIRONMENT_NOT_ASSOCIATED - No valid compute environment is associated with the job queue."
	}
	host := r.s.host
	if e.Need.GPUs > host.GPUs {
		return fmt.Sprintf("MISCONFIGURATION:JOB_RESOURCE_REQUIREMENT - The job requires %d GPU(s), and this host has %d.", e.Need.GPUs, host.GPUs)
	}
	if !e.Need.Within(host) {
		return "MISCONFIGURATION:JOB_RESOURCE_REQUIREMENT - The job resource requirement (vCPU/memory/GPU) is higher than that can be met by the host."
	}
	for _, ce := range r.ces {
		if e.Need.Within(ce.Max) {
			return ""
		}
	}
	return "MISCONFIGURATION:JOB_RESOURCE_REQUIREMENT - The job resource requirement (vCPU/memory/GPU) is higher than that can be met by the CE(s) attached to the job queue."
}

func (r *round) place(e *entry, ce *ceState) {
	s := r.s
	delete(s.waiting, e.ID)
	e.removed = true
	if l := r.qs.shares[r.qs.shareOf(e)]; l != nil {
		l.markRemoved()
	}
	run := &entry{Job: e.Job, ce: ce.Name}
	s.running[e.ID] = run
	s.use(run, +1)
	r.placed = append(r.placed, Placement{JobID: e.ID, ComputeEnv: ce.Name, Need: e.Need, QueueName: r.qs.Name, Share: e.Share})
}

// full reports whether no compute environment of the queue has a vCPU to
// spare, or the host has none.
func (r *round) full() bool {
	if r.s.host.MilliCPU-r.s.hostUsed.MilliCPU <= 0 {
		return true
	}
	for _, ce := range r.ces {
		if !ce.closed && ce.Max.MilliCPU-ce.used.MilliCPU > 0 {
			return false
		}
	}
	return true
}

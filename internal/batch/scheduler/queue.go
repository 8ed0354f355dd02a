package scheduler

import "sort"

// Queue is a job queue as the scheduler sees it.
type Queue struct {
	Name     string // the caller's key for the queue
	Priority int    // higher is served first
	Enabled  bool
	// ComputeEnvs are the queue's compute environments, in order.
	ComputeEnvs []string
	// FairShare, when set, serves shares by weight instead of first in,
	// first out.
	FairShare *FairShare
}

// FairShare is a fair-share scheduling policy.
type FairShare struct {
	// Weights are share identifiers' weight factors; a lower weight gets a
	// larger part of the capacity (Batch's weightFactor). Shares not named
	// weigh 1.
	Weights map[string]float64
}

func (f *FairShare) weight(share string) float64 {
	if w, ok := f.Weights[share]; ok && w > 0 {
		return w
	}
	return 1
}

// queueState is a queue and its waiting jobs, one list per share (a single
// list under "" for first in, first out).
type queueState struct {
	Queue
	shares map[string]*jobList
	// usage is the vCPU (thousandths) each share has running.
	usage map[string]int64
}

func newQueueState(name string) *queueState {
	return &queueState{Queue: Queue{Name: name}, shares: map[string]*jobList{}, usage: map[string]int64{}}
}

func (q *queueState) shareOf(j *entry) string {
	if q.FairShare == nil {
		return ""
	}
	return j.Share
}

// jobList holds waiting jobs in serving order: higher scheduling priority
// first (fair share only), then submission order. Removed jobs are marked
// and swept out once they are half the list.
type jobList struct {
	items []*entry
	dead  int
}

func before(a, b *entry) bool {
	if a.rank != b.rank {
		return a.rank > b.rank
	}
	return a.seq < b.seq
}

func (l *jobList) insert(e *entry) {
	n := len(l.items)
	if n == 0 || before(l.items[n-1], e) {
		l.items = append(l.items, e) // the usual case: a new job goes last
		return
	}
	i := sort.Search(n, func(i int) bool { return before(e, l.items[i]) })
	l.items = append(l.items, nil)
	copy(l.items[i+1:], l.items[i:])
	l.items[i] = e
}

func (l *jobList) markRemoved() { l.dead++ }

// compact sweeps removed jobs out once they are half the list; never
// during a Plan, which walks the list by index.
func (l *jobList) compact() {
	if l.dead > 64 && l.dead*2 > len(l.items) {
		live := l.items[:0]
		for _, e := range l.items {
			if !e.removed {
				live = append(live, e)
			}
		}
		clear(l.items[len(live):])
		l.items = live
		l.dead = 0
	}
}

func (l *jobList) live() int { return len(l.items) - l.dead }

package batch

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nimbus-dev/nimbus/internal/batch/scheduler"
	"github.com/nimbus-dev/nimbus/internal/store"
)

// controller moves jobs through their states. One goroutine (Run) owns the
// scheduler and the in-memory view of unfinished jobs; each attempt runs in
// a goroutine of its own (execution.go) that reports back on done. The
// store is the truth: memory is rebuilt from it at start and after a reset.
type controller struct {
	api   *API
	sched *scheduler.Scheduler

	mu     sync.Mutex
	dirty  map[store.Key]bool // jobs the API changed
	reload bool

	// Owned by Run.
	active    map[store.Key]*jobRecord
	finished  map[store.Key]scheduler.State // recent final states, for dependents
	arrayLeft map[store.Key]int             // unfinished children per array parent
	attempts  map[store.Key]*attempt        // running attempts
	depsDirty bool

	done chan attemptResult
	wg   sync.WaitGroup

	// scaler launches and terminates EC2 compute environments' instances;
	// nil without Options.EC2. ceRecords are the compute environments the
	// last syncConfig read (ARN holding account/region/name).
	scaler    *scaler
	ceRecords []*computeEnvRecord
	// timeLimits are each queue's jobStateTimeLimitActions, by queue key.
	timeLimits     map[string][]timeLimitAction
	lastTimeLimits time.Time

	// busyboxReady is set once busybox:latest is in the image store.
	busyboxReady atomic.Bool
}

// maxFinishedCache bounds the final states kept for dependents.
const maxFinishedCache = 100_000

func newController(a *API) *controller {
	return &controller{api: a, dirty: map[store.Key]bool{}, done: make(chan attemptResult, 64)}
}

func (c *controller) markDirty(k store.Key) {
	c.mu.Lock()
	c.dirty[k] = true
	c.mu.Unlock()
}

func (c *controller) requestReload() {
	c.mu.Lock()
	c.reload = true
	c.mu.Unlock()
}

func sk(k store.Key) string { return k.Account + "/" + k.Region + "/" + k.ID }

func queueKey(account, region, name string) string { return account + "/" + region + "/" + name }

// Run runs jobs until ctx ends. Running attempts' sandboxes outlive it: the
// next Run re-adopts them.
func (a *API) Run(ctx context.Context) error {
	c := a.ctrl
	defer c.wg.Wait()
	runCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	if err := c.load(runCtx); err != nil {
		if ctx.Err() != nil {
			return nil // stopped before it got going: nothing was started
		}
		return fmt.Errorf("batch: load jobs: %w", err)
	}
	ticker := time.NewTicker(a.tick)
	defer ticker.Stop()
	for {
		c.pass(runCtx)
		select {
		case <-ctx.Done():
			return nil
		case <-a.wake:
		case <-ticker.C:
		case r := <-c.done:
			c.finishedAttempt(r)
		}
	}
}

// load rebuilds memory from the store and re-adopts running attempts.
func (c *controller) load(ctx context.Context) error {
	a := c.api
	c.sched = scheduler.New(scheduler.Options{Host: a.capacity, StarvationLimit: a.starve})
	c.active = map[store.Key]*jobRecord{}
	c.finished = map[store.Key]scheduler.State{}
	c.arrayLeft = map[store.Key]int{}
	if c.attempts == nil {
		c.attempts = map[store.Key]*attempt{}
	}
	c.mu.Lock()
	c.dirty = map[store.Key]bool{}
	c.reload = false
	c.mu.Unlock()
	if err := c.syncConfig(ctx); err != nil {
		return err
	}
	var jobs []*jobRecord
	err := a.store.View(ctx, func(tx store.Tx) error {
		return tx.List(store.Query{Kind: kindJob, AllAccounts: true, AllRegions: true, Index: indexActive, IndexValue: "1"}, func(o store.Object) error {
			var j jobRecord
			if err := o.Decode(&j); err != nil {
				return err
			}
			jobs = append(jobs, &j)
			return nil
		})
	})
	if err != nil {
		return err
	}
	for _, j := range jobs {
		c.track(ctx, j)
	}
	c.depsDirty = true
	return nil
}

// track takes a job read from the store into memory.
func (c *controller) track(ctx context.Context, j *jobRecord) {
	k := j.key()
	if _, running := c.attempts[k]; running {
		c.active[k] = j
		return
	}
	prev, known := c.active[k]
	if j.Status.Done() {
		c.forget(k, j.Status)
		return
	}
	c.active[k] = j
	if !known && j.ParentID != "" {
		c.arrayLeft[c.parentKey(j)]++
	}
	switch j.Status {
	case scheduler.Submitted, scheduler.Pending:
		c.depsDirty = true
	case scheduler.Runnable:
		if !known || prev.Status != scheduler.Runnable {
			c.sched.Add(c.schedJob(j))
		}
	case scheduler.Starting, scheduler.Running:
		c.adopt(ctx, j)
	}
}

// forget drops a finished job from memory and counts it for its array.
func (c *controller) forget(k store.Key, final scheduler.State) {
	j, ok := c.active[k]
	c.sched.Remove(sk(k))
	if len(c.finished) >= maxFinishedCache {
		clear(c.finished) // stateOf reads the store for what it forgot
	}
	c.finished[k] = final
	c.depsDirty = true
	if !ok {
		return
	}
	delete(c.active, k)
	if j.ParentID != "" {
		pk := c.parentKey(j)
		c.arrayLeft[pk]--
		if c.arrayLeft[pk] <= 0 {
			delete(c.arrayLeft, pk)
			c.finishArray(pk)
		}
	}
}

func (c *controller) parentKey(j *jobRecord) store.Key {
	return store.Key{Account: j.Partition.Account, Region: j.Partition.Region, Kind: kindJob, ID: j.ParentID}
}

func (c *controller) schedJob(j *jobRecord) scheduler.Job {
	need, _ := needOf(&j.Container.containerProperties)
	prio := 0
	if j.SchedulingPriority != nil {
		prio = *j.SchedulingPriority
	}
	since := time.UnixMilli(j.RunnableAt)
	return scheduler.Job{ID: sk(j.key()), Queue: queueKey(j.Partition.Account, j.Partition.Region, j.QueueName),
		Share: j.ShareIdentifier, Priority: prio, Need: need, RunnableSince: since}
}

// pass is one round of the controller's work.
func (c *controller) pass(ctx context.Context) {
	c.mu.Lock()
	reload := c.reload
	dirty := c.dirty
	c.dirty = map[store.Key]bool{}
	c.mu.Unlock()
	if reload {
		if err := c.load(ctx); err != nil {
			c.api.log.Error("batch: reload after reset", "err", err)
		}
	}
	if err := c.syncConfig(ctx); err != nil {
		c.api.log.Error("batch: read compute environments and queues", "err", err)
	}
	if len(dirty) > 0 {
		c.readDirty(ctx, dirty)
	}
	if c.depsDirty {
		c.depsDirty = false
		c.advance(ctx)
	}
	placed, blocked := c.sched.Plan(c.api.now())
	for _, b := range blocked {
		c.setReason(ctx, b.JobID, b.Reason)
	}
	for _, p := range placed {
		c.start(ctx, p)
	}
	c.scale(ctx, c.ceRecords)
	c.applyTimeLimits(ctx)
}

func (c *controller) readDirty(ctx context.Context, dirty map[store.Key]bool) {
	var jobs []*jobRecord
	var gone []store.Key
	err := c.api.store.View(ctx, func(tx store.Tx) error {
		for k := range dirty {
			var j jobRecord
			_, err := tx.Get(k, &j)
			if errors.Is(err, store.ErrNotFound) {
				gone = append(gone, k)
				continue
			}
			if err != nil {
				return err
			}
			jobs = append(jobs, &j)
		}
		return nil
	})
	if err != nil {
		c.api.log.Error("batch: read changed jobs", "err", err)
		return
	}
	for _, k := range gone {
		c.forget(k, scheduler.Failed)
	}
	for _, j := range jobs {
		k := j.key()
		if at, ok := c.attempts[k]; ok && j.StopReason != "" {
			at.terminate(j.StopReason)
		}
		c.track(ctx, j)
	}
}

// syncConfig gives the scheduler the compute environments and queues, and
// removes those whose deletion has settled.
func (c *controller) syncConfig(ctx context.Context) error {
	a := c.api
	var ces []*computeEnvRecord
	var queues []*queueRecord
	policies := map[string]*policyRecord{}
	var deleted []store.Key
	err := a.store.View(ctx, func(tx store.Tx) error {
		all := store.Query{AllAccounts: true, AllRegions: true}
		all.Kind = kindComputeEnv
		err := tx.List(all, func(o store.Object) error {
			var r computeEnvRecord
			if err := o.Decode(&r); err != nil {
				return err
			}
			a.settleComputeEnv(&r)
			if r.Status == "DELETED" {
				deleted = append(deleted, o.Key)
			}
			r.ComputeEnvironmentArn = o.Key.Account + "/" + o.Key.Region + "/" + r.ComputeEnvironmentName
			ces = append(ces, &r)
			return nil
		})
		if err != nil {
			return err
		}
		all.Kind = kindQueue
		err = tx.List(all, func(o store.Object) error {
			var r queueRecord
			if err := o.Decode(&r); err != nil {
				return err
			}
			a.settleQueue(&r)
			if r.Status == "DELETED" {
				deleted = append(deleted, o.Key)
			}
			r.JobQueueName = queueKey(o.Key.Account, o.Key.Region, r.JobQueueName)
			queues = append(queues, &r)
			return nil
		})
		if err != nil {
			return err
		}
		all.Kind = kindPolicy
		return tx.List(all, func(o store.Object) error {
			var r policyRecord
			if err := o.Decode(&r); err != nil {
				return err
			}
			policies[r.Arn] = &r
			return nil
		})
	})
	if err != nil {
		return err
	}
	c.ceRecords = ces
	for _, ce := range ces {
		name := ce.ComputeEnvironmentArn // account/region/name, set above
		if ce.Status == "DELETED" {
			c.sched.RemoveComputeEnv(name)
			continue
		}
		c.sched.SetComputeEnv(scheduler.ComputeEnv{Name: name, Enabled: ce.State == "ENABLED" && ce.Status == "VALID",
			Max: scheduler.Resources{MilliCPU: ce.maxMilliCPU(), MemoryMiB: scheduler.Unlimited, GPUs: scheduler.Unlimited}})
	}
	limits := map[string][]timeLimitAction{}
	for _, q := range queues {
		if len(q.JobStateTimeLimitActions) > 0 {
			limits[q.JobQueueName] = q.JobStateTimeLimitActions
		}
	}
	c.timeLimits = limits
	for _, q := range queues {
		if q.Status == "DELETED" {
			c.sched.RemoveQueue(q.JobQueueName)
			continue
		}
		sq := scheduler.Queue{Name: q.JobQueueName, Priority: q.Priority, Enabled: q.State == "ENABLED"}
		account, region, _ := splitKey(q.JobQueueName)
		for _, o := range q.ComputeEnvironmentOrder {
			sq.ComputeEnvs = append(sq.ComputeEnvs, queueKey(account, region, nameOf(o.ComputeEnvironment)))
		}
		if p := policies[q.SchedulingPolicyArn]; p != nil {
			fs := &scheduler.FairShare{Weights: map[string]float64{}}
			if p.FairsharePolicy != nil {
				for _, s := range p.FairsharePolicy.ShareDistribution {
					if s.WeightFactor != nil {
						fs.Weights[s.ShareIdentifier] = *s.WeightFactor
					}
				}
			}
			sq.FairShare = fs
		}
		c.sched.SetQueue(sq)
	}
	if len(deleted) > 0 {
		err := a.store.Update(ctx, func(tx store.Tx) error {
			for _, k := range deleted {
				if err := tx.Delete(k, 0); err != nil && !errors.Is(err, store.ErrNotFound) {
					return err
				}
			}
			return nil
		})
		if err != nil {
			return fmt.Errorf("remove deleted: %w", err)
		}
	}
	return nil
}

// stateOf is a dependency's state: in memory if unfinished or recently
// finished, else from the store.
func (c *controller) stateOf(tx store.Tx, k store.Key) scheduler.State {
	if j, ok := c.active[k]; ok {
		return j.Status
	}
	if s, ok := c.finished[k]; ok {
		return s
	}
	var j struct {
		Status scheduler.State `json:"status"`
	}
	if _, err := tx.Get(k, &j); err != nil {
		return scheduler.Failed // a dependency that vanished cannot succeed
	}
	c.finished[k] = j.Status
	return j.Status
}

// advance moves SUBMITTED and PENDING jobs on as their dependencies allow.
func (c *controller) advance(ctx context.Context) {
	now := c.api.now()
	var changed []*jobRecord
	err := c.api.store.Update(ctx, func(tx store.Tx) error {
		changed = changed[:0]
		for k, j := range c.active {
			if j.Status != scheduler.Submitted && j.Status != scheduler.Pending {
				continue
			}
			next := *j
			if j.isArrayParent() {
				if j.Status == scheduler.Submitted {
					next.Status = scheduler.Pending
				} else {
					continue
				}
			} else {
				states := make([]scheduler.State, 0, len(j.Waits))
				for _, w := range j.Waits {
					states = append(states, c.stateOf(tx, store.Key{Account: k.Account, Region: k.Region, Kind: kindJob, ID: w}))
				}
				switch scheduler.Resolve(states) {
				case scheduler.Ready:
					next.Status, next.RunnableAt = scheduler.Runnable, millis(now)
				case scheduler.Wait:
					if j.Status == scheduler.Pending {
						continue
					}
					next.Status = scheduler.Pending
				case scheduler.DependencyFailed:
					next.Status, next.StatusReason, next.StoppedAt = scheduler.Failed, reasonDepFail, millis(now)
				}
			}
			if !scheduler.CanTransition(j.Status, next.Status) {
				return fmt.Errorf("job %s: illegal transition %s -> %s", j.JobID, j.Status, next.Status)
			}
			if _, err := tx.Put(k, &next, 0); err != nil {
				return err
			}
			changed = append(changed, &next)
		}
		return nil
	})
	if err != nil {
		c.api.log.Error("batch: advance jobs", "err", err)
		c.depsDirty = true
		return
	}
	for _, j := range changed {
		c.track(ctx, j)
	}
}

// setReason records why a RUNNABLE job cannot be placed.
func (c *controller) setReason(ctx context.Context, id, reason string) {
	k := keyOf(id)
	j, ok := c.active[k]
	if !ok {
		return
	}
	written, err := c.update(ctx, k, func(cur *jobRecord) error {
		if cur.Status != scheduler.Runnable {
			return errNotRunnable
		}
		cur.StatusReason = reason
		return nil
	})
	switch {
	case err == nil:
		c.active[k] = written
	case !errors.Is(err, errNotRunnable):
		c.api.log.Error("batch: record blocked reason", "job", j.JobID, "err", err)
	}
}

// finishArray settles an array parent once its last child finished:
// SUCCEEDED when every child did, else FAILED.
func (c *controller) finishArray(pk store.Key) {
	ctx := context.Background()
	err := c.api.store.Update(ctx, func(tx store.Tx) error {
		var parent jobRecord
		if _, err := tx.Get(pk, &parent); err != nil {
			return err
		}
		if parent.Status.Done() {
			return nil
		}
		failed := 0
		left := 0
		err := tx.List(store.Query{Kind: kindJob, Account: pk.Account, Region: pk.Region, Index: indexArray, IndexValue: pk.ID}, func(o store.Object) error {
			var ch struct {
				Status scheduler.State `json:"status"`
			}
			if err := o.Decode(&ch); err != nil {
				return err
			}
			switch {
			case ch.Status == scheduler.Failed:
				failed++
			case !ch.Status.Done():
				left++
			}
			return nil
		})
		if err != nil || left > 0 {
			return err
		}
		parent.StoppedAt = millis(c.api.now())
		if failed == 0 {
			parent.Status, parent.StatusReason = scheduler.Succeeded, ""
		} else {
			parent.Status, parent.StatusReason = scheduler.Failed, fmt.Sprintf("Array Child Job failed (%d of %d)", failed, parent.ArrayProperties.Size)
		}
		_, err = tx.Put(pk, &parent, 0)
		return err
	})
	if err != nil {
		c.api.log.Error("batch: settle array job", "job", pk.ID, "err", err)
		return
	}
	var final jobRecord
	if err := c.api.store.View(ctx, func(tx store.Tx) error { _, err := tx.Get(pk, &final); return err }); err != nil {
		return
	}
	c.forget(pk, final.Status)
}

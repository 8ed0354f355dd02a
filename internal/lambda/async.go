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

// Lambda's defaults for asynchronous invocation.
const (
	defaultMaxRetryAttempts = 2
	defaultMaxEventAge      = 6 * time.Hour
)

// enqueue stores an Event invocation durably; Invoke answers 202 only
// after this returns.
func (a *API) enqueue(ctx context.Context, t *target, requestID string, payload []byte) error {
	now := a.now()
	ev := &asyncEvent{RequestID: requestID, Function: t.fn.Name, Qualifier: t.qualifier, Version: t.version.Version,
		InvokedARN: t.invokedARN, Payload: payload, Enqueued: now, NotBefore: now}
	err := a.store.Update(ctx, func(tx store.Tx) error {
		seq, err := tx.NextSequence(kindEvent)
		if err != nil {
			return err
		}
		_, err = tx.Create(store.Key{Account: t.account, Region: t.region, Kind: kindEvent, ID: fmt.Sprintf("%020d", seq)}, ev)
		return err
	})
	if err != nil {
		return errInternal(err, "queue event for %s", t.fn.Name)
	}
	a.kick()
	return nil
}

// kick wakes the dispatcher without blocking.
func (a *API) kick() {
	select {
	case a.wake <- struct{}{}:
	default:
	}
}

// Run delivers queued Event invocations until ctx ends, then waits for the
// deliveries under way. Events stay in the store until delivered, retried
// out or expired, so those queued before a restart are delivered by the
// next Run. Run it once per API.
func (a *API) Run(ctx context.Context) error {
	var (
		wg       sync.WaitGroup
		mu       sync.Mutex
		inFlight = map[store.Key]bool{}
		slots    = make(chan struct{}, a.workers)
	)
	defer wg.Wait()
	// Usage is flushed by Run too: one background loop per API.
	wg.Add(1)
	go func() {
		defer wg.Done()
		a.meter.run(ctx, a.store, func(err error) { a.log.Warn("lambda: flush usage", "err", err) })
	}()
	for {
		due, next, err := a.dueEvents(ctx)
		if err != nil && ctx.Err() == nil {
			a.log.Error("lambda async: list queued events", "err", err)
			next = a.now().Add(time.Second)
		}
		for _, ev := range due {
			mu.Lock()
			busy := inFlight[ev.key]
			mu.Unlock()
			if busy {
				continue
			}
			select {
			case slots <- struct{}{}:
			default:
				continue // every worker is busy; a finishing one wakes us
			}
			mu.Lock()
			inFlight[ev.key] = true
			mu.Unlock()
			wg.Add(1)
			go func() {
				defer wg.Done()
				a.deliver(ctx, ev.key, ev.event)
				mu.Lock()
				delete(inFlight, ev.key)
				mu.Unlock()
				<-slots
				a.kick()
			}()
		}
		var timer *time.Timer
		var fire <-chan time.Time
		if !next.IsZero() {
			timer = time.NewTimer(max(next.Sub(a.now()), time.Millisecond))
			fire = timer.C
		}
		select {
		case <-ctx.Done():
		case <-a.wake:
		case <-fire:
		}
		if timer != nil {
			timer.Stop()
		}
		if ctx.Err() != nil {
			return nil
		}
	}
}

type queuedEvent struct {
	key   store.Key
	event *asyncEvent
}

// dueEvents lists the events ready to run now, oldest first, and when the
// earliest of the others becomes due.
func (a *API) dueEvents(ctx context.Context) ([]queuedEvent, time.Time, error) {
	var due []queuedEvent
	var next time.Time
	now := a.now()
	err := a.store.View(ctx, func(tx store.Tx) error {
		return tx.List(store.Query{Kind: kindEvent, AllAccounts: true, AllRegions: true}, func(o store.Object) error {
			var ev asyncEvent
			if err := o.Decode(&ev); err != nil {
				return err
			}
			if !ev.NotBefore.After(now) {
				due = append(due, queuedEvent{key: o.Key, event: &ev})
			} else if next.IsZero() || ev.NotBefore.Before(next) {
				next = ev.NotBefore
			}
			return nil
		})
	})
	// Keys order by account, region, then sequence: restore global order.
	sortEvents(due)
	return due, next, err
}

func sortEvents(evs []queuedEvent) {
	for i := 1; i < len(evs); i++ {
		for j := i; j > 0 && evs[j].key.ID < evs[j-1].key.ID; j-- {
			evs[j], evs[j-1] = evs[j-1], evs[j]
		}
	}
}

// eventSettings are the async settings that apply to an event.
func eventSettings(f *functionRecord, qualifier string) (retries int, maxAge time.Duration) {
	retries, maxAge = defaultMaxRetryAttempts, defaultMaxEventAge
	q := qualifier
	if q == "" {
		q = latest
	}
	if c := f.EventConfigs[q]; c != nil {
		if c.MaximumRetryAttempts != nil {
			retries = *c.MaximumRetryAttempts
		}
		if c.MaximumEventAgeInSeconds != nil {
			maxAge = time.Duration(*c.MaximumEventAgeInSeconds) * time.Second
		}
	}
	return retries, maxAge
}

// deliver makes one attempt at an event and records the outcome: done,
// retried later, or dropped.
func (a *API) deliver(ctx context.Context, key store.Key, listed *asyncEvent) {
	// The dispatcher's listing may predate the outcome of an attempt that
	// finished since: read the event again now that this worker owns it,
	// and make the attempt only if it is still due.
	ev, err := a.currentEvent(ctx, key)
	if err != nil {
		if !errors.Is(err, store.ErrNotFound) && ctx.Err() == nil {
			a.log.Error("lambda async: read queued event", "event", key.ID, "err", err)
		}
		return
	}
	if ev.NotBefore.After(a.now()) || ev.RequestID != listed.RequestID {
		return
	}
	log := a.log.With("request_id", ev.RequestID, "function", ev.Function)
	ref := functionRef{Name: ev.Function, Qualifier: ev.Version}
	t, err := a.resolveTarget(ctx, key.Account, key.Region, ref, randomWeight)
	if err != nil {
		if ctx.Err() != nil {
			return
		}
		log.Warn("lambda async: dropping event of a function or version that is gone", "err", err)
		a.finishEvent(ctx, key, nil)
		return
	}
	t.qualifier, t.invokedARN = ev.Qualifier, ev.InvokedARN
	retries, maxAge := eventSettings(t.fn, ev.Qualifier)
	now := a.now()
	if now.Sub(ev.Enqueued) > maxAge {
		log.Warn("lambda async: dropping event older than MaximumEventAgeInSeconds", "age", now.Sub(ev.Enqueued), "attempts", ev.Attempts)
		a.finishEvent(ctx, key, nil)
		return
	}
	if st := t.version.stateAt(now); st.State != "Active" {
		ev.NotBefore = now.Add(a.throttleDelay)
		a.finishEvent(ctx, key, ev)
		return
	}
	res, err := a.invoker.Invoke(ctx, a.runnerFunction(t), &runner.Request{
		RequestID: ev.RequestID, Payload: ev.Payload, InvokedARN: ev.InvokedARN, TraceID: newTraceID(now),
	})
	switch {
	case ctx.Err() != nil:
		return // shutting down: the event stays queued for the next Run
	case errors.Is(err, runner.ErrThrottled):
		ev.NotBefore = a.now().Add(a.throttleDelay)
		a.finishEvent(ctx, key, ev)
	case err != nil:
		// nimbus's own failure: Lambda retries those until the event
		// expires, without spending the function's retry attempts.
		log.Error("lambda async: invoke", "err", err)
		ev.NotBefore = a.now().Add(a.throttleDelay)
		a.finishEvent(ctx, key, ev)
	case res.FunctionError != "":
		ev.Attempts++
		if ev.Attempts > retries {
			log.Warn("lambda async: dropping event after its retries", "attempts", ev.Attempts, "function_error", res.FunctionError)
			a.finishEvent(ctx, key, nil)
			return
		}
		ev.NotBefore = a.now().Add(time.Duration(ev.Attempts) * a.retryBase)
		a.finishEvent(ctx, key, ev)
	default:
		a.finishEvent(ctx, key, nil)
	}
}

// currentEvent reads a queued event as the store has it now.
func (a *API) currentEvent(ctx context.Context, key store.Key) (*asyncEvent, error) {
	var ev asyncEvent
	err := a.store.View(ctx, func(tx store.Tx) error {
		_, err := tx.Get(key, &ev)
		return err
	})
	if err != nil {
		return nil, err
	}
	return &ev, nil
}

// finishEvent deletes a delivered or dropped event (ev nil) or stores its
// next attempt.
func (a *API) finishEvent(ctx context.Context, key store.Key, ev *asyncEvent) {
	err := a.store.Update(ctx, func(tx store.Tx) error {
		if ev == nil {
			return tx.Delete(key, 0)
		}
		// A reset may have removed the event meanwhile: never revive it.
		meta, err := tx.Get(key, nil)
		if err != nil {
			return err
		}
		_, err = tx.Put(key, ev, meta.Version)
		return err
	})
	if err != nil && !errors.Is(err, store.ErrNotFound) && ctx.Err() == nil {
		a.log.Error("lambda async: record event outcome", "event", key.ID, "err", err)
	}
}

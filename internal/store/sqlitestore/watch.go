package sqlitestore

import (
	"context"
	"sync"

	"github.com/nimbus-dev/nimbus/internal/store"
)

// watchers fans committed events out to Watch channels. publish never
// blocks: each watcher queues events up to a bound and has its own
// goroutine that hands them to the consumer. The store owns the goroutines:
// each ends when its ctx ends or closeAll runs, and closeAll waits for them.
type watchers struct {
	limit int
	done  chan struct{} // closed by closeAll
	wg    sync.WaitGroup

	mu  sync.Mutex
	set map[*watcher]struct{}
}

type watcher struct {
	kinds map[string]bool // nil: every kind
	out   chan store.Event
	wake  chan struct{} // capacity 1: "the queue is not empty"

	mu    sync.Mutex
	queue []store.Event
}

func (ws *watchers) init(limit int) {
	ws.limit = limit
	ws.done = make(chan struct{})
	ws.set = make(map[*watcher]struct{})
}

func (ws *watchers) add(ctx context.Context, kinds []string) <-chan store.Event {
	w := &watcher{out: make(chan store.Event), wake: make(chan struct{}, 1)}
	if len(kinds) > 0 {
		w.kinds = make(map[string]bool, len(kinds))
		for _, k := range kinds {
			w.kinds[k] = true
		}
	}
	ws.mu.Lock()
	select {
	case <-ws.done:
		// Closed between the caller's check and now: hand back a closed
		// channel rather than a goroutine nobody stops.
		ws.mu.Unlock()
		close(w.out)
		return w.out
	default:
	}
	ws.set[w] = struct{}{}
	ws.wg.Add(1)
	ws.mu.Unlock()
	go ws.deliver(ctx, w)
	return w.out
}

// deliver moves w's queue to its channel until ctx ends or the store
// closes.
func (ws *watchers) deliver(ctx context.Context, w *watcher) {
	defer ws.wg.Done()
	defer close(w.out)
	defer func() {
		ws.mu.Lock()
		delete(ws.set, w)
		ws.mu.Unlock()
	}()
	for {
		w.mu.Lock()
		if len(w.queue) == 0 {
			w.queue = nil // let a drained backlog's array go
			w.mu.Unlock()
			select {
			case <-w.wake:
				continue
			case <-ctx.Done():
				return
			case <-ws.done:
				return
			}
		}
		ev := w.queue[0]
		w.queue = w.queue[1:]
		w.mu.Unlock()
		select {
		case w.out <- ev:
		case <-ctx.Done():
			return
		case <-ws.done:
			return
		}
	}
}

// publish queues one commit's events for every interested watcher. A
// watcher whose backlog would pass the limit loses it: its queue becomes a
// single Resync at this commit's revision, which a re-read at or after this
// commit covers, this commit's events included.
func (ws *watchers) publish(events []store.Event) {
	if len(events) == 0 {
		return
	}
	ws.mu.Lock()
	defer ws.mu.Unlock()
	for w := range ws.set {
		var matched []store.Event
		for _, ev := range events {
			if w.kinds == nil || w.kinds[ev.Key.Kind] {
				matched = append(matched, ev)
			}
		}
		if len(matched) == 0 {
			continue
		}
		w.mu.Lock()
		if len(w.queue)+len(matched) > ws.limit {
			w.queue = append(w.queue[:0], store.Event{Type: store.EventResync, Revision: events[0].Revision})
		} else {
			w.queue = append(w.queue, matched...)
		}
		w.mu.Unlock()
		select {
		case w.wake <- struct{}{}:
		default: // already signalled
		}
	}
}

func (ws *watchers) closeAll() {
	ws.mu.Lock()
	select {
	case <-ws.done:
	default:
		close(ws.done)
	}
	ws.mu.Unlock()
	ws.wg.Wait()
}

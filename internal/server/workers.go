package server

import (
	"context"
	"errors"
	"log/slog"
	"sync"
)

// workers runs the server's background loops (the EC2 instance controller,
// Lambda's async dispatcher, log retention) and stops them all at once:
// every loop gets a context that outlives the request that built the
// server and ends at stop, which waits for them.
type workers struct {
	mu     sync.Mutex
	cancel []context.CancelFunc
	wg     sync.WaitGroup
}

// start runs fn in its own goroutine until stop; an error other than the
// context's ending is logged under name.
func (w *workers) start(ctx context.Context, log *slog.Logger, name string, fn func(context.Context) error) {
	runCtx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	w.mu.Lock()
	w.cancel = append(w.cancel, cancel)
	w.mu.Unlock()
	w.wg.Add(1)
	go func() {
		defer w.wg.Done()
		if err := fn(runCtx); err != nil && !errors.Is(err, context.Canceled) {
			log.Error("background worker stopped", "worker", name, "err", err)
		}
	}()
}

// stop ends every loop and waits for them; it may be called more than once.
func (w *workers) stop() {
	w.mu.Lock()
	cancels := w.cancel
	w.cancel = nil
	w.mu.Unlock()
	for _, c := range cancels {
		c()
	}
	w.wg.Wait()
}

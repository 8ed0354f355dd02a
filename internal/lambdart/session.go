package lambdart

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"sync"
	"time"
)

// call is one invocation on its way through a session.
type call struct {
	inv    Invocation
	result chan *Result // buffered 1: the answer never blocks on a caller that left
}

// Session is the Runtime API of one runtime process. It serves the runtime
// over HTTP and nimbus through Invoke. All methods are safe for concurrent
// use; at most one invocation is in flight at a time, as in Lambda.
type Session struct {
	log     *slog.Logger
	now     func() time.Time
	started time.Time
	mux     *http.ServeMux

	// offer hands an invocation from Invoke to a waiting /next handler.
	offer chan *call
	ready chan struct{} // closed at the first /next
	done  chan struct{} // closed when the state turns terminal

	mu        sync.Mutex
	state     State
	inflight  *call // set by Invoke, cleared when the runtime answers
	delivered bool  // the runtime has been given inflight
	initDur   time.Duration
	failure   error // why the session ended; set once with done
}

// SessionOption configures a Session.
type SessionOption func(*Session)

// WithLogger sets where the session logs refused requests.
func WithLogger(l *slog.Logger) SessionOption { return func(s *Session) { s.log = l } }

// WithStartTime sets when the runtime process started, from which
// InitDuration counts; by default the session's creation.
func WithStartTime(t time.Time) SessionOption { return func(s *Session) { s.started = t } }

// NewSession makes the session of a runtime that is about to start.
func NewSession(opts ...SessionOption) *Session {
	s := &Session{
		log:   slog.Default(),
		now:   time.Now,
		offer: make(chan *call),
		ready: make(chan struct{}),
		done:  make(chan struct{}),
	}
	for _, o := range opts {
		o(s)
	}
	if s.started.IsZero() {
		s.started = s.now()
	}
	s.mux = http.NewServeMux()
	s.mux.HandleFunc("GET "+pathNext, s.handleNext)
	s.mux.HandleFunc("POST "+pathInvocation+"{id}/response", s.handleResponse)
	s.mux.HandleFunc("POST "+pathInvocation+"{id}/error", s.handleInvocationError)
	s.mux.HandleFunc("POST "+pathInitError, s.handleInitError)
	return s
}

// ServeHTTP serves the Runtime API endpoints.
func (s *Session) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.mux.ServeHTTP(w, r) }

// State returns the session's current state.
func (s *Session) State() State {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.state
}

// InitDuration is the time from the runtime's start to its first
// GET /next; ok is false until then.
func (s *Session) InitDuration() (d time.Duration, ok bool) {
	select {
	case <-s.ready:
	default:
		return 0, false
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.initDur, true
}

// Done is closed when the session can run no more invocations; Err then
// says why.
func (s *Session) Done() <-chan struct{} { return s.done }

// Err is why the session ended (*InitError, *ExitError, *TimeoutError or
// ErrClosed), or nil while it can still run invocations.
func (s *Session) Err() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.failure
}

// WaitReady waits until the runtime finished its init by asking for its
// first invocation. It returns the *InitError the runtime reported, an
// *ExitError if it died first, or ctx's error.
func (s *Session) WaitReady(ctx context.Context) error {
	select {
	case <-s.ready:
		return nil
	case <-s.done:
		// A runtime can reach Ready and then end; it was still ready.
		select {
		case <-s.ready:
			return nil
		default:
		}
		return s.Err()
	case <-ctx.Done():
		return fmt.Errorf("wait for runtime init: %w", ctx.Err())
	}
}

// InitError returns the init error the runtime reported, if any.
func (s *Session) InitError() (*InitError, bool) {
	var ie *InitError
	ok := errors.As(s.Err(), &ie)
	return ie, ok
}

// Invoke hands inv to the runtime, waiting for the runtime to ask for it if
// it is still initializing or finishing the previous invocation, and
// returns the runtime's answer; a function error is a Result with
// FunctionError set, not an error. The deadline runs from the call, so a
// cold start calls WaitReady first: in Lambda, init time does not count
// against the invocation's timeout.
//
// Errors: *TimeoutError when inv's deadline passes first (the session is
// then over and the sandbox must be killed); *ExitError when the runtime
// died (call Exited); *InitError when its init failed; ErrBusy while
// another invocation is in flight; ErrClosed; or ctx's error. When ctx ends
// after the runtime got the invocation, the runtime's eventual answer is
// dropped and the session serves the next invocation after it.
func (s *Session) Invoke(ctx context.Context, inv Invocation) (*Result, error) {
	if inv.RequestID == "" {
		return nil, errors.New("lambdart: invocation without a request ID")
	}
	switch {
	case inv.Deadline.IsZero() && inv.Timeout <= 0:
		return nil, fmt.Errorf("lambdart: invocation %s has neither a deadline nor a timeout", inv.RequestID)
	case inv.Deadline.IsZero():
		inv.Deadline = s.now().Add(inv.Timeout)
	case inv.Timeout <= 0:
		inv.Timeout = inv.Deadline.Sub(s.now()) // for the timeout message
	}
	c := &call{inv: inv, result: make(chan *Result, 1)}

	s.mu.Lock()
	if s.failure != nil {
		s.mu.Unlock()
		return nil, s.invokeFailure(inv.RequestID)
	}
	if s.inflight != nil {
		s.mu.Unlock()
		return nil, ErrBusy
	}
	s.inflight = c
	s.delivered = false
	s.mu.Unlock()

	deadline := time.NewTimer(time.Until(inv.Deadline))
	defer deadline.Stop()

	// Hand the invocation over; until then, leaving is free.
	select {
	case s.offer <- c:
	case <-s.done:
		s.dropInflight(c)
		return nil, s.invokeFailure(inv.RequestID)
	case <-deadline.C:
		return s.timeOut(c)
	case <-ctx.Done():
		s.dropInflight(c)
		return nil, fmt.Errorf("invoke %s: %w", inv.RequestID, ctx.Err())
	}

	select {
	case res := <-c.result:
		return res, nil
	case <-s.done:
		// An answer and the end of the session can race; the answer wins.
		select {
		case res := <-c.result:
			return res, nil
		default:
		}
		return nil, s.invokeFailure(inv.RequestID)
	case <-deadline.C:
		return s.timeOut(c)
	case <-ctx.Done():
		return nil, fmt.Errorf("invoke %s: %w", inv.RequestID, ctx.Err())
	}
}

// dropInflight forgets an invocation the runtime never received.
func (s *Session) dropInflight(c *call) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.inflight == c {
		s.inflight = nil
	}
}

// invokeFailure is the error an invocation gets from a session that ended.
func (s *Session) invokeFailure(requestID string) error {
	err := s.Err()
	var ee *ExitError
	if errors.As(err, &ee) {
		return &ExitError{RequestID: requestID, Cause: ee.Cause}
	}
	return err
}

// timeOut ends the session for c's deadline. An answer that arrived just
// as the deadline fired still counts; a session that already ended for
// another reason keeps that reason.
func (s *Session) timeOut(c *call) (*Result, error) {
	select {
	case res := <-c.result:
		return res, nil
	default:
	}
	te := &TimeoutError{RequestID: c.inv.RequestID, Timeout: c.inv.Timeout}
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.transitionLocked(evTimeout); err != nil {
		return nil, s.failure
	}
	s.endLocked(te)
	return nil, te
}

// Exited tells the session that the runtime process ended, with the error
// its wait returned (nil for exit status 0; wrap ErrOutOfMemory for a
// memory kill). An invocation in flight fails with an *ExitError.
func (s *Session) Exited(cause error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.transitionLocked(evExit); err != nil {
		return
	}
	s.endLocked(&ExitError{Cause: cause})
}

// Close ends the session: an invocation in flight and a runtime waiting
// for its next one are released. It is safe to call more than once.
func (s *Session) Close() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.transitionLocked(evClose); err != nil {
		return
	}
	s.endLocked(ErrClosed)
}

// transitionLocked moves the state machine on e.
func (s *Session) transitionLocked(e event) error {
	to, err := s.state.next(e)
	if err != nil {
		return err
	}
	if to == Ready {
		select {
		case <-s.ready:
		default:
			s.initDur = s.now().Sub(s.started)
			close(s.ready)
		}
	}
	s.state = to
	return nil
}

// endLocked records why the session ended, the first time only.
func (s *Session) endLocked(cause error) {
	if s.failure != nil {
		return
	}
	s.failure = cause
	close(s.done)
}

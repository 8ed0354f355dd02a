package lambdart

import "fmt"

// State is where a runtime session is in its lifecycle.
type State int

const (
	// Initializing: the runtime process started and has not asked for its
	// first invocation yet.
	Initializing State = iota
	// Ready: the runtime is blocked in GET /invocation/next.
	Ready
	// Invoking: an invocation was handed to the runtime; its answer is due.
	Invoking
	// Responding: the runtime is sending a response or error body.
	Responding
	// Idle: the runtime answered (or dropped its poll) and has not asked
	// for the next invocation yet.
	Idle
	// InitFailed: the runtime reported an init error. Terminal.
	InitFailed
	// TimedOut: an invocation passed its deadline; the sandbox must be
	// killed. Terminal.
	TimedOut
	// Exited: the runtime process died. Terminal.
	Exited
	// Closed: nimbus closed the session. Terminal.
	Closed
)

var stateNames = map[State]string{
	Initializing: "Initializing", Ready: "Ready", Invoking: "Invoking", Responding: "Responding",
	Idle: "Idle", InitFailed: "InitFailed", TimedOut: "TimedOut", Exited: "Exited", Closed: "Closed",
}

func (s State) String() string {
	if n, ok := stateNames[s]; ok {
		return n
	}
	return fmt.Sprintf("State(%d)", int(s))
}

// Terminal reports whether no invocation can ever run in this state.
func (s State) Terminal() bool {
	return s == InitFailed || s == TimedOut || s == Exited || s == Closed
}

// event is something that asks a session to change state.
type event int

const (
	evNext          event = iota // runtime: GET /invocation/next
	evNextGone                   // runtime dropped its /next connection before an invocation came
	evDeliver                    // nimbus handed an invocation to the waiting runtime
	evAnswerBegin                // runtime: POST /invocation/{id}/response or /error started
	evAnswerDone                 // the answer's body was read whole
	evAnswerAborted              // the answer's body was cut short; the runtime may answer again
	evInitError                  // runtime: POST /init/error
	evTimeout                    // the invocation's deadline passed
	evExit                       // the runtime process died
	evClose                      // nimbus closed the session
)

var eventNames = map[event]string{
	evNext: "Next", evNextGone: "NextGone", evDeliver: "Deliver", evAnswerBegin: "Answer",
	evAnswerDone: "AnswerDone", evAnswerAborted: "AnswerAborted", evInitError: "InitError",
	evTimeout: "Timeout", evExit: "Exit", evClose: "Close",
}

func (e event) String() string { return eventNames[e] }

// transitions names every legal transition; everything else is refused.
var transitions = map[State]map[event]State{
	Initializing: {evNext: Ready, evInitError: InitFailed, evTimeout: TimedOut, evExit: Exited, evClose: Closed},
	Ready:        {evDeliver: Invoking, evNextGone: Idle, evTimeout: TimedOut, evExit: Exited, evClose: Closed},
	Invoking:     {evAnswerBegin: Responding, evTimeout: TimedOut, evExit: Exited, evClose: Closed},
	Responding:   {evAnswerDone: Idle, evAnswerAborted: Invoking, evTimeout: TimedOut, evExit: Exited, evClose: Closed},
	Idle:         {evNext: Ready, evTimeout: TimedOut, evExit: Exited, evClose: Closed},
	// A runtime that reported its init error, or timed out, then exits (or
	// is killed): the first cause stays the one reported.
	InitFailed: {evExit: InitFailed, evClose: Closed},
	TimedOut:   {evExit: TimedOut, evClose: Closed},
	Exited:     {evClose: Closed},
	Closed:     {},
}

// TransitionError is a transition the state machine refused.
type TransitionError struct {
	From  State
	Event string
}

func (e *TransitionError) Error() string {
	return fmt.Sprintf("state transition from %s on %s is not allowed", e.From, e.Event)
}

// next returns the state that e leads to from s, or a *TransitionError.
func (s State) next(e event) (State, error) {
	to, ok := transitions[s][e]
	if !ok {
		return s, &TransitionError{From: s, Event: e.String()}
	}
	return to, nil
}

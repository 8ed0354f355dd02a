// Package scheduler is AWS Batch's placement logic: the job state machine,
// queues served by priority (first in, first out, or fair share by share
// weights), and placement of jobs on compute environments where their vCPU,
// memory and GPUs fit. It does no I/O: the batch controller feeds it jobs,
// queues and compute environments and carries out the placements it
// returns, so it is tested and benchmarked alone.
package scheduler

// State is a job's status, as Batch names it.
type State string

// The job states, in the order a job normally passes through them.
const (
	Submitted State = "SUBMITTED"
	Pending   State = "PENDING"
	Runnable  State = "RUNNABLE"
	Starting  State = "STARTING"
	Running   State = "RUNNING"
	Succeeded State = "SUCCEEDED"
	Failed    State = "FAILED"
)

// transitions names every legal move; anything absent is refused. A job
// leaves SUBMITTED for PENDING (it waits on dependencies) or RUNNABLE; an
// attempt that fails and is retried goes back from RUNNING (or STARTING,
// when its container never started) to RUNNABLE. Cancelling fails a job that
// has not started; terminating fails one in any unfinished state.
var transitions = map[State][]State{
	Submitted: {Pending, Runnable, Failed},
	Pending:   {Runnable, Failed},
	Runnable:  {Starting, Failed},
	Starting:  {Running, Runnable, Failed},
	Running:   {Succeeded, Failed, Runnable},
}

// CanTransition reports whether a job may move from one state to another.
func CanTransition(from, to State) bool {
	for _, s := range transitions[from] {
		if s == to {
			return true
		}
	}
	return false
}

// Done reports whether s is final.
func (s State) Done() bool { return s == Succeeded || s == Failed }

// Valid reports whether s is one of Batch's job states.
func (s State) Valid() bool {
	switch s {
	case Submitted, Pending, Runnable, Starting, Running, Succeeded, Failed:
		return true
	}
	return false
}

// States lists every job state in order.
var States = []State{Submitted, Pending, Runnable, Starting, Running, Succeeded, Failed}

package ec2

import (
	"errors"
	"fmt"
	"time"
)

// EC2 instance states and their codes.
const (
	statePending      = "pending"
	stateRunning      = "running"
	stateShuttingDown = "shutting-down"
	stateTerminated   = "terminated"
	stateStopping     = "stopping"
	stateStopped      = "stopped"
)

var stateCodes = map[string]int{
	statePending: 0, stateRunning: 16, stateShuttingDown: 32, stateTerminated: 48, stateStopping: 64, stateStopped: 80,
}

// transitions names every legal state change; any other is refused. The
// handlers cause the *-requested ones, the controller the rest.
var transitions = map[[2]string]string{
	{statePending, stateRunning}:         "launched",
	{statePending, stateShuttingDown}:    "terminate-requested",
	{statePending, stateTerminated}:      "launch-failed",
	{stateRunning, stateStopping}:        "stop-requested",
	{stateRunning, stateShuttingDown}:    "terminate-requested",
	{stateRunning, stateStopped}:         "sandbox-lost",
	{stateStopping, stateStopped}:        "stopped",
	{stateStopping, stateShuttingDown}:   "terminate-requested",
	{stateStopped, statePending}:         "start-requested",
	{stateStopped, stateShuttingDown}:    "terminate-requested",
	{stateShuttingDown, stateTerminated}: "terminated",
}

// errIllegalTransition is returned by instance.moveTo for a change the
// table does not name.
var errIllegalTransition = errors.New("illegal instance state transition")

// AWS's state reasons.
var (
	reasonPending       = stateReason{Code: "pending", Message: "pending"}
	reasonUserShutdown  = stateReason{Code: "Client.UserInitiatedShutdown", Message: "Client.UserInitiatedShutdown: User initiated shutdown"}
	reasonGuestShutdown = stateReason{Code: "Client.InstanceInitiatedShutdown", Message: "Client.InstanceInitiatedShutdown: Instance initiated shutdown"}
	reasonLaunchFailed  = stateReason{Code: "Server.InternalError", Message: "Server.InternalError: Internal error on launch"}
	reasonHostLost      = stateReason{Code: "Server.InternalError", Message: "Server.InternalError: The instance's sandbox was lost when its host restarted"}
)

// userInitiated is AWS's StateTransitionReason for a user's stop or
// terminate, e.g. "User initiated (2026-11-27 23:10:00 GMT)".
func userInitiated(t time.Time) string {
	return "User initiated (" + t.UTC().Format("2006-01-02 15:04:05") + " GMT)"
}

type stateReason struct {
	Code    string
	Message string
}

// moveTo changes the state if the table allows it.
func (in *instance) moveTo(to string, now time.Time) error {
	if _, ok := transitions[[2]string{in.State, to}]; !ok {
		return fmt.Errorf("%s: %s to %s: %w", in.InstanceId, in.State, to, errIllegalTransition)
	}
	in.State = to
	switch to {
	case stateTerminated:
		in.TerminatedAt = now
	case statePending:
		in.StateReason = &reasonPending
		in.StateTransitionReason = ""
	case stateRunning:
		in.StateReason = nil
		in.StateTransitionReason = ""
		in.LaunchTime = now
	}
	return nil
}

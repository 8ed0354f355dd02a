package ec2

import (
	"context"
	"time"

	"github.com/nimbus-dev/nimbus/internal/awserr"
	"github.com/nimbus-dev/nimbus/internal/store"
)

type instanceIDsInput struct {
	InstanceIds []string
	Force       bool
	Hibernate   bool
	DryRun      bool
}

type instanceStateChange struct {
	CurrentState  instanceStateView
	InstanceId    string
	PreviousState instanceStateView
}

// changeStates applies decide to each named instance in one transaction;
// decide returns the state to move to ("" to leave it) or an error that
// fails the whole call, as EC2 does.
func (e *EC2) changeStates(ctx context.Context, ids []string, dry bool, decide func(inst *instance, now time.Time) (string, error)) ([]instanceStateChange, error) {
	if len(ids) == 0 {
		return nil, awserr.Missing("InstanceId")
	}
	if err := validInstanceIDs(ids); err != nil {
		return nil, err
	}
	account, reg := partition(ctx)
	var changes []instanceStateChange
	now := time.Now().UTC().Truncate(time.Second)
	err := e.store.Update(ctx, func(tx store.Tx) error {
		changes = nil
		found, metas, missing, err := getInstances(tx, account, reg, ids)
		if err != nil {
			return err
		}
		if len(missing) > 0 {
			return instancesNotFound(missing)
		}
		for i, inst := range found {
			prev := inst.State
			to, err := decide(inst, now)
			if err != nil {
				return err
			}
			if to != "" && to != prev {
				if err := inst.moveTo(to, now); err != nil {
					return err
				}
			}
			if dry {
				continue
			}
			if err := recordUsage(tx, inst, prev, now); err != nil {
				return err
			}
			if _, err := tx.Put(inst.key(), inst, metas[i].Version); err != nil {
				return err
			}
			changes = append(changes, instanceStateChange{InstanceId: inst.InstanceId,
				PreviousState: stateView(prev), CurrentState: stateView(inst.State)})
		}
		return nil
	})
	if err != nil {
		if ae := awserr.As(err); ae != nil {
			return nil, ae
		}
		return nil, awserr.Internalf(err, "change instance states")
	}
	if dry {
		return nil, dryRun()
	}
	return changes, nil
}

func incorrectState(id, state, verb string) error {
	return awserr.New(awserr.Conflict, "IncorrectInstanceState",
		"The instance '%s' is not in a state from which it can be %s.", id, verb)
}

type stopInstancesOutput struct{ StoppingInstances []instanceStateChange }

func (e *EC2) stopInstances(ctx context.Context, in *instanceIDsInput) (*stopInstancesOutput, error) {
	if in.Hibernate {
		return nil, awserr.New(awserr.Validation, "UnsupportedHibernationConfiguration",
			"The instance is not configured for hibernation.")
	}
	changes, err := e.changeStates(ctx, in.InstanceIds, in.DryRun, func(inst *instance, now time.Time) (string, error) {
		switch inst.State {
		case stateRunning:
			inst.Force = in.Force
			inst.StateTransitionReason = userInitiated(now)
			inst.StateReason = &reasonUserShutdown
			return stateStopping, nil
		case stateStopping, stateStopped:
			if in.Force {
				inst.Force = true
			}
			return "", nil
		}
		return "", awserr.New(awserr.Conflict, "IncorrectInstanceState",
			"This instance '%s' is not in a state from which it can be stopped.", inst.InstanceId)
	})
	if err != nil {
		return nil, err
	}
	return &stopInstancesOutput{StoppingInstances: changes}, nil
}

type startInstancesOutput struct{ StartingInstances []instanceStateChange }

func (e *EC2) startInstances(ctx context.Context, in *instanceIDsInput) (*startInstancesOutput, error) {
	// Starting instances takes capacity as launching them does: the
	// starts of one call are counted together, in order.
	_, reg := partition(ctx)
	load, err := e.regionUse(ctx, reg)
	if err != nil {
		return nil, asAPIError(err, "read capacity")
	}
	var starting capacityUse
	changes, err := e.changeStates(ctx, in.InstanceIds, in.DryRun, func(inst *instance, now time.Time) (string, error) {
		switch inst.State {
		case stateStopped:
			starting.VCPUs += inst.VCPUs
			starting.MemoryMiB += inst.MemoryMiB
			starting.GPUs += inst.GPUs
			total := capacityUse{VCPUs: load.VCPUs + starting.VCPUs, MemoryMiB: load.MemoryMiB + starting.MemoryMiB, GPUs: load.GPUs + starting.GPUs}
			if !total.within(e.regionCapacity()) {
				return "", insufficientCapacity(inst.InstanceType, inst.AvailabilityZone)
			}
			inst.Force = false
			return statePending, nil
		case statePending, stateRunning:
			return "", nil
		}
		return "", incorrectState(inst.InstanceId, inst.State, "started")
	})
	if err != nil {
		return nil, err
	}
	return &startInstancesOutput{StartingInstances: changes}, nil
}

type terminateInstancesOutput struct{ TerminatingInstances []instanceStateChange }

func (e *EC2) terminateInstances(ctx context.Context, in *instanceIDsInput) (*terminateInstancesOutput, error) {
	changes, err := e.changeStates(ctx, in.InstanceIds, in.DryRun, func(inst *instance, now time.Time) (string, error) {
		switch inst.State {
		case stateShuttingDown, stateTerminated:
			return "", nil
		}
		if inst.DisableApiTermination {
			return "", awserr.New(awserr.Conflict, "OperationNotPermitted",
				"The instance '%s' may not be terminated. Modify its 'disableApiTermination' instance attribute and try again.", inst.InstanceId)
		}
		inst.StateTransitionReason = userInitiated(now)
		inst.StateReason = &reasonUserShutdown
		return stateShuttingDown, nil
	})
	if err != nil {
		return nil, err
	}
	return &terminateInstancesOutput{TerminatingInstances: changes}, nil
}

type rebootInstancesOutput struct{}

func (e *EC2) rebootInstances(ctx context.Context, in *instanceIDsInput) (*rebootInstancesOutput, error) {
	_, err := e.changeStates(ctx, in.InstanceIds, in.DryRun, func(inst *instance, now time.Time) (string, error) {
		switch inst.State {
		case stateRunning:
			inst.RebootsRequested++
			return "", nil
		case statePending, stateTerminated:
			// EC2 ignores reboots of instances not yet up or gone.
			return "", nil
		}
		return "", incorrectState(inst.InstanceId, inst.State, "rebooted")
	})
	if err != nil {
		return nil, err
	}
	return &rebootInstancesOutput{}, nil
}

package scheduler

import "strconv"

// Dependency types of SubmitJob's dependsOn.
const (
	DependNToN       = "N_TO_N"
	DependSequential = "SEQUENTIAL"
)

// Readiness is what a job's dependencies allow.
type Readiness int

const (
	// Wait: some dependency has not finished.
	Wait Readiness = iota
	// Ready: every dependency succeeded (or there are none).
	Ready
	// DependencyFailed: a dependency failed, so the job fails too.
	DependencyFailed
)

// Resolve says whether a job whose dependencies are in states may run.
func Resolve(states []State) Readiness {
	out := Ready
	for _, s := range states {
		switch s {
		case Failed:
			return DependencyFailed
		case Succeeded:
		default:
			out = Wait
		}
	}
	return out
}

// ChildID is the ID of an array job's child: the parent's ID, a colon, the
// index, as Batch names them.
func ChildID(parentID string, index int) string {
	return parentID + ":" + strconv.Itoa(index)
}

// ChildDependencies lists the jobs the child at index of an array job
// waits on, beside its parent's plain dependencies: for N_TO_N on another
// array job, that job's child of the same index; for SEQUENTIAL (given as
// a dependency on the parent itself), the previous child.
func ChildDependencies(parentID string, index int, deps []Dependency) []string {
	var out []string
	for _, d := range deps {
		switch {
		case d.Type == DependSequential && (d.JobID == parentID || d.JobID == ""):
			if index > 0 {
				out = append(out, ChildID(parentID, index-1))
			}
		case d.Type == DependNToN:
			out = append(out, ChildID(d.JobID, index))
		default:
			out = append(out, d.JobID)
		}
	}
	return out
}

// Dependency is one entry of dependsOn.
type Dependency struct {
	JobID string `json:"jobId"`
	Type  string `json:"type,omitempty"`
}

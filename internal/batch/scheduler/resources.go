package scheduler

import "math"

// Unlimited stands for a dimension without a limit (a compute environment
// caps vCPUs, not memory).
const Unlimited = math.MaxInt64 / 4

// Resources is an amount of vCPU (thousandths), memory (MiB) and GPUs.
type Resources struct {
	MilliCPU  int64
	MemoryMiB int64
	GPUs      int64
}

// Add returns r plus o.
func (r Resources) Add(o Resources) Resources {
	return Resources{r.MilliCPU + o.MilliCPU, r.MemoryMiB + o.MemoryMiB, r.GPUs + o.GPUs}
}

// Sub returns r minus o.
func (r Resources) Sub(o Resources) Resources {
	return Resources{r.MilliCPU - o.MilliCPU, r.MemoryMiB - o.MemoryMiB, r.GPUs - o.GPUs}
}

// Within reports whether every dimension of r is at most limit's.
func (r Resources) Within(limit Resources) bool {
	return r.MilliCPU <= limit.MilliCPU && r.MemoryMiB <= limit.MemoryMiB && r.GPUs <= limit.GPUs
}

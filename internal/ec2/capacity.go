package ec2

import (
	"bufio"
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/nimbus-dev/nimbus/internal/awserr"
	"github.com/nimbus-dev/nimbus/internal/store"
)

// Capacity is the compute one region's host offers instances. Each region
// has the whole of it: regions are names over one machine, and a region
// that overcommits the host with another is the operator's choice.
type Capacity struct {
	VCPUs     int
	MemoryMiB int64
	GPUs      int
}

// HostCapacity is this machine's CPUs, memory (MemTotal of /proc/meminfo)
// and NVIDIA GPUs (/dev/nvidia0, 1, ...): the default capacity.
func HostCapacity() Capacity {
	c := Capacity{VCPUs: runtime.NumCPU()}
	if f, err := os.Open("/proc/meminfo"); err == nil {
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			var kib int64
			if _, err := fmt.Sscanf(sc.Text(), "MemTotal: %d kB", &kib); err == nil {
				c.MemoryMiB = kib / 1024
				break
			}
		}
		f.Close()
	}
	if gpus, _ := filepath.Glob("/dev/nvidia[0-9]*"); len(gpus) > 0 {
		c.GPUs = len(gpus)
	}
	return c
}

// DefaultVCPUOvercommit is how many instance vCPUs the default capacity
// offers per host CPU. A vCPU here is a cgroup CPU quota, not a pinned core,
// and idle instances use none, so the default sells each core four times,
// as burstable EC2 hosts do; memory is never overcommitted.
const DefaultVCPUOvercommit = 4

// DefaultCapacity is the capacity a region has when none is configured:
// the host's, with vCPUs overcommitted by DefaultVCPUOvercommit.
func DefaultCapacity() Capacity {
	c := HostCapacity()
	c.VCPUs *= DefaultVCPUOvercommit
	return c
}

// regionCapacity is each region's capacity: the configured one, or
// DefaultCapacity for an EC2 built without setCapacity.
func (e *EC2) regionCapacity() Capacity {
	if e.capacity == (Capacity{}) {
		return DefaultCapacity()
	}
	return e.capacity
}

// capacityUse is what instances hold of a region's capacity.
type capacityUse struct {
	VCPUs     int
	MemoryMiB int64
	GPUs      int
}

func (u *capacityUse) add(t instanceTypeInfo, n int) {
	u.VCPUs += n * t.VCPUs
	u.MemoryMiB += int64(n) * t.MemoryMiB
	u.GPUs += n * t.GPUs
}

func (u *capacityUse) remove(inst *instance) {
	u.VCPUs -= inst.VCPUs
	u.MemoryMiB -= inst.MemoryMiB
	u.GPUs -= inst.GPUs
}

func (u capacityUse) within(c Capacity) bool {
	return u.VCPUs <= c.VCPUs && u.MemoryMiB <= c.MemoryMiB && u.GPUs <= c.GPUs
}

// holdsCapacity reports whether an instance counts against its region's
// capacity: from launch (or start) until it is stopped or terminated.
func (in *instance) holdsCapacity() bool {
	return in.State == statePending || in.State == stateRunning
}

// regionLoad reads, in tx, what every account's instances hold of a
// region's capacity and the spot instances that could give theirs back,
// newest first. Spot instances already being interrupted hold nothing: their
// room went to the launch that reclaimed it (the host is overcommitted by
// them for the warning period).
func regionLoad(tx store.Tx, reg string) (capacityUse, []*instance, error) {
	var use capacityUse
	var spot []*instance
	q := store.Query{Kind: kindInstance, AllAccounts: true, Region: reg, Index: indexCapacity, IndexValue: "held"}
	err := tx.List(q, func(o store.Object) error {
		var inst instance
		if err := o.Decode(&inst); err != nil {
			return err
		}
		if inst.Region != reg || !inst.holdsCapacity() {
			return nil
		}
		if inst.Spot != nil && !inst.Spot.InterruptAt.IsZero() {
			// Its room was given to the launch that reclaimed it.
			return nil
		}
		use.VCPUs += inst.VCPUs
		use.MemoryMiB += inst.MemoryMiB
		use.GPUs += inst.GPUs
		if inst.Spot != nil {
			spot = append(spot, &inst)
		}
		return nil
	})
	slices.SortFunc(spot, func(a, b *instance) int {
		if c := b.LaunchTime.Compare(a.LaunchTime); c != 0 {
			return c
		}
		return strings.Compare(b.InstanceId, a.InstanceId)
	})
	return use, spot, err
}

// admission is how many instances of a launch fit and which spot instances
// must give way for them.
type admission struct {
	Count     int
	Interrupt []*instance
}

// admit decides, in tx, how many of min..max instances of type t fit in the
// region. An on-demand launch may reclaim spot instances' capacity (the
// fewest, newest first, that let the most instances launch); a spot launch
// never does. Count is 0 when not even min fit.
func (e *EC2) admit(tx store.Tx, reg string, t instanceTypeInfo, minCount, maxCount int, spot bool) (admission, error) {
	use, reclaimable, err := regionLoad(tx, reg)
	if err != nil {
		return admission{}, err
	}
	fits := func(u capacityUse, n int) bool {
		u.add(t, n)
		return u.within(e.regionCapacity())
	}
	best := func(u capacityUse) int {
		for n := maxCount; n >= minCount && n > 0; n-- {
			if fits(u, n) {
				return n
			}
		}
		return 0
	}
	if n := best(use); n == maxCount || spot {
		return admission{Count: n}, nil
	}
	// Reclaim spot instances one at a time until the whole launch fits,
	// then keep only as many as the best count needs.
	freed, taken := use, 0
	for taken < len(reclaimable) && !fits(freed, maxCount) {
		freed.remove(reclaimable[taken])
		taken++
	}
	n := best(freed)
	if n == 0 || n <= best(use) {
		return admission{Count: best(use)}, nil
	}
	freed, taken = use, 0
	for !fits(freed, n) {
		freed.remove(reclaimable[taken])
		taken++
	}
	return admission{Count: n, Interrupt: reclaimable[:taken]}, nil
}

// insufficientCapacity is EC2's error for a launch the region cannot hold.
func insufficientCapacity(typ, zone string) error {
	return &awserr.Error{Kind: awserr.LimitExceeded, Code: "InsufficientInstanceCapacity", Status: http.StatusInternalServerError,
		Message: fmt.Sprintf("We currently do not have sufficient %s capacity in the Availability Zone you requested (%s). "+
			"Our system will be working on provisioning additional capacity. You can currently get %s capacity by not "+
			"specifying an Availability Zone in your request or choosing other Availability Zones.", typ, zone, typ)}
}

// scheduleInterruptions marks spot instances for interruption after the
// warning period and writes them back in tx; the controller carries the
// interruption out at that time and IMDS shows the notice until then.
func (e *EC2) scheduleInterruptions(tx store.Tx, victims []*instance, now time.Time) error {
	warning := e.spotWarning
	if warning <= 0 {
		warning = 2 * time.Minute
	}
	for _, v := range victims {
		var cur instance
		meta, err := tx.Get(v.key(), &cur)
		if err != nil {
			return err
		}
		cur.Spot.InterruptAt = now.Add(warning)
		if _, err := tx.Put(cur.key(), &cur, meta.Version); err != nil {
			return err
		}
	}
	return nil
}

// String is a capacity for logs.
func (c Capacity) String() string {
	return strings.Join([]string{strconv.Itoa(c.VCPUs) + " vCPU", strconv.FormatInt(c.MemoryMiB, 10) + " MiB",
		strconv.Itoa(c.GPUs) + " GPU"}, ", ")
}

// regionUse is what instances hold of a region's capacity now.
func (e *EC2) regionUse(ctx context.Context, reg string) (capacityUse, error) {
	var use capacityUse
	err := e.store.View(ctx, func(tx store.Tx) error {
		var err error
		use, _, err = regionLoad(tx, reg)
		return err
	})
	return use, err
}

package ec2

import (
	"context"
	"fmt"
	"math"
	"sort"
	"time"

	"github.com/nimbus-dev/nimbus/internal/store"
)

// kindUsage holds one record per finished run interval of an instance,
// written in the same transaction that takes the instance out of running,
// and never changed afterwards.
const kindUsage = "ec2:usage"

// MinimumBilledSeconds is EC2's minimum charge for one run interval of a
// Linux instance.
const MinimumBilledSeconds = 60

// UsageRecord is one interval during which an instance was running: from
// its launch or start until it began to stop or terminate.
type UsageRecord struct {
	Account          string
	Region           string
	InstanceID       string
	InstanceType     string
	Market           string // on-demand or spot
	AvailabilityZone string
	Start            time.Time
	// End is zero while the instance still runs.
	End time.Time
}

// BilledSeconds is the interval's length in whole seconds, rounded up,
// with EC2's 60-second minimum; an interval still running counts up to
// asOf.
func (r UsageRecord) BilledSeconds(asOf time.Time) int64 {
	end := r.End
	if end.IsZero() {
		end = asOf
	}
	secs := int64(math.Ceil(end.Sub(r.Start).Seconds()))
	return max(secs, MinimumBilledSeconds)
}

func usageOf(inst *instance, end time.Time) UsageRecord {
	market := "on-demand"
	if inst.Market == "spot" {
		market = "spot"
	}
	return UsageRecord{Account: inst.OwnerId, Region: inst.Region, InstanceID: inst.InstanceId, InstanceType: inst.InstanceType,
		Market: market, AvailabilityZone: inst.AvailabilityZone, Start: inst.LaunchTime, End: end}
}

// recordUsage writes the usage record of the interval an instance just
// ended, when a change took it out of running.
func recordUsage(tx store.Tx, inst *instance, prevState string, now time.Time) error {
	if prevState != stateRunning || inst.State == stateRunning {
		return nil
	}
	rec := usageOf(inst, now)
	id := fmt.Sprintf("%s-%020d", inst.InstanceId, inst.LaunchTime.UnixNano())
	_, err := tx.Put(store.Key{Account: inst.OwnerId, Region: inst.Region, Kind: kindUsage, ID: id}, rec, 0)
	return err
}

// Usage returns an account's instance usage in every region that overlaps
// [from, to): the finished intervals, and one open interval (End zero) per
// instance running now. The cost report prices them.
func Usage(ctx context.Context, st store.Store, account string, from, to time.Time) ([]UsageRecord, error) {
	var out []UsageRecord
	overlaps := func(r UsageRecord) bool {
		return r.Start.Before(to) && (r.End.IsZero() || r.End.After(from))
	}
	err := st.View(ctx, func(tx store.Tx) error {
		err := tx.List(store.Query{Kind: kindUsage, Account: account, AllRegions: true}, func(o store.Object) error {
			var r UsageRecord
			if err := o.Decode(&r); err != nil {
				return err
			}
			if overlaps(r) {
				out = append(out, r)
			}
			return nil
		})
		if err != nil {
			return err
		}
		return tx.List(store.Query{Kind: kindInstance, Account: account, AllRegions: true}, func(o store.Object) error {
			var inst instance
			if err := o.Decode(&inst); err != nil {
				return err
			}
			if inst.State == stateRunning {
				if r := usageOf(&inst, time.Time{}); overlaps(r) {
					out = append(out, r)
				}
			}
			return nil
		})
	})
	if err != nil {
		return nil, fmt.Errorf("read ec2 usage of %s: %w", account, err)
	}
	sort.Slice(out, func(i, j int) bool {
		if !out[i].Start.Equal(out[j].Start) {
			return out[i].Start.Before(out[j].Start)
		}
		return out[i].InstanceID < out[j].InstanceID
	})
	return out, nil
}

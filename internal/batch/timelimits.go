package batch

import (
	"context"
	"strings"
	"time"

	"github.com/nimbus-dev/nimbus/internal/batch/scheduler"
	"github.com/nimbus-dev/nimbus/internal/store"
)

// timeLimitEvery spaces the passes over RUNNABLE jobs for their queues'
// jobStateTimeLimitActions.
const timeLimitEvery = time.Second

// applyTimeLimits cancels RUNNABLE jobs that have waited longer than one
// of their queue's jobStateTimeLimitActions allows for the reason they
// wait (their statusReason starts with the action's reason).
func (c *controller) applyTimeLimits(ctx context.Context) {
	now := c.api.now()
	if now.Sub(c.lastTimeLimits) < timeLimitEvery || len(c.timeLimits) == 0 {
		return
	}
	c.lastTimeLimits = now
	var expired []store.Key
	reasons := map[store.Key]string{}
	for k, j := range c.active {
		if j.Status != scheduler.Runnable || j.StatusReason == "" {
			continue
		}
		for _, a := range c.timeLimits[queueKey(k.Account, k.Region, j.QueueName)] {
			waited := now.Sub(time.UnixMilli(j.RunnableAt))
			if strings.HasPrefix(j.StatusReason, a.Reason) && waited >= time.Duration(a.MaxTimeSeconds)*c.api.timeoutUnit {
				expired = append(expired, k)
				reasons[k] = a.Reason
				break
			}
		}
	}
	for _, k := range expired {
		yes := true
		j, err := c.update(ctx, k, func(cur *jobRecord) error {
			if cur.Status != scheduler.Runnable {
				return errNotRunnable
			}
			cur.Status, cur.StatusReason, cur.StoppedAt, cur.IsCancelled = scheduler.Failed, reasons[k], millis(now), &yes
			return nil
		})
		if err != nil {
			continue // started or stopped meanwhile
		}
		c.track(ctx, j)
	}
}

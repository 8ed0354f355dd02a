package logs

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/nimbus-dev/nimbus/internal/store"
)

// Run enforces retention until ctx ends: every SweepInterval it deletes the
// segments whose events are all older than their group's retention, and the
// event directories of groups that no longer exist. The caller owns the
// goroutine that runs it; Run returns nil when ctx ends.
func (l *Logs) Run(ctx context.Context) error {
	t := time.NewTicker(l.sweepEvery)
	defer t.Stop()
	for {
		if err := l.sweep(ctx); err != nil && ctx.Err() == nil {
			l.log.Warn("log retention sweep", "err", err)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

// sweep is one pass of Run.
func (l *Logs) sweep(ctx context.Context) error {
	// Directories are listed before groups: a group created in between has
	// its record written before its first event, so it is seen as live.
	dirs, err := l.events.dirs()
	if err != nil {
		return err
	}
	var groups []groupRecord
	err = l.store.View(ctx, func(tx store.Tx) error {
		return tx.List(store.Query{Kind: kindGroup, AllAccounts: true, AllRegions: true}, func(o store.Object) error {
			var rec groupRecord
			if err := o.Decode(&rec); err != nil {
				return err
			}
			groups = append(groups, rec)
			return nil
		})
	})
	if err != nil {
		return fmt.Errorf("list log groups: %w", err)
	}
	now := l.nowMillis()
	live := make(map[string]bool, len(groups))
	var errs []error
	for _, grp := range groups {
		live[grp.StorageID] = true
		if grp.RetentionInDays <= 0 || !l.events.exists(grp.StorageID) {
			continue
		}
		g, err := l.events.group(grp.StorageID)
		if err == nil {
			err = g.expire(retentionCutoff(now, grp.RetentionInDays))
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("expire log group %s: %w", grp.Name, err))
		}
	}
	if err := l.events.removeOrphans(dirs, live); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

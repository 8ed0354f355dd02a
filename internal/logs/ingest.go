package logs

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/nimbus-dev/nimbus/internal/store"
)

// Event is one log event handed to Ingest.
type Event struct {
	Timestamp time.Time // when it happened; the zero time means now
	Message   string    // empty messages are skipped, as AWS accepts none
}

// Ingest appends events to a stream of a log group in account and region,
// creating the group and the stream first when they are missing, as Lambda
// and Batch do on a sandbox's first output. It returns once the events are
// durable. Unlike PutLogEvents it applies none of the batch rules (size,
// order, age): the caller is nimbus itself shipping a sandbox's output in the
// order it was written, and GetLogEvents orders by timestamp anyway.
func (l *Logs) Ingest(ctx context.Context, account, region, group, stream string, events []Event) error {
	if err := validateGroupName("logGroupName", group); err != nil {
		return fmt.Errorf("ingest into %s: %w", group, err)
	}
	if err := validateStreamName(stream); err != nil {
		return fmt.Errorf("ingest into %s/%s: %w", group, stream, err)
	}
	grp, rec, err := l.ensureStream(ctx, account, region, group, stream)
	if err != nil {
		return fmt.Errorf("ingest into %s/%s: %w", group, stream, err)
	}
	now := l.now()
	batch := make([]inputEvent, 0, len(events))
	for _, e := range events {
		if e.Message == "" {
			continue
		}
		ts := e.Timestamp
		if ts.IsZero() {
			ts = now
		}
		batch = append(batch, inputEvent{ts: ts.UnixMilli(), msg: e.Message})
	}
	g, err := l.events.group(grp.StorageID)
	if err != nil {
		return fmt.Errorf("ingest into %s/%s: %w", group, stream, err)
	}
	if err := g.append(rec.Number, batch, now.UnixMilli()); err != nil {
		return fmt.Errorf("ingest into %s/%s: %w", group, stream, err)
	}
	return nil
}

// ensureStream reads a group and stream, creating whichever is missing.
func (l *Logs) ensureStream(ctx context.Context, account, region, group, stream string) (groupRecord, streamRecord, error) {
	var grp groupRecord
	var rec streamRecord
	found := false
	err := l.store.View(ctx, func(tx store.Tx) error {
		if _, err := tx.Get(groupKey(account, region, group), &grp); err != nil {
			return err
		}
		if _, err := tx.Get(streamKey(account, region, group, stream), &rec); err != nil {
			return err
		}
		found = true
		return nil
	})
	if found {
		return grp, rec, nil
	}
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return grp, rec, err
	}
	err = l.store.Update(ctx, func(tx store.Tx) error {
		gk := groupKey(account, region, group)
		if _, err := tx.Get(gk, &grp); errors.Is(err, store.ErrNotFound) {
			grp = groupRecord{Name: group, CreationTime: l.nowMillis(), Class: "STANDARD", StorageID: newStorageID()}
			if _, err := tx.Create(gk, grp); err != nil {
				return err
			}
		} else if err != nil {
			return err
		}
		_, err := tx.Get(streamKey(account, region, group, stream), &rec)
		if errors.Is(err, store.ErrNotFound) {
			rec, err = l.createStreamTx(tx, account, region, group, stream)
		}
		return err
	})
	return grp, rec, err
}

package s3

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/nimbus-dev/nimbus/internal/identity"
	"github.com/nimbus-dev/nimbus/internal/store"
)

// The S3 event message structure (version 2.1), field for field.
type eventMessage struct {
	Records []eventRecordJSON `json:"Records"`
}

type eventRecordJSON struct {
	EventVersion      string            `json:"eventVersion"`
	EventSource       string            `json:"eventSource"`
	AWSRegion         string            `json:"awsRegion"`
	EventTime         string            `json:"eventTime"`
	EventName         string            `json:"eventName"`
	UserIdentity      principalJSON     `json:"userIdentity"`
	RequestParameters map[string]string `json:"requestParameters"`
	ResponseElements  map[string]string `json:"responseElements"`
	S3                eventS3JSON       `json:"s3"`
}

type principalJSON struct {
	PrincipalID string `json:"principalId"`
}

type eventS3JSON struct {
	SchemaVersion   string          `json:"s3SchemaVersion"`
	ConfigurationID string          `json:"configurationId"`
	Bucket          eventBucketJSON `json:"bucket"`
	Object          eventObjectJSON `json:"object"`
}

type eventBucketJSON struct {
	Name          string        `json:"name"`
	OwnerIdentity principalJSON `json:"ownerIdentity"`
	ARN           string        `json:"arn"`
}

type eventObjectJSON struct {
	Key       string `json:"key"`
	Size      *int64 `json:"size,omitempty"`
	ETag      string `json:"eTag,omitempty"`
	Sequencer string `json:"sequencer"`
}

// principalID is how S3 events name the caller: AWS:<unique ID> for IAM
// users and role sessions, the account for its root.
func principalID(p *identity.Principal) string {
	switch {
	case p == nil:
		return ""
	case p.IsRoot():
		return p.Account
	}
	return "AWS:" + p.UserID
}

// queueEvents writes, in the caller's transaction, one outbox entry per
// notification configuration of b that wants event for rec: so an event is
// queued exactly when the write it describes commits. It reports whether
// it queued any.
func (a *API) queueEvents(ctx context.Context, tx store.Tx, b *bucketRecord, event string, rec *objectRecord) (bool, error) {
	if b.Notifications == nil {
		return false, nil
	}
	var matched []*lambdaConfig
	for i := range b.Notifications.Lambda {
		if c := &b.Notifications.Lambda[i]; c.matches(event, rec.Key) {
			matched = append(matched, c)
		}
	}
	if len(matched) == 0 {
		return false, nil
	}
	seq, err := tx.NextSequence(eventSequence)
	if err != nil {
		return false, errInternal(err, "draw event sequence")
	}
	call := identity.From(ctx)
	when := rec.LastModified
	if when.IsZero() {
		when = now()
	}
	object := eventObjectJSON{Key: urlEncode(rec.Key), Sequencer: fmt.Sprintf("%016X", seq)}
	if strings.HasPrefix(event, "ObjectCreated:") {
		size := rec.Size
		object.Size, object.ETag = &size, strings.Trim(rec.ETag, `"`)
	}
	for i, c := range matched {
		msg := eventMessage{Records: []eventRecordJSON{{
			EventVersion: "2.1", EventSource: "aws:s3", AWSRegion: b.Region,
			EventTime: when.UTC().Format("2006-01-02T15:04:05.000Z"), EventName: event,
			UserIdentity:      principalJSON{PrincipalID: principalID(call.Principal)},
			RequestParameters: map[string]string{"sourceIPAddress": call.SourceIP},
			ResponseElements:  map[string]string{"x-amz-request-id": call.RequestID, "x-amz-id-2": hostID(call.RequestID)},
			S3: eventS3JSON{
				SchemaVersion: "1.0", ConfigurationID: c.ID,
				Bucket: eventBucketJSON{Name: b.Name, OwnerIdentity: principalJSON{PrincipalID: b.Owner}, ARN: bucketARN(b.Name)},
				Object: object,
			},
		}}}
		payload, err := json.Marshal(msg)
		if err != nil {
			return false, errInternal(err, "encode event")
		}
		id := fmt.Sprintf("%020d-%03d", seq, i)
		key := store.Key{Account: globalAccount, Kind: kindEvent, ID: id}
		if _, err := tx.Create(key, eventRecord{FunctionARN: c.FunctionARN, Payload: payload}); err != nil {
			return false, errInternal(err, "queue event")
		}
	}
	return true, nil
}

// hostID is S3's x-amz-id-2 for a request ID, as the edge derives it.
func hostID(requestID string) string {
	if requestID == "" {
		return ""
	}
	return base64Std(requestID)
}

// signalOutbox wakes the outbox worker without waiting for it.
func (a *API) signalOutbox() {
	select {
	case a.wake <- struct{}{}:
	default:
	}
}

// Outbox delivery pacing: a full scan every outboxPoll in case a wake-up
// was missed (events committed by another nimbus sharing the store), and
// retries after a sink failure back off up to outboxMaxBackoff.
const (
	outboxPoll       = 5 * time.Second
	outboxBatch      = 100
	outboxMaxBackoff = 30 * time.Second
)

// Run delivers queued notifications to the EventSink until ctx ends: each
// event is deleted from the outbox only after the sink accepted it, so a
// crash at any point redelivers rather than loses it. The server runs it
// as a background worker; with no sink it only waits.
func (a *API) Run(ctx context.Context) error {
	if a.events == nil {
		<-ctx.Done()
		return ctx.Err()
	}
	backoff := time.Duration(0)
	for {
		delivered, err := a.deliver(ctx)
		if err != nil && ctx.Err() == nil {
			backoff = min(max(2*backoff, 100*time.Millisecond), outboxMaxBackoff)
			a.log.Warn("s3: event delivery failed; retrying", "err", err, "retry_in", backoff)
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(backoff):
			}
			continue
		}
		backoff = 0
		if delivered == outboxBatch {
			continue // more may be waiting
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-a.wake:
		case <-time.After(outboxPoll):
		}
	}
}

// deliver hands over one batch of queued events, oldest first.
func (a *API) deliver(ctx context.Context) (int, error) {
	type queued struct {
		key store.Key
		rec eventRecord
	}
	var batch []queued
	err := a.store.View(ctx, func(tx store.Tx) error {
		return tx.List(store.Query{Kind: kindEvent, Account: globalAccount, Limit: outboxBatch}, func(o store.Object) error {
			var r eventRecord
			if err := o.Decode(&r); err != nil {
				return err
			}
			batch = append(batch, queued{key: o.Key, rec: r})
			return nil
		})
	})
	if err != nil {
		return 0, fmt.Errorf("read s3 event outbox: %w", err)
	}
	for i, q := range batch {
		if err := a.events.EnqueueEvent(ctx, q.rec.FunctionARN, q.rec.Payload); errors.Is(err, ErrUndeliverable) {
			a.log.Warn("s3: dropping an event its destination can never take", "function", q.rec.FunctionARN, "err", err)
		} else if err != nil {
			return i, fmt.Errorf("enqueue event for %s: %w", q.rec.FunctionARN, err)
		}
		err := a.store.Update(ctx, func(tx store.Tx) error { return tx.Delete(q.key, 0) })
		if err != nil && !isNotFound(err) {
			return i, fmt.Errorf("remove delivered event: %w", err)
		}
	}
	return len(batch), nil
}

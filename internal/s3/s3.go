// Package s3 serves a focused Amazon S3 over the rest-xml protocol: buckets,
// objects (streamed to and from files under the data directory, metadata in
// the store), multipart uploads, tagging and Lambda event notifications,
// delivered through a durable outbox. The edge routes both addressing
// styles and verifies SigV4, including presigned URLs and aws-chunked
// streaming bodies, before a handler here runs. docs/S3.md records why
// nimbus has its own S3 rather than embedding one.
package s3

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"time"

	"github.com/nimbus-dev/nimbus/internal/identity"
	"github.com/nimbus-dev/nimbus/internal/service"
	"github.com/nimbus-dev/nimbus/internal/store"
)

// FunctionPermissions is what S3 asks Lambda before it accepts a
// LambdaFunctionConfiguration: whether the function exists and its resource
// policy lets s3.amazonaws.com invoke it for this bucket (AddPermission with
// SourceArn arn:aws:s3:::BUCKET and, where given, SourceAccount). An error is
// for failures to find out, not for "no".
type FunctionPermissions interface {
	AllowsS3Invoke(ctx context.Context, functionARN, bucketARN, bucketOwner string) (bool, error)
}

// EventSink takes an S3 event notification for an asynchronous invocation
// of a function (Lambda's Event invocation type, with its retries). It must
// return only once the invocation is durably queued: the outbox deletes the
// event when it returns nil, and hands it over again after an error or a
// crash, so the sink may see an event more than once (as Lambda's own
// at-least-once async delivery does). An error wrapping ErrUndeliverable
// (the function was deleted since the configuration was accepted) drops
// the event instead, as S3 drops events for a destination that is gone;
// any other error is retried, holding back the events behind it.
type EventSink interface {
	EnqueueEvent(ctx context.Context, functionARN string, payload []byte) error
}

// ErrUndeliverable, wrapped by an EventSink's error, says an event can
// never be delivered and should be dropped rather than retried.
var ErrUndeliverable = errors.New("s3 event undeliverable")

// Options are S3's dependencies.
type Options struct {
	Store store.Store
	// DataDir is nimbus's data directory; object bytes live under DataDir/s3.
	DataDir string
	// Functions validates Lambda destinations; nil refuses every
	// LambdaFunctionConfiguration, as S3 does when it cannot validate one.
	Functions FunctionPermissions
	// Events receives notifications from Run's outbox worker; nil leaves
	// them queued in the store until a later nimbus has a sink.
	Events EventSink
	Logger *slog.Logger
}

// API is the S3 service's state.
type API struct {
	store     store.Store
	blobs     *blobs
	functions FunctionPermissions
	events    EventSink
	log       *slog.Logger
	svc       *service.Service
	// wake tells the outbox worker an event was committed.
	wake chan struct{}
}

// New opens S3's data directory, sweeps blobs that no record names (what a
// crash between a blob write and its commit leaves), and registers every
// operation. Call it before serving requests.
func New(ctx context.Context, opts Options) (*API, error) {
	if opts.Store == nil || opts.DataDir == "" {
		return nil, errors.New("s3: Store and DataDir are required")
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	b, err := openBlobs(filepath.Join(opts.DataDir, "s3"))
	if err != nil {
		return nil, err
	}
	svc, err := service.New("s3")
	if err != nil {
		return nil, err
	}
	a := &API{store: opts.Store, blobs: b, functions: opts.Functions, events: opts.Events,
		log: opts.Logger, svc: svc, wake: make(chan struct{}, 1)}
	if err := a.sweepBlobs(ctx); err != nil {
		return nil, err
	}
	a.registerBuckets(svc)
	a.registerObjects(svc)
	a.registerListing(svc)
	a.registerTagging(svc)
	a.registerBucketPolicy(svc)
	a.registerMultipart(svc)
	a.registerNotifications(svc)
	svc.OnReset(a.reset)
	return a, nil
}

// Service is the S3 service to hand the edge.
func (a *API) Service() *service.Service { return a.svc }

// sweepBlobs removes blobs no object or part record names.
func (a *API) sweepBlobs(ctx context.Context) error {
	named := map[string]bool{}
	err := a.store.View(ctx, func(tx store.Tx) error {
		if err := tx.List(store.Query{Kind: kindObject, Account: globalAccount}, func(o store.Object) error {
			var r objectRecord
			if err := o.Decode(&r); err != nil {
				return err
			}
			named[r.File] = true
			return nil
		}); err != nil {
			return err
		}
		return tx.List(store.Query{Kind: kindPart, Account: globalAccount}, func(o store.Object) error {
			var r partRecord
			if err := o.Decode(&r); err != nil {
				return err
			}
			named[r.File] = true
			return nil
		})
	})
	if err != nil {
		return fmt.Errorf("s3: read blob names: %w", err)
	}
	n, err := a.blobs.sweep(func(name string) bool { return named[name] })
	if err != nil {
		return fmt.Errorf("s3: %w", err)
	}
	if n > 0 {
		a.log.Info("s3: removed blobs no object names", "count", n)
	}
	return nil
}

// reset is S3's part of /_nimbus/reset: every record, then every blob.
func (a *API) reset(ctx context.Context) error {
	if err := service.DeleteKinds(ctx, a.store, kindBucket, kindObject, kindUpload, kindPart, kindEvent); err != nil {
		return err
	}
	_, err := a.blobs.sweep(func(string) bool { return false })
	return err
}

// caller is the calling principal's account, "" outside a request.
func caller(ctx context.Context) string { return identity.Account(ctx) }

// now is S3's clock: timestamps S3 shows have millisecond precision.
func now() time.Time { return time.Now().UTC().Truncate(time.Millisecond) }

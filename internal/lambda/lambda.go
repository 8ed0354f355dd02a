// Package lambda serves the AWS Lambda API (rest-json, 2015-03-31): functions
// and their code, versions, aliases, concurrency, resource policies,
// function URLs, asynchronous invocation and tags. It owns every function's
// state; package runner runs the invocations it hands over, one function
// version at a time.
//
// Each resource family lives in a file of its own; the state layout is in
// records.go.
package lambda

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/nimbus-dev/nimbus/internal/identity"
	"github.com/nimbus-dev/nimbus/internal/lambda/runner"
	"github.com/nimbus-dev/nimbus/internal/service"
	"github.com/nimbus-dev/nimbus/internal/store"
)

// Defaults of Options fields left zero.
const (
	DefaultAccountConcurrency = 1000
	DefaultURLPort            = 4566
	DefaultSettleDelay        = 250 * time.Millisecond
	DefaultRetryBaseDelay     = time.Minute
	DefaultThrottleRetryDelay = time.Second
	DefaultAsyncWorkers       = 16
)

// Options are the Lambda API's dependencies and settings.
type Options struct {
	Store store.Store
	// DataDir holds deployment packages, under DataDir/lambda/code.
	DataDir string
	// Invoker runs invocations; required.
	Invoker runner.Invoker
	Logger  *slog.Logger
	// AccountConcurrency is each account's concurrent-execution limit per
	// region (1000 when zero).
	AccountConcurrency int
	// Now is the clock (time.Now when nil).
	Now func() time.Time
	// URLPort is the port in function URLs and code locations (4566 when
	// zero).
	URLPort int
	// SettleDelay is how long a created function stays Pending and an
	// update InProgress before they become Active and Successful (250 ms
	// when zero; negative means at once).
	SettleDelay time.Duration
	// RetryBaseDelay spaces async retries after a function error: the
	// first retry waits one base delay, the second two, as Lambda's 1 and 2
	// minutes (one minute when zero).
	RetryBaseDelay time.Duration
	// ThrottleRetryDelay is how long a throttled async event waits before
	// its next try (one second when zero).
	ThrottleRetryDelay time.Duration
	// AsyncWorkers bounds concurrent async deliveries (16 when zero).
	AsyncWorkers int
	// URLAuthorizer verifies requests to functions URLs of AuthType
	// AWS_IAM (a SigV4 signature and the caller's permission to
	// lambda:InvokeFunctionUrl on fnARN). Nil refuses every such request
	// with 403, since only the edge can verify signatures.
	URLAuthorizer func(r *http.Request, account, fnARN string) error
	// RoleCredentials mints temporary credentials for a function's
	// execution role (STS, as Lambda assumes the role); nil gives
	// functions no credentials.
	RoleCredentials func(ctx context.Context, roleARN, sessionName string) (*runner.Credentials, error)
	// S3Objects reads an S3 object: deployment packages given as S3Bucket
	// and S3Key. Nil answers such packages as a missing bucket.
	S3Objects func(ctx context.Context, account, bucket, key string) (io.ReadCloser, int64, error)
}

// API is the Lambda service: its handlers, the async dispatcher and the
// function URL handler.
type API struct {
	store   store.Store
	invoker runner.Invoker
	// preparer readies a runtime's files when a function is created with
	// it, if the invoker can (runner.RuntimePreparer).
	preparer runner.RuntimePreparer
	log      *slog.Logger
	now      func() time.Time
	codeDir  string
	svc      *service.Service

	accountConcurrency int
	urlPort            int
	settle             time.Duration
	retryBase          time.Duration
	throttleDelay      time.Duration
	workers            int
	urlAuthorizer      func(r *http.Request, account, fnARN string) error
	roleCredentials    func(ctx context.Context, roleARN, sessionName string) (*runner.Credentials, error)
	s3Objects          func(ctx context.Context, account, bucket, key string) (io.ReadCloser, int64, error)

	// meter collects usage (requests, GB-seconds) for the cost report.
	meter *meter
	// wake tells the async dispatcher that an event was queued.
	wake chan struct{}
	// unpackMu serializes unpacking a deployment package, so two creates
	// of the same code do not race on its directory.
	unpackMu sync.Mutex
}

// New returns the Lambda API. Call Run to deliver asynchronous invocations.
func New(opts Options) (*API, error) {
	if opts.Store == nil || opts.Invoker == nil || opts.DataDir == "" {
		return nil, errors.New("lambda: Store, Invoker and DataDir are required")
	}
	svc, err := service.New("lambda")
	if err != nil {
		return nil, fmt.Errorf("lambda: %w", err)
	}
	a := &API{
		store: opts.Store, invoker: opts.Invoker, log: opts.Logger, now: opts.Now, svc: svc,
		codeDir:            filepath.Join(opts.DataDir, "lambda", "code"),
		accountConcurrency: orDefault(opts.AccountConcurrency, DefaultAccountConcurrency),
		urlPort:            orDefault(opts.URLPort, DefaultURLPort),
		settle:             orDefault(opts.SettleDelay, DefaultSettleDelay),
		retryBase:          orDefault(opts.RetryBaseDelay, DefaultRetryBaseDelay),
		throttleDelay:      orDefault(opts.ThrottleRetryDelay, DefaultThrottleRetryDelay),
		workers:            orDefault(opts.AsyncWorkers, DefaultAsyncWorkers),
		urlAuthorizer:      opts.URLAuthorizer,
		roleCredentials:    opts.RoleCredentials,
		s3Objects:          opts.S3Objects,
		wake:               make(chan struct{}, 1),
	}
	if a.log == nil {
		a.log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if a.now == nil {
		a.now = time.Now
	}
	if a.settle < 0 {
		a.settle = 0
	}
	a.meter = newMeter(a.now)
	a.preparer, _ = a.invoker.(runner.RuntimePreparer)
	a.invoker = meteredInvoker{Invoker: a.invoker, m: a.meter}
	a.registerFunctions(svc)
	a.registerVersions(svc)
	a.registerAliases(svc)
	a.registerConcurrency(svc)
	a.registerPolicy(svc)
	a.registerURLs(svc)
	a.registerInvoke(svc)
	a.registerEventInvokeConfigs(svc)
	a.registerTags(svc)
	svc.OnReset(a.reset)
	return a, nil
}

// Service is the API's handlers, for the edge.
func (a *API) Service() *service.Service { return a.svc }

func orDefault[T comparable](v, def T) T {
	var zero T
	if v == zero {
		return def
	}
	return v
}

// reset retires every function's sandboxes and forgets all Lambda state.
func (a *API) reset(ctx context.Context) error {
	var fns []store.Key
	err := a.store.View(ctx, func(tx store.Tx) error {
		return tx.List(store.Query{Kind: kindFunction, AllAccounts: true, AllRegions: true}, func(o store.Object) error {
			fns = append(fns, o.Key)
			return nil
		})
	})
	if err != nil {
		return fmt.Errorf("lambda reset: list functions: %w", err)
	}
	for _, k := range fns {
		if err := a.invoker.Retire(ctx, k.Account, k.Region, k.ID); err != nil {
			return fmt.Errorf("lambda reset: retire %s: %w", k.ID, err)
		}
	}
	a.meter.mu.Lock()
	a.meter.pending = map[usageKey]*usageBucket{}
	a.meter.mu.Unlock()
	if err := service.DeleteKinds(ctx, a.store, kindFunction, kindEvent, kindReservations, kindUsage); err != nil {
		return fmt.Errorf("lambda reset: %w", err)
	}
	if err := os.RemoveAll(a.codeDir); err != nil {
		return fmt.Errorf("lambda reset: remove code: %w", err)
	}
	return nil
}

// partition is the account and region a request acts in.
func partition(ctx context.Context) (account, region string) {
	c := identity.From(ctx)
	if c.Principal != nil {
		account = c.Principal.Account
	}
	return account, c.Region
}

// Package batch serves the AWS Batch API (rest-json, 2016-08-10): compute
// environments, job queues, job definitions, jobs, scheduling policies and
// tags. Handlers only write desired state; the Controller (controller.go)
// moves jobs through their states, places them with package scheduler and
// runs each attempt as a sandbox on the substrate (execution.go).
//
// Resource families live in files of their own; the state layout is in
// records.go and jobrecords.go.
package batch

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"time"

	"github.com/nimbus-dev/nimbus/internal/batch/scheduler"
	"github.com/nimbus-dev/nimbus/internal/ec2"
	"github.com/nimbus-dev/nimbus/internal/identity"
	"github.com/nimbus-dev/nimbus/internal/image"
	"github.com/nimbus-dev/nimbus/internal/logs"
	"github.com/nimbus-dev/nimbus/internal/sandbox"
	"github.com/nimbus-dev/nimbus/internal/service"
	"github.com/nimbus-dev/nimbus/internal/store"
	"github.com/nimbus-dev/nimbus/internal/substrate"
)

// OwnerKind labels job sandboxes (the server's reset removes them by it).
const OwnerKind = "batch-job"

// LogGroup is where job output goes, as Batch's default.
const LogGroup = "/aws/batch/job"

// Defaults of Options fields left zero.
const (
	DefaultSettleDelay = 200 * time.Millisecond
	DefaultTick        = 100 * time.Millisecond
	DefaultStopGrace   = 10 * time.Second
)

// Sandboxes is what Batch needs of the substrate; *substrate.Host has it.
type Sandboxes interface {
	Run(ctx context.Context, rs substrate.RunSpec) (*substrate.Sandbox, error)
	Get(ctx context.Context, id string) (*substrate.Sandbox, error)
	Wait(ctx context.Context, id string) (*sandbox.ExitStatus, error)
	Stop(ctx context.Context, id string, grace time.Duration) error
	Delete(ctx context.Context, id string) error
	Logs(id string) (io.ReadCloser, error)
	Images() *image.Store
}

// LogIngester takes job output into CloudWatch Logs; *logs.Logs has it.
type LogIngester interface {
	Ingest(ctx context.Context, account, region, group, stream string, events []logs.Event) error
}

// Options are Batch's dependencies and settings.
type Options struct {
	Store store.Store // required
	Host  Sandboxes   // required: where attempts run
	// Logs receives job output (group /aws/batch/job); nil keeps it only in
	// the sandbox log until the attempt ends.
	Logs   LogIngester
	Logger *slog.Logger
	// Capacity is the host's capacity for jobs, shared by every compute
	// environment: vCPU in thousandths, memory in MiB, GPUs. Zero fields
	// take ec2.DefaultCapacity's: four vCPUs per host CPU, the host's
	// memory and its GPUs.
	Capacity scheduler.Resources
	// SettleDelay is how long a compute environment or queue stays CREATING
	// or UPDATING (and DELETING) before it is VALID (or DELETED); 200 ms
	// when zero, negative for at once.
	SettleDelay time.Duration
	// Tick is how often the controller looks for work besides being woken
	// (100 ms when zero).
	Tick time.Duration
	// StopGrace is how long a terminated or timed-out attempt gets between
	// SIGTERM and SIGKILL (10 s when zero, as ECS's default stop timeout
	// is 30 s but jobs rarely need it).
	StopGrace time.Duration
	// StarvationLimit is passed to the scheduler (one minute when zero).
	StarvationLimit time.Duration
	// AllowPrivileged lets job definitions ask for privileged containers;
	// they are refused otherwise, since a privileged sandbox owns the host.
	AllowPrivileged bool
	// Now is the clock (time.Now when nil).
	Now func() time.Time
	// EC2 is the EC2 API (the *service.Service ec2.New returns): EC2 and
	// SPOT compute environments launch their instances through it. Nil
	// runs their jobs on the host's capacity with no instances.
	EC2 EC2Handlers
	// Network is the network job sandboxes join ("" for none; the server
	// passes the host's default network where networking works).
	Network string
	// RoleCredentials mints temporary credentials for a job's jobRoleArn
	// (STS, as Batch's ECS agent assumes the role); nil gives jobs none.
	RoleCredentials func(ctx context.Context, roleARN, sessionName string) (*Credentials, error)
}

// Credentials are a job role's temporary credentials, handed to the job in
// AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY and AWS_SESSION_TOKEN.
type Credentials struct {
	AccessKeyID, SecretAccessKey, SessionToken string
}

// API is the Batch service and its job controller.
type API struct {
	store           store.Store
	host            Sandboxes
	logs            LogIngester
	log             *slog.Logger
	now             func() time.Time
	svc             *service.Service
	settle          time.Duration
	tick            time.Duration
	grace           time.Duration
	allowPrivileged bool
	network         string
	roleCredentials func(ctx context.Context, roleARN, sessionName string) (*Credentials, error)
	capacity        scheduler.Resources
	starve          time.Duration

	// timeoutUnit is what one second of attemptDurationSeconds lasts (a
	// second; tests shorten it, as Batch's minimum is a minute).
	timeoutUnit time.Duration

	// wake tells the controller that jobs changed.
	wake chan struct{}
	ctrl *controller
}

// New returns the Batch API. Call Run to run jobs.
func New(opts Options) (*API, error) {
	if opts.Store == nil || opts.Host == nil {
		return nil, errors.New("batch: Store and Host are required")
	}
	svc, err := service.New("batch")
	if err != nil {
		return nil, fmt.Errorf("batch: %w", err)
	}
	a := &API{store: opts.Store, host: opts.Host, logs: opts.Logs, log: opts.Logger, now: opts.Now, svc: svc,
		settle: opts.SettleDelay, tick: opts.Tick, grace: opts.StopGrace, allowPrivileged: opts.AllowPrivileged,
		capacity: opts.Capacity, starve: opts.StarvationLimit, network: opts.Network, roleCredentials: opts.RoleCredentials, wake: make(chan struct{}, 1)}
	a.ctrl = newController(a)
	if opts.EC2 != nil {
		a.ctrl.scaler = newScaler(opts.EC2)
	}
	a.timeoutUnit = time.Second
	if a.log == nil {
		a.log = slog.New(slog.DiscardHandler)
	}
	if a.now == nil {
		a.now = time.Now
	}
	switch {
	case a.settle == 0:
		a.settle = DefaultSettleDelay
	case a.settle < 0:
		a.settle = 0
	}
	if a.tick <= 0 {
		a.tick = DefaultTick
	}
	if a.grace <= 0 {
		a.grace = DefaultStopGrace
	}
	def := ec2.DefaultCapacity()
	if a.capacity.MilliCPU == 0 {
		a.capacity.MilliCPU = int64(def.VCPUs) * 1000
	}
	if a.capacity.MemoryMiB == 0 {
		a.capacity.MemoryMiB = def.MemoryMiB
	}
	if a.capacity.GPUs == 0 {
		a.capacity.GPUs = int64(def.GPUs)
	}
	a.registerComputeEnvs(svc)
	a.registerQueues(svc)
	a.registerJobDefs(svc)
	a.registerJobs(svc)
	a.registerPolicies(svc)
	a.registerTags(svc)
	svc.OnReset(a.reset)
	return a, nil
}

// Service is the API's handlers, for the edge.
func (a *API) Service() *service.Service { return a.svc }

// notify wakes the controller.
func (a *API) notify() {
	select {
	case a.wake <- struct{}{}:
	default:
	}
}

// reset forgets every Batch resource. The server removes the job sandboxes
// by OwnerKind; the running controller's memory is rebuilt from the store
// on its next pass.
func (a *API) reset(ctx context.Context) error {
	if err := service.DeleteKinds(ctx, a.store, kindComputeEnv, kindQueue, kindJobDef, kindJob, kindPolicy); err != nil {
		return fmt.Errorf("batch reset: %w", err)
	}
	if c := a.ctrl; c != nil {
		c.requestReload()
	}
	a.notify()
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

// settledAt is when a resource changed now stops CREATING or UPDATING.
func (a *API) settledAt() time.Time { return a.now().Add(a.settle) }

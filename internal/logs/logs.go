// Package logs serves Amazon CloudWatch Logs over the json 1.1 protocol
// (X-Amz-Target: Logs_20140328.*): log groups and streams, their retention
// and tags, PutLogEvents, GetLogEvents and FilterLogEvents, and Ingest, the
// way Lambda, Batch and other nimbus services write their sandboxes' output
// without going through the wire.
//
// Group and stream metadata live in the state store (kinds logs:group and
// logs:stream). Events live in append-only segment files, one directory per
// group under DataDir/logs (segment.go, grouplog.go), synced before
// PutLogEvents or Ingest returns, and indexed in memory per stream by
// timestamp; the index is rebuilt from the segments when a group is first
// read after a restart. Retention is enforced by Run, a sweeper the caller
// owns, which deletes segments whose events are all older than the group's
// retention; reads hide older events at once.
package logs

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"path/filepath"
	"regexp"
	"strings"
	"time"

	"github.com/nimbus-dev/nimbus/internal/awserr"
	"github.com/nimbus-dev/nimbus/internal/identity"
	"github.com/nimbus-dev/nimbus/internal/service"
	"github.com/nimbus-dev/nimbus/internal/store"
)

// Store kinds this package owns.
const (
	kindGroup  = "logs:group"
	kindStream = "logs:stream"
)

// Options are the Logs service's dependencies.
type Options struct {
	Store store.Store
	// DataDir is nimbus's data directory; events go under DataDir/logs.
	DataDir string
	// Logger defaults to slog.Default().
	Logger *slog.Logger
	// Now is the clock (ingestion times, retention, PutLogEvents' age
	// checks); defaults to time.Now.
	Now func() time.Time
	// SweepInterval is how often Run enforces retention; default one minute.
	SweepInterval time.Duration
}

// Logs is the CloudWatch Logs service: its wire handlers (Service), the
// ingestion entry point for other services (Ingest) and the retention
// sweeper (Run). Close releases its files.
type Logs struct {
	svc        *service.Service
	store      store.Store
	events     *eventStore
	log        *slog.Logger
	now        func() time.Time
	sweepEvery time.Duration
}

// New returns the Logs service. It reads nothing from disk until a group is
// used.
func New(opts Options) (*Logs, error) {
	if opts.Store == nil {
		return nil, errors.New("logs: a store is required")
	}
	if opts.DataDir == "" {
		return nil, errors.New("logs: a data directory is required")
	}
	svc, err := service.New("logs")
	if err != nil {
		return nil, err
	}
	l := &Logs{svc: svc, store: opts.Store, log: opts.Logger, now: opts.Now, sweepEvery: opts.SweepInterval}
	if l.log == nil {
		l.log = slog.Default()
	}
	if l.now == nil {
		l.now = time.Now
	}
	if l.sweepEvery <= 0 {
		l.sweepEvery = time.Minute
	}
	l.events = newEventStore(filepath.Join(opts.DataDir, "logs"), l.log)
	l.registerGroups(svc)
	l.registerStreams(svc)
	l.registerEvents(svc)
	l.registerTags(svc)
	svc.OnReset(l.reset)
	return l, nil
}

// Service is what the edge serves.
func (l *Logs) Service() *service.Service { return l.svc }

// Close releases the open segment files. Requests after Close fail.
func (l *Logs) Close() error { return l.events.close() }

func (l *Logs) reset(ctx context.Context) error {
	if err := service.DeleteKinds(ctx, l.store, kindGroup, kindStream); err != nil {
		return err
	}
	return l.events.removeAll()
}

func (l *Logs) nowMillis() int64 { return l.now().UnixMilli() }

// partition is the account and region a request acts in.
func partition(ctx context.Context) (account, region string, err error) {
	c := identity.From(ctx)
	if c.Principal != nil {
		account = c.Principal.Account
	}
	if account == "" {
		return "", "", awserr.Internalf(errors.New("no account in request context"), "logs request without identity")
	}
	return account, c.Region, nil
}

// Errors, with the codes and status CloudWatch Logs answers (always 400).

func notFound(format string, args ...any) error {
	return &awserr.Error{Kind: awserr.NotFound, Code: "ResourceNotFoundException",
		Message: fmt.Sprintf(format, args...), Status: http.StatusBadRequest}
}

func alreadyExists(format string, args ...any) error {
	return &awserr.Error{Kind: awserr.AlreadyExists, Code: "ResourceAlreadyExistsException",
		Message: fmt.Sprintf(format, args...), Status: http.StatusBadRequest}
}

func invalidParameter(format string, args ...any) error {
	return &awserr.Error{Kind: awserr.Validation, Code: "InvalidParameterException",
		Message: fmt.Sprintf(format, args...), Status: http.StatusBadRequest}
}

func groupNotFound() error  { return notFound("The specified log group does not exist.") }
func streamNotFound() error { return notFound("The specified log stream does not exist.") }

var groupNamePattern = regexp.MustCompile(`^[\.\-_/#A-Za-z0-9]+$`)

func validateGroupName(member, name string) error {
	if name == "" {
		return invalidParameter("1 validation error detected: Value at '%s' failed to satisfy constraint: Member must not be null", member)
	}
	if len(name) > 512 || !groupNamePattern.MatchString(name) {
		return invalidParameter("1 validation error detected: Value '%s' at '%s' failed to satisfy constraint: "+
			"Member must satisfy regular expression pattern: [\\.\\-_/#A-Za-z0-9]+", name, member)
	}
	return nil
}

func validateStreamName(name string) error {
	if name == "" {
		return invalidParameter("1 validation error detected: Value at 'logStreamName' failed to satisfy constraint: Member must not be null")
	}
	if len(name) > 512 || strings.ContainsAny(name, ":*") {
		return invalidParameter("1 validation error detected: Value '%s' at 'logStreamName' failed to satisfy constraint: "+
			"Member must satisfy regular expression pattern: [^:*]*", name)
	}
	return nil
}

func newStorageID() string {
	var b [12]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// storeErr maps a store failure that is not one of the API's own cases.
func storeErr(err error, op string) error {
	var ae *awserr.Error
	if errors.As(err, &ae) {
		return err
	}
	return awserr.Internalf(err, "%s", op)
}

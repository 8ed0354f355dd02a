package server

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"time"

	"github.com/nimbus-dev/nimbus/internal/awserr"
	"github.com/nimbus-dev/nimbus/internal/awsmodel"
	"github.com/nimbus-dev/nimbus/internal/identity"
	"github.com/nimbus-dev/nimbus/internal/lambda"
	"github.com/nimbus-dev/nimbus/internal/lambda/runner"
	"github.com/nimbus-dev/nimbus/internal/logs"
	"github.com/nimbus-dev/nimbus/internal/s3"
)

// startLambda builds the sandbox pool functions run in and the Lambda API
// over it, and starts the async dispatcher.
func (s *Server) startLambda(ctx context.Context) error {
	// Functions reach nimbus's own API on their gateway: a second listener
	// there, unless nimbus listens on every address already. The edge is
	// built last, hence the indirection.
	var api http.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { s.edge.ServeHTTP(w, r) })
	if host, _, err := net.SplitHostPort(s.cfg.Listen); err == nil {
		if ip := net.ParseIP(host); host == "" || ip != nil && ip.IsUnspecified() {
			api = nil
		}
	}
	pool, err := runner.New(ctx, runner.Options{
		Host: s.host, DataDir: s.cfg.DataDir, Logger: s.log,
		KeepAlive: s.cfg.LambdaKeepAlive, LogSink: logSink{s.logs},
		AWSAPI:     api,
		AWSAPIPort: DefaultURLPortOf(s.cfg.Listen),
		AWSAPIURL:  "http://" + s.cfg.Listen,
	})
	if err != nil {
		return err
	}
	s.lambdaPool = pool
	port := DefaultURLPortOf(s.cfg.Listen)
	s.lambda, err = lambda.New(lambda.Options{
		Store: s.store, DataDir: s.cfg.DataDir, Invoker: pool, Logger: s.log,
		AccountConcurrency: s.cfg.LambdaConcurrency, URLPort: port, RetryBaseDelay: s.cfg.LambdaRetryDelay,
		URLAuthorizer: s.authorizeFunctionURL, RoleCredentials: s.roleCredentials,
		// S3 is built after Lambda (it delivers events to it).
		S3Objects: func(ctx context.Context, account, bucket, key string) (io.ReadCloser, int64, error) {
			return s.s3.ReadObject(ctx, account, bucket, key)
		},
	})
	if err != nil {
		return err
	}
	s.workers.start(ctx, s.log, "Lambda async dispatcher", s.lambda.Run)
	return nil
}

// DefaultURLPortOf is the port function URLs name: the one nimbus listens on.
func DefaultURLPortOf(listen string) int {
	_, p, err := net.SplitHostPort(listen)
	if err != nil {
		return 4566
	}
	n, err := strconv.Atoi(p)
	if err != nil || n == 0 {
		return 4566
	}
	return n
}

// roleCredentials mints a function's execution role credentials, as Lambda
// assumes the role. A role that does not exist in IAM gives the function
// no credentials (nimbus accepts any well-formed role ARN, as the other
// local emulators do) rather than failing its cold start.
func (s *Server) roleCredentials(ctx context.Context, roleARN, sessionName string) (*runner.Credentials, error) {
	c, err := s.iam.MintRoleCredentials(ctx, roleARN, sessionName, time.Hour)
	var ae *awserr.Error
	if errors.As(err, &ae) && ae.Kind == awserr.NotFound {
		s.log.Debug("lambda: execution role is not in IAM; the function gets no credentials", "role", roleARN)
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return &runner.Credentials{AccessKeyID: c.AccessKeyID, SecretAccessKey: c.SecretAccessKey, SessionToken: c.SessionToken}, nil
}

// invokeFunctionURL is the operation IAM checks for a function URL of
// AuthType AWS_IAM; it is no API operation, so it has no model entry.
var invokeFunctionURL = &awsmodel.Operation{Name: "InvokeFunctionUrl"}

// authorizeFunctionURL verifies a signed request to a function URL of
// AuthType AWS_IAM and asks IAM whether the signer may call
// lambda:InvokeFunctionUrl on the function.
func (s *Server) authorizeFunctionURL(r *http.Request, account, fnARN string) error {
	p, err := s.edge.Authenticate(r)
	if err != nil {
		return err
	}
	if p.IsRoot() && p.Account == account {
		return nil
	}
	ctx := identity.With(r.Context(), &identity.Call{Principal: p, Service: "lambda", Operation: invokeFunctionURL.Name,
		SourceIP: r.RemoteAddr})
	return s.iam.Authorizer().WithResourcePolicies("lambda", s.lambda).
		Authorize(ctx, s.lambda.Service().Model(), invokeFunctionURL, map[string]any{"FunctionName": fnARN})
}

// logSink ships function output into CloudWatch Logs.
type logSink struct{ logs *logs.Logs }

func (l logSink) Ship(ctx context.Context, dest runner.LogDestination, events []runner.LogEvent) error {
	out := make([]logs.Event, len(events))
	for i, e := range events {
		out[i] = logs.Event{Timestamp: e.Time, Message: e.Message}
	}
	return l.logs.Ingest(ctx, dest.Account, dest.Region, dest.Group, dest.Stream, out)
}

// s3Events hands S3 event notifications to Lambda's async queue; an event
// for a function that is gone is dropped, as S3 drops it.
type s3Events struct{ lambda *lambda.API }

func (e s3Events) EnqueueEvent(ctx context.Context, functionARN string, payload []byte) error {
	err := e.lambda.EnqueueEvent(ctx, functionARN, payload)
	if errors.Is(err, lambda.ErrNoSuchFunction) {
		return fmt.Errorf("%w: %w", s3.ErrUndeliverable, err)
	}
	return err
}

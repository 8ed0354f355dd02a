// Package server assembles nimbus from its parts (store, services, edge) and
// runs it until its context ends, shutting down gracefully: stop accepting,
// finish in-flight requests, close the store.
package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"time"

	"github.com/nimbus-dev/nimbus/internal/batch"
	"github.com/nimbus-dev/nimbus/internal/config"
	"github.com/nimbus-dev/nimbus/internal/credentials"
	"github.com/nimbus-dev/nimbus/internal/ec2"
	"github.com/nimbus-dev/nimbus/internal/edge"
	"github.com/nimbus-dev/nimbus/internal/iam"
	"github.com/nimbus-dev/nimbus/internal/imds"
	"github.com/nimbus-dev/nimbus/internal/lambda"
	"github.com/nimbus-dev/nimbus/internal/lambda/runner"
	"github.com/nimbus-dev/nimbus/internal/logs"
	"github.com/nimbus-dev/nimbus/internal/metrics"
	"github.com/nimbus-dev/nimbus/internal/network"
	"github.com/nimbus-dev/nimbus/internal/region"
	"github.com/nimbus-dev/nimbus/internal/s3"
	"github.com/nimbus-dev/nimbus/internal/service"
	"github.com/nimbus-dev/nimbus/internal/store"
	"github.com/nimbus-dev/nimbus/internal/store/sqlitestore"
	"github.com/nimbus-dev/nimbus/internal/sts"
	"github.com/nimbus-dev/nimbus/internal/substrate"
)

// Server is a running nimbus.
type Server struct {
	cfg     *config.Config
	version string
	started time.Time
	log     *slog.Logger
	store   store.Store
	host    *substrate.Host
	// workers are the background loops (controllers, dispatchers,
	// sweepers), run until closeAll; metadata serves IMDS to instance
	// sandboxes where the host has networking.
	workers workers
	netLock *os.File // the host network lock, held while serving (nil without networking)
	iam     *iam.IAM // users, roles, policies: credentials and authorization
	logs    *logs.Logs
	s3      *s3.API
	// lambda is the Lambda API; lambdaPool runs its functions' sandboxes.
	lambda     *lambda.API
	lambdaPool *runner.Pool
	batch      *batch.API
	metadata   *network.MetadataServer
	services   []*service.Service
	edge       *edge.Server
	http       *http.Server
}

// New builds a server from cfg: opens the store and wires every service.
func New(ctx context.Context, cfg *config.Config, version string, log *slog.Logger) (*Server, error) {
	s := &Server{cfg: cfg, version: version, started: time.Now(), log: log}
	if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
		return nil, fmt.Errorf("data directory: %w", err)
	}
	netLock, err := lockHostNetwork(cfg)
	if err != nil {
		return nil, err
	}
	s.netLock = netLock
	st, err := sqlitestore.Open(ctx, filepath.Join(cfg.DataDir, "nimbus.db"))
	if err != nil {
		if netLock != nil {
			netLock.Close()
		}
		return nil, fmt.Errorf("open store: %w", err)
	}
	s.store = st
	// The substrate re-adopts sandboxes a previous nimbus left running
	// before any request is served.
	s.host, err = substrate.Open(ctx, substrate.Options{DataDir: cfg.DataDir, Store: st, Driver: cfg.Driver, Logger: log})
	if err != nil {
		st.Close()
		return nil, fmt.Errorf("compute substrate: %w", err)
	}
	info := s.host.Info()
	log.Info("compute substrate ready", "driver", info.Driver, "reason", info.Reason, "networking", info.Networking,
		"network_reason", info.NetworkReason, "sandboxes", info.Sandboxes)
	if info.WeakIsolation {
		log.Warn("sandboxes are plain host processes: isolation is weak; run as root with runc installed for real sandboxes", "driver", info.Driver)
	}
	regions, err := region.NewCatalog(cfg.Regions, cfg.StrictRegions)
	if err != nil {
		s.closeAll()
		return nil, err
	}
	s.iam = iam.New(iam.Options{Store: st})
	iamSvc, err := s.iam.Service()
	if err != nil {
		s.closeAll()
		return nil, err
	}
	stsSvc, err := sts.New(sts.WithIAM(s.iam))
	if err != nil {
		s.closeAll()
		return nil, err
	}
	capacity := ec2.Capacity{VCPUs: cfg.EC2VCPUs, MemoryMiB: int64(cfg.EC2MemoryMiB), GPUs: cfg.EC2GPUs}
	ec2Svc, err := ec2.New(ec2.Options{Store: st, Regions: regions, Host: s.host, Capacity: capacity,
		SpotInterruptionWarning: cfg.EC2SpotWarning, InstanceProfiles: s.iam})
	if err != nil {
		s.closeAll()
		return nil, err
	}
	if err := s.startInstances(ctx, regions, capacity); err != nil {
		s.closeAll()
		return nil, err
	}
	s.logs, err = logs.New(logs.Options{Store: st, DataDir: cfg.DataDir, Logger: log})
	if err != nil {
		s.closeAll()
		return nil, err
	}
	s.workers.start(ctx, log, "CloudWatch Logs retention", s.logs.Run)
	if err := s.startLambda(ctx); err != nil {
		s.closeAll()
		return nil, fmt.Errorf("lambda: %w", err)
	}
	if err := s.startBatch(ctx, ec2Svc); err != nil {
		s.closeAll()
		return nil, err
	}
	s.s3, err = s3.New(ctx, s3.Options{Store: st, DataDir: cfg.DataDir, Logger: log,
		Functions: s.lambda, Events: s3Events{s.lambda}})
	if err != nil {
		s.closeAll()
		return nil, err
	}
	s.workers.start(ctx, log, "S3 event outbox", s.s3.Run)
	s.services = []*service.Service{stsSvc, iamSvc, ec2Svc, s.logs.Service(), s.s3.Service(), s.lambda.Service(), s.batch.Service()}
	s.workers.start(ctx, log, "IAM session purge", s.purgeSessions)
	reg := metrics.New()
	s.edge, err = edge.New(edge.Options{
		Services:    s.services,
		Credentials: credentials.Chain{credentials.Root(cfg.AccountID, cfg.RootAccessKey, cfg.RootSecretKey), s.iam},
		Authorizer:  s.iam.Authorizer().WithResourcePolicies("lambda", s.lambda).WithResourcePolicies("s3", s.s3),
		Hosts:       []edge.HostRoute{{Match: lambda.IsFunctionURLHost, Handler: s.lambda.URLHandler()}},
		AnyAuth:     cfg.Auth == config.AuthAny,
		Account:     cfg.AccountID,
		Regions:     regions,
		Region:      cfg.Region,
		Logger:      log,
		Metrics:     reg,
		Internal:    &internalHandler{srv: s, metrics: reg},
	})
	if err != nil {
		s.closeAll()
		return nil, err
	}
	s.http = &http.Server{
		Handler:           s.edge,
		ReadHeaderTimeout: 30 * time.Second,
		IdleTimeout:       2 * time.Minute,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	return s, nil
}

// Handler is the server's HTTP handler (for tests that serve it themselves).
func (s *Server) Handler() http.Handler { return s.edge }

// Serve accepts connections on l until ctx ends, then shuts down gracefully.
func (s *Server) Serve(ctx context.Context, l net.Listener) error {
	errc := make(chan error, 1)
	go func() { errc <- s.http.Serve(l) }()
	s.log.Info("nimbus listening", "address", l.Addr().String(), "version", s.version, "auth", s.cfg.Auth,
		"account_id", s.cfg.AccountID, "data", s.cfg.DataDir, "startup_ms", time.Since(s.started).Milliseconds())
	select {
	case err := <-errc:
		s.closeAll()
		return err
	case <-ctx.Done():
	}
	s.log.Info("shutting down: finishing in-flight requests")
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	err := s.http.Shutdown(shutdownCtx)
	if serr := <-errc; serr != nil && !errors.Is(serr, http.ErrServerClosed) && err == nil {
		err = serr
	}
	if cerr := s.closeAll(); cerr != nil && err == nil {
		err = cerr
	}
	s.log.Info("nimbus stopped")
	return err
}

// startInstances starts EC2's instance controller, which reconciles stored
// instances with the sandboxes the substrate re-adopted, and the metadata
// server instances reach at 169.254.169.254.
func (s *Server) startInstances(ctx context.Context, regions *region.Catalog, capacity ec2.Capacity) error {
	ctrl, err := ec2.NewInstanceController(ec2.InstanceControllerOptions{Store: s.store, Regions: regions,
		Host: s.host, DataDir: s.cfg.DataDir, Logger: s.log, Capacity: capacity, InstanceProfiles: s.iam})
	if err != nil {
		return err
	}
	if nm := s.host.Network(); nm != nil {
		s.metadata = network.NewMetadataServer(nm, imds.New(ctrl, imds.WithLogger(s.log)))
		if err := s.metadata.ListenAll(ctx); err != nil {
			return fmt.Errorf("instance metadata server: %w", err)
		}
		// VPC networks are defined later, with their first instance (or
		// again after a restart): IMDS must be served there too.
		ctrl.SetMetadataListener(s.metadata)
	}
	s.workers.start(ctx, s.log, "EC2 instance controller", ctrl.Run)
	return nil
}

// purgeSessions frees the records of expired STS sessions now and then;
// expired credentials are refused whether or not they were purged.
func (s *Server) purgeSessions(ctx context.Context) error {
	tick := time.NewTicker(10 * time.Minute)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-tick.C:
			if _, err := s.iam.PurgeExpiredSessions(ctx); err != nil && ctx.Err() == nil {
				s.log.Warn("purge expired STS sessions", "err", err)
			}
		}
	}
}

// closeAll stops the instance controller and the metadata server, releases
// the substrate (sandboxes keep running, to be adopted by the next nimbus)
// and then the store.
func (s *Server) closeAll() error {
	var err error
	s.workers.stop()
	if s.lambdaPool != nil {
		closeCtx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		err = s.lambdaPool.Close(closeCtx)
		cancel()
		s.lambdaPool = nil
	}
	if s.logs != nil {
		err = s.logs.Close()
		s.logs = nil
	}
	if s.metadata != nil {
		closeCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		err = s.metadata.Close(closeCtx)
		cancel()
		s.metadata = nil
	}
	if s.host != nil {
		err = s.host.Close()
	}
	if cerr := s.store.Close(); cerr != nil && err == nil {
		err = cerr
	}
	if s.netLock != nil {
		s.netLock.Close() // releases the host's network to the next nimbus
		s.netLock = nil
	}
	return err
}

// sandboxKinds maps a service to the owner kinds of the sandboxes it runs.
var sandboxKinds = map[string][]string{
	"ec2":    {"ec2-instance"},
	"batch":  {"batch-job"},
	"lambda": {"lambda-sandbox"},
}

// Reset terminates sandboxes and wipes every service's state (or only the
// named service's), returning once the host is clean, with the names of the
// services reset.
func (s *Server) Reset(ctx context.Context, only string) ([]string, error) {
	if only == "" {
		if err := s.host.Reset(ctx, nil); err != nil {
			return nil, fmt.Errorf("reset sandboxes: %w", err)
		}
	} else {
		for _, kind := range sandboxKinds[only] {
			if err := s.host.Reset(ctx, map[string]string{substrate.LabelKind: kind}); err != nil {
				return nil, fmt.Errorf("reset %s sandboxes: %w", only, err)
			}
		}
	}
	var done []string
	for _, svc := range s.services {
		if only != "" && svc.Key() != only {
			continue
		}
		if err := svc.Reset(ctx); err != nil {
			return done, fmt.Errorf("reset %s: %w", svc.Key(), err)
		}
		done = append(done, svc.Key())
	}
	if only != "" && len(done) == 0 {
		return nil, fmt.Errorf("no service %q", only)
	}
	sort.Strings(done)
	s.log.Info("state reset", "services", done)
	return done, nil
}

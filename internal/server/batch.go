package server

import (
	"context"
	"fmt"

	"github.com/nimbus-dev/nimbus/internal/batch"
	"github.com/nimbus-dev/nimbus/internal/batch/scheduler"
	"github.com/nimbus-dev/nimbus/internal/service"
)

// startBatch builds the Batch API over the substrate, EC2 (for EC2 and
// SPOT compute environments) and CloudWatch Logs, and starts its job
// controller.
func (s *Server) startBatch(ctx context.Context, ec2Svc *service.Service) error {
	network := ""
	if nets := s.host.Info().Networks; len(nets) > 0 {
		network = nets[0].Name
	}
	var err error
	s.batch, err = batch.New(batch.Options{
		Store: s.store, Host: s.host, Logs: s.logs, Logger: s.log, EC2: ec2Svc, Network: network,
		RoleCredentials: func(ctx context.Context, roleARN, session string) (*batch.Credentials, error) {
			c, err := s.roleCredentials(ctx, roleARN, session)
			if err != nil || c == nil {
				return nil, err
			}
			return &batch.Credentials{AccessKeyID: c.AccessKeyID, SecretAccessKey: c.SecretAccessKey, SessionToken: c.SessionToken}, nil
		},
		Capacity: scheduler.Resources{MilliCPU: int64(s.cfg.EC2VCPUs) * 1000, MemoryMiB: int64(s.cfg.EC2MemoryMiB), GPUs: int64(s.cfg.EC2GPUs)},
	})
	if err != nil {
		return fmt.Errorf("batch: %w", err)
	}
	s.workers.start(ctx, s.log, "Batch job controller", s.batch.Run)
	return nil
}

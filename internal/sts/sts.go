// Package sts serves AWS Security Token Service. This issue answers
// GetCallerIdentity for every principal; AssumeRole and session tokens come
// with IAM.
package sts

import (
	"context"

	"github.com/nimbus-dev/nimbus/internal/identity"
	"github.com/nimbus-dev/nimbus/internal/service"
)

// New returns the STS service.
func New() (*service.Service, error) {
	svc, err := service.New("sts")
	if err != nil {
		return nil, err
	}
	svc.Handle("GetCallerIdentity", service.Op(getCallerIdentity))
	return svc, nil
}

type getCallerIdentityInput struct{}

type getCallerIdentityOutput struct {
	Account string
	Arn     string
	UserId  string
}

func getCallerIdentity(ctx context.Context, _ *getCallerIdentityInput) (*getCallerIdentityOutput, error) {
	p := identity.From(ctx).Principal
	return &getCallerIdentityOutput{Account: p.Account, Arn: p.ARN, UserId: p.UserID}, nil
}

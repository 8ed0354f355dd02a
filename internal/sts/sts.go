// Package sts serves AWS Security Token Service: GetCallerIdentity for every
// principal and, with IAM's directory (WithIAM), AssumeRole,
// GetSessionToken and DecodeAuthorizationMessage.
package sts

import (
	"context"
	"time"

	"github.com/nimbus-dev/nimbus/internal/awserr"
	"github.com/nimbus-dev/nimbus/internal/iam"
	"github.com/nimbus-dev/nimbus/internal/identity"
	"github.com/nimbus-dev/nimbus/internal/service"
)

// Option configures the STS service.
type Option func(*sts)

// WithIAM serves the operations that need IAM's principals and roles.
func WithIAM(m *iam.IAM) Option { return func(s *sts) { s.iam = m } }

type sts struct{ iam *iam.IAM }

// New returns the STS service.
func New(opts ...Option) (*service.Service, error) {
	svc, err := service.New("sts")
	if err != nil {
		return nil, err
	}
	s := &sts{}
	for _, o := range opts {
		o(s)
	}
	svc.Handle("GetCallerIdentity", service.Op(getCallerIdentity))
	svc.Handle("DecodeAuthorizationMessage", service.Op(decodeAuthorizationMessage))
	if s.iam != nil {
		svc.Handle("AssumeRole", service.Op(s.assumeRole))
		svc.Handle("GetSessionToken", service.Op(s.getSessionToken))
	}
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
	if p == nil {
		return nil, &awserr.Error{Kind: awserr.AuthFailure, Code: "MissingAuthenticationToken", Message: "Request is missing Authentication Token"}
	}
	return &getCallerIdentityOutput{Account: p.Account, Arn: p.ARN, UserId: p.UserID}, nil
}

type tag struct{ Key, Value string }

type policyDescriptor struct{ Arn string }

type assumeRoleInput struct {
	RoleArn         string
	RoleSessionName string
	DurationSeconds int64
	Policy          string
	PolicyArns      []policyDescriptor
	Tags            []tag
	ExternalId      string
}

type credentials struct {
	AccessKeyId     string
	SecretAccessKey string
	SessionToken    string
	Expiration      time.Time
}

type assumedRoleUser struct {
	AssumedRoleId string
	Arn           string
}

type assumeRoleOutput struct {
	Credentials      credentials
	AssumedRoleUser  assumedRoleUser
	PackedPolicySize int64
}

func (s *sts) assumeRole(ctx context.Context, in *assumeRoleInput) (*assumeRoleOutput, error) {
	if in.RoleArn == "" {
		return nil, awserr.Missing("RoleArn")
	}
	call := identity.From(ctx)
	req := iam.AssumeRoleRequest{RoleARN: in.RoleArn, RoleSessionName: in.RoleSessionName, DurationSeconds: in.DurationSeconds,
		Policy: in.Policy, ExternalID: in.ExternalId, SourceIP: call.SourceIP}
	for _, p := range in.PolicyArns {
		req.PolicyARNs = append(req.PolicyARNs, p.Arn)
	}
	for _, t := range in.Tags {
		req.Tags = append(req.Tags, iam.Tag{Key: t.Key, Value: t.Value})
	}
	c, err := s.iam.AssumeRole(ctx, call.Principal, req)
	if err != nil {
		return nil, err
	}
	packed := int64(0)
	if in.Policy != "" || len(in.PolicyArns) > 0 || len(in.Tags) > 0 {
		packed = int64((len(in.Policy) + 100*len(in.PolicyArns) + 30*len(in.Tags)) * 100 / 2048)
	}
	return &assumeRoleOutput{
		Credentials:      credentials{c.AccessKeyID, c.SecretAccessKey, c.SessionToken, c.Expiration},
		AssumedRoleUser:  assumedRoleUser{AssumedRoleId: c.AssumedRoleID, Arn: c.AssumedRoleARN},
		PackedPolicySize: packed,
	}, nil
}

type getSessionTokenInput struct {
	DurationSeconds int64
}

type getSessionTokenOutput struct{ Credentials credentials }

func (s *sts) getSessionToken(ctx context.Context, in *getSessionTokenInput) (*getSessionTokenOutput, error) {
	c, err := s.iam.GetSessionToken(ctx, identity.From(ctx).Principal, in.DurationSeconds)
	if err != nil {
		return nil, err
	}
	return &getSessionTokenOutput{Credentials: credentials{c.AccessKeyID, c.SecretAccessKey, c.SessionToken, c.Expiration}}, nil
}

type decodeInput struct{ EncodedMessage string }

type decodeOutput struct{ DecodedMessage string }

func decodeAuthorizationMessage(_ context.Context, in *decodeInput) (*decodeOutput, error) {
	if in.EncodedMessage == "" {
		return nil, awserr.Missing("EncodedMessage")
	}
	msg, err := iam.DecodeAuthorizationMessage(in.EncodedMessage)
	if err != nil {
		return nil, err
	}
	return &decodeOutput{DecodedMessage: msg}, nil
}

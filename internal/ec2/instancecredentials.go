package ec2

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/nimbus-dev/nimbus/internal/awserr"
	"github.com/nimbus-dev/nimbus/internal/imds"
)

// An instance with a profile whose role exists gets the role's credentials
// at IMDS iam/security-credentials/ROLE: real STS session credentials
// minted by IAM, with the instance ID as the session name as on EC2,
// cached per instance and replaced well before they expire (SDKs refresh
// five minutes before expiry, so IMDS must have new ones by then).

const (
	// instanceCredentialLifetime is how long minted credentials last (IAM
	// caps it at the role's maximum session duration).
	instanceCredentialLifetime = 6 * time.Hour
	// instanceCredentialRefresh is how long before expiry they are
	// replaced.
	instanceCredentialRefresh = 15 * time.Minute
)

// credentialCache holds each instance's current role credentials.
type credentialCache struct {
	mu      sync.Mutex // held while minting, so one mint serves concurrent requests
	now     func() time.Time
	entries map[string]cachedCredentials // by instance ID
}

type cachedCredentials struct {
	roleARN string
	creds   *imds.RoleCredentials
}

// get returns the instance's credentials for roleARN, minting new ones when
// there are none, they are for another role, or they expire soon.
func (cc *credentialCache) get(ctx context.Context, profiles InstanceProfiles, instanceID, roleARN string) (*imds.RoleCredentials, error) {
	cc.mu.Lock()
	defer cc.mu.Unlock()
	now := cc.now()
	if e, ok := cc.entries[instanceID]; ok && e.roleARN == roleARN && e.creds.Expiration.Sub(now) > instanceCredentialRefresh {
		return e.creds, nil
	}
	minted, err := profiles.MintRoleCredentials(ctx, roleARN, instanceID, instanceCredentialLifetime)
	if err != nil {
		return nil, fmt.Errorf("mint credentials of %s for %s: %w", roleARN, instanceID, err)
	}
	creds := &imds.RoleCredentials{AccessKeyID: minted.AccessKeyID, SecretAccessKey: minted.SecretAccessKey,
		Token: minted.SessionToken, Expiration: minted.Expiration, LastUpdated: now.UTC().Truncate(time.Second)}
	for id, e := range cc.entries {
		if !e.creds.Expiration.After(now) {
			delete(cc.entries, id) // an instance gone, or idle: no one asks for these again
		}
	}
	cc.entries[instanceID] = cachedCredentials{roleARN: roleARN, creds: creds}
	return creds, nil
}

// iamMetadata is the iam/ part of an instance's metadata; nil (no iam/)
// without a profile, a role in it, or IAM. The role is the profile's role
// now, as IAM has it: it may have changed since the association, and EC2
// follows such changes.
func (c *InstanceController) iamMetadata(ctx context.Context, inst *instance) (*imds.IAMProfile, error) {
	p := inst.Profile
	if p == nil || c.e.profiles == nil {
		return nil, nil
	}
	roleARN, err := c.e.profiles.InstanceProfileRole(ctx, inst.OwnerId, p.Arn)
	if err != nil {
		if ae := awserr.As(err); ae != nil && ae.Kind == awserr.NotFound {
			return nil, nil // the profile was deleted: no credentials, as on EC2
		}
		return nil, fmt.Errorf("role of instance profile %s: %w", p.Arn, err)
	}
	if roleARN == "" {
		return nil, nil
	}
	profiles, instanceID := c.e.profiles, inst.InstanceId
	return &imds.IAMProfile{InstanceProfileArn: p.Arn, InstanceProfileID: p.Id, RoleName: roleNameOf(roleARN),
		Credentials: func(ctx context.Context) (*imds.RoleCredentials, error) {
			return c.creds.get(ctx, profiles, instanceID, roleARN)
		}}, nil
}

// roleNameOf is the name in a role ARN (the part after the last slash).
func roleNameOf(roleARN string) string {
	for i := len(roleARN) - 1; i >= 0; i-- {
		if roleARN[i] == '/' {
			return roleARN[i+1:]
		}
	}
	return roleARN
}

// Package credentials resolves an access key ID to its secret and principal.
// The root account's keys come from configuration; IAM users' keys and STS
// session credentials join later through Chain.
package credentials

import (
	"context"
	"errors"

	"github.com/nimbus-dev/nimbus/internal/identity"
)

// ErrUnknownKey means no principal owns the access key.
var ErrUnknownKey = errors.New("unknown access key")

// ErrInactiveKey means the key exists but is disabled.
var ErrInactiveKey = errors.New("inactive access key")

// ErrExpiredToken means temporary credentials whose time is up.
var ErrExpiredToken = errors.New("expired session credentials")

// Credential is a secret and who it belongs to.
type Credential struct {
	AccessKeyID  string
	Secret       string
	SessionToken string // required with temporary credentials
	Principal    *identity.Principal
}

// Source looks up access keys.
type Source interface {
	Lookup(ctx context.Context, accessKeyID string) (*Credential, error)
}

// Static is a fixed set of credentials.
type Static map[string]*Credential

// Lookup implements Source.
func (s Static) Lookup(_ context.Context, id string) (*Credential, error) {
	if c, ok := s[id]; ok {
		return c, nil
	}
	return nil, ErrUnknownKey
}

// Root returns a Static source holding the root keys of an account.
func Root(account, accessKeyID, secret string) Static {
	return Static{accessKeyID: {
		AccessKeyID: accessKeyID,
		Secret:      secret,
		Principal: &identity.Principal{
			Type: identity.Root, Account: account, ARN: identity.RootARN(account),
			UserID: account, Name: "root", AccessKey: accessKeyID,
		},
	}}
}

// Chain asks each source in turn.
type Chain []Source

// Lookup implements Source.
func (c Chain) Lookup(ctx context.Context, id string) (*Credential, error) {
	for _, s := range c {
		cred, err := s.Lookup(ctx, id)
		if err == nil {
			return cred, nil
		}
		if !errors.Is(err, ErrUnknownKey) {
			return nil, err
		}
	}
	return nil, ErrUnknownKey
}

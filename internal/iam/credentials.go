package iam

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/nimbus-dev/nimbus/internal/awserr"
	"github.com/nimbus-dev/nimbus/internal/credentials"
	"github.com/nimbus-dev/nimbus/internal/identity"
	"github.com/nimbus-dev/nimbus/internal/store"
)

// ExpiredToken is the error Lookup returns for temporary credentials past
// their expiration. It unwraps to credentials.ErrExpiredToken, which the
// edge answers with each protocol's own expired-token error.
func ExpiredToken() *awserr.Error {
	return &awserr.Error{Kind: awserr.AuthFailure, Code: "ExpiredToken", Status: http.StatusForbidden,
		Message: "The security token included in the request is expired", Err: credentials.ErrExpiredToken}
}

// Lookup implements credentials.Source for IAM users' access keys (AKIA...)
// and STS temporary credentials (ASIA...), in every account. Keys found
// are cached while IAM is unchanged (changes.go), since the edge looks one
// up for every signed request; a session's expiry is checked on every call.
func (m *IAM) Lookup(ctx context.Context, accessKeyID string) (*credentials.Credential, error) {
	gen := m.changes.current() // before the snapshot: see changeCounter
	if c, ok := m.keys.get(gen, accessKeyID); ok {
		return m.usable(c)
	}
	var c *cachedCredential
	var err error
	switch {
	case strings.HasPrefix(accessKeyID, "AKIA"):
		c, err = m.lookupUserKey(ctx, accessKeyID)
	case strings.HasPrefix(accessKeyID, "ASIA"):
		c, err = m.lookupSession(ctx, accessKeyID)
	default:
		return nil, credentials.ErrUnknownKey
	}
	if err != nil {
		return nil, err // not cached: a session created next must be found (isNewSession)
	}
	m.keys.put(gen, accessKeyID, c)
	return m.usable(c)
}

// cachedCredential is a key as the store holds it.
type cachedCredential struct {
	credentials.Credential
	expiration time.Time // zero for a user's key, which does not expire
}

// usable checks a key's expiry and returns a copy the caller may keep and
// change without touching the cache.
func (m *IAM) usable(c *cachedCredential) (*credentials.Credential, error) {
	if !c.expiration.IsZero() && !m.now().Before(c.expiration) {
		return nil, ExpiredToken()
	}
	out := c.Credential
	p := *c.Principal
	out.Principal = &p
	return &out, nil
}

// findByID finds the one object of a kind with an ID in any account.
func findByID[T any](ctx context.Context, st store.Store, kind, id string) (*T, string, error) {
	var found *T
	var acct string
	err := st.View(ctx, func(tx store.Tx) error {
		return tx.List(store.Query{Kind: kind, AllAccounts: true, AllRegions: true, Prefix: id}, func(o store.Object) error {
			if o.Key.ID != id {
				return nil
			}
			v := new(T)
			if err := o.Decode(v); err != nil {
				return err
			}
			found, acct = v, o.Key.Account
			return store.ErrStop
		})
	})
	if err != nil {
		return nil, "", err
	}
	return found, acct, nil
}

func (m *IAM) lookupUserKey(ctx context.Context, id string) (*cachedCredential, error) {
	k, acct, err := findByID[accessKeyRecord](ctx, m.store, kindAccessKey, id)
	if err != nil {
		return nil, err
	}
	if k == nil {
		return nil, credentials.ErrUnknownKey
	}
	if k.Status != "Active" {
		return nil, credentials.ErrInactiveKey
	}
	var u *userRecord
	err = m.store.View(ctx, func(tx store.Tx) (err error) {
		u, err = get[userRecord](tx, acct, kindUser, k.UserName, "user")
		return err
	})
	if err != nil {
		var ae *awserr.Error
		if errors.As(err, &ae) && ae.Kind == awserr.NotFound {
			return nil, credentials.ErrUnknownKey
		}
		return nil, err
	}
	return &cachedCredential{Credential: credentials.Credential{AccessKeyID: id, Secret: k.Secret, Principal: &identity.Principal{
		Type: identity.User, Account: acct, ARN: u.ARN, UserID: u.ID, Name: u.Name, AccessKey: id}}}, nil
}

// lookupSession reads a session's credentials, expired or not: usable
// judges the expiry.
func (m *IAM) lookupSession(ctx context.Context, id string) (*cachedCredential, error) {
	s, _, err := findByID[sessionRecord](ctx, m.store, kindSession, id)
	if err != nil {
		return nil, err
	}
	if s == nil {
		return nil, credentials.ErrUnknownKey
	}
	return &cachedCredential{Credential: credentials.Credential{AccessKeyID: id, Secret: s.Secret, SessionToken: s.Token,
		Principal: s.principal()}, expiration: s.Expiration}, nil
}

// principal is who a session's credentials act as.
func (s *sessionRecord) principal() *identity.Principal {
	switch {
	case s.RoleName != "":
		return &identity.Principal{Type: identity.RoleSession, Account: s.Account,
			ARN:    "arn:aws:sts::" + s.Account + ":assumed-role/" + s.RoleName + "/" + s.SessionName,
			UserID: s.RoleID + ":" + s.SessionName, Name: s.RoleName, AccessKey: s.AccessKeyID}
	case s.Root:
		return &identity.Principal{Type: identity.Root, Account: s.Account, ARN: identity.RootARN(s.Account),
			UserID: s.Account, Name: "root", AccessKey: s.AccessKeyID}
	}
	return &identity.Principal{Type: identity.User, Account: s.Account, ARN: s.UserARN, UserID: s.UserID,
		Name: s.UserName, AccessKey: s.AccessKeyID}
}

package iam

import (
	"context"
	"strings"
	"time"

	"github.com/nimbus-dev/nimbus/internal/awserr"
	"github.com/nimbus-dev/nimbus/internal/identity"
	"github.com/nimbus-dev/nimbus/internal/service"
	"github.com/nimbus-dev/nimbus/internal/store"
)

// maxAccessKeys is IAM's quota of access keys per user.
const maxAccessKeys = 2

func (m *IAM) registerAccessKeys(svc *service.Service) {
	svc.Handle("CreateAccessKey", service.Op(m.createAccessKey))
	svc.Handle("ListAccessKeys", service.Op(m.listAccessKeys))
	svc.Handle("UpdateAccessKey", service.Op(m.updateAccessKey))
	svc.Handle("DeleteAccessKey", service.Op(m.deleteAccessKey))
}

// userOrCaller is the user an access-key operation is about: the named
// one, or the calling user when none is named.
func userOrCaller(ctx context.Context, name string) (string, error) {
	if name != "" {
		return name, nil
	}
	p := identity.From(ctx).Principal
	if p != nil && p.Type == identity.User {
		return p.Name, nil
	}
	if p != nil && p.Type == identity.Root {
		return "", validation("nimbus keeps the root user's access keys in its configuration: name a UserName")
	}
	return "", awserr.Missing("UserName")
}

type accessKeyInput struct {
	UserName    string
	AccessKeyId string
	Status      string
	Marker      string
	MaxItems    int64
}

// AccessKey is IAM's AccessKey shape (with the secret, once).
type AccessKey struct {
	UserName        string
	AccessKeyId     string
	Status          string
	SecretAccessKey string
	CreateDate      time.Time
}

type createAccessKeyOutput struct{ AccessKey AccessKey }

func (m *IAM) createAccessKey(ctx context.Context, in *accessKeyInput) (*createAccessKeyOutput, error) {
	name, err := userOrCaller(ctx, in.UserName)
	if err != nil {
		return nil, err
	}
	var k *accessKeyRecord
	err = m.update(ctx, func(tx store.Tx, acct string) error {
		u, err := get[userRecord](tx, acct, kindUser, name, "user")
		if err != nil {
			return err
		}
		keys, err := m.userKeys(tx, acct, u.Name)
		if err != nil {
			return err
		}
		if len(keys) >= maxAccessKeys {
			return limitExceeded("Cannot exceed quota for AccessKeysPerUser: %d", maxAccessKeys)
		}
		k = &accessKeyRecord{ID: newID("AKIA", 16), Secret: newSecret(), UserName: u.Name, Status: "Active", Created: m.now().UTC()}
		_, err = tx.Create(store.Key{Account: acct, Kind: kindAccessKey, ID: k.ID}, k)
		return storeErrOrNil(err, "create access key")
	})
	if err != nil {
		return nil, err
	}
	return &createAccessKeyOutput{AccessKey: AccessKey{UserName: k.UserName, AccessKeyId: k.ID, Status: k.Status,
		SecretAccessKey: k.Secret, CreateDate: k.Created}}, nil
}

func storeErrOrNil(err error, what string) error {
	if err == nil {
		return nil
	}
	return storeErr(err, what)
}

// userKeys lists a user's access keys.
func (m *IAM) userKeys(tx store.Tx, acct, user string) ([]*accessKeyRecord, error) {
	all, err := list[accessKeyRecord](tx, acct, kindAccessKey)
	if err != nil {
		return nil, err
	}
	var out []*accessKeyRecord
	for _, k := range all {
		if strings.EqualFold(k.UserName, user) {
			out = append(out, k)
		}
	}
	return out, nil
}

// AccessKeyMetadata is IAM's AccessKeyMetadata shape.
type AccessKeyMetadata struct {
	UserName    string
	AccessKeyId string
	Status      string
	CreateDate  time.Time
}

type listAccessKeysOutput struct {
	AccessKeyMetadata []AccessKeyMetadata
	IsTruncated       bool
	Marker            string `json:",omitempty"`
}

func (m *IAM) listAccessKeys(ctx context.Context, in *accessKeyInput) (*listAccessKeysOutput, error) {
	name, err := userOrCaller(ctx, in.UserName)
	if err != nil {
		return nil, err
	}
	var keys []*accessKeyRecord
	err = m.view(ctx, func(tx store.Tx, acct string) error {
		if _, err := get[userRecord](tx, acct, kindUser, name, "user"); err != nil {
			return err
		}
		keys, err = m.userKeys(tx, acct, name)
		return err
	})
	if err != nil {
		return nil, err
	}
	pg, more, next, err := page(keys, in.Marker, in.MaxItems)
	if err != nil {
		return nil, err
	}
	out := &listAccessKeysOutput{AccessKeyMetadata: []AccessKeyMetadata{}, IsTruncated: more, Marker: next}
	for _, k := range pg {
		out.AccessKeyMetadata = append(out.AccessKeyMetadata, AccessKeyMetadata{k.UserName, k.ID, k.Status, k.Created})
	}
	return out, nil
}

// editKey changes one of a user's keys; the key must belong to the user.
func (m *IAM) editKey(ctx context.Context, in *accessKeyInput, fn func(tx store.Tx, k store.Key, rec *accessKeyRecord) error) error {
	name, err := userOrCaller(ctx, in.UserName)
	if err != nil {
		return err
	}
	return m.update(ctx, func(tx store.Tx, acct string) error {
		if _, err := get[userRecord](tx, acct, kindUser, name, "user"); err != nil {
			return err
		}
		k := store.Key{Account: acct, Kind: kindAccessKey, ID: in.AccessKeyId}
		rec := new(accessKeyRecord)
		if _, err := tx.Get(k, rec); err != nil || !strings.EqualFold(rec.UserName, name) {
			return noSuchEntity("The Access Key with id %s cannot be found.", in.AccessKeyId)
		}
		return fn(tx, k, rec)
	})
}

func (m *IAM) updateAccessKey(ctx context.Context, in *accessKeyInput) (*struct{}, error) {
	if in.Status != "Active" && in.Status != "Inactive" {
		return nil, validation("1 validation error detected: Value '%s' at 'status' failed to satisfy constraint: Member must satisfy enum value set: [Active, Inactive]", in.Status)
	}
	return &struct{}{}, m.editKey(ctx, in, func(tx store.Tx, k store.Key, rec *accessKeyRecord) error {
		rec.Status = in.Status
		_, err := tx.Put(k, rec, 0)
		return storeErrOrNil(err, "update access key")
	})
}

func (m *IAM) deleteAccessKey(ctx context.Context, in *accessKeyInput) (*struct{}, error) {
	return &struct{}{}, m.editKey(ctx, in, func(tx store.Tx, k store.Key, _ *accessKeyRecord) error {
		return storeErrOrNil(tx.Delete(k, 0), "delete access key")
	})
}

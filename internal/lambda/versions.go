package lambda

import (
	"context"
	"time"

	"github.com/nimbus-dev/nimbus/internal/service"
	"github.com/nimbus-dev/nimbus/internal/store"
)

func (a *API) registerVersions(svc *service.Service) {
	svc.Handle("PublishVersion", service.Op(a.publishVersion))
	svc.Handle("ListVersionsByFunction", service.Op(a.listVersionsByFunction))
}

// publish snapshots $LATEST as a new version, unless nothing changed since
// the last version published (Lambda then answers with that version). It
// reports whether a version was made.
func (f *functionRecord) publish(description string, now time.Time) bool {
	if n := len(f.Versions); n > 0 && f.Versions[n-1].ConfigRevision == f.Latest.ConfigRevision {
		return false
	}
	v := f.Latest
	f.LastVersion++
	v.Version = versionString(f.LastVersion)
	v.RevisionID = newRevisionID()
	v.LastModified = now
	v.PendingUntil, v.UpdatingUntil = time.Time{}, time.Time{}
	if description != "" {
		v.Description = description
	}
	if v.Environment != nil {
		env := make(map[string]string, len(v.Environment))
		for k, val := range v.Environment {
			env[k] = val
		}
		v.Environment = env
	}
	f.Versions = append(f.Versions, v)
	return true
}

type publishVersionInput struct {
	FunctionName string
	CodeSha256   string
	Description  string
	RevisionId   string
}

func (a *API) publishVersion(ctx context.Context, in *publishVersionInput) (*functionConfiguration, error) {
	account, region := partition(ctx)
	ref, err := parseFunctionName(account, region, in.FunctionName)
	if err != nil {
		return nil, err
	}
	now := a.now()
	f, err := a.modifyFunction(ctx, ref, func(_ store.Tx, f *functionRecord) error {
		if err := a.checkUpdatable(account, region, f, in.RevisionId, now); err != nil {
			return err
		}
		if in.CodeSha256 != "" && in.CodeSha256 != f.Latest.CodeSha256 {
			return errInvalidParameter("CodeSHA256 (%s) is different from current CodeSHA256 in $LATEST (%s). Please try again with the CodeSHA256 in $LATEST.",
				in.CodeSha256, f.Latest.CodeSha256)
		}
		f.publish(in.Description, now)
		return nil
	})
	if err != nil {
		return nil, err
	}
	return a.configuration(account, region, f, &f.Versions[len(f.Versions)-1]), nil
}

type listVersionsInput struct {
	FunctionName string
	Marker       string
	MaxItems     *int
}

type listVersionsOutput struct {
	Versions   []*functionConfiguration
	NextMarker string `json:",omitempty"`
}

func (a *API) listVersionsByFunction(ctx context.Context, in *listVersionsInput) (*listVersionsOutput, error) {
	account, region := partition(ctx)
	_, f, err := a.resolveRef(ctx, in.FunctionName, "")
	if err != nil {
		return nil, err
	}
	all := []*functionConfiguration{a.configuration(account, region, f, &f.Latest)}
	for i := range f.Versions {
		all = append(all, a.configuration(account, region, f, &f.Versions[i]))
	}
	page, next, err := paginate(all, in.Marker, in.MaxItems, 50, func(c *functionConfiguration) string { return c.Version })
	if err != nil {
		return nil, err
	}
	return &listVersionsOutput{Versions: page, NextMarker: next}, nil
}

// deleteVersion deletes one published version; Lambda refuses while an
// alias points to it.
func (a *API) deleteVersion(ctx context.Context, ref functionRef) error {
	account, region := partition(ctx)
	if !isVersionNumber(ref.Qualifier) {
		return errInvalidParameter("Deletion of aliases is not currently supported.")
	}
	_, err := a.modifyFunction(ctx, ref, func(_ store.Tx, f *functionRecord) error {
		idx := -1
		for i := range f.Versions {
			if f.Versions[i].Version == ref.Qualifier {
				idx = i
			}
		}
		if idx < 0 {
			return errFunctionNotFound(qualifiedARN(account, region, f.Name, ref.Qualifier))
		}
		for _, al := range f.Aliases {
			if al.Version == ref.Qualifier || al.Weights[ref.Qualifier] > 0 {
				return errConflict("Unable to delete version because the following aliases reference it: [%s]", al.Name)
			}
		}
		f.Versions = append(f.Versions[:idx], f.Versions[idx+1:]...)
		delete(f.Policies, ref.Qualifier)
		delete(f.EventConfigs, ref.Qualifier)
		return nil
	})
	return err
}

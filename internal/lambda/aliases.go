package lambda

import (
	"context"
	"math/rand/v2"
	"sort"

	"github.com/nimbus-dev/nimbus/internal/service"
	"github.com/nimbus-dev/nimbus/internal/store"
)

func (a *API) registerAliases(svc *service.Service) {
	svc.Handle("CreateAlias", service.Op(a.createAlias))
	svc.Handle("UpdateAlias", service.Op(a.updateAlias))
	svc.Handle("GetAlias", service.Op(a.getAlias))
	svc.Handle("DeleteAlias", service.Op(a.deleteAlias))
	svc.Handle("ListAliases", service.Op(a.listAliases))
}

type routingConfig struct {
	AdditionalVersionWeights map[string]float64
}

type aliasConfiguration struct {
	AliasArn        string
	Name            string
	FunctionVersion string
	Description     string
	RoutingConfig   *routingConfig `json:",omitempty"`
	RevisionId      string
}

func aliasOutput(account, region, fn string, al *aliasRecord) *aliasConfiguration {
	out := &aliasConfiguration{AliasArn: qualifiedARN(account, region, fn, al.Name), Name: al.Name,
		FunctionVersion: al.Version, Description: al.Description, RevisionId: al.RevisionID}
	if len(al.Weights) > 0 {
		out.RoutingConfig = &routingConfig{AdditionalVersionWeights: al.Weights}
	}
	return out
}

type aliasInput struct {
	FunctionName    string
	Name            string
	FunctionVersion *string
	Description     *string
	RoutingConfig   *routingConfig
	RevisionId      string
}

// checkAliasTarget validates an alias's version and routing against f.
func checkAliasTarget(account, region string, f *functionRecord, version string, rc *routingConfig) error {
	if f.version(version) == nil {
		return errFunctionNotFound(qualifiedARN(account, region, f.Name, version))
	}
	if rc == nil || len(rc.AdditionalVersionWeights) == 0 {
		return nil
	}
	if len(rc.AdditionalVersionWeights) > 1 {
		return errInvalidParameter("Number of items in AdditionalVersionWeights cannot be greater than 1")
	}
	if version == latest {
		return errInvalidParameter("$LATEST is not supported for an alias pointing to more than 1 version")
	}
	for v, w := range rc.AdditionalVersionWeights {
		switch {
		case v == version:
			return errInvalidParameter("Invalid function version %s. Function version %s is already included in routing configuration.", v, v)
		case !isVersionNumber(v) || f.version(v) == nil:
			return errInvalidParameter("Invalid function version %s in routing configuration.", v)
		case w < 0 || w > 1:
			return errValidation(w, "routingConfig.additionalVersionWeights", "Member must have value less than or equal to 1.0")
		}
	}
	return nil
}

func (a *API) createAlias(ctx context.Context, in *aliasInput) (*aliasConfiguration, error) {
	account, region := partition(ctx)
	ref, err := parseFunctionName(account, region, in.FunctionName)
	if err != nil {
		return nil, err
	}
	if !aliasPattern.MatchString(in.Name) || isVersionNumber(in.Name) || in.Name == latest {
		return nil, errValidation(in.Name, "name", "Member must satisfy regular expression pattern: (?!^[0-9]+$)([a-zA-Z0-9-_]+)")
	}
	al := &aliasRecord{Name: in.Name, RevisionID: newRevisionID()}
	if in.FunctionVersion != nil {
		al.Version = *in.FunctionVersion
	}
	if in.Description != nil {
		al.Description = *in.Description
	}
	if in.RoutingConfig != nil {
		al.Weights = in.RoutingConfig.AdditionalVersionWeights
	}
	_, err = a.modifyFunction(ctx, ref, func(_ store.Tx, f *functionRecord) error {
		if _, ok := f.Aliases[in.Name]; ok {
			return errConflict("Alias already exists: %s", qualifiedARN(account, region, f.Name, in.Name))
		}
		if err := checkAliasTarget(account, region, f, al.Version, in.RoutingConfig); err != nil {
			return err
		}
		if f.Aliases == nil {
			f.Aliases = map[string]*aliasRecord{}
		}
		f.Aliases[in.Name] = al
		return nil
	})
	if err != nil {
		return nil, err
	}
	return aliasOutput(account, region, ref.Name, al), nil
}

func errAliasNotFound(account, region, fn, alias string) error {
	return errNotFound("Alias not found: %s", qualifiedARN(account, region, fn, alias))
}

func (a *API) updateAlias(ctx context.Context, in *aliasInput) (*aliasConfiguration, error) {
	account, region := partition(ctx)
	ref, err := parseFunctionName(account, region, in.FunctionName)
	if err != nil {
		return nil, err
	}
	var out *aliasRecord
	_, err = a.modifyFunction(ctx, ref, func(_ store.Tx, f *functionRecord) error {
		al, ok := f.Aliases[in.Name]
		if !ok {
			return errAliasNotFound(account, region, f.Name, in.Name)
		}
		if in.RevisionId != "" && in.RevisionId != al.RevisionID {
			return errRevisionMismatch()
		}
		next := *al
		if in.FunctionVersion != nil {
			next.Version = *in.FunctionVersion
		}
		if in.Description != nil {
			next.Description = *in.Description
		}
		if in.RoutingConfig != nil {
			next.Weights = in.RoutingConfig.AdditionalVersionWeights
		}
		if err := checkAliasTarget(account, region, f, next.Version, &routingConfig{AdditionalVersionWeights: next.Weights}); err != nil {
			return err
		}
		next.RevisionID = newRevisionID()
		f.Aliases[in.Name] = &next
		out = &next
		return nil
	})
	if err != nil {
		return nil, err
	}
	return aliasOutput(account, region, ref.Name, out), nil
}

func (a *API) getAlias(ctx context.Context, in *aliasInput) (*aliasConfiguration, error) {
	account, region := partition(ctx)
	_, f, err := a.resolveRef(ctx, in.FunctionName, "")
	if err != nil {
		return nil, err
	}
	al, ok := f.Aliases[in.Name]
	if !ok {
		return nil, errNotFound("Cannot find alias arn: %s", qualifiedARN(account, region, f.Name, in.Name))
	}
	return aliasOutput(account, region, f.Name, al), nil
}

func (a *API) deleteAlias(ctx context.Context, in *aliasInput) (*struct{}, error) {
	account, region := partition(ctx)
	ref, err := parseFunctionName(account, region, in.FunctionName)
	if err != nil {
		return nil, err
	}
	_, err = a.modifyFunction(ctx, ref, func(_ store.Tx, f *functionRecord) error {
		// Lambda answers 204 for an alias that is not there, and keeps a
		// URL config made for the alias (it answers errors until an alias
		// of that name exists again).
		if _, ok := f.Aliases[in.Name]; ok {
			delete(f.Aliases, in.Name)
			delete(f.Policies, in.Name)
			delete(f.EventConfigs, in.Name)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return &struct{}{}, nil
}

type listAliasesInput struct {
	FunctionName    string
	FunctionVersion string
	Marker          string
	MaxItems        *int
}

type listAliasesOutput struct {
	Aliases    []*aliasConfiguration
	NextMarker string `json:",omitempty"`
}

func (a *API) listAliases(ctx context.Context, in *listAliasesInput) (*listAliasesOutput, error) {
	account, region := partition(ctx)
	_, f, err := a.resolveRef(ctx, in.FunctionName, "")
	if err != nil {
		return nil, err
	}
	names := make([]string, 0, len(f.Aliases))
	for n, al := range f.Aliases {
		if in.FunctionVersion == "" || al.Version == in.FunctionVersion {
			names = append(names, n)
		}
	}
	sort.Strings(names)
	all := make([]*aliasConfiguration, len(names))
	for i, n := range names {
		all[i] = aliasOutput(account, region, f.Name, f.Aliases[n])
	}
	page, next, err := paginate(all, in.Marker, in.MaxItems, 50, func(c *aliasConfiguration) string { return c.Name })
	if err != nil {
		return nil, err
	}
	return &listAliasesOutput{Aliases: page, NextMarker: next}, nil
}

// routeAlias picks the version an invocation of an alias runs: its main
// version, or an additional version with that version's weight.
func routeAlias(al *aliasRecord, pick func() float64) string {
	r := pick()
	for v, w := range al.Weights {
		if r < w {
			return v
		}
		r -= w
	}
	return al.Version
}

// randomWeight is the default pick for routeAlias.
func randomWeight() float64 { return rand.Float64() }

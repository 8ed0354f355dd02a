package lambda

import (
	"context"
	"sort"
	"time"

	"github.com/nimbus-dev/nimbus/internal/service"
	"github.com/nimbus-dev/nimbus/internal/store"
)

func (a *API) registerEventInvokeConfigs(svc *service.Service) {
	svc.Handle("PutFunctionEventInvokeConfig", service.Op(a.putEventInvokeConfig))
	svc.Handle("UpdateFunctionEventInvokeConfig", service.Op(a.updateEventInvokeConfig))
	svc.Handle("GetFunctionEventInvokeConfig", service.Op(a.getEventInvokeConfig))
	svc.Handle("DeleteFunctionEventInvokeConfig", service.Op(a.deleteEventInvokeConfig))
	svc.Handle("ListFunctionEventInvokeConfigs", service.Op(a.listEventInvokeConfigs))
}

type eventInvokeConfigInput struct {
	FunctionName             string
	Qualifier                string
	MaximumRetryAttempts     *int
	MaximumEventAgeInSeconds *int
	DestinationConfig        map[string]any
}

type eventInvokeConfigOutput struct {
	LastModified             time.Time
	FunctionArn              string
	MaximumRetryAttempts     *int           `json:",omitempty"`
	MaximumEventAgeInSeconds *int           `json:",omitempty"`
	DestinationConfig        map[string]any `json:",omitempty"`
}

// eventConfigTarget is the key of an async config: the qualifier, with the
// unqualified function standing for $LATEST as Lambda has it.
func (a *API) eventConfigTarget(account, region string, f *functionRecord, q string) (string, error) {
	if q == "" {
		q = latest
	}
	if f.version(q) == nil && f.Aliases[q] == nil {
		return "", errFunctionNotFound(qualifiedARN(account, region, f.Name, q))
	}
	return q, nil
}

func eventConfigOutput(account, region, fn, q string, c *eventConfigRecord) *eventInvokeConfigOutput {
	dest := c.DestinationConfig
	if dest == nil {
		dest = map[string]any{"OnSuccess": map[string]any{}, "OnFailure": map[string]any{}}
	}
	return &eventInvokeConfigOutput{LastModified: c.LastModified, FunctionArn: qualifiedARN(account, region, fn, q),
		MaximumRetryAttempts: c.MaximumRetryAttempts, MaximumEventAgeInSeconds: c.MaximumEventAgeInSeconds,
		DestinationConfig: dest}
}

// writeEventConfig stores a config; merge keeps members the input leaves
// out (Update), else they are reset (Put).
func (a *API) writeEventConfig(ctx context.Context, in *eventInvokeConfigInput, merge bool) (*eventInvokeConfigOutput, error) {
	account, region := partition(ctx)
	ref, err := parseFunctionName(account, region, in.FunctionName)
	if err != nil {
		return nil, err
	}
	if ref, err = ref.withQualifier(in.Qualifier); err != nil {
		return nil, err
	}
	var out *eventInvokeConfigOutput
	_, err = a.modifyFunction(ctx, ref, func(_ store.Tx, f *functionRecord) error {
		q, err := a.eventConfigTarget(account, region, f, ref.Qualifier)
		if err != nil {
			return err
		}
		c := &eventConfigRecord{}
		if old := f.EventConfigs[q]; merge {
			if old == nil {
				return errNotFound("The function %s doesn't have an EventInvokeConfig", qualifiedARN(account, region, f.Name, q))
			}
			*c = *old
		}
		if in.MaximumRetryAttempts != nil {
			c.MaximumRetryAttempts = in.MaximumRetryAttempts
		}
		if in.MaximumEventAgeInSeconds != nil {
			c.MaximumEventAgeInSeconds = in.MaximumEventAgeInSeconds
		}
		if in.DestinationConfig != nil {
			c.DestinationConfig = in.DestinationConfig
		}
		c.LastModified = a.now().UTC().Truncate(time.Millisecond)
		if f.EventConfigs == nil {
			f.EventConfigs = map[string]*eventConfigRecord{}
		}
		f.EventConfigs[q] = c
		out = eventConfigOutput(account, region, f.Name, q, c)
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

func (a *API) putEventInvokeConfig(ctx context.Context, in *eventInvokeConfigInput) (*eventInvokeConfigOutput, error) {
	return a.writeEventConfig(ctx, in, false)
}

func (a *API) updateEventInvokeConfig(ctx context.Context, in *eventInvokeConfigInput) (*eventInvokeConfigOutput, error) {
	return a.writeEventConfig(ctx, in, true)
}

func (a *API) getEventInvokeConfig(ctx context.Context, in *eventInvokeConfigInput) (*eventInvokeConfigOutput, error) {
	account, region := partition(ctx)
	ref, f, err := a.resolveRef(ctx, in.FunctionName, in.Qualifier)
	if err != nil {
		return nil, err
	}
	q, err := a.eventConfigTarget(account, region, f, ref.Qualifier)
	if err != nil {
		return nil, err
	}
	c := f.EventConfigs[q]
	if c == nil {
		return nil, errNotFound("The function %s doesn't have an EventInvokeConfig", qualifiedARN(account, region, f.Name, q))
	}
	return eventConfigOutput(account, region, f.Name, q, c), nil
}

func (a *API) deleteEventInvokeConfig(ctx context.Context, in *eventInvokeConfigInput) (*struct{}, error) {
	account, region := partition(ctx)
	ref, err := parseFunctionName(account, region, in.FunctionName)
	if err != nil {
		return nil, err
	}
	if ref, err = ref.withQualifier(in.Qualifier); err != nil {
		return nil, err
	}
	_, err = a.modifyFunction(ctx, ref, func(_ store.Tx, f *functionRecord) error {
		q, err := a.eventConfigTarget(account, region, f, ref.Qualifier)
		if err != nil {
			return err
		}
		if f.EventConfigs[q] == nil {
			return errNotFound("The function %s doesn't have an EventInvokeConfig", qualifiedARN(account, region, f.Name, q))
		}
		delete(f.EventConfigs, q)
		return nil
	})
	if err != nil {
		return nil, err
	}
	return &struct{}{}, nil
}

type listEventInvokeConfigsInput struct {
	FunctionName string
	Marker       string
	MaxItems     *int
}

type listEventInvokeConfigsOutput struct {
	FunctionEventInvokeConfigs []*eventInvokeConfigOutput
	NextMarker                 string `json:",omitempty"`
}

func (a *API) listEventInvokeConfigs(ctx context.Context, in *listEventInvokeConfigsInput) (*listEventInvokeConfigsOutput, error) {
	account, region := partition(ctx)
	_, f, err := a.resolveRef(ctx, in.FunctionName, "")
	if err != nil {
		return nil, err
	}
	qs := make([]string, 0, len(f.EventConfigs))
	for q := range f.EventConfigs {
		qs = append(qs, q)
	}
	sort.Strings(qs)
	all := make([]*eventInvokeConfigOutput, len(qs))
	for i, q := range qs {
		all[i] = eventConfigOutput(account, region, f.Name, q, f.EventConfigs[q])
	}
	page, next, err := paginate(all, in.Marker, in.MaxItems, 50, func(c *eventInvokeConfigOutput) string { return c.FunctionArn })
	if err != nil {
		return nil, err
	}
	return &listEventInvokeConfigsOutput{FunctionEventInvokeConfigs: page, NextMarker: next}, nil
}

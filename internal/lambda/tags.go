package lambda

import (
	"context"

	"github.com/nimbus-dev/nimbus/internal/service"
	"github.com/nimbus-dev/nimbus/internal/store"
)

// maxTags is Lambda's limit of tags per function.
const maxTags = 50

func (a *API) registerTags(svc *service.Service) {
	svc.Handle("TagResource", service.Op(a.tagResource))
	svc.Handle("UntagResource", service.Op(a.untagResource))
	svc.Handle("ListTags", service.Op(a.listTags))
}

type tagsInput struct {
	Resource string
	Tags     map[string]string
	TagKeys  []string
}

type listTagsOutput struct {
	Tags map[string]string
}

// taggedFunction resolves a tag operation's ARN: tags belong to the
// function, never to a version or alias.
func (a *API) taggedFunction(ctx context.Context, resource string) (functionRef, error) {
	account, region := partition(ctx)
	ref, err := parseFunctionName(account, region, resource)
	if err != nil {
		return ref, err
	}
	if ref.Qualifier != "" {
		return ref, errInvalidParameter("Tags on function aliases and versions are not supported. Please specify a function ARN.")
	}
	return ref, nil
}

func (a *API) tagResource(ctx context.Context, in *tagsInput) (*struct{}, error) {
	ref, err := a.taggedFunction(ctx, in.Resource)
	if err != nil {
		return nil, err
	}
	_, err = a.modifyFunction(ctx, ref, func(_ store.Tx, f *functionRecord) error {
		if f.Tags == nil {
			f.Tags = map[string]string{}
		}
		for k, v := range in.Tags {
			f.Tags[k] = v
		}
		if len(f.Tags) > maxTags {
			return errInvalidParameter("Number of tags exceeds resource tag limit.")
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return &struct{}{}, nil
}

func (a *API) untagResource(ctx context.Context, in *tagsInput) (*struct{}, error) {
	ref, err := a.taggedFunction(ctx, in.Resource)
	if err != nil {
		return nil, err
	}
	_, err = a.modifyFunction(ctx, ref, func(_ store.Tx, f *functionRecord) error {
		for _, k := range in.TagKeys {
			delete(f.Tags, k)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return &struct{}{}, nil
}

func (a *API) listTags(ctx context.Context, in *tagsInput) (*listTagsOutput, error) {
	ref, err := a.taggedFunction(ctx, in.Resource)
	if err != nil {
		return nil, err
	}
	f, err := a.viewFunction(ctx, ref.Name)
	if err != nil {
		return nil, err
	}
	tags := f.Tags
	if tags == nil {
		tags = map[string]string{}
	}
	return &listTagsOutput{Tags: tags}, nil
}

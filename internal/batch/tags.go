package batch

import (
	"context"
	"encoding/json"
	"errors"
	"strconv"
	"strings"

	"github.com/nimbus-dev/nimbus/internal/service"
	"github.com/nimbus-dev/nimbus/internal/store"
)

func (a *API) registerTags(svc *service.Service) {
	svc.Handle("TagResource", service.Op(a.tagResource))
	svc.Handle("UntagResource", service.Op(a.untagResource))
	svc.Handle("ListTagsForResource", service.Op(a.listTags))
}

func checkTags(tags map[string]string) error {
	if len(tags) > 50 {
		return errClient("A resource can have at most 50 tags")
	}
	for k, v := range tags {
		if k == "" || len(k) > 128 || len(v) > 256 {
			return errClient("Tag keys must be 1 to 128 characters and values at most 256")
		}
		if strings.HasPrefix(strings.ToLower(k), "aws:") {
			return errClient("Tag keys cannot start with aws:")
		}
	}
	return nil
}

type tagResourceInput struct {
	ResourceArn string            `json:"resourceArn"`
	Tags        map[string]string `json:"tags"`
	TagKeys     []string          `json:"tagKeys"`
}

type listTagsOutput struct {
	Tags map[string]string `json:"tags"`
}

// taggedKey maps a Batch ARN to the store key of what it names.
func taggedKey(ctx context.Context, resourceARN string) (store.Key, error) {
	account, region := partition(ctx)
	parts := strings.SplitN(resourceARN, ":", 6)
	if len(parts) != 6 || parts[0] != "arn" || parts[2] != "batch" {
		return store.Key{}, errClient("Invalid resource ARN %s", resourceARN)
	}
	if parts[3] != region || parts[4] != account {
		return store.Key{}, errClient("Resource %s does not exist", resourceARN)
	}
	typ, id, ok := strings.Cut(parts[5], "/")
	if !ok || id == "" {
		return store.Key{}, errClient("Invalid resource ARN %s", resourceARN)
	}
	key := store.Key{Account: account, Region: region, ID: id}
	switch typ {
	case "compute-environment":
		key.Kind = kindComputeEnv
	case "job-queue":
		key.Kind = kindQueue
	case "scheduling-policy":
		key.Kind = kindPolicy
	case "job":
		key.Kind = kindJob
	case "job-definition":
		name, rev, ok := strings.Cut(id, ":")
		n, err := strconv.Atoi(rev)
		if !ok || err != nil {
			return store.Key{}, errClient("Invalid resource ARN %s", resourceARN)
		}
		key.Kind, key.ID = kindJobDef, jobDefID(name, n)
	default:
		return store.Key{}, errClient("Invalid resource ARN %s", resourceARN)
	}
	return key, nil
}

// modifyTags rewrites the "tags" member of any Batch record, leaving its
// other members as they are.
func (a *API) modifyTags(ctx context.Context, resourceARN string, fn func(map[string]string) error) (map[string]string, error) {
	key, err := taggedKey(ctx, resourceARN)
	if err != nil {
		return nil, err
	}
	var tags map[string]string
	write := fn != nil
	do := a.store.View
	if write {
		do = a.store.Update
	}
	err = do(ctx, func(tx store.Tx) error {
		var doc map[string]json.RawMessage
		meta, err := tx.Get(key, &doc)
		if errors.Is(err, store.ErrNotFound) {
			return errClient("Resource %s does not exist", resourceARN)
		}
		if err != nil {
			return err
		}
		tags = map[string]string{}
		if raw, ok := doc["tags"]; ok {
			if err := json.Unmarshal(raw, &tags); err != nil {
				return err
			}
		}
		if !write {
			return nil
		}
		if err := fn(tags); err != nil {
			return err
		}
		raw, err := json.Marshal(tags)
		if err != nil {
			return err
		}
		doc["tags"] = raw
		if key.Kind == kindJob {
			// Re-encode through the record so its indexes are kept.
			var job jobRecord
			b, _ := json.Marshal(doc)
			if err := json.Unmarshal(b, &job); err != nil {
				return err
			}
			_, err = tx.Put(key, &job, meta.Version)
			return err
		}
		_, err = tx.Put(key, doc, meta.Version)
		return err
	})
	if err != nil {
		return nil, asAPIError(err, "tags of %s", resourceARN)
	}
	return tags, nil
}

func (a *API) tagResource(ctx context.Context, in *tagResourceInput) (*struct{}, error) {
	if len(in.Tags) == 0 {
		return nil, errClient("tags is required")
	}
	_, err := a.modifyTags(ctx, in.ResourceArn, func(tags map[string]string) error {
		for k, v := range in.Tags {
			tags[k] = v
		}
		return checkTags(tags)
	})
	if err != nil {
		return nil, err
	}
	return &struct{}{}, nil
}

func (a *API) untagResource(ctx context.Context, in *tagResourceInput) (*struct{}, error) {
	if len(in.TagKeys) == 0 {
		return nil, errClient("tagKeys is required")
	}
	_, err := a.modifyTags(ctx, in.ResourceArn, func(tags map[string]string) error {
		for _, k := range in.TagKeys {
			delete(tags, k)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return &struct{}{}, nil
}

func (a *API) listTags(ctx context.Context, in *tagResourceInput) (*listTagsOutput, error) {
	tags, err := a.modifyTags(ctx, in.ResourceArn, nil)
	if err != nil {
		return nil, err
	}
	return &listTagsOutput{Tags: tags}, nil
}

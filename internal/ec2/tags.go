package ec2

import (
	"context"
	"errors"
	"sort"
	"strings"

	"github.com/nimbus-dev/nimbus/internal/awserr"
	"github.com/nimbus-dev/nimbus/internal/service"
	"github.com/nimbus-dev/nimbus/internal/store"
)

// CreateTags, DeleteTags and DescribeTags work on every taggable resource
// through a registry of taggers, one per resource ID prefix (i- for
// instances, sg- for security groups, ami- for images, key- for key pairs...).
// Each resource family registers its tagger from its own file and keeps the
// tags inside its own records, so a resource and its tags are written in one
// transaction and vanish together.

// AWS's limits on tags.
const (
	maxTagsPerResource = 50
	maxTagKeyLength    = 128
	maxTagValueLength  = 256
)

// TaggedResource is one resource and its tags, as a tagger lists them.
type TaggedResource struct {
	ResourceId   string
	ResourceType string
	Tags         []Tag
}

// tagger tags the resources of one ID prefix. Apply sets the tags in set
// (replacing the value of an existing key) and removes those in remove (a
// key with exactly that value) on one resource, and returns the resource's
// not-found error when it does not exist. Apply should build the new tag list
// with mergeTags, which enforces the per-resource limit.
type tagger struct {
	ResourceType string
	Apply        func(ctx context.Context, account, region, id string, set []Tag, remove []Tag) error
	List         func(ctx context.Context, account, region string) ([]TaggedResource, error)
}

// registerTagger makes the resources whose IDs start with idPrefix ("sg-")
// taggable through CreateTags, DeleteTags and DescribeTags.
func (e *EC2) registerTagger(idPrefix string, t tagger) {
	if e.taggers == nil {
		e.taggers = map[string]tagger{}
	}
	e.taggers[idPrefix] = t
}

func (e *EC2) registerTags(svc *service.Service) {
	svc.Handle("CreateTags", service.Op(e.createTags))
	svc.Handle("DeleteTags", service.Op(e.deleteTags))
	svc.Handle("DescribeTags", service.Op(e.describeTags))
	// Key pairs live in keypairs.go; their tags are reached here through the
	// store, by the key-pair-id index.
	e.registerTagger("key-", tagger{ResourceType: "key-pair", Apply: e.tagKeyPair, List: e.listKeyPairTags})
}

func (e *EC2) tagKeyPair(ctx context.Context, account, region, id string, set, remove []Tag) error {
	err := e.store.Update(ctx, func(tx store.Tx) error {
		var name string
		err := tx.List(store.Query{Kind: kindKeyPair, Account: account, Region: region,
			Index: "key-pair-id", IndexValue: id}, func(o store.Object) error {
			name = o.Key.ID
			return nil
		})
		if err != nil {
			return err
		}
		if name == "" {
			return awserr.New(awserr.NotFound, "InvalidKeyPair.NotFound", "The key pair ID '%s' does not exist", id)
		}
		return retagStored(tx, store.Key{Account: account, Region: region, Kind: kindKeyPair, ID: name},
			func() error { return keyPairNotFound(name) }, func(k *keyPair) *[]Tag { return &k.Tags }, set, remove)
	})
	return asAPIErrorOrNil(err, "tag key pair")
}

func (e *EC2) listKeyPairTags(ctx context.Context, account, region string) ([]TaggedResource, error) {
	var out []TaggedResource
	err := e.store.View(ctx, func(tx store.Tx) error {
		return tx.List(store.Query{Kind: kindKeyPair, Account: account, Region: region}, func(o store.Object) error {
			var k keyPair
			if err := o.Decode(&k); err != nil {
				return err
			}
			out = append(out, TaggedResource{ResourceId: k.KeyPairId, ResourceType: "key-pair", Tags: k.Tags})
			return nil
		})
	})
	if err != nil {
		return nil, awserr.Internalf(err, "list key pairs")
	}
	return out, nil
}

// taggerFor finds the tagger of a resource ID by its prefix.
func (e *EC2) taggerFor(id string) (tagger, error) {
	if i := strings.IndexByte(id, '-'); i > 0 {
		if t, ok := e.taggers[id[:i+1]]; ok {
			return t, nil
		}
	}
	return tagger{}, awserr.New(awserr.Validation, "InvalidID", "The ID '%s' is not valid", id)
}

// validateTags checks tags against AWS's limits on keys and values; used by
// CreateTags and by every TagSpecifications at creation.
func validateTags(tags []Tag) error {
	if len(tags) > maxTagsPerResource {
		return awserr.New(awserr.LimitExceeded, "TagLimitExceeded",
			"The maximum number of Tags for a resource has been reached.")
	}
	seen := map[string]bool{}
	for _, t := range tags {
		switch {
		case t.Key == "":
			return invalidParameter("Tag key must not be empty")
		case len(t.Key) > maxTagKeyLength:
			return invalidParameter("Tag key exceeds the maximum length of %d characters", maxTagKeyLength)
		case len(t.Value) > maxTagValueLength:
			return invalidParameter("Tag value exceeds the maximum length of %d characters", maxTagValueLength)
		case strings.HasPrefix(strings.ToLower(t.Key), "aws:"):
			return invalidParameter("Tag keys starting with 'aws:' are reserved for internal use")
		case seen[t.Key]:
			return invalidParameter("Duplicate tag key '%s' specified.", t.Key)
		}
		seen[t.Key] = true
	}
	return nil
}

// mergeTags returns current with set applied (a key's value replaced or the
// tag appended) and then the tags in remove taken away (a key only with that
// exact value), refusing a result over the per-resource limit.
func mergeTags(current, set, remove []Tag) ([]Tag, error) {
	out := append([]Tag(nil), current...)
	for _, s := range set {
		replaced := false
		for i := range out {
			if out[i].Key == s.Key {
				out[i].Value, replaced = s.Value, true
				break
			}
		}
		if !replaced {
			out = append(out, s)
		}
	}
	for _, r := range remove {
		for i := 0; i < len(out); i++ {
			if out[i] == r {
				out = append(out[:i], out[i+1:]...)
				i--
			}
		}
	}
	if len(out) > maxTagsPerResource {
		return nil, awserr.New(awserr.LimitExceeded, "TagLimitExceeded",
			"The maximum number of Tags for a resource has been reached.")
	}
	if out == nil {
		out = []Tag{}
	}
	return out, nil
}

type createTagsInput struct {
	Resources []string
	Tags      []Tag
	DryRun    bool
}

type tagsReturnOutput struct{}

func (e *EC2) createTags(ctx context.Context, in *createTagsInput) (*tagsReturnOutput, error) {
	if len(in.Resources) == 0 {
		return nil, awserr.Missing("ResourceId")
	}
	if len(in.Tags) == 0 {
		return nil, awserr.Missing("Tag")
	}
	if err := validateTags(in.Tags); err != nil {
		return nil, err
	}
	taggers := make([]tagger, len(in.Resources))
	for i, id := range in.Resources {
		t, err := e.taggerFor(id)
		if err != nil {
			return nil, err
		}
		taggers[i] = t
	}
	if in.DryRun {
		return nil, dryRun()
	}
	account, region := partition(ctx)
	for i, id := range in.Resources {
		if err := taggers[i].Apply(ctx, account, region, id, in.Tags, nil); err != nil {
			return nil, err
		}
	}
	return &tagsReturnOutput{}, nil
}

// deleteTag is DeleteTags's tag: a key without a value deletes the key
// whatever its value; with a value (even empty), only that value.
type deleteTag struct {
	Key   string
	Value *string
}

type deleteTagsInput struct {
	Resources []string
	Tags      []deleteTag
	DryRun    bool
}

func (e *EC2) deleteTags(ctx context.Context, in *deleteTagsInput) (*tagsReturnOutput, error) {
	if len(in.Resources) == 0 {
		return nil, awserr.Missing("ResourceId")
	}
	taggers := make([]tagger, len(in.Resources))
	for i, id := range in.Resources {
		t, err := e.taggerFor(id)
		if err != nil {
			return nil, err
		}
		taggers[i] = t
	}
	for _, t := range in.Tags {
		if strings.HasPrefix(strings.ToLower(t.Key), "aws:") {
			return nil, invalidParameter("Tag keys starting with 'aws:' are reserved for internal use")
		}
	}
	if in.DryRun {
		return nil, dryRun()
	}
	account, region := partition(ctx)
	for i, id := range in.Resources {
		current, err := e.currentTags(ctx, taggers[i], account, region, id)
		if err != nil {
			return nil, err
		}
		// Turn "this key, any value" and "no tags named: all tags" into the
		// exact tags to remove, since taggers remove exact key-value pairs.
		var remove []Tag
		for _, c := range current {
			if len(in.Tags) == 0 {
				remove = append(remove, c)
				continue
			}
			for _, t := range in.Tags {
				if t.Key == c.Key && (t.Value == nil || *t.Value == c.Value) {
					remove = append(remove, c)
				}
			}
		}
		if err := taggers[i].Apply(ctx, account, region, id, nil, remove); err != nil {
			return nil, err
		}
	}
	return &tagsReturnOutput{}, nil
}

// currentTags returns the tags of one resource; the tagger's Apply with
// nothing to change reports a resource that does not exist.
func (e *EC2) currentTags(ctx context.Context, t tagger, account, region, id string) ([]Tag, error) {
	all, err := t.List(ctx, account, region)
	if err != nil {
		return nil, err
	}
	for _, r := range all {
		if r.ResourceId == id {
			return r.Tags, nil
		}
	}
	return nil, t.Apply(ctx, account, region, id, nil, nil)
}

type describeTagsInput struct {
	Filters    []Filter
	MaxResults int
	NextToken  string
	DryRun     bool
}

type tagDescription struct {
	Key          string
	ResourceId   string
	ResourceType string
	Value        string
}

type describeTagsOutput struct {
	Tags      []tagDescription
	NextToken string `json:",omitempty"`
}

func (e *EC2) describeTags(ctx context.Context, in *describeTagsInput) (*describeTagsOutput, error) {
	if err := checkMaxResults(in.MaxResults, 5, 1000); err != nil {
		return nil, err
	}
	if in.DryRun {
		return nil, dryRun()
	}
	account, region := partition(ctx)
	prefixes := make([]string, 0, len(e.taggers))
	for p := range e.taggers {
		prefixes = append(prefixes, p)
	}
	sort.Strings(prefixes)
	var matched []tagDescription
	for _, p := range prefixes {
		resources, err := e.taggers[p].List(ctx, account, region)
		if err != nil {
			return nil, err
		}
		for _, r := range resources {
			for _, t := range r.Tags {
				d := tagDescription{Key: t.Key, ResourceId: r.ResourceId, ResourceType: r.ResourceType, Value: t.Value}
				ok, err := matchFilters(in.Filters, func(name string) ([]string, bool) {
					switch name {
					case "resource-id":
						return []string{d.ResourceId}, true
					case "resource-type":
						return []string{d.ResourceType}, true
					case "key":
						return []string{d.Key}, true
					case "value":
						return []string{d.Value}, true
					}
					return nil, false
				}, []Tag{t})
				if err != nil {
					return nil, err
				}
				if ok {
					matched = append(matched, d)
				}
			}
		}
	}
	sort.Slice(matched, func(i, j int) bool { return tagPageKey(matched[i]) < tagPageKey(matched[j]) })
	page, next, err := paginate(matched, in.MaxResults, in.NextToken, tagPageKey)
	if err != nil {
		return nil, err
	}
	return &describeTagsOutput{Tags: page, NextToken: next}, nil
}

func tagPageKey(d tagDescription) string { return d.ResourceId + "\x00" + d.Key }

// retagStored is every tagger's write: read the record at key in tx (its
// absence is notFound), merge the tag changes, and write it back at the
// version read, so concurrent taggers never lose each other's changes.
func retagStored[T any](tx store.Tx, key store.Key, notFound func() error, tagsOf func(*T) *[]Tag, set, remove []Tag) error {
	var v T
	meta, err := tx.Get(key, &v)
	if errors.Is(err, store.ErrNotFound) {
		return notFound()
	}
	if err != nil {
		return err
	}
	tags := tagsOf(&v)
	if *tags, err = mergeTags(*tags, set, remove); err != nil {
		return err
	}
	_, err = tx.Put(key, &v, meta.Version)
	return err
}

// taggedResources is every tagger's listing: the tags of each record.
func taggedResources[T any](all []T, resourceType string, idOf func(T) string, tagsOf func(T) []Tag) []TaggedResource {
	out := make([]TaggedResource, 0, len(all))
	for _, v := range all {
		out = append(out, TaggedResource{ResourceId: idOf(v), ResourceType: resourceType, Tags: tagsOf(v)})
	}
	return out
}

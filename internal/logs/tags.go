package logs

import (
	"context"
	"net/http"
	"strings"

	"github.com/nimbus-dev/nimbus/internal/awserr"
	"github.com/nimbus-dev/nimbus/internal/service"
)

// maxTags is how many tags a log group may carry.
const maxTags = 50

func (l *Logs) registerTags(svc *service.Service) {
	svc.Handle("TagLogGroup", service.Op(l.tagLogGroup))
	svc.Handle("UntagLogGroup", service.Op(l.untagLogGroup))
	svc.Handle("ListTagsLogGroup", service.Op(l.listTagsLogGroup))
	svc.Handle("TagResource", service.Op(l.tagResource))
	svc.Handle("UntagResource", service.Op(l.untagResource))
	svc.Handle("ListTagsForResource", service.Op(l.listTagsForResource))
}

type tagLogGroupInput struct {
	LogGroupName string
	Tags         map[string]string
}

func (l *Logs) tagLogGroup(ctx context.Context, in *tagLogGroupInput) (*empty, error) {
	return &empty{}, l.retag(ctx, in.LogGroupName, in.Tags, nil, func() error {
		return invalidParameter("A log group can have at most %d tags.", maxTags)
	})
}

type untagLogGroupInput struct {
	LogGroupName string
	Tags         []string
}

func (l *Logs) untagLogGroup(ctx context.Context, in *untagLogGroupInput) (*empty, error) {
	return &empty{}, l.retag(ctx, in.LogGroupName, nil, in.Tags, nil)
}

type listTagsLogGroupInput struct {
	LogGroupName string
}

type tagsOutput struct {
	Tags map[string]string `json:"tags"`
}

func (l *Logs) listTagsLogGroup(ctx context.Context, in *listTagsLogGroupInput) (*tagsOutput, error) {
	account, region, err := partition(ctx)
	if err != nil {
		return nil, err
	}
	grp, err := l.lookupGroup(ctx, account, region, in.LogGroupName, "")
	if err != nil {
		return nil, err
	}
	return &tagsOutput{Tags: nonNilTags(grp.Tags)}, nil
}

type tagResourceInput struct {
	ResourceArn string
	Tags        map[string]string
}

func (l *Logs) tagResource(ctx context.Context, in *tagResourceInput) (*empty, error) {
	name, err := groupNameFromARN(ctx, in.ResourceArn)
	if err != nil {
		return nil, err
	}
	return &empty{}, l.retag(ctx, name, in.Tags, nil, func() error {
		return &awserr.Error{Kind: awserr.LimitExceeded, Code: "TooManyTagsException", Status: http.StatusBadRequest,
			Message: "A resource can have no more than 50 tags.", Fields: map[string]string{"resourceName": in.ResourceArn}}
	})
}

type untagResourceInput struct {
	ResourceArn string
	TagKeys     []string
}

func (l *Logs) untagResource(ctx context.Context, in *untagResourceInput) (*empty, error) {
	name, err := groupNameFromARN(ctx, in.ResourceArn)
	if err != nil {
		return nil, err
	}
	return &empty{}, l.retag(ctx, name, nil, in.TagKeys, nil)
}

type listTagsForResourceInput struct {
	ResourceArn string
}

func (l *Logs) listTagsForResource(ctx context.Context, in *listTagsForResourceInput) (*tagsOutput, error) {
	account, region, err := partition(ctx)
	if err != nil {
		return nil, err
	}
	name, err := groupNameFromARN(ctx, in.ResourceArn)
	if err != nil {
		return nil, err
	}
	grp, err := l.lookupGroup(ctx, account, region, name, "")
	if err != nil {
		return nil, err
	}
	return &tagsOutput{Tags: nonNilTags(grp.Tags)}, nil
}

// retag adds and removes a group's tags in one write; tooMany is the error
// for a result over maxTags.
func (l *Logs) retag(ctx context.Context, group string, add map[string]string, remove []string, tooMany func() error) error {
	return l.updateGroup(ctx, group, func(rec *groupRecord) error {
		tags := make(map[string]string, len(rec.Tags)+len(add))
		for k, v := range rec.Tags {
			tags[k] = v
		}
		for k, v := range add {
			tags[k] = v
		}
		for _, k := range remove {
			delete(tags, k)
		}
		if len(tags) > maxTags && tooMany != nil {
			return tooMany()
		}
		rec.Tags = tags
		return nil
	})
}

// groupNameFromARN resolves a taggable resource ARN; nimbus tags log groups
// (destinations and delivery resources are not served).
func groupNameFromARN(ctx context.Context, arn string) (string, error) {
	account, region, err := partition(ctx)
	if err != nil {
		return "", err
	}
	if !strings.HasPrefix(arn, "arn:") || !strings.Contains(arn, ":log-group:") {
		return "", invalidParameter("Invalid resource ARN: %s", arn)
	}
	return groupNameFromIdentifier(account, region, arn)
}

func nonNilTags(t map[string]string) map[string]string {
	if t == nil {
		return map[string]string{}
	}
	return t
}

package s3

import (
	"context"
	"fmt"
	"net/http"
	"strings"

	"github.com/nimbus-dev/nimbus/internal/service"
)

func (a *API) registerNotifications(svc *service.Service) {
	svc.Handle("PutBucketNotificationConfiguration", a.putBucketNotificationConfiguration)
	svc.Handle("GetBucketNotificationConfiguration", a.getBucketNotificationConfiguration)
}

// notificationConfig is a bucket's notification configuration; nimbus
// delivers to Lambda functions only.
type notificationConfig struct {
	Lambda []lambdaConfig `json:"lambda,omitempty"`
}

// lambdaConfig is one LambdaFunctionConfiguration.
type lambdaConfig struct {
	ID          string       `json:"id"`
	FunctionARN string       `json:"functionArn"`
	Events      []string     `json:"events"` // as given: s3:ObjectCreated:*
	Rules       []filterRule `json:"rules,omitempty"`
}

type filterRule struct {
	Name  string `json:"name"` // Prefix or Suffix
	Value string `json:"value"`
}

// notificationEvents are the event types nimbus raises, and the wildcards
// that cover them.
var notificationEvents = map[string]bool{
	"s3:ObjectCreated:*": true, "s3:ObjectCreated:Put": true, "s3:ObjectCreated:Post": true,
	"s3:ObjectCreated:Copy": true, "s3:ObjectCreated:CompleteMultipartUpload": true,
	"s3:ObjectRemoved:*": true, "s3:ObjectRemoved:Delete": true, "s3:ObjectRemoved:DeleteMarkerCreated": true,
}

// matches reports whether the configuration wants an event (named as in
// the event JSON, ObjectCreated:Put) for key.
func (c *lambdaConfig) matches(event, key string) bool {
	wanted := false
	family, _, _ := strings.Cut(event, ":")
	for _, e := range c.Events {
		if e == "s3:"+event || e == "s3:"+family+":*" {
			wanted = true
			break
		}
	}
	if !wanted {
		return false
	}
	for _, r := range c.Rules {
		switch r.Name {
		case "Prefix":
			if !strings.HasPrefix(key, r.Value) {
				return false
			}
		case "Suffix":
			if !strings.HasSuffix(key, r.Value) {
				return false
			}
		}
	}
	return true
}

// parseLambdaConfig reads and checks one LambdaFunctionConfiguration.
func parseLambdaConfig(doc map[string]any) (lambdaConfig, error) {
	c := lambdaConfig{ID: str(doc, "Id"), FunctionARN: str(doc, "LambdaFunctionArn"), Events: stringList(doc, "Events")}
	if c.ID == "" {
		c.ID = newBlobName()
	}
	if c.FunctionARN == "" || len(c.Events) == 0 {
		return c, errMalformedXML()
	}
	for _, e := range c.Events {
		if !notificationEvents[e] {
			return c, errInvalidArgument("Event", e, "The event is not supported for notifications")
		}
	}
	seen := map[string]bool{}
	for _, r := range list(structure(structure(doc, "Filter"), "Key"), "FilterRules") {
		name := strings.ToLower(str(r, "Name"))
		switch name {
		case "prefix", "suffix":
		default:
			return c, errInvalidArgument("FilterRule.Name", str(r, "Name"), "filter rule name must be either prefix or suffix")
		}
		if seen[name] {
			return c, errInvalidArgument("FilterRule.Name", str(r, "Name"), "Cannot specify more than one %s rule in a filter.", name)
		}
		seen[name] = true
		c.Rules = append(c.Rules, filterRule{Name: strings.ToUpper(name[:1]) + name[1:], Value: str(r, "Value")})
	}
	return c, nil
}

// errUnvalidated is S3's answer when a destination does not exist or does
// not let S3 deliver to it.
func errUnvalidated(reasons map[string]string) error {
	e := s3Error(http.StatusBadRequest, "InvalidArgument", "Unable to validate the following destination configurations")
	e.Fields = map[string]string{}
	i := 1
	for arn, why := range reasons {
		e.Fields[fmt.Sprintf("ArgumentName%d", i)] = arn
		e.Fields[fmt.Sprintf("ArgumentValue%d", i)] = why
		i++
	}
	return e
}

func (a *API) putBucketNotificationConfiguration(ctx context.Context, in map[string]any) (any, error) {
	name := str(in, "Bucket")
	doc := structure(in, "NotificationConfiguration")
	b, err := a.viewBucket(ctx, name)
	if err != nil {
		return nil, err
	}
	reasons := map[string]string{}
	for _, kind := range []struct{ member, arn string }{{"TopicConfigurations", "TopicArn"}, {"QueueConfigurations", "QueueArn"}} {
		for _, c := range list(doc, kind.member) {
			// nimbus serves neither SNS nor SQS: no such destination exists.
			reasons[str(c, kind.arn)] = "Destination does not exist"
		}
	}
	var cfg notificationConfig
	ids := map[string]bool{}
	for _, d := range list(doc, "LambdaFunctionConfigurations") {
		c, err := parseLambdaConfig(d)
		if err != nil {
			return nil, err
		}
		if ids[c.ID] {
			return nil, errInvalidArgument("Id", c.ID, "Configuration Id must be unique")
		}
		ids[c.ID] = true
		cfg.Lambda = append(cfg.Lambda, c)
	}
	if !boolean(in, "SkipDestinationValidation") {
		for _, c := range cfg.Lambda {
			ok := false
			if a.functions != nil {
				if ok, err = a.functions.AllowsS3Invoke(ctx, c.FunctionARN, bucketARN(name), b.Owner); err != nil {
					return nil, errInternal(err, "validate function %s", c.FunctionARN)
				}
			}
			if !ok {
				reasons[c.FunctionARN] = "Not authorized to invoke function [" + c.FunctionARN + "]"
			}
		}
	}
	if len(reasons) > 0 {
		return nil, errUnvalidated(reasons)
	}
	err = a.updateBucket(ctx, name, func(b *bucketRecord) error {
		b.Notifications = nil
		if len(cfg.Lambda) > 0 {
			b.Notifications = &cfg
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return map[string]any{}, nil
}

func (a *API) getBucketNotificationConfiguration(ctx context.Context, in map[string]any) (any, error) {
	b, err := a.viewBucket(ctx, str(in, "Bucket"))
	if err != nil {
		return nil, err
	}
	out := map[string]any{}
	if b.Notifications == nil {
		return out, nil
	}
	var configs []any
	for _, c := range b.Notifications.Lambda {
		events := make([]any, 0, len(c.Events))
		for _, e := range c.Events {
			events = append(events, e)
		}
		d := map[string]any{"Id": c.ID, "LambdaFunctionArn": c.FunctionARN, "Events": events}
		if len(c.Rules) > 0 {
			rules := make([]any, 0, len(c.Rules))
			for _, r := range c.Rules {
				rules = append(rules, map[string]any{"Name": r.Name, "Value": r.Value})
			}
			d["Filter"] = map[string]any{"Key": map[string]any{"FilterRules": rules}}
		}
		configs = append(configs, d)
	}
	out["LambdaFunctionConfigurations"] = configs
	return out, nil
}

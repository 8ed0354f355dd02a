package logs

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/nimbus-dev/nimbus/internal/service"
	"github.com/nimbus-dev/nimbus/internal/store"
)

// groupRecord is a log group as stored (kind logs:group, ID its name).
type groupRecord struct {
	Name            string
	CreationTime    int64 // ms since the epoch
	RetentionInDays int   // 0: never expire
	Class           string
	KmsKeyID        string            `json:",omitempty"`
	Tags            map[string]string `json:",omitempty"`
	// StorageID names the group's event directory; a group created again
	// under the same name gets a new one.
	StorageID string
}

func groupKey(account, region, name string) store.Key {
	return store.Key{Account: account, Region: region, Kind: kindGroup, ID: name}
}

func groupARN(account, region, name string) string {
	return "arn:aws:logs:" + region + ":" + account + ":log-group:" + name
}

// retentionDays are the values PutRetentionPolicy accepts.
var retentionDays = []int{1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653}

func (l *Logs) registerGroups(svc *service.Service) {
	svc.Handle("CreateLogGroup", service.Op(l.createLogGroup))
	svc.Handle("DeleteLogGroup", service.Op(l.deleteLogGroup))
	svc.Handle("DescribeLogGroups", service.Op(l.describeLogGroups))
	svc.Handle("PutRetentionPolicy", service.Op(l.putRetentionPolicy))
	svc.Handle("DeleteRetentionPolicy", service.Op(l.deleteRetentionPolicy))
}

type createLogGroupInput struct {
	LogGroupName  string
	KmsKeyID      string `json:"kmsKeyId"`
	Tags          map[string]string
	LogGroupClass string
}

type empty struct{}

func (l *Logs) createLogGroup(ctx context.Context, in *createLogGroupInput) (*empty, error) {
	account, region, err := partition(ctx)
	if err != nil {
		return nil, err
	}
	if err := validateGroupName("logGroupName", in.LogGroupName); err != nil {
		return nil, err
	}
	if len(in.Tags) > maxTags {
		return nil, invalidParameter("A log group can have at most %d tags.", maxTags)
	}
	class := in.LogGroupClass
	if class == "" {
		class = "STANDARD"
	}
	rec := groupRecord{Name: in.LogGroupName, CreationTime: l.nowMillis(), Class: class, KmsKeyID: in.KmsKeyID,
		Tags: in.Tags, StorageID: newStorageID()}
	err = l.store.Update(ctx, func(tx store.Tx) error {
		_, err := tx.Create(groupKey(account, region, rec.Name), rec)
		return err
	})
	if errors.Is(err, store.ErrAlreadyExists) {
		return nil, alreadyExists("The specified log group already exists")
	}
	if err != nil {
		return nil, storeErr(err, "create log group")
	}
	return &empty{}, nil
}

type deleteLogGroupInput struct {
	LogGroupName string
}

func (l *Logs) deleteLogGroup(ctx context.Context, in *deleteLogGroupInput) (*empty, error) {
	account, region, err := partition(ctx)
	if err != nil {
		return nil, err
	}
	if err := validateGroupName("logGroupName", in.LogGroupName); err != nil {
		return nil, err
	}
	var rec groupRecord
	err = l.store.Update(ctx, func(tx store.Tx) error {
		if _, err := tx.Get(groupKey(account, region, in.LogGroupName), &rec); err != nil {
			if errors.Is(err, store.ErrNotFound) {
				return groupNotFound()
			}
			return err
		}
		var streams []store.Key
		err := tx.List(store.Query{Kind: kindStream, Account: account, Region: region, Prefix: streamIDPrefix(in.LogGroupName)},
			func(o store.Object) error {
				streams = append(streams, o.Key)
				return nil
			})
		if err != nil {
			return err
		}
		for _, k := range streams {
			if err := tx.Delete(k, 0); err != nil {
				return err
			}
		}
		return tx.Delete(groupKey(account, region, in.LogGroupName), 0)
	})
	if err != nil {
		return nil, storeErr(err, "delete log group")
	}
	// The group is gone once the store says so; a failure here leaves an
	// orphan directory that the sweeper removes.
	if err := l.events.remove(rec.StorageID); err != nil {
		l.log.Warn("removing a deleted log group's events", "log_group", in.LogGroupName, "err", err)
	}
	return &empty{}, nil
}

type describeLogGroupsInput struct {
	LogGroupNamePrefix  string
	LogGroupNamePattern string
	LogGroupClass       string
	NextToken           string
	Limit               int
}

type logGroupOutput struct {
	LogGroupName      string `json:"logGroupName"`
	CreationTime      int64  `json:"creationTime"`
	RetentionInDays   int    `json:"retentionInDays,omitempty"`
	MetricFilterCount int    `json:"metricFilterCount"`
	Arn               string `json:"arn"`
	LogGroupArn       string `json:"logGroupArn"`
	StoredBytes       int64  `json:"storedBytes"`
	KmsKeyID          string `json:"kmsKeyId,omitempty"`
	LogGroupClass     string `json:"logGroupClass"`
}

type describeLogGroupsOutput struct {
	LogGroups []logGroupOutput `json:"logGroups"`
	NextToken string           `json:"nextToken,omitempty"`
}

const describeLimit = 50

func (l *Logs) describeLogGroups(ctx context.Context, in *describeLogGroupsInput) (*describeLogGroupsOutput, error) {
	account, region, err := partition(ctx)
	if err != nil {
		return nil, err
	}
	if in.LogGroupNamePrefix != "" && in.LogGroupNamePattern != "" {
		return nil, invalidParameter("LogGroupNamePrefix and LogGroupNamePattern are mutually exclusive parameters.")
	}
	limit, err := pageLimit(in.Limit, describeLimit)
	if err != nil {
		return nil, err
	}
	after, err := decodeNameToken(in.NextToken)
	if err != nil {
		return nil, err
	}
	pattern := strings.ToLower(in.LogGroupNamePattern)
	out := &describeLogGroupsOutput{LogGroups: []logGroupOutput{}}
	var recs []groupRecord
	more := false
	err = l.store.View(ctx, func(tx store.Tx) error {
		q := store.Query{Kind: kindGroup, Account: account, Region: region, Prefix: in.LogGroupNamePrefix, After: after}
		return tx.List(q, func(o store.Object) error {
			var rec groupRecord
			if err := o.Decode(&rec); err != nil {
				return err
			}
			if pattern != "" && !strings.Contains(strings.ToLower(rec.Name), pattern) ||
				in.LogGroupClass != "" && rec.Class != in.LogGroupClass {
				return nil
			}
			if len(recs) == limit {
				more = true
				return store.ErrStop
			}
			recs = append(recs, rec)
			return nil
		})
	})
	if err != nil {
		return nil, storeErr(err, "list log groups")
	}
	for _, rec := range recs {
		out.LogGroups = append(out.LogGroups, l.groupOutput(account, region, rec))
	}
	if more {
		out.NextToken = encodeNameToken(recs[len(recs)-1].Name)
	}
	return out, nil
}

func (l *Logs) groupOutput(account, region string, rec groupRecord) logGroupOutput {
	arn := groupARN(account, region, rec.Name)
	return logGroupOutput{LogGroupName: rec.Name, CreationTime: rec.CreationTime, RetentionInDays: rec.RetentionInDays,
		Arn: arn + ":*", LogGroupArn: arn, StoredBytes: l.events.storedBytes(rec.StorageID), KmsKeyID: rec.KmsKeyID,
		LogGroupClass: rec.Class}
}

type putRetentionPolicyInput struct {
	LogGroupName    string
	RetentionInDays int
}

func (l *Logs) putRetentionPolicy(ctx context.Context, in *putRetentionPolicyInput) (*empty, error) {
	if !slices.Contains(retentionDays, in.RetentionInDays) {
		vals := make([]string, len(retentionDays))
		for i, d := range retentionDays {
			vals[i] = fmt.Sprint(d)
		}
		return nil, invalidParameter("1 validation error detected: Value '%d' at 'retentionInDays' failed to satisfy constraint: "+
			"Member must satisfy enum value set: [%s]", in.RetentionInDays, strings.Join(vals, ", "))
	}
	return &empty{}, l.updateGroup(ctx, in.LogGroupName, func(rec *groupRecord) error {
		rec.RetentionInDays = in.RetentionInDays
		return nil
	})
}

type deleteRetentionPolicyInput struct {
	LogGroupName string
}

func (l *Logs) deleteRetentionPolicy(ctx context.Context, in *deleteRetentionPolicyInput) (*empty, error) {
	return &empty{}, l.updateGroup(ctx, in.LogGroupName, func(rec *groupRecord) error {
		rec.RetentionInDays = 0
		return nil
	})
}

// updateGroup reads a group, lets fn change it and writes it back at the
// version read.
func (l *Logs) updateGroup(ctx context.Context, name string, fn func(*groupRecord) error) error {
	account, region, err := partition(ctx)
	if err != nil {
		return err
	}
	if err := validateGroupName("logGroupName", name); err != nil {
		return err
	}
	err = l.store.Update(ctx, func(tx store.Tx) error {
		var rec groupRecord
		k := groupKey(account, region, name)
		meta, err := tx.Get(k, &rec)
		if errors.Is(err, store.ErrNotFound) {
			return groupNotFound()
		}
		if err != nil {
			return err
		}
		if err := fn(&rec); err != nil {
			return err
		}
		_, err = tx.Put(k, rec, meta.Version)
		return err
	})
	if err != nil {
		return storeErr(err, "update log group")
	}
	return nil
}

// lookupGroup reads a group by name, or by logGroupIdentifier (a name or
// an ARN), exactly one of which must be given.
func (l *Logs) lookupGroup(ctx context.Context, account, region, name, identifier string) (groupRecord, error) {
	switch {
	case name != "" && identifier != "":
		return groupRecord{}, invalidParameter("LogGroup name and LogGroup ARN are mutually exclusive parameters.")
	case name == "" && identifier == "":
		return groupRecord{}, invalidParameter("Either logGroupName or logGroupIdentifier should be provided.")
	case identifier != "":
		n, err := groupNameFromIdentifier(account, region, identifier)
		if err != nil {
			return groupRecord{}, err
		}
		name = n
	}
	if err := validateGroupName("logGroupName", name); err != nil {
		return groupRecord{}, err
	}
	var rec groupRecord
	err := l.store.View(ctx, func(tx store.Tx) error {
		_, err := tx.Get(groupKey(account, region, name), &rec)
		return err
	})
	if errors.Is(err, store.ErrNotFound) {
		return groupRecord{}, groupNotFound()
	}
	if err != nil {
		return groupRecord{}, storeErr(err, "read log group")
	}
	return rec, nil
}

// groupNameFromIdentifier accepts a group name or its ARN (with or without
// the trailing :*). An ARN of another account or region names a group
// nimbus cannot see.
func groupNameFromIdentifier(account, region, id string) (string, error) {
	if !strings.HasPrefix(id, "arn:") {
		return id, nil
	}
	parts := strings.SplitN(id, ":", 7)
	if len(parts) != 7 || parts[2] != "logs" || parts[5] != "log-group" {
		return "", invalidParameter("Invalid log group ARN: %s", id)
	}
	if parts[3] != region || parts[4] != account {
		return "", groupNotFound()
	}
	return strings.TrimSuffix(parts[6], ":*"), nil
}

func pageLimit(limit, max int) (int, error) {
	switch {
	case limit == 0:
		return max, nil
	case limit < 1 || limit > max:
		return 0, invalidParameter("1 validation error detected: Value '%d' at 'limit' failed to satisfy constraint: "+
			"Member must have value between 1 and %d", limit, max)
	}
	return limit, nil
}

// Describe tokens carry the last name of the previous page.
func encodeNameToken(name string) string {
	return base64.RawURLEncoding.EncodeToString([]byte(name))
}

func decodeNameToken(tok string) (string, error) {
	if tok == "" {
		return "", nil
	}
	b, err := base64.RawURLEncoding.DecodeString(tok)
	if err != nil || len(b) == 0 {
		return "", invalidParameter("The specified nextToken is invalid.")
	}
	return string(b), nil
}

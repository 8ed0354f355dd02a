package ec2

import (
	"context"
	"errors"
	"strconv"
	"time"

	"github.com/nimbus-dev/nimbus/internal/awserr"
	"github.com/nimbus-dev/nimbus/internal/store"
)

type createSnapshotInput struct {
	VolumeId          string
	Description       string
	TagSpecifications []TagSpecification
	DryRun            bool
}

type snapshotView struct {
	Description  string
	Encrypted    bool
	OwnerId      string
	Progress     string
	SnapshotId   string
	StartTime    time.Time
	State        string
	StateMessage string `json:",omitempty"`
	VolumeId     string
	VolumeSize   int
	Tags         []Tag
	StorageTier  string
}

func (s *snapshot) view() snapshotView {
	v := snapshotView{Description: s.Description, Encrypted: s.Encrypted, OwnerId: s.OwnerId, Progress: "",
		SnapshotId: s.SnapshotId, StartTime: s.StartTime, State: s.State, StateMessage: s.StateMsg, VolumeId: s.VolumeId,
		VolumeSize: s.VolumeSize, Tags: s.Tags, StorageTier: "standard"}
	if v.Tags == nil {
		v.Tags = []Tag{}
	}
	if s.State == snapshotCompleted {
		v.Progress = "100%"
	}
	return v
}

func (e *EC2) createSnapshot(ctx context.Context, in *createSnapshotInput) (*snapshotView, error) {
	if in.VolumeId == "" {
		return nil, awserr.Missing("VolumeId")
	}
	if err := checkVolumeID(in.VolumeId); err != nil {
		return nil, err
	}
	tags, err := tagsFor(in.TagSpecifications, "snapshot")
	if err != nil {
		return nil, err
	}
	if err := validateTags(tags); err != nil {
		return nil, err
	}
	account, reg := partition(ctx)
	var out snapshot
	err = e.store.Update(ctx, func(tx store.Tx) error {
		var v volume
		_, err := tx.Get(volumeKey(account, reg, in.VolumeId), &v)
		if errors.Is(err, store.ErrNotFound) {
			return e.rootVolumeError(tx, account, reg, in.VolumeId, func(inst *instance) error {
				return awserr.New(awserr.NotImplemented, "UnsupportedOperation",
					"The root volume of instance '%s' is a directory in nimbus and cannot be snapshotted; use CreateImage.", inst.InstanceId)
			})
		}
		if err != nil {
			return err
		}
		if v.State != volumeAvailable && v.State != volumeInUse {
			return awserr.New(awserr.Conflict, "IncorrectState", "The volume '%s' is in the '%s' state.", v.VolumeId, v.State)
		}
		if in.DryRun {
			return dryRun()
		}
		out = snapshot{Schema: volumeSchema, SnapshotId: newID("snap"), OwnerId: account, Region: reg, VolumeId: v.VolumeId,
			VolumeSize: v.Size, Description: in.Description, Encrypted: v.Encrypted, State: snapshotPending,
			StartTime: time.Now().UTC().Truncate(time.Millisecond), Tags: tags}
		_, err = tx.Create(out.key(), &out)
		return err
	})
	if err != nil {
		return nil, asAPIError(err, "create snapshot")
	}
	view := out.view()
	return &view, nil
}

type describeSnapshotsInput struct {
	SnapshotIds         []string
	OwnerIds            []string
	RestorableByUserIds []string
	Filters             []Filter
	MaxResults          int
	NextToken           string
	DryRun              bool
}

type describeSnapshotsOutput struct {
	Snapshots []snapshotView
	NextToken string `json:",omitempty"`
}

func (e *EC2) describeSnapshots(ctx context.Context, in *describeSnapshotsInput) (*describeSnapshotsOutput, error) {
	if err := checkDescribe(in.MaxResults, in.SnapshotIds, checkSnapshotID, in.DryRun); err != nil {
		return nil, err
	}
	account, reg := partition(ctx)
	all, err := listKind(ctx, e.store, account, reg, kindSnapshot, "snapshots", func(s snapshot) string { return s.SnapshotId })
	if err != nil {
		return nil, err
	}
	if len(in.OwnerIds) > 0 {
		// Only the caller's own snapshots exist here: "self" or its account.
		own := false
		for _, o := range in.OwnerIds {
			own = own || o == "self" || o == account
		}
		if !own {
			all = nil
		}
	}
	page, next, err := selectDescribed(all, describeSelection[snapshot]{
		IDs: in.SnapshotIds, Filters: in.Filters, MaxResults: in.MaxResults, NextToken: in.NextToken,
		ID:       func(s snapshot) string { return s.SnapshotId },
		Fields:   func(s snapshot) fields { return s.filterFields },
		Tags:     func(s snapshot) []Tag { return s.Tags },
		NotFound: snapshotNotFound,
	})
	if err != nil {
		return nil, err
	}
	out := &describeSnapshotsOutput{Snapshots: make([]snapshotView, 0, len(page)), NextToken: next}
	for i := range page {
		out.Snapshots = append(out.Snapshots, page[i].view())
	}
	return out, nil
}

func (s snapshot) filterFields(name string) ([]string, bool) {
	one := func(v string) ([]string, bool) { return []string{v}, true }
	switch name {
	case "snapshot-id":
		return one(s.SnapshotId)
	case "volume-id":
		return one(s.VolumeId)
	case "status":
		return one(s.State)
	case "owner-id":
		return one(s.OwnerId)
	case "description":
		return one(s.Description)
	case "volume-size":
		return one(strconv.Itoa(s.VolumeSize))
	case "encrypted":
		return one(strconv.FormatBool(s.Encrypted))
	case "progress":
		return one(s.view().Progress)
	case "start-time":
		return one(s.StartTime.Format(time.RFC3339))
	case "storage-tier":
		return one("standard")
	}
	return nil, false
}

type deleteSnapshotInput struct {
	SnapshotId string
	DryRun     bool
}

type deleteSnapshotOutput struct{}

func (e *EC2) deleteSnapshot(ctx context.Context, in *deleteSnapshotInput) (*deleteSnapshotOutput, error) {
	if in.SnapshotId == "" {
		return nil, awserr.Missing("SnapshotId")
	}
	if err := checkSnapshotID(in.SnapshotId); err != nil {
		return nil, err
	}
	account, reg := partition(ctx)
	err := e.store.Update(ctx, func(tx store.Tx) error {
		var s snapshot
		meta, err := tx.Get(store.Key{Account: account, Region: reg, Kind: kindSnapshot, ID: in.SnapshotId}, &s)
		if errors.Is(err, store.ErrNotFound) {
			return snapshotNotFound(in.SnapshotId)
		}
		if err != nil {
			return err
		}
		if in.DryRun {
			return dryRun()
		}
		return tx.Delete(s.key(), meta.Version)
	})
	if err != nil {
		return nil, asAPIError(err, "delete snapshot")
	}
	return &deleteSnapshotOutput{}, nil
}

func (e *EC2) tagSnapshot(ctx context.Context, account, reg, id string, set, remove []Tag) error {
	err := e.store.Update(ctx, func(tx store.Tx) error {
		return retagStored(tx, store.Key{Account: account, Region: reg, Kind: kindSnapshot, ID: id},
			func() error { return snapshotNotFound(id) }, func(s *snapshot) *[]Tag { return &s.Tags }, set, remove)
	})
	return asAPIErrorOrNil(err, "tag snapshot")
}

func (e *EC2) listSnapshotTags(ctx context.Context, account, reg string) ([]TaggedResource, error) {
	all, err := listKind(ctx, e.store, account, reg, kindSnapshot, "snapshots", func(s snapshot) string { return s.SnapshotId })
	if err != nil {
		return nil, err
	}
	var out []TaggedResource
	for _, s := range all {
		if len(s.Tags) > 0 {
			out = append(out, TaggedResource{ResourceId: s.SnapshotId, ResourceType: "snapshot", Tags: s.Tags})
		}
	}
	return out, nil
}

package ec2

import (
	"context"
	"errors"
	"strconv"
	"time"

	"github.com/nimbus-dev/nimbus/internal/awserr"
	"github.com/nimbus-dev/nimbus/internal/region"
	"github.com/nimbus-dev/nimbus/internal/service"
	"github.com/nimbus-dev/nimbus/internal/store"
)

// EBS volumes are sparse ext4 images (internal/volume) that the instance
// controller creates, and mounts into an instance's sandbox at
// /mnt/<device> (/dev/sdf at /mnt/sdf) when the sandbox starts. A sandbox
// cannot gain or lose a mount while it runs, so a volume attached to a
// running instance appears at its next start or reboot, and one detached
// from it stays "detaching" until then (a forced detach reboots it now).

func (e *EC2) registerVolumes(svc *service.Service) {
	e.kinds = append(e.kinds, kindVolume, kindSnapshot)
	e.registerTagger("vol-", tagger{ResourceType: "volume", Apply: e.tagVolume, List: e.listVolumeTags})
	e.registerTagger("snap-", tagger{ResourceType: "snapshot", Apply: e.tagSnapshot, List: e.listSnapshotTags})
	svc.Handle("CreateVolume", service.Op(e.createVolume))
	svc.Handle("DescribeVolumes", service.Op(e.describeVolumes))
	svc.Handle("DeleteVolume", service.Op(e.deleteVolume))
	svc.Handle("ModifyVolume", service.Op(e.modifyVolume))
	svc.Handle("AttachVolume", service.Op(e.attachVolume))
	svc.Handle("DetachVolume", service.Op(e.detachVolume))
	svc.Handle("CreateSnapshot", service.Op(e.createSnapshot))
	svc.Handle("DescribeSnapshots", service.Op(e.describeSnapshots))
	svc.Handle("DeleteSnapshot", service.Op(e.deleteSnapshot))
}

type createVolumeInput struct {
	AvailabilityZone   string
	AvailabilityZoneId string
	Size               int
	SnapshotId         string
	VolumeType         string
	Iops               int
	Throughput         int
	Encrypted          bool
	KmsKeyId           string
	MultiAttachEnabled bool
	TagSpecifications  []TagSpecification
	ClientToken        string
	DryRun             bool
}

type volumeAttachmentView struct {
	AttachTime          time.Time
	Device              string
	InstanceId          string
	State               string
	VolumeId            string
	DeleteOnTermination bool
}

type volumeView struct {
	Attachments        []volumeAttachmentView
	AvailabilityZone   string
	AvailabilityZoneId string `json:",omitempty"`
	CreateTime         time.Time
	Encrypted          bool
	KmsKeyId           string `json:",omitempty"`
	Size               int
	SnapshotId         string
	State              string
	VolumeId           string
	Iops               int `json:",omitempty"`
	Tags               []Tag
	VolumeType         string
	MultiAttachEnabled bool
	Throughput         int `json:",omitempty"`
}

func (v *volume) view() volumeView {
	out := volumeView{Attachments: []volumeAttachmentView{}, AvailabilityZone: v.AvailabilityZone,
		AvailabilityZoneId: zoneID(v.Region, v.AvailabilityZone), CreateTime: v.CreateTime, Encrypted: v.Encrypted,
		KmsKeyId: v.KmsKeyId, Size: v.Size, SnapshotId: v.SnapshotId, State: v.State, VolumeId: v.VolumeId,
		Iops: v.Iops, Tags: v.Tags, VolumeType: v.VolumeType, Throughput: v.Throughput}
	if out.Tags == nil {
		out.Tags = []Tag{}
	}
	if a := v.Attachment; a != nil {
		out.Attachments = append(out.Attachments, volumeAttachmentView{AttachTime: a.AttachTime, Device: a.Device,
			InstanceId: a.InstanceId, State: a.State, VolumeId: v.VolumeId, DeleteOnTermination: a.DeleteOnTermination})
	}
	return out
}

func zoneID(reg, zone string) string {
	for _, z := range region.Zones(reg) {
		if z.Name == zone {
			return z.ID
		}
	}
	return ""
}

// resolveZone checks a zone given by name or ID and returns its name.
func resolveZone(reg, name, id string) (string, error) {
	if name == "" && id == "" {
		return "", awserr.New(awserr.MissingParameter, "MissingParameter",
			"The request must contain the parameter AvailabilityZone or AvailabilityZoneId")
	}
	for _, z := range region.Zones(reg) {
		if (name == "" || z.Name == name) && (id == "" || z.ID == id) {
			return z.Name, nil
		}
	}
	if name != "" {
		return "", invalidParameter("Invalid availability zone: [%s]", name)
	}
	return "", invalidParameter("Invalid availability zone ID: [%s]", id)
}

func (e *EC2) createVolume(ctx context.Context, in *createVolumeInput) (*volumeView, error) {
	account, reg := partition(ctx)
	zone, err := resolveZone(reg, in.AvailabilityZone, in.AvailabilityZoneId)
	if err != nil {
		return nil, err
	}
	if in.Size == 0 && in.SnapshotId == "" {
		return nil, awserr.New(awserr.MissingParameter, "MissingParameter", "The request must contain the parameter size or snapshotId")
	}
	if in.SnapshotId != "" {
		if err := checkSnapshotID(in.SnapshotId); err != nil {
			return nil, err
		}
	}
	if in.MultiAttachEnabled {
		return nil, awserr.New(awserr.NotImplemented, "UnsupportedOperation", "Multi-Attach is not supported by nimbus volumes.")
	}
	tags, err := tagsFor(in.TagSpecifications, "volume")
	if err != nil {
		return nil, err
	}
	if err := validateTags(tags); err != nil {
		return nil, err
	}
	// The size check waits for the snapshot's size when none is given.
	if in.Size != 0 || in.SnapshotId == "" {
		if _, err := resolveVolumeShape(in.VolumeType, in.Size, in.Iops, in.Throughput); err != nil {
			return nil, err
		}
	}
	if in.DryRun {
		return nil, dryRun()
	}
	var out volume
	err = e.store.Update(ctx, func(tx store.Tx) error {
		if in.ClientToken != "" {
			found := false
			err := tx.List(store.Query{Kind: kindVolume, Account: account, Region: reg, Index: "client-token", IndexValue: in.ClientToken},
				func(o store.Object) error { found = true; return o.Decode(&out) })
			if err != nil || found {
				return err
			}
		}
		v, err := newVolume(tx, account, reg, zone, in.VolumeType, in.Size, in.Iops, in.Throughput, in.SnapshotId, in.Encrypted)
		if err != nil {
			return err
		}
		v.KmsKeyId, v.Tags, v.ClientToken = in.KmsKeyId, tags, in.ClientToken
		if _, err := tx.Create(v.key(), v); err != nil {
			return err
		}
		out = *v
		return nil
	})
	if err != nil {
		return nil, asAPIError(err, "create volume")
	}
	view := out.view()
	return &view, nil
}

// newVolume builds a volume record in state creating, taking its size and
// encryption from the snapshot when one is named (read in tx).
func newVolume(tx store.Tx, account, reg, zone, typ string, size, iops, throughput int, snapID string, encrypted bool) (*volume, error) {
	if snapID != "" {
		var snap snapshot
		_, err := tx.Get(store.Key{Account: account, Region: reg, Kind: kindSnapshot, ID: snapID}, &snap)
		if errors.Is(err, store.ErrNotFound) {
			return nil, snapshotNotFound(snapID)
		}
		if err != nil {
			return nil, err
		}
		if snap.State != snapshotCompleted {
			return nil, awserr.New(awserr.Conflict, "IncorrectState", "Snapshot is in invalid state - %s", snap.State)
		}
		if size == 0 {
			size = snap.VolumeSize
		}
		if size < snap.VolumeSize {
			return nil, invalidParameter("Volume of %dGiB is smaller than snapshot '%s', expect size >= %dGiB", size, snapID, snap.VolumeSize)
		}
		encrypted = encrypted || snap.Encrypted
	}
	shape, err := resolveVolumeShape(typ, size, iops, throughput)
	if err != nil {
		return nil, err
	}
	return &volume{Schema: volumeSchema, VolumeId: newID("vol"), OwnerId: account, Region: reg, AvailabilityZone: zone,
		Size: shape.Size, VolumeType: shape.Type, Iops: shape.Iops, Throughput: shape.Throughput, Encrypted: encrypted,
		SnapshotId: snapID, State: volumeCreating, CreateTime: time.Now().UTC().Truncate(time.Millisecond)}, nil
}

type describeVolumesInput struct {
	VolumeIds  []string
	Filters    []Filter
	MaxResults int
	NextToken  string
	DryRun     bool
}

type describeVolumesOutput struct {
	Volumes   []volumeView
	NextToken string `json:",omitempty"`
}

func (e *EC2) describeVolumes(ctx context.Context, in *describeVolumesInput) (*describeVolumesOutput, error) {
	if err := checkDescribe(in.MaxResults, in.VolumeIds, checkVolumeID, in.DryRun); err != nil {
		return nil, err
	}
	account, reg := partition(ctx)
	all, err := listKind(ctx, e.store, account, reg, kindVolume, "volumes", func(v volume) string { return v.VolumeId })
	if err != nil {
		return nil, err
	}
	roots, err := e.rootVolumes(ctx, account, reg)
	if err != nil {
		return nil, err
	}
	all = append(all, roots...)
	sortByKey(all, func(v volume) string { return v.VolumeId })
	page, next, err := selectDescribed(all, describeSelection[volume]{
		IDs: in.VolumeIds, Filters: in.Filters, MaxResults: in.MaxResults, NextToken: in.NextToken,
		ID:       func(v volume) string { return v.VolumeId },
		Fields:   func(v volume) fields { return v.filterFields },
		Tags:     func(v volume) []Tag { return v.Tags },
		NotFound: volumeNotFound,
	})
	if err != nil {
		return nil, err
	}
	out := &describeVolumesOutput{Volumes: make([]volumeView, 0, len(page)), NextToken: next}
	for i := range page {
		out.Volumes = append(out.Volumes, page[i].view())
	}
	return out, nil
}

// rootVolumes are the instances' root volumes as volumes: an instance's root
// is its sandbox's persistent upper directory, not a block volume, so these
// are read-only views that exist while the instance does.
func (e *EC2) rootVolumes(ctx context.Context, account, reg string) ([]volume, error) {
	insts, err := e.loadInstances(ctx, account, reg)
	if err != nil {
		return nil, err
	}
	var out []volume
	for _, inst := range insts {
		if v, ok := inst.rootVolume(); ok {
			out = append(out, v)
		}
	}
	return out, nil
}

// rootVolume is the instance's root volume as a volume record; false once
// the instance is terminated.
func (in *instance) rootVolume() (volume, bool) {
	if in.State == stateTerminated || in.RootVolumeId == "" {
		return volume{}, false
	}
	size, typ := in.RootVolumeSize, in.RootVolumeType
	if size == 0 {
		size = defaultRootVolumeSize
	}
	if typ == "" {
		typ = "gp3"
	}
	shape, _ := resolveVolumeShape(typ, size, 0, 0)
	return volume{Schema: volumeSchema, VolumeId: in.RootVolumeId, OwnerId: in.OwnerId, Region: in.Region,
		AvailabilityZone: in.AvailabilityZone, Size: size, VolumeType: typ, Iops: shape.Iops, Throughput: shape.Throughput,
		State: volumeInUse, CreateTime: in.CreatedAt, Tags: []Tag{},
		Attachment: &volumeAttachment{InstanceId: in.InstanceId, Device: in.RootDevice, State: attachAttached,
			AttachTime: in.CreatedAt, DeleteOnTermination: in.DeleteOnTermination}}, true
}

// defaultRootVolumeSize is the root volume's size in GiB when the launch
// names none, the size of AWS's Linux AMIs' roots.
const defaultRootVolumeSize = 8

func (v volume) filterFields(name string) ([]string, bool) {
	one := func(s string) ([]string, bool) { return []string{s}, true }
	att := func(f func(a *volumeAttachment) string) ([]string, bool) {
		if v.Attachment == nil {
			return nil, true
		}
		return one(f(v.Attachment))
	}
	switch name {
	case "volume-id":
		return one(v.VolumeId)
	case "status":
		return one(v.State)
	case "availability-zone":
		return one(v.AvailabilityZone)
	case "size":
		return one(strconv.Itoa(v.Size))
	case "volume-type":
		return one(v.VolumeType)
	case "snapshot-id":
		return one(v.SnapshotId)
	case "encrypted":
		return one(strconv.FormatBool(v.Encrypted))
	case "multi-attach-enabled":
		return one("false")
	case "create-time":
		return one(v.CreateTime.Format(time.RFC3339))
	case "attachment.instance-id":
		return att(func(a *volumeAttachment) string { return a.InstanceId })
	case "attachment.status":
		return att(func(a *volumeAttachment) string { return a.State })
	case "attachment.device":
		return att(func(a *volumeAttachment) string { return a.Device })
	case "attachment.delete-on-termination":
		return att(func(a *volumeAttachment) string { return strconv.FormatBool(a.DeleteOnTermination) })
	case "attachment.attach-time":
		return att(func(a *volumeAttachment) string { return a.AttachTime.Format(time.RFC3339) })
	}
	return nil, false
}

type volumeIDInput struct {
	VolumeId string
	DryRun   bool
}

type deleteVolumeOutput struct{}

// deleteVolume removes the record at once; the controller then deletes the
// image (EC2 shows "deleting" for a moment; DescribeVolumes here answers
// InvalidVolume.NotFound right away, which the volume-deleted waiter takes).
func (e *EC2) deleteVolume(ctx context.Context, in *volumeIDInput) (*deleteVolumeOutput, error) {
	if in.VolumeId == "" {
		return nil, awserr.Missing("VolumeId")
	}
	if err := checkVolumeID(in.VolumeId); err != nil {
		return nil, err
	}
	account, reg := partition(ctx)
	err := e.store.Update(ctx, func(tx store.Tx) error {
		var v volume
		meta, err := tx.Get(volumeKey(account, reg, in.VolumeId), &v)
		if errors.Is(err, store.ErrNotFound) {
			return e.rootVolumeError(tx, account, reg, in.VolumeId, func(inst *instance) error {
				return awserr.New(awserr.Conflict, "VolumeInUse", "Volume %s is currently attached to %s", in.VolumeId, inst.InstanceId)
			})
		}
		if err != nil {
			return err
		}
		if v.Attachment != nil {
			return awserr.New(awserr.Conflict, "VolumeInUse", "Volume %s is currently attached to %s", v.VolumeId, v.Attachment.InstanceId)
		}
		if in.DryRun {
			return dryRun()
		}
		return tx.Delete(v.key(), meta.Version)
	})
	if err != nil {
		return nil, asAPIError(err, "delete volume")
	}
	return &deleteVolumeOutput{}, nil
}

// rootVolumeError answers an operation on a volume ID that has no record:
// onRoot's error when it is an instance's root volume, else NotFound.
func (e *EC2) rootVolumeError(tx store.Tx, account, reg, volumeID string, onRoot func(*instance) error) error {
	var found *instance
	err := tx.List(store.Query{Kind: kindInstance, Account: account, Region: reg}, func(o store.Object) error {
		var inst instance
		if err := o.Decode(&inst); err != nil {
			return err
		}
		if _, ok := inst.rootVolume(); ok && inst.RootVolumeId == volumeID {
			found = &inst
			return store.ErrStop
		}
		return nil
	})
	if err != nil {
		return err
	}
	if found != nil {
		return onRoot(found)
	}
	return volumeNotFound(volumeID)
}

type modifyVolumeInput struct {
	VolumeId   string
	Size       int
	VolumeType string
	Iops       int
	Throughput int
	DryRun     bool
}

type volumeModificationView struct {
	VolumeId           string
	ModificationState  string
	TargetSize         int
	TargetIops         int `json:",omitempty"`
	TargetVolumeType   string
	TargetThroughput   int `json:",omitempty"`
	OriginalSize       int
	OriginalIops       int `json:",omitempty"`
	OriginalVolumeType string
	OriginalThroughput int `json:",omitempty"`
	Progress           int64
	StartTime          time.Time
	EndTime            *time.Time `json:",omitempty"`
}

type modifyVolumeOutput struct {
	VolumeModification volumeModificationView
}

// modifyVolume changes type and performance at once (they are labels
// here) and records a size increase, which the controller carries out
// while the volume is not mounted (ext4 cannot grow mounted on these hosts):
// the modification stays "optimizing" until then.
func (e *EC2) modifyVolume(ctx context.Context, in *modifyVolumeInput) (*modifyVolumeOutput, error) {
	if in.VolumeId == "" {
		return nil, awserr.Missing("VolumeId")
	}
	if err := checkVolumeID(in.VolumeId); err != nil {
		return nil, err
	}
	account, reg := partition(ctx)
	var mod volumeModification
	var id string
	err := e.store.Update(ctx, func(tx store.Tx) error {
		var v volume
		meta, err := tx.Get(volumeKey(account, reg, in.VolumeId), &v)
		if errors.Is(err, store.ErrNotFound) {
			return volumeNotFound(in.VolumeId)
		}
		if err != nil {
			return err
		}
		if v.State != volumeAvailable && v.State != volumeInUse {
			return awserr.New(awserr.Conflict, "IncorrectState", "Volume '%s' is in the '%s' state.", v.VolumeId, v.State)
		}
		if v.Modification != nil && v.Modification.ModificationState != "completed" {
			return awserr.New(awserr.Conflict, "IncorrectModificationState",
				"Volume '%s' is already being modified.", v.VolumeId)
		}
		size, typ := v.Size, v.VolumeType
		if in.Size != 0 {
			if in.Size < v.Size {
				return invalidParameter("New size cannot be smaller than existing size")
			}
			size = in.Size
		}
		if in.VolumeType != "" {
			typ = in.VolumeType
		}
		iops, throughput := in.Iops, in.Throughput
		if iops == 0 && typ == v.VolumeType && volumeTypes[typ].IopsSettable {
			iops = v.Iops
		}
		if throughput == 0 && typ == v.VolumeType && volumeTypes[typ].ThroughputSettable {
			throughput = v.Throughput
		}
		shape, err := resolveVolumeShape(typ, size, iops, throughput)
		if err != nil {
			return err
		}
		if in.DryRun {
			return dryRun()
		}
		now := time.Now().UTC().Truncate(time.Millisecond)
		mod = volumeModification{ModificationState: "optimizing", TargetSize: shape.Size, TargetIops: shape.Iops,
			TargetVolumeType: shape.Type, TargetThroughput: shape.Throughput, OriginalSize: v.Size, OriginalIops: v.Iops,
			OriginalVolumeType: v.VolumeType, OriginalThroughput: v.Throughput, StartTime: now}
		if shape.Size == v.Size {
			mod.ModificationState, mod.EndTime = "completed", now
		}
		v.VolumeType, v.Iops, v.Throughput = shape.Type, shape.Iops, shape.Throughput
		v.Modification = &mod
		id = v.VolumeId
		_, err = tx.Put(v.key(), &v, meta.Version)
		return err
	})
	if err != nil {
		return nil, asAPIError(err, "modify volume")
	}
	return &modifyVolumeOutput{VolumeModification: mod.view(id)}, nil
}

func (m *volumeModification) view(id string) volumeModificationView {
	v := volumeModificationView{VolumeId: id, ModificationState: m.ModificationState, TargetSize: m.TargetSize,
		TargetIops: m.TargetIops, TargetVolumeType: m.TargetVolumeType, TargetThroughput: m.TargetThroughput,
		OriginalSize: m.OriginalSize, OriginalIops: m.OriginalIops, OriginalVolumeType: m.OriginalVolumeType,
		OriginalThroughput: m.OriginalThroughput, StartTime: m.StartTime}
	if m.ModificationState == "completed" {
		v.Progress = 100
		end := m.EndTime
		v.EndTime = &end
	}
	return v
}

func (e *EC2) tagVolume(ctx context.Context, account, reg, id string, set, remove []Tag) error {
	err := e.store.Update(ctx, func(tx store.Tx) error {
		return retagStored(tx, volumeKey(account, reg, id),
			func() error { return volumeNotFound(id) }, func(v *volume) *[]Tag { return &v.Tags }, set, remove)
	})
	return asAPIErrorOrNil(err, "tag volume")
}

func (e *EC2) listVolumeTags(ctx context.Context, account, reg string) ([]TaggedResource, error) {
	all, err := listKind(ctx, e.store, account, reg, kindVolume, "volumes", func(v volume) string { return v.VolumeId })
	if err != nil {
		return nil, err
	}
	var out []TaggedResource
	for _, v := range all {
		if len(v.Tags) > 0 {
			out = append(out, TaggedResource{ResourceId: v.VolumeId, ResourceType: "volume", Tags: v.Tags})
		}
	}
	return out, nil
}

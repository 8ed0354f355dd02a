package ec2

import (
	"time"

	"github.com/nimbus-dev/nimbus/internal/store"
)

// Store kinds of EBS: one record per volume and per snapshot. The handlers
// write what is asked (a volume to create, an attachment); the instance
// controller makes the backing files and records what it did.
const (
	kindVolume   = "ec2:volume"
	kindSnapshot = "ec2:snapshot"
)

const volumeSchema = 1

// EBS volume states.
const (
	volumeCreating  = "creating"
	volumeAvailable = "available"
	volumeInUse     = "in-use"
	volumeError     = "error"
)

// EBS attachment states.
const (
	attachAttaching = "attaching"
	attachAttached  = "attached"
	attachDetaching = "detaching"
	attachDetached  = "detached"
)

// volume is the stored record of one EBS volume. Its data is a sparse ext4
// image of the volume manager, named by VolumeId.
type volume struct {
	Schema           int
	VolumeId         string
	OwnerId          string
	Region           string
	AvailabilityZone string
	Size             int // GiB
	VolumeType       string
	Iops             int
	Throughput       int
	Encrypted        bool
	KmsKeyId         string
	SnapshotId       string
	State            string
	CreateTime       time.Time
	Tags             []Tag
	ClientToken      string
	// Attachment is the instance the volume is attached to; nil while
	// available. Its State is attaching until the controller has made the
	// volume (a volume created by RunInstances), then attached, then
	// detaching while the instance's sandbox still mounts it.
	Attachment *volumeAttachment
	// Modification is the last ModifyVolume; nil if never modified.
	Modification *volumeModification
}

type volumeAttachment struct {
	InstanceId          string
	Device              string
	State               string
	AttachTime          time.Time
	DeleteOnTermination bool
}

type volumeModification struct {
	ModificationState  string
	TargetSize         int
	TargetIops         int
	TargetVolumeType   string
	TargetThroughput   int
	OriginalSize       int
	OriginalIops       int
	OriginalVolumeType string
	OriginalThroughput int
	StartTime          time.Time
	EndTime            time.Time
}

// StoreIndexes finds volumes by the instance they are attached to, so an
// instance's boot and termination read only its own volumes.
func (v *volume) StoreIndexes() []store.IndexValue {
	var out []store.IndexValue
	if v.Attachment != nil {
		out = append(out, store.IndexValue{Name: "instance", Value: v.Attachment.InstanceId})
	}
	if v.ClientToken != "" {
		out = append(out, store.IndexValue{Name: "client-token", Value: v.ClientToken})
	}
	return out
}

func (v *volume) key() store.Key {
	return store.Key{Account: v.OwnerId, Region: v.Region, Kind: kindVolume, ID: v.VolumeId}
}

func volumeKey(account, region, id string) store.Key {
	return store.Key{Account: account, Region: region, Kind: kindVolume, ID: id}
}

// EBS snapshot states.
const (
	snapshotPending   = "pending"
	snapshotCompleted = "completed"
	snapshotError     = "error"
)

// snapshot is the stored record of one EBS snapshot; its data is a copy of
// the volume's image kept by the volume manager.
type snapshot struct {
	Schema      int
	SnapshotId  string
	OwnerId     string
	Region      string
	VolumeId    string
	VolumeSize  int
	Description string
	Encrypted   bool
	State       string
	StateMsg    string
	StartTime   time.Time
	CompletedAt time.Time
	Tags        []Tag
}

func (s *snapshot) key() store.Key {
	return store.Key{Account: s.OwnerId, Region: s.Region, Kind: kindSnapshot, ID: s.SnapshotId}
}

// instanceVolume is an attached EBS volume as the instance record keeps it,
// written in the same transaction as the volume's attachment, so
// DescribeInstances and a boot need not read volume records.
type instanceVolume struct {
	VolumeId            string
	Device              string
	AttachTime          time.Time
	DeleteOnTermination bool
	// Mounted is true while the instance's current sandbox mounts the
	// volume: from its start, or from a hot attach to the running sandbox.
	Mounted bool
}

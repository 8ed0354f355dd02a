package ec2

import (
	"regexp"

	"github.com/nimbus-dev/nimbus/internal/awserr"
)

// volumeTypeRule is one EBS volume type's limits, from the EBS user guide:
// size in GiB, provisioned IOPS (when the type takes them), the most IOPS
// per GiB, and gp3's throughput in MiB/s.
type volumeTypeRule struct {
	MinSize, MaxSize int
	// IopsSettable types accept Iops; IopsRequired ones (io1, io2) need it.
	IopsSettable, IopsRequired bool
	MinIops, MaxIops           int
	IopsPerGiB                 int
	DefaultIops                int // gp3's baseline
	// Throughput is gp3's alone.
	ThroughputSettable                          bool
	MinThroughput, MaxThroughput, DefThroughput int
}

var volumeTypes = map[string]volumeTypeRule{
	"gp2":      {MinSize: 1, MaxSize: 16384},
	"gp3":      {MinSize: 1, MaxSize: 16384, IopsSettable: true, MinIops: 3000, MaxIops: 16000, IopsPerGiB: 500, DefaultIops: 3000, ThroughputSettable: true, MinThroughput: 125, MaxThroughput: 1000, DefThroughput: 125},
	"io1":      {MinSize: 4, MaxSize: 16384, IopsSettable: true, IopsRequired: true, MinIops: 100, MaxIops: 64000, IopsPerGiB: 50},
	"io2":      {MinSize: 4, MaxSize: 65536, IopsSettable: true, IopsRequired: true, MinIops: 100, MaxIops: 256000, IopsPerGiB: 1000},
	"st1":      {MinSize: 125, MaxSize: 16384},
	"sc1":      {MinSize: 125, MaxSize: 16384},
	"standard": {MinSize: 1, MaxSize: 1024},
}

// defaultVolumeType is CreateVolume's type when none is given.
const defaultVolumeType = "gp2"

// volumeShape is a volume's type, size and performance after the type's
// defaults are applied.
type volumeShape struct {
	Type       string
	Size       int
	Iops       int
	Throughput int
}

// resolveVolumeShape validates a requested type, size, IOPS and throughput
// and fills in the type's defaults, as CreateVolume and ModifyVolume do.
func resolveVolumeShape(typ string, size, iops, throughput int) (volumeShape, error) {
	if typ == "" {
		typ = defaultVolumeType
	}
	rule, ok := volumeTypes[typ]
	if !ok {
		return volumeShape{}, invalidParameter("Value (%s) for parameter volumeType is invalid. Valid volume types are gp2, gp3, io1, io2, st1, sc1 and standard.", typ)
	}
	if size < rule.MinSize {
		return volumeShape{}, invalidParameter("Volume of %dGiB is too small; minimum is %dGiB.", size, rule.MinSize)
	}
	if size > rule.MaxSize {
		return volumeShape{}, invalidParameter("Volume of %dGiB is too large; maximum is %dGiB.", size, rule.MaxSize)
	}
	s := volumeShape{Type: typ, Size: size}
	switch {
	case iops != 0 && !rule.IopsSettable:
		return volumeShape{}, awserr.New(awserr.Validation, "InvalidParameterCombination",
			"The parameter iops is not supported for %s volumes.", typ)
	case iops == 0 && rule.IopsRequired:
		return volumeShape{}, awserr.New(awserr.MissingParameter, "MissingParameter",
			"The request must contain the parameter iops for %s volumes.", typ)
	case iops == 0:
		s.Iops = rule.DefaultIops
	case iops < rule.MinIops || iops > rule.MaxIops:
		return volumeShape{}, invalidParameter("Volume iops of %d is invalid for %s volumes; it must be between %d and %d.", iops, typ, rule.MinIops, rule.MaxIops)
	case iops > rule.IopsPerGiB*size && iops > rule.MinIops:
		return volumeShape{}, invalidParameter("Iops to volume size ratio of %d is too high; maximum is %d.", iops/size, rule.IopsPerGiB)
	default:
		s.Iops = iops
	}
	if typ == "gp2" {
		// gp2's IOPS follow its size: 3 per GiB, at least 100, at most 16,000.
		s.Iops = min(max(3*size, 100), 16000)
	}
	switch {
	case throughput != 0 && !rule.ThroughputSettable:
		return volumeShape{}, awserr.New(awserr.Validation, "InvalidParameterCombination",
			"The parameter throughput is not supported for %s volumes.", typ)
	case throughput == 0:
		s.Throughput = rule.DefThroughput
	case throughput < rule.MinThroughput || throughput > rule.MaxThroughput:
		return volumeShape{}, invalidParameter("Volume throughput of %d is invalid; it must be between %d and %d MiB/s.", throughput, rule.MinThroughput, rule.MaxThroughput)
	case 4*throughput > s.Iops:
		return volumeShape{}, invalidParameter("Throughput (MiBps) to iops ratio of %.2f is too high; maximum is 0.25 MiBps per iops.", float64(throughput)/float64(s.Iops))
	default:
		s.Throughput = throughput
	}
	return s, nil
}

// ebsDevicePattern is the device names EC2 accepts for EBS volumes on Linux
// instances besides the root's.
var ebsDevicePattern = regexp.MustCompile(`^/dev/(sd[b-z]|sd[b-z]([1-9]|1[0-5])|xvd[b-z]|xvd[b-c][a-z])$`)

func validDevice(dev string) error {
	if !ebsDevicePattern.MatchString(dev) {
		return invalidParameter("Value (%s) for parameter device is invalid. %s is not a valid EBS device name.", dev, dev)
	}
	return nil
}

// volumeMountPoint is where an attached volume's filesystem appears inside
// the instance: /mnt/ and the device's name (/dev/sdf at /mnt/sdf). A
// sandbox has no block devices of its own, so the volume arrives mounted.
func volumeMountPoint(device string) string {
	return "/mnt/" + deviceBase(device)
}

// deviceBase is a device name without /dev/ (sdf for /dev/sdf), the form
// IMDS's block-device-mapping entries use.
func deviceBase(device string) string {
	const prefix = "/dev/"
	if len(device) > len(prefix) && device[:len(prefix)] == prefix {
		return device[len(prefix):]
	}
	return device
}

func checkVolumeID(id string) error { return checkResourceID(id, "vol", "InvalidVolumeID.Malformed") }

func volumeNotFound(id string) error {
	return awserr.New(awserr.NotFound, "InvalidVolume.NotFound", "The volume '%s' does not exist.", id)
}

func checkSnapshotID(id string) error {
	return checkResourceID(id, "snap", "InvalidSnapshotID.Malformed")
}

func snapshotNotFound(id string) error {
	return awserr.New(awserr.NotFound, "InvalidSnapshot.NotFound", "The snapshot '%s' does not exist.", id)
}

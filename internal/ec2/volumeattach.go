package ec2

import (
	"context"
	"errors"
	"slices"
	"time"

	"github.com/nimbus-dev/nimbus/internal/awserr"
	"github.com/nimbus-dev/nimbus/internal/store"
)

type attachVolumeInput struct {
	Device     string
	InstanceId string
	VolumeId   string
	DryRun     bool
}

func (e *EC2) attachVolume(ctx context.Context, in *attachVolumeInput) (*volumeAttachmentView, error) {
	switch {
	case in.Device == "":
		return nil, awserr.Missing("Device")
	case in.InstanceId == "":
		return nil, awserr.Missing("InstanceId")
	case in.VolumeId == "":
		return nil, awserr.Missing("VolumeId")
	}
	if err := checkVolumeID(in.VolumeId); err != nil {
		return nil, err
	}
	if err := validInstanceIDs([]string{in.InstanceId}); err != nil {
		return nil, err
	}
	if err := validDevice(in.Device); err != nil {
		return nil, err
	}
	account, reg := partition(ctx)
	now := time.Now().UTC().Truncate(time.Millisecond)
	var out volumeAttachmentView
	err := e.store.Update(ctx, func(tx store.Tx) error {
		v, vmeta, inst, imeta, err := getVolumeAndInstance(tx, account, reg, in.VolumeId, in.InstanceId)
		if err != nil {
			return err
		}
		if v.AvailabilityZone != inst.AvailabilityZone {
			return awserr.New(awserr.Validation, "InvalidVolume.ZoneMismatch",
				"The volume '%s' is not in the same availability zone as instance '%s'", v.VolumeId, inst.InstanceId)
		}
		switch {
		case v.Attachment != nil:
			return awserr.New(awserr.Conflict, "VolumeInUse", "%s is already attached to an instance", v.VolumeId)
		case v.State != volumeAvailable:
			return awserr.New(awserr.Conflict, "IncorrectState", "%s is not 'available'.", v.VolumeId)
		}
		if inst.State != stateRunning && inst.State != stateStopped {
			return awserr.New(awserr.Conflict, "IncorrectInstanceState",
				"Instance '%s' is not 'running' or 'stopped'.", inst.InstanceId)
		}
		if inst.deviceInUse(in.Device) {
			return invalidParameter("Invalid value '%s' for unixDevice. Attachment point %s is already in use", in.Device, in.Device)
		}
		if in.DryRun {
			return dryRun()
		}
		// attaching until the controller has seen the volume's image; it
		// is mounted at the instance's next boot.
		v.State = volumeInUse
		v.Attachment = &volumeAttachment{InstanceId: inst.InstanceId, Device: in.Device, State: attachAttaching, AttachTime: now}
		inst.Volumes = append(inst.Volumes, instanceVolume{VolumeId: v.VolumeId, Device: in.Device, AttachTime: now})
		if _, err := tx.Put(v.key(), v, vmeta.Version); err != nil {
			return err
		}
		if _, err := tx.Put(inst.key(), inst, imeta.Version); err != nil {
			return err
		}
		out = v.view().Attachments[0]
		return nil
	})
	if err != nil {
		return nil, asAPIError(err, "attach volume")
	}
	return &out, nil
}

// getVolumeAndInstance reads a volume and an instance for an attachment
// change, with the versions to write them back at.
func getVolumeAndInstance(tx store.Tx, account, reg, volumeID, instanceID string) (*volume, store.Meta, *instance, store.Meta, error) {
	var v volume
	vmeta, err := tx.Get(volumeKey(account, reg, volumeID), &v)
	if errors.Is(err, store.ErrNotFound) {
		return nil, vmeta, nil, vmeta, volumeNotFound(volumeID)
	}
	if err != nil {
		return nil, vmeta, nil, vmeta, err
	}
	var inst instance
	imeta, err := tx.Get(store.Key{Account: account, Region: reg, Kind: kindInstance, ID: instanceID}, &inst)
	if errors.Is(err, store.ErrNotFound) {
		return nil, vmeta, nil, imeta, instancesNotFound([]string{instanceID})
	}
	if err != nil {
		return nil, vmeta, nil, imeta, err
	}
	return &v, vmeta, &inst, imeta, nil
}

// deviceInUse reports whether the instance already has a device of that
// name (its root's or an EBS volume's); /dev/sdf and /dev/xvdf are the same
// device inside the instance, as on EC2's Xen and Nitro instances.
func (in *instance) deviceInUse(dev string) bool {
	norm := func(d string) string {
		b := deviceBase(d)
		if len(b) > 3 && b[:3] == "xvd" {
			return "sd" + b[3:]
		}
		return b
	}
	if norm(dev) == norm(in.RootDevice) || (norm(in.RootDevice) == "sda1" && norm(dev) == "sda") {
		return true
	}
	return slices.ContainsFunc(in.Volumes, func(v instanceVolume) bool { return norm(v.Device) == norm(dev) })
}

type detachVolumeInput struct {
	Device     string
	Force      bool
	InstanceId string
	VolumeId   string
	DryRun     bool
}

func (e *EC2) detachVolume(ctx context.Context, in *detachVolumeInput) (*volumeAttachmentView, error) {
	if in.VolumeId == "" {
		return nil, awserr.Missing("VolumeId")
	}
	if err := checkVolumeID(in.VolumeId); err != nil {
		return nil, err
	}
	if in.InstanceId != "" {
		if err := validInstanceIDs([]string{in.InstanceId}); err != nil {
			return nil, err
		}
	}
	account, reg := partition(ctx)
	var out volumeAttachmentView
	err := e.store.Update(ctx, func(tx store.Tx) error {
		var v volume
		vmeta, err := tx.Get(volumeKey(account, reg, in.VolumeId), &v)
		if errors.Is(err, store.ErrNotFound) {
			return e.rootVolumeError(tx, account, reg, in.VolumeId, func(inst *instance) error {
				return awserr.New(awserr.Conflict, "IncorrectState",
					"Unable to detach root volume '%s' from instance '%s'", in.VolumeId, inst.InstanceId)
			})
		}
		if err != nil {
			return err
		}
		a := v.Attachment
		if a == nil {
			return awserr.New(awserr.Conflict, "IncorrectState", "Volume '%s' is in the '%s' state.", v.VolumeId, v.State)
		}
		if (in.InstanceId != "" && in.InstanceId != a.InstanceId) || (in.Device != "" && in.Device != a.Device) {
			return awserr.New(awserr.NotFound, "InvalidAttachment.NotFound",
				"The volume '%s' is not attached to instance '%s' as device '%s'", v.VolumeId, in.InstanceId, in.Device)
		}
		if in.DryRun {
			return dryRun()
		}
		var inst instance
		imeta, err := tx.Get(store.Key{Account: account, Region: reg, Kind: kindInstance, ID: a.InstanceId}, &inst)
		if err != nil && !errors.Is(err, store.ErrNotFound) {
			return err
		}
		mounted := false
		if err == nil {
			i := slices.IndexFunc(inst.Volumes, func(iv instanceVolume) bool { return iv.VolumeId == v.VolumeId })
			mounted = i >= 0 && inst.Volumes[i].Mounted && inst.sandboxMayRun()
			if !mounted && i >= 0 {
				inst.Volumes = slices.Delete(inst.Volumes, i, i+1)
			}
			if mounted && in.Force && inst.State == stateRunning {
				// The controller unmounts the volume from the running
				// instance once nothing there uses it; a forced detach
				// does not wait for that and reboots the instance now.
				inst.RebootsRequested++
			}
			if _, err := tx.Put(inst.key(), &inst, imeta.Version); err != nil {
				return err
			}
		}
		out = v.view().Attachments[0]
		out.State = attachDetaching
		if mounted {
			a.State = attachDetaching
		} else {
			v.Attachment, v.State = nil, volumeAvailable
		}
		_, err = tx.Put(v.key(), &v, vmeta.Version)
		return err
	})
	if err != nil {
		return nil, asAPIError(err, "detach volume")
	}
	return &out, nil
}

// sandboxMayRun reports whether the instance's sandbox may exist: from
// launch until a stop or terminate has finished.
func (in *instance) sandboxMayRun() bool {
	switch in.State {
	case statePending, stateRunning, stateStopping, stateShuttingDown:
		return true
	}
	return false
}

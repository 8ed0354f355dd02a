package ec2

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/nimbus-dev/nimbus/internal/store"
	"github.com/nimbus-dev/nimbus/internal/substrate"
	volumes "github.com/nimbus-dev/nimbus/internal/volume"
)

// The instance controller also drives volumes and snapshots: it makes and
// deletes their images, and mounts an instance's volumes when its sandbox
// starts.

const gib = int64(1) << 30

// removeOrphanVolumes deletes the images of EC2 volumes whose records are
// gone (a reset, or a store lost while nimbus was down). Only EC2 makes
// block volumes, and only with vol- IDs; a mounted image is left alone.
func (c *InstanceController) removeOrphanVolumes(ctx context.Context) {
	images, err := c.e.host.Volumes().List(ctx)
	if err != nil {
		c.log.Error("volume controller: list volume images", "err", err)
		return
	}
	known := map[string]bool{}
	err = c.e.store.View(ctx, func(tx store.Tx) error {
		return tx.List(store.Query{Kind: kindVolume, AllAccounts: true, AllRegions: true}, func(o store.Object) error {
			known[o.Key.ID] = true
			return nil
		})
	})
	if err != nil {
		c.log.Error("volume controller: list volumes", "err", err)
		return
	}
	for _, img := range images {
		if known[img.ID] || img.Attached || !strings.HasPrefix(img.ID, "vol-") {
			continue
		}
		c.log.Warn("volume controller: deleting the image of a volume that no longer exists", "volume", img.ID)
		if err := c.e.host.Volumes().Delete(ctx, img.ID); err != nil && !errors.Is(err, volumes.ErrNotFound) {
			c.log.Error("volume controller: delete orphan image", "volume", img.ID, "err", err)
		}
	}
}

// reconcileVolume makes a creating volume's image, carries out a pending
// size change, and deletes the image of a deleted volume.
func (c *InstanceController) reconcileVolume(ctx context.Context, key store.Key) error {
	var v volume
	err := c.e.store.View(ctx, func(tx store.Tx) error {
		_, err := tx.Get(key, &v)
		return err
	})
	if errors.Is(err, store.ErrNotFound) {
		err := c.e.host.Volumes().Delete(ctx, key.ID)
		switch {
		case err == nil || errors.Is(err, volumes.ErrNotFound):
			return nil
		case errors.Is(err, volumes.ErrAttached):
			// The sandbox that mounted it is still going away.
			c.retryLater(ctx, key, time.Second)
			return nil
		}
		return fmt.Errorf("delete volume image: %w", err)
	}
	if err != nil {
		return fmt.Errorf("read volume: %w", err)
	}
	if v.State == volumeCreating {
		return c.createVolumeData(ctx, &v)
	}
	if v.Attachment != nil && v.Attachment.State == attachAttaching {
		return c.markAttached(ctx, key)
	}
	if v.Attachment != nil && v.Attachment.State == attachDetaching {
		return c.hotDetach(ctx, key, &v)
	}
	if m := v.Modification; m != nil && m.ModificationState == "optimizing" {
		return c.growVolume(ctx, &v)
	}
	return nil
}

// createVolumeData makes the image of a creating volume (empty, or from its
// snapshot) and records it available, or in use when it is attached.
func (c *InstanceController) createVolumeData(ctx context.Context, v *volume) error {
	vm := c.e.host.Volumes()
	var err error
	if v.SnapshotId != "" {
		err = vm.FromSnapshot(ctx, v.SnapshotId, v.VolumeId)
		if err == nil {
			err = vm.Grow(ctx, v.VolumeId, int64(v.Size)*gib)
		}
	} else {
		err = vm.Create(ctx, v.VolumeId, int64(v.Size)*gib)
	}
	if errors.Is(err, volumes.ErrAlreadyExists) {
		err = nil // made before a restart, or by the other path to it
	}
	state := volumeAvailable
	if err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		c.log.Error("volume controller: create volume", "volume", v.VolumeId, "err", err)
		state = volumeError
	}
	_, uerr := c.updateVolume(ctx, v.key(), func(cur *volume) bool {
		if cur.State != volumeCreating {
			return false
		}
		cur.State = state
		if cur.Attachment != nil && state != volumeError {
			cur.State = volumeInUse
			cur.Attachment.State = attachAttached
		}
		return true
	})
	return ignoreGone(uerr)
}

func (c *InstanceController) markAttached(ctx context.Context, key store.Key) error {
	var v volume
	err := c.e.store.View(ctx, func(tx store.Tx) error {
		_, err := tx.Get(key, &v)
		return err
	})
	if err != nil {
		return ignoreGone(err)
	}
	a := v.Attachment
	if a == nil || a.State != attachAttaching {
		return nil
	}
	mounted := c.hotAttach(ctx, key, &v)
	err = c.e.store.Update(ctx, func(tx store.Tx) error {
		var cur volume
		vmeta, err := tx.Get(key, &cur)
		if err != nil {
			return err
		}
		if cur.Attachment == nil || cur.Attachment.State != attachAttaching || cur.Attachment.InstanceId != a.InstanceId {
			return nil
		}
		cur.Attachment.State = attachAttached
		if _, err := tx.Put(key, &cur, vmeta.Version); err != nil {
			return err
		}
		if !mounted {
			return nil
		}
		var inst instance
		imeta, err := tx.Get(store.Key{Account: key.Account, Region: key.Region, Kind: kindInstance, ID: a.InstanceId}, &inst)
		if err != nil {
			return err
		}
		for i := range inst.Volumes {
			if inst.Volumes[i].VolumeId == cur.VolumeId {
				inst.Volumes[i].Mounted = true
			}
		}
		_, err = tx.Put(inst.key(), &inst, imeta.Version)
		return err
	})
	return ignoreGone(err)
}

// hotAttach mounts a volume being attached to a running instance into its
// sandbox at /mnt/<device>, as EC2 hot-plugs a volume into a running
// instance, and reports whether it did. Otherwise (a stopped instance, a
// sandbox between boots, a driver that cannot inject mounts) the volume is
// mounted when the instance's next sandbox starts.
func (c *InstanceController) hotAttach(ctx context.Context, key store.Key, v *volume) bool {
	var inst instance
	err := c.e.store.View(ctx, func(tx store.Tx) error {
		_, err := tx.Get(store.Key{Account: key.Account, Region: key.Region, Kind: kindInstance, ID: v.Attachment.InstanceId}, &inst)
		return err
	})
	if err != nil || inst.State != stateRunning {
		return false
	}
	err = c.e.host.AttachVolume(ctx, inst.InstanceId, v.VolumeId, volumeMountPoint(v.Attachment.Device))
	switch {
	case err == nil:
		return true
	case errors.Is(err, substrate.ErrUnsupported), errors.Is(err, substrate.ErrNotRunning), errors.Is(err, substrate.ErrNotFound):
		c.log.Debug("volume controller: volume mounted at the instance's next start", "volume", v.VolumeId,
			"instance", inst.InstanceId, "reason", err)
	default:
		c.log.Warn("volume controller: could not mount the volume into the running instance; it is mounted at its next start",
			"volume", v.VolumeId, "instance", inst.InstanceId, "err", err)
	}
	return false
}

// hotDetach unmounts a detaching volume from its running instance, as the
// instance's OS would before EC2 detaches it, and then records it
// available. While something in the instance uses the volume it stays
// detaching (EC2 shows such a volume "busy") and is tried again; a
// stopped instance, or a driver that cannot unmount, lets go of it at the
// next stop or start (a forced detach reboots the instance).
func (c *InstanceController) hotDetach(ctx context.Context, key store.Key, v *volume) error {
	a := v.Attachment
	ikey := store.Key{Account: key.Account, Region: key.Region, Kind: kindInstance, ID: a.InstanceId}
	var inst instance
	err := c.e.store.View(ctx, func(tx store.Tx) error {
		_, err := tx.Get(ikey, &inst)
		return err
	})
	if err != nil || inst.State != stateRunning {
		return ignoreGone(err)
	}
	err = c.e.host.DetachVolume(ctx, inst.InstanceId, v.VolumeId, volumeMountPoint(a.Device))
	switch {
	case errors.Is(err, substrate.ErrMountBusy):
		c.log.Debug("volume controller: volume in use inside the instance; detach waits", "volume", v.VolumeId, "instance", inst.InstanceId)
		c.retryLater(ctx, key, 2*time.Second)
		return nil
	case errors.Is(err, substrate.ErrUnsupported), errors.Is(err, substrate.ErrNotRunning), errors.Is(err, substrate.ErrNotFound):
		return nil // the next stop or start lets go of it
	case err != nil:
		c.log.Warn("volume controller: could not unmount the volume from the running instance; it goes at its next stop or reboot",
			"volume", v.VolumeId, "instance", inst.InstanceId, "err", err)
		return nil
	}
	err = c.e.store.Update(ctx, func(tx store.Tx) error {
		var cur volume
		vmeta, err := tx.Get(key, &cur)
		if err != nil {
			return err
		}
		if cur.Attachment == nil || cur.Attachment.State != attachDetaching || cur.Attachment.InstanceId != a.InstanceId {
			return nil
		}
		cur.Attachment, cur.State = nil, volumeAvailable
		if _, err := tx.Put(key, &cur, vmeta.Version); err != nil {
			return err
		}
		var in instance
		imeta, err := tx.Get(ikey, &in)
		if errors.Is(err, store.ErrNotFound) {
			return nil
		}
		if err != nil {
			return err
		}
		in.Volumes = slices.DeleteFunc(in.Volumes, func(iv instanceVolume) bool { return iv.VolumeId == cur.VolumeId })
		_, err = tx.Put(in.key(), &in, imeta.Version)
		return err
	})
	return ignoreGone(err)
}

// growVolume carries out a size increase once nothing mounts the volume.
func (c *InstanceController) growVolume(ctx context.Context, v *volume) error {
	err := c.e.host.Volumes().Grow(ctx, v.VolumeId, int64(v.Modification.TargetSize)*gib)
	if errors.Is(err, volumes.ErrAttached) {
		c.retryLater(ctx, v.key(), 10*time.Second)
		return nil
	}
	state := "completed"
	if err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		c.log.Error("volume controller: grow volume", "volume", v.VolumeId, "err", err)
		state = "failed"
	}
	_, uerr := c.updateVolume(ctx, v.key(), func(cur *volume) bool {
		if cur.Modification == nil || cur.Modification.ModificationState != "optimizing" {
			return false
		}
		cur.Modification.ModificationState = state
		cur.Modification.EndTime = time.Now().UTC().Truncate(time.Millisecond)
		if state == "completed" {
			cur.Size = cur.Modification.TargetSize
		}
		return true
	})
	return ignoreGone(uerr)
}

func (c *InstanceController) updateVolume(ctx context.Context, key store.Key, fn func(*volume) bool) (*volume, error) {
	var v volume
	err := c.e.store.Update(ctx, func(tx store.Tx) error {
		meta, err := tx.Get(key, &v)
		if err != nil {
			return err
		}
		if !fn(&v) {
			return nil
		}
		_, err = tx.Put(key, &v, meta.Version)
		return err
	})
	return &v, err
}

// reconcileSnapshot copies a pending snapshot's volume and deletes the copy
// of a deleted snapshot.
func (c *InstanceController) reconcileSnapshot(ctx context.Context, key store.Key) error {
	var s snapshot
	err := c.e.store.View(ctx, func(tx store.Tx) error {
		_, err := tx.Get(key, &s)
		return err
	})
	if errors.Is(err, store.ErrNotFound) {
		if err := c.e.host.Volumes().DeleteSnapshot(ctx, key.ID); err != nil && !errors.Is(err, volumes.ErrNotFound) {
			return fmt.Errorf("delete snapshot data: %w", err)
		}
		return nil
	}
	if err != nil {
		return fmt.Errorf("read snapshot: %w", err)
	}
	if s.State != snapshotPending {
		return nil
	}
	state, msg := snapshotCompleted, ""
	if err := c.e.host.Volumes().Snapshot(ctx, s.VolumeId, s.SnapshotId); err != nil && !errors.Is(err, volumes.ErrAlreadyExists) {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		c.log.Error("volume controller: snapshot", "snapshot", s.SnapshotId, "err", err)
		state, msg = snapshotError, "The snapshot could not be taken."
	}
	return ignoreGone(c.e.store.Update(ctx, func(tx store.Tx) error {
		var cur snapshot
		meta, err := tx.Get(key, &cur)
		if err != nil || cur.State != snapshotPending {
			return err
		}
		cur.State, cur.StateMsg, cur.CompletedAt = state, msg, time.Now().UTC()
		_, err = tx.Put(key, &cur, meta.Version)
		return err
	}))
}

// bootVolumes prepares an instance's volumes for a new sandbox: it ends the
// detachments the old sandbox held up, makes images a launch asked for and
// returns the mounts of the volumes still attached.
func (c *InstanceController) bootVolumes(ctx context.Context, key store.Key) ([]substrate.Mount, []string, error) {
	var inst instance
	var vols []volume
	err := c.e.store.View(ctx, func(tx store.Tx) error {
		if _, err := tx.Get(key, &inst); err != nil {
			return err
		}
		vols = nil
		for _, iv := range inst.Volumes {
			var v volume
			if _, err := tx.Get(volumeKey(key.Account, key.Region, iv.VolumeId), &v); err == nil {
				vols = append(vols, v)
			} else if !errors.Is(err, store.ErrNotFound) {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return nil, nil, fmt.Errorf("read volumes: %w", err)
	}
	for i := range vols {
		if vols[i].State == volumeCreating {
			if err := c.createVolumeData(ctx, &vols[i]); err != nil {
				return nil, nil, err
			}
		}
	}
	var mounts []substrate.Mount
	var ids []string
	err = c.e.store.Update(ctx, func(tx store.Tx) error {
		mounts, ids = nil, nil
		var cur instance
		meta, err := tx.Get(key, &cur)
		if err != nil {
			return err
		}
		kept := cur.Volumes[:0]
		for _, iv := range cur.Volumes {
			var v volume
			vmeta, err := tx.Get(volumeKey(key.Account, key.Region, iv.VolumeId), &v)
			if errors.Is(err, store.ErrNotFound) {
				continue
			}
			if err != nil {
				return err
			}
			a := v.Attachment
			switch {
			case a == nil || a.InstanceId != cur.InstanceId:
				continue
			case a.State == attachDetaching:
				v.Attachment, v.State = nil, volumeAvailable
				if _, err := tx.Put(v.key(), &v, vmeta.Version); err != nil {
					return err
				}
				continue
			case v.State == volumeInUse:
				if a.State == attachAttaching {
					a.State = attachAttached
					if _, err := tx.Put(v.key(), &v, vmeta.Version); err != nil {
						return err
					}
				}
				mounts = append(mounts, substrate.Mount{Type: substrate.MountBlockVolume, Source: v.VolumeId,
					Destination: volumeMountPoint(iv.Device)})
				ids = append(ids, v.VolumeId)
			}
			iv.Mounted = false
			kept = append(kept, iv)
		}
		cur.Volumes = kept
		_, err = tx.Put(key, &cur, meta.Version)
		return err
	})
	if err != nil {
		return nil, nil, fmt.Errorf("prepare volumes: %w", err)
	}
	return mounts, ids, nil
}

// markMounted records which volumes the instance's new sandbox mounts.
func (c *InstanceController) markMounted(ctx context.Context, key store.Key, ids []string) error {
	err := c.e.store.Update(ctx, func(tx store.Tx) error {
		var cur instance
		meta, err := tx.Get(key, &cur)
		if err != nil {
			return err
		}
		for i := range cur.Volumes {
			cur.Volumes[i].Mounted = slices.Contains(ids, cur.Volumes[i].VolumeId)
		}
		_, err = tx.Put(key, &cur, meta.Version)
		return err
	})
	return ignoreGone(err)
}

// releaseVolumes runs once an instance's sandbox is gone for a stop or
// terminate: no volume is mounted any more, detachments end, and a
// terminate detaches every volume, deleting those marked
// DeleteOnTermination.
func (c *InstanceController) releaseVolumes(ctx context.Context, key store.Key, terminate bool) error {
	err := c.e.store.Update(ctx, func(tx store.Tx) error {
		var cur instance
		meta, err := tx.Get(key, &cur)
		if err != nil {
			return err
		}
		if len(cur.Volumes) == 0 {
			return nil
		}
		kept := cur.Volumes[:0]
		for _, iv := range cur.Volumes {
			var v volume
			vmeta, err := tx.Get(volumeKey(key.Account, key.Region, iv.VolumeId), &v)
			if errors.Is(err, store.ErrNotFound) {
				continue
			}
			if err != nil {
				return err
			}
			if v.Attachment == nil || v.Attachment.InstanceId != cur.InstanceId {
				continue
			}
			switch {
			case terminate && v.Attachment.DeleteOnTermination:
				if err := tx.Delete(v.key(), vmeta.Version); err != nil {
					return err
				}
				continue
			case terminate || v.Attachment.State == attachDetaching:
				v.Attachment, v.State = nil, volumeAvailable
				if _, err := tx.Put(v.key(), &v, vmeta.Version); err != nil {
					return err
				}
				continue
			}
			iv.Mounted = false
			kept = append(kept, iv)
		}
		cur.Volumes = kept
		_, err = tx.Put(key, &cur, meta.Version)
		return err
	})
	if err != nil {
		return ignoreGone(fmt.Errorf("release volumes: %w", err))
	}
	return nil
}

package ec2

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"strings"
	"time"

	"github.com/nimbus-dev/nimbus/internal/awserr"
	"github.com/nimbus-dev/nimbus/internal/image"
	"github.com/nimbus-dev/nimbus/internal/store"
)

// CreateImage makes an AMI of an instance's root volume. The API records
// the AMI as pending with the instance to capture; the instance controller,
// which owns instances' root directories, captures it (the instance's image
// root with its persistent overlayfs upper directory over it) into a new
// image-store image and makes the AMI available, or failed.
//
// NoReboot is accepted but nimbus never reboots: the capture reads the upper
// directory through the host's page cache, so it sees every write the
// instance completed before the capture, as a NoReboot=true image on AWS
// does; writes in flight may be torn. BlockDeviceMappings are ignored: the
// AMI describes only its root device, as every nimbus AMI does.

// Image states beside "available".
const (
	amiPending   = "pending"
	amiAvailable = "available"
	amiFailed    = "failed"
)

// capturedImagePrefix names the image-store images CreateImage makes:
// ec2-ami/<account>/<ami-id>:latest.
const capturedImagePrefix = "ec2-ami/"

type createImageInput struct {
	InstanceId          string
	Name                string
	Description         string
	NoReboot            bool
	BlockDeviceMappings []blockDeviceMapping
	TagSpecifications   []TagSpecification
	DryRun              bool
}

func (e *EC2) createImage(ctx context.Context, in *createImageInput) (*imageIDOutput, error) {
	if in.InstanceId == "" {
		return nil, awserr.Missing("InstanceId")
	}
	if err := validInstanceIDs([]string{in.InstanceId}); err != nil {
		return nil, err
	}
	if err := validAMIName(in.Name); err != nil {
		return nil, err
	}
	var imageTags, snapshotTags []Tag
	for _, s := range in.TagSpecifications {
		switch s.ResourceType {
		case "image":
			imageTags = append(imageTags, s.Tags...)
		case "snapshot":
			// nimbus AMIs have no snapshot resources to tag: checked, then dropped.
			snapshotTags = append(snapshotTags, s.Tags...)
		default:
			return nil, awserr.New(awserr.Validation, "InvalidParameterValue",
				"'%s' is not a valid taggable resource type for this operation.", s.ResourceType)
		}
	}
	if err := validateTags(imageTags); err != nil {
		return nil, err
	}
	if err := validateTags(snapshotTags); err != nil {
		return nil, err
	}
	account, reg := partition(ctx)
	insts, err := e.chooseInstances(ctx, account, reg, []string{in.InstanceId})
	if err != nil {
		return nil, err
	}
	inst := insts[0]
	switch inst.State {
	case stateRunning, stateStopping, stateStopped:
	default:
		return nil, incorrectState(inst.InstanceId, inst.State, "imaged")
	}
	if e.imageStore() == nil {
		return nil, awserr.New(awserr.NotImplemented, "Unsupported", "This nimbus runs without an image store.")
	}
	if in.DryRun {
		return nil, dryRun()
	}
	if imageTags == nil {
		imageTags = []Tag{}
	}
	size := inst.RootVolumeSize
	if size == 0 {
		size = defaultRootVolumeSize
	}
	id := newID("ami")
	a := &amiRecord{ImageId: id, Name: in.Name, Description: in.Description, Architecture: inst.Architecture,
		OwnerId: account, State: amiPending, ImageStoreName: capturedImagePrefix + account + "/" + id + ":latest",
		RootDeviceName: "/dev/xvda", RootDeviceType: "ebs", VolumeSizeGiB: size,
		CreationDate: time.Now().UTC().Truncate(time.Millisecond), CaptureInstanceId: inst.InstanceId,
		Tags: imageTags}
	if err := e.putImage(ctx, account, reg, a); err != nil {
		return nil, err
	}
	return &imageIDOutput{ImageId: id}, nil
}

// imageUnavailable refuses to launch or copy an AMI that is still being
// captured or whose capture failed.
func imageUnavailable(a *amiRecord) error {
	if a.State == amiAvailable {
		return nil
	}
	return awserr.New(awserr.Conflict, "InvalidAMIID.Unavailable", "The image '%s' is %s and cannot be used yet", a.ImageId, a.State)
}

// reconcileImage captures a pending CreateImage AMI's instance root. Other
// AMIs need nothing.
func (c *InstanceController) reconcileImage(ctx context.Context, key store.Key) error {
	var a amiRecord
	err := c.e.store.View(ctx, func(tx store.Tx) error {
		_, err := tx.Get(key, &a)
		return err
	})
	if errors.Is(err, store.ErrNotFound) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("read image: %w", err)
	}
	if a.State != amiPending || a.CaptureInstanceId == "" {
		return nil
	}
	st := c.e.imageStore()
	if st == nil {
		return c.finishImage(ctx, key, nil, errors.New("no image store"))
	}
	var inst instance
	err = c.e.store.View(ctx, func(tx store.Tx) error {
		_, err := tx.Get(store.Key{Account: key.Account, Region: key.Region, Kind: kindInstance, ID: a.CaptureInstanceId}, &inst)
		return err
	})
	if errors.Is(err, store.ErrNotFound) {
		return c.finishImage(ctx, key, nil, fmt.Errorf("instance %s no longer exists", a.CaptureInstanceId))
	}
	if err != nil {
		return fmt.Errorf("read instance %s: %w", a.CaptureInstanceId, err)
	}
	started := time.Now()
	// The sandbox's overlay upper is <RootUpperDir>/upper (sandbox/oci).
	upper := filepath.Join(c.instanceDir(inst.InstanceId), "root", "upper")
	img, err := st.CaptureOverlay(ctx, inst.Image, upper, a.ImageStoreName, nil)
	if err != nil {
		if ctx.Err() != nil {
			return ctx.Err() // shutting down: capture again on the next start
		}
		return c.finishImage(ctx, key, nil, err)
	}
	c.log.Info("image captured", "image", a.ImageId, "instance", inst.InstanceId, "digest", img.Digest,
		"capture_ms", time.Since(started).Milliseconds())
	return c.finishImage(ctx, key, img, nil)
}

// finishImage records a capture's outcome: available with the captured
// image, or failed with why. An AMI deregistered meanwhile takes its
// captured image out of the store again.
func (c *InstanceController) finishImage(ctx context.Context, key store.Key, img *image.Image, captureErr error) error {
	err := c.e.store.Update(ctx, func(tx store.Tx) error {
		var a amiRecord
		meta, err := tx.Get(key, &a)
		if err != nil {
			return err
		}
		if a.State != amiPending {
			return nil
		}
		if captureErr != nil {
			a.State, a.StateReason = amiFailed, captureErr.Error()
		} else {
			a.State, a.ImageDigest = amiAvailable, img.Digest
			a.VolumeSizeGiB = max(a.VolumeSizeGiB, rootVolumeGiB(img.RootSize))
		}
		_, err = tx.Put(key, &a, meta.Version)
		return err
	})
	if errors.Is(err, store.ErrNotFound) {
		if img != nil {
			c.e.releaseCapturedImage(ctx, img.Names[0])
		}
		return nil
	}
	if err != nil {
		return fmt.Errorf("record image %s: %w", key.ID, err)
	}
	if captureErr != nil {
		c.log.Error("image capture failed", "image", key.ID, "err", captureErr)
	}
	return nil
}

// releaseCapturedImage removes a CreateImage image from the image store once
// no AMI in any account or region names it (CopyImage's copies share it).
func (e *EC2) releaseCapturedImage(ctx context.Context, ref string) {
	st := e.imageStore()
	if st == nil || !strings.HasPrefix(ref, capturedImagePrefix) {
		return
	}
	inUse := false
	err := e.store.View(ctx, func(tx store.Tx) error {
		return tx.List(store.Query{Kind: kindImage, AllAccounts: true, AllRegions: true}, func(o store.Object) error {
			var a amiRecord
			if err := o.Decode(&a); err != nil {
				return err
			}
			inUse = inUse || a.ImageStoreName == ref
			return nil
		})
	})
	if err != nil || inUse {
		return
	}
	if _, err := st.Remove(ctx, ref); err != nil && !errors.Is(err, image.ErrNotFound) {
		// A leftover image costs disk, not correctness; `nimbus image rm` removes it.
		slog.WarnContext(ctx, "ec2: remove captured image", "image", ref, "err", err)
	}
}

package ec2

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"log/slog"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/nimbus-dev/nimbus/internal/awserr"
	"github.com/nimbus-dev/nimbus/internal/image"
	"github.com/nimbus-dev/nimbus/internal/region"
	"github.com/nimbus-dev/nimbus/internal/service"
	"github.com/nimbus-dev/nimbus/internal/store"
)

// An AMI in nimbus is a name for an image in nimbus's image store, which a
// sandbox runs as the instance's root, with the root device AWS describes
// (/dev/xvda on EBS).
//
// Built-in AMIs exist in every region without being stored: one per known
// image-store image, with stable names (nimbus-busybox-<arch> for
// busybox:latest, debian-12-<arch> for debian-12:latest once bootstrapped)
// and IDs derived from the region and the image's digest, so they are the
// same across restarts and change only when the image does.
//
// RegisterImage takes the image-store image from ImageLocation written as
// "nimbus:<image reference>" (for example "nimbus:debian-12:latest" or
// "nimbus:127.0.0.1:5000/app:v1"). ImageLocation is where AWS takes the
// manifest of an instance-store AMI, so registering from a location is a
// shape every client already sends; snapshots, the other AWS source, do not
// exist in nimbus yet.

const kindImage = "ec2:image"

// imageLocationScheme prefixes an image-store reference in ImageLocation.
const imageLocationScheme = "nimbus:"

// builtinImageOwnerID owns the built-in AMIs, which are public and carry the
// owner alias "amazon" so that Owners=amazon finds them as it finds AWS's
// own public images. It is no real account.
const builtinImageOwnerID = "000000000001"

// builtinImages maps image-store names to the name stem of their built-in AMI.
var builtinImages = []struct{ storeName, amiName, description string }{
	{image.BusyboxName, "nimbus-busybox", "nimbus busybox (busybox-static from the host)"},
	{"debian-12:latest", "debian-12", "Debian 12 (bookworm) built by debootstrap"},
}

// amiRecord is an AMI: a name for an image in nimbus's image store, with the
// root device AWS describes.
type amiRecord struct {
	ImageId        string
	Name           string
	Description    string
	Architecture   string // x86_64, arm64 or i386
	OwnerId        string
	State          string // available; pending or failed for CreateImage's
	ImageStoreName string // the image-store reference a sandbox runs
	ImageDigest    string // the image's manifest digest, sha256:<hex>
	RootDeviceName string // /dev/xvda
	RootDeviceType string // ebs
	VolumeSizeGiB  int    // root volume size
	Public         bool
	BuiltIn        bool
	CreationDate   time.Time
	SourceImageId  string `json:",omitempty"` // CopyImage's source
	SourceRegion   string `json:",omitempty"`
	// CaptureInstanceId is CreateImage's instance, captured while pending.
	CaptureInstanceId string `json:",omitempty"`
	StateReason       string `json:",omitempty"` // why a capture failed
	Tags              []Tag
}

// StoreIndexes makes AMI names unique per owner and region, as AWS does.
func (a *amiRecord) StoreIndexes() []store.IndexValue {
	return []store.IndexValue{{Name: "name", Value: a.Name, Unique: true}}
}

// amiCatalog is the built-in AMIs' state: whether busybox is in the image
// store yet, and in tests an image store without a substrate host.
type amiCatalog struct {
	mu          sync.Mutex
	busyboxDone bool
	images      *image.Store // nil: the host's
}

func (e *EC2) registerImages(svc *service.Service) {
	e.kinds = append(e.kinds, kindImage)
	svc.Handle("DescribeImages", service.Op(e.describeImages))
	svc.Handle("RegisterImage", service.Op(e.registerImage))
	svc.Handle("DeregisterImage", service.Op(e.deregisterImage))
	svc.Handle("CopyImage", service.Op(e.copyImage))
	svc.Handle("CreateImage", service.Op(e.createImage))
	e.registerTagger("ami-", tagger{ResourceType: "image", Apply: e.tagImage, List: e.listImageTags})
}

// imageStore is where AMIs' images live; nil when EC2 runs without a host.
func (e *EC2) imageStore() *image.Store {
	if e.amis.images != nil {
		return e.amis.images
	}
	if e.host != nil {
		return e.host.Images()
	}
	return nil
}

// awsArchitecture turns an OCI architecture into AWS's name for it.
func awsArchitecture(oci string) string {
	switch oci {
	case "amd64", "":
		return "x86_64"
	case "386":
		return "i386"
	case "arm64":
		return "arm64"
	}
	return oci
}

// builtinAMIs lists the built-in AMIs of region, putting busybox into the
// image store the first time.
func (e *EC2) builtinAMIs(ctx context.Context, region string) ([]amiRecord, error) {
	st := e.imageStore()
	if st == nil {
		return nil, nil
	}
	e.ensureBusybox(ctx, st)
	var out []amiRecord
	for _, b := range builtinImages {
		img, err := st.Get(ctx, b.storeName)
		if errors.Is(err, image.ErrNotFound) {
			continue
		}
		if err != nil {
			return nil, awserr.Internalf(err, "read image %s", b.storeName)
		}
		arch := awsArchitecture(img.Architecture)
		created := img.Created
		if created.IsZero() {
			created = time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
		}
		out = append(out, amiRecord{ImageId: derivedImageID(region, img.Digest), Name: b.amiName + "-" + arch,
			Description: b.description, Architecture: arch, OwnerId: builtinImageOwnerID, State: "available",
			ImageStoreName: b.storeName, ImageDigest: img.Digest, RootDeviceName: "/dev/xvda", RootDeviceType: "ebs",
			VolumeSizeGiB: rootVolumeGiB(img.RootSize), Public: true, BuiltIn: true, CreationDate: created, Tags: []Tag{}})
	}
	return out, nil
}

// ensureBusybox puts busybox:latest into the image store the first time an
// AMI is needed, so its built-in AMI exists without an explicit import.
func (e *EC2) ensureBusybox(ctx context.Context, st *image.Store) {
	e.amis.mu.Lock()
	defer e.amis.mu.Unlock()
	if e.amis.busyboxDone {
		return
	}
	if _, err := st.EnsureBusybox(ctx); err != nil {
		// Without busybox-static there is simply no busybox AMI; other
		// built-ins and registered AMIs still work.
		slog.WarnContext(ctx, "ec2: no busybox image for the built-in AMI", "err", err)
		return
	}
	e.amis.busyboxDone = true
}

// derivedImageID is a built-in AMI's ID: stable for one image in one region.
func derivedImageID(region, digest string) string {
	sum := sha256.Sum256([]byte(region + "\x00" + digest))
	return "ami-" + hex.EncodeToString(sum[:])[:17]
}

// rootVolumeGiB is the root volume size an image needs: its root rounded up
// to GiB, and never below AWS's usual 8 GiB.
func rootVolumeGiB(rootBytes int64) int {
	gib := int((rootBytes + 1<<30 - 1) >> 30)
	return max(gib, 8)
}

func amiNotFound(ids ...string) error {
	return awserr.New(awserr.NotFound, "InvalidAMIID.NotFound", "The image id '[%s]' does not exist", strings.Join(ids, ", "))
}

func checkImageID(id string) error {
	return checkResourceID(id, "ami", "InvalidAMIID.Malformed")
}

func imageKey(account, region, id string) store.Key {
	return store.Key{Account: account, Region: region, Kind: kindImage, ID: id}
}

// lookupImage returns the AMI imageID as account sees it in region: a
// built-in one or one the account registered there.
func (e *EC2) lookupImage(ctx context.Context, account, region, imageID string) (*amiRecord, error) {
	if err := checkImageID(imageID); err != nil {
		return nil, err
	}
	builtins, err := e.builtinAMIs(ctx, region)
	if err != nil {
		return nil, err
	}
	for _, b := range builtins {
		if b.ImageId == imageID {
			return &b, nil
		}
	}
	var a amiRecord
	err = e.store.View(ctx, func(tx store.Tx) error {
		_, err := tx.Get(imageKey(account, region, imageID), &a)
		return err
	})
	if errors.Is(err, store.ErrNotFound) {
		return nil, amiNotFound(imageID)
	}
	if err != nil {
		return nil, awserr.Internalf(err, "read image %s", imageID)
	}
	return &a, nil
}

// allImages lists the built-in AMIs of region and those account registered.
func (e *EC2) allImages(ctx context.Context, account, region string) ([]amiRecord, error) {
	all, err := e.builtinAMIs(ctx, region)
	if err != nil {
		return nil, err
	}
	err = e.store.View(ctx, func(tx store.Tx) error {
		return tx.List(store.Query{Kind: kindImage, Account: account, Region: region}, func(o store.Object) error {
			var a amiRecord
			if err := o.Decode(&a); err != nil {
				return err
			}
			all = append(all, a)
			return nil
		})
	})
	if err != nil {
		return nil, awserr.Internalf(err, "list images")
	}
	sortByKey(all, func(a amiRecord) string { return a.ImageId })
	return all, nil
}

// putImage stores a new AMI, refusing a name the account already uses in
// the region. CreateImage (createimage.go) stores its AMIs through it too.
func (e *EC2) putImage(ctx context.Context, account, region string, a *amiRecord) error {
	err := e.store.Update(ctx, func(tx store.Tx) error {
		_, err := tx.Create(imageKey(account, region, a.ImageId), a)
		return err
	})
	if errors.Is(err, store.ErrAlreadyExists) {
		var existing string
		_ = e.store.View(ctx, func(tx store.Tx) error {
			return tx.List(store.Query{Kind: kindImage, Account: account, Region: region, Index: "name", IndexValue: a.Name},
				func(o store.Object) error { existing = o.Key.ID; return nil })
		})
		return awserr.New(awserr.AlreadyExists, "InvalidAMIName.Duplicate", "AMI name %s is already in use by AMI %s", a.Name, existing)
	}
	if err != nil {
		return awserr.Internalf(err, "store image %s", a.ImageId)
	}
	return nil
}

// validAMIName checks a name as AWS does: 3 to 128 characters of letters,
// digits and ( ) [ ] space . / - ' @ _.
func validAMIName(name string) error {
	if name == "" {
		return awserr.Missing("Name")
	}
	if len(name) < 3 || len(name) > 128 {
		return invalidParameter("AMI names must be between 3 and 128 characters long")
	}
	for _, r := range name {
		ok := r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("()[] ./-'@_", r)
		if !ok {
			return invalidParameter("AMI names must only contain letters, numbers, spaces and the characters ( ) [ ] . / - ' @ _")
		}
	}
	return nil
}

// RegisterImage

type ebsBlockDevice struct {
	DeleteOnTermination *bool   `json:",omitempty"`
	SnapshotId          string  `json:",omitempty"`
	VolumeSize          int     `json:",omitempty"`
	VolumeType          string  `json:",omitempty"`
	Encrypted           *bool   `json:",omitempty"`
	Iops                int     `json:",omitempty"`
	KmsKeyId            string  `json:",omitempty"`
	Throughput          int     `json:",omitempty"`
	OutpostArn          *string `json:",omitempty"`
}

type blockDeviceMapping struct {
	DeviceName  string
	VirtualName string          `json:",omitempty"`
	Ebs         *ebsBlockDevice `json:",omitempty"`
	NoDevice    *string         `json:",omitempty"`
}

type registerImageInput struct {
	Name                string
	ImageLocation       string
	Architecture        string
	Description         string
	RootDeviceName      string
	BlockDeviceMappings []blockDeviceMapping
	VirtualizationType  string
	TagSpecifications   []TagSpecification
	DryRun              bool
}

type imageIDOutput struct {
	ImageId string
}

func (e *EC2) registerImage(ctx context.Context, in *registerImageInput) (*imageIDOutput, error) {
	if err := validAMIName(in.Name); err != nil {
		return nil, err
	}
	ref, ok := strings.CutPrefix(in.ImageLocation, imageLocationScheme)
	if !ok || ref == "" {
		if in.ImageLocation == "" {
			return nil, awserr.Missing("ImageLocation")
		}
		return nil, invalidParameter("Invalid ImageLocation '%s': nimbus registers images from its image store, written %s<image reference>", in.ImageLocation, imageLocationScheme)
	}
	if in.RootDeviceName != "" && in.RootDeviceName != "/dev/xvda" && in.RootDeviceName != "/dev/sda1" {
		return nil, invalidParameter("Value (%s) for parameter rootDeviceName is invalid. nimbus supports /dev/xvda and /dev/sda1.", in.RootDeviceName)
	}
	if in.VirtualizationType != "" && in.VirtualizationType != "hvm" {
		return nil, invalidParameter("Value (%s) for parameter virtualizationType is invalid. nimbus supports hvm.", in.VirtualizationType)
	}
	tags, err := tagsFor(in.TagSpecifications, "image")
	if err != nil {
		return nil, err
	}
	if err := validateTags(tags); err != nil {
		return nil, err
	}
	st := e.imageStore()
	if st == nil {
		return nil, awserr.New(awserr.NotImplemented, "Unsupported", "This nimbus runs without an image store.")
	}
	e.ensureBusybox(ctx, st)
	img, err := st.Get(ctx, ref)
	if errors.Is(err, image.ErrNotFound) {
		return nil, invalidParameter("Image '%s' is not in the nimbus image store (see `nimbus image list`)", ref)
	}
	if err != nil {
		return nil, awserr.Internalf(err, "read image %s", ref)
	}
	arch := awsArchitecture(img.Architecture)
	if in.Architecture != "" && in.Architecture != arch {
		return nil, invalidParameter("Architecture %s does not match the image's architecture %s", in.Architecture, arch)
	}
	if in.DryRun {
		return nil, dryRun()
	}
	account, reg := partition(ctx)
	rootDevice := in.RootDeviceName
	if rootDevice == "" {
		rootDevice = "/dev/xvda"
	}
	size := rootVolumeGiB(img.RootSize)
	for _, m := range in.BlockDeviceMappings {
		if m.DeviceName == rootDevice && m.Ebs != nil && m.Ebs.VolumeSize > 0 {
			size = m.Ebs.VolumeSize
		}
	}
	if tags == nil {
		tags = []Tag{}
	}
	a := &amiRecord{ImageId: newID("ami"), Name: in.Name, Description: in.Description, Architecture: arch,
		OwnerId: account, State: "available", ImageStoreName: ref, ImageDigest: img.Digest,
		RootDeviceName: rootDevice, RootDeviceType: "ebs", VolumeSizeGiB: size,
		CreationDate: time.Now().UTC().Truncate(time.Millisecond), Tags: tags}
	if err := e.putImage(ctx, account, reg, a); err != nil {
		return nil, err
	}
	return &imageIDOutput{ImageId: a.ImageId}, nil
}

// DeregisterImage

type deregisterImageInput struct {
	ImageId string
	DryRun  bool
}

type deregisterImageOutput struct{}

func (e *EC2) deregisterImage(ctx context.Context, in *deregisterImageInput) (*deregisterImageOutput, error) {
	if in.ImageId == "" {
		return nil, awserr.Missing("ImageId")
	}
	account, reg := partition(ctx)
	a, err := e.lookupImage(ctx, account, reg, in.ImageId)
	if err != nil {
		return nil, err
	}
	if a.BuiltIn {
		return nil, awserr.New(awserr.AccessDenied, "UnauthorizedOperation",
			"You are not authorized to perform this operation: image %s belongs to another account.", a.ImageId)
	}
	if in.DryRun {
		return nil, dryRun()
	}
	err = e.store.Update(ctx, func(tx store.Tx) error {
		return tx.Delete(imageKey(account, reg, a.ImageId), 0)
	})
	if errors.Is(err, store.ErrNotFound) {
		return nil, amiNotFound(a.ImageId)
	}
	if err != nil {
		return nil, awserr.Internalf(err, "deregister image %s", a.ImageId)
	}
	e.releaseCapturedImage(ctx, a.ImageStoreName)
	return &deregisterImageOutput{}, nil
}

// CopyImage

type copyImageInput struct {
	Name              string
	Description       string
	SourceImageId     string
	SourceRegion      string
	ClientToken       string
	CopyImageTags     bool
	Encrypted         bool
	TagSpecifications []TagSpecification
	DryRun            bool
}

func (e *EC2) copyImage(ctx context.Context, in *copyImageInput) (*imageIDOutput, error) {
	switch {
	case in.SourceRegion == "":
		return nil, awserr.Missing("SourceRegion")
	case in.SourceImageId == "":
		return nil, awserr.Missing("SourceImageId")
	}
	if err := validAMIName(in.Name); err != nil {
		return nil, err
	}
	if !region.Valid(in.SourceRegion) || (e.regions != nil && !e.regions.Allowed(in.SourceRegion)) {
		return nil, invalidParameter("Invalid region: %s", in.SourceRegion)
	}
	tags, err := tagsFor(in.TagSpecifications, "image")
	if err != nil {
		return nil, err
	}
	account, reg := partition(ctx)
	src, err := e.lookupImage(ctx, account, in.SourceRegion, in.SourceImageId)
	if err != nil {
		return nil, err
	}
	if err := imageUnavailable(src); err != nil {
		return nil, err
	}
	if in.CopyImageTags && !src.BuiltIn {
		if tags, err = mergeTags(src.Tags, tags, nil); err != nil {
			return nil, err
		}
	}
	if err := validateTags(tags); err != nil {
		return nil, err
	}
	if in.DryRun {
		return nil, dryRun()
	}
	desc := in.Description
	if desc == "" {
		desc = src.Description
	}
	if tags == nil {
		tags = []Tag{}
	}
	a := &amiRecord{ImageId: newID("ami"), Name: in.Name, Description: desc, Architecture: src.Architecture,
		OwnerId: account, State: "available", ImageStoreName: src.ImageStoreName, ImageDigest: src.ImageDigest,
		RootDeviceName: src.RootDeviceName, RootDeviceType: src.RootDeviceType, VolumeSizeGiB: src.VolumeSizeGiB,
		CreationDate: time.Now().UTC().Truncate(time.Millisecond), SourceImageId: src.ImageId,
		SourceRegion: in.SourceRegion, Tags: tags}
	if err := e.putImage(ctx, account, reg, a); err != nil {
		return nil, err
	}
	return &imageIDOutput{ImageId: a.ImageId}, nil
}

// DescribeImages

type describeImagesInput struct {
	ImageIds          []string
	Owners            []string
	ExecutableUsers   []string
	Filters           []Filter
	IncludeDeprecated bool
	IncludeDisabled   bool
	MaxResults        int
	NextToken         string
	DryRun            bool
}

type imageDescription struct {
	Architecture        string
	CreationDate        string
	ImageId             string
	ImageLocation       string
	ImageType           string
	Public              bool
	OwnerId             string
	ImageOwnerAlias     string `json:",omitempty"`
	PlatformDetails     string
	UsageOperation      string
	State               string
	StateReason         *stateReason `json:",omitempty"`
	BlockDeviceMappings []blockDeviceMapping
	Description         string `json:",omitempty"`
	EnaSupport          bool
	Hypervisor          string
	Name                string
	RootDeviceName      string
	RootDeviceType      string
	SriovNetSupport     string
	Tags                []Tag `json:",omitempty"`
	VirtualizationType  string
	BootMode            string
	ImdsSupport         string
}

type describeImagesOutput struct {
	Images    []imageDescription
	NextToken string `json:",omitempty"`
}

func (a amiRecord) describe() imageDescription {
	d := imageDescription{Architecture: a.Architecture, CreationDate: a.CreationDate.UTC().Format("2006-01-02T15:04:05.000Z"),
		ImageId: a.ImageId, ImageLocation: a.OwnerId + "/" + a.Name, ImageType: "machine", Public: a.Public,
		OwnerId: a.OwnerId, PlatformDetails: "Linux/UNIX", UsageOperation: "RunInstances", State: a.State,
		Description: a.Description, EnaSupport: true, Hypervisor: "xen", Name: a.Name,
		RootDeviceName: a.RootDeviceName, RootDeviceType: a.RootDeviceType, SriovNetSupport: "simple",
		VirtualizationType: "hvm", BootMode: "uefi-preferred", ImdsSupport: "v2.0",
		BlockDeviceMappings: []blockDeviceMapping{{DeviceName: a.RootDeviceName, Ebs: &ebsBlockDevice{
			DeleteOnTermination: ptr(true), SnapshotId: derivedID("snap", a.ImageId), VolumeSize: a.VolumeSizeGiB,
			VolumeType: "gp3", Encrypted: ptr(false)}}},
	}
	if a.BuiltIn {
		d.ImageOwnerAlias = "amazon"
		d.ImageLocation = "amazon/" + a.Name
	}
	if len(a.Tags) > 0 {
		d.Tags = a.Tags
	}
	if a.State == amiFailed {
		d.StateReason = &stateReason{Code: "Client.CreateImageFailed", Message: a.StateReason}
	}
	return d
}

func ptr[T any](v T) *T { return &v }

// fields answers DescribeImages filter names for one AMI.
func (a amiRecord) fields(name string) ([]string, bool) {
	d := a.describe()
	switch name {
	case "name":
		return []string{d.Name}, true
	case "image-id":
		return []string{d.ImageId}, true
	case "state":
		return []string{d.State}, true
	case "architecture":
		return []string{d.Architecture}, true
	case "owner-id":
		return []string{d.OwnerId}, true
	case "owner-alias":
		return []string{d.ImageOwnerAlias}, true
	case "is-public":
		if d.Public {
			return []string{"true"}, true
		}
		return []string{"false"}, true
	case "description":
		return []string{d.Description}, true
	case "image-type":
		return []string{d.ImageType}, true
	case "root-device-name":
		return []string{d.RootDeviceName}, true
	case "root-device-type":
		return []string{d.RootDeviceType}, true
	case "virtualization-type":
		return []string{d.VirtualizationType}, true
	case "hypervisor":
		return []string{d.Hypervisor}, true
	case "platform-details":
		return []string{d.PlatformDetails}, true
	case "ena-support":
		return []string{"true"}, true
	case "creation-date":
		return []string{d.CreationDate}, true
	case "manifest-location":
		return []string{d.ImageLocation}, true
	case "block-device-mapping.device-name":
		return []string{d.RootDeviceName}, true
	case "block-device-mapping.volume-size":
		return []string{strconv.Itoa(a.VolumeSizeGiB)}, true
	case "block-device-mapping.volume-type":
		return []string{"gp3"}, true
	}
	return nil, false
}

func (e *EC2) describeImages(ctx context.Context, in *describeImagesInput) (*describeImagesOutput, error) {
	if err := checkMaxResults(in.MaxResults, 5, 1000); err != nil {
		return nil, err
	}
	for _, id := range in.ImageIds {
		if err := checkImageID(id); err != nil {
			return nil, err
		}
	}
	for _, o := range append(append([]string(nil), in.Owners...), in.ExecutableUsers...) {
		if o != "self" && o != "amazon" && o != "all" && o != "aws-marketplace" && !validAccountID(o) {
			return nil, awserr.New(awserr.Validation, "InvalidUserID.Malformed", "Invalid user id: '%s'", o)
		}
	}
	if in.DryRun {
		return nil, dryRun()
	}
	account, reg := partition(ctx)
	all, err := e.allImages(ctx, account, reg)
	if err != nil {
		return nil, err
	}
	var missing []string
	for _, id := range in.ImageIds {
		if !containsImage(all, id) {
			missing = append(missing, id)
		}
	}
	if len(missing) > 0 {
		return nil, amiNotFound(missing...)
	}
	named := slices.DeleteFunc(all, func(a amiRecord) bool {
		return len(in.ImageIds) > 0 && !matchAny(in.ImageIds, a.ImageId) ||
			len(in.Owners) > 0 && !ownedBy(a, in.Owners, account) ||
			len(in.ExecutableUsers) > 0 && !launchableBy(a, in.ExecutableUsers, account)
	})
	matched, err := matching(named, in.Filters,
		func(a amiRecord) fields { return a.fields },
		func(a amiRecord) []Tag { return a.Tags })
	if err != nil {
		return nil, err
	}
	page, next, err := paginate(matched, in.MaxResults, in.NextToken, func(a amiRecord) string { return a.ImageId })
	if err != nil {
		return nil, err
	}
	out := &describeImagesOutput{Images: make([]imageDescription, 0, len(page)), NextToken: next}
	for _, a := range page {
		out.Images = append(out.Images, a.describe())
	}
	return out, nil
}

func containsImage(all []amiRecord, id string) bool {
	for _, a := range all {
		if a.ImageId == id {
			return true
		}
	}
	return false
}

// ownedBy applies DescribeImages's Owners: self, amazon or account IDs.
func ownedBy(a amiRecord, owners []string, caller string) bool {
	for _, o := range owners {
		switch {
		case o == "self" && a.OwnerId == caller && !a.BuiltIn,
			o == "amazon" && a.BuiltIn,
			o == a.OwnerId:
			return true
		}
	}
	return false
}

// launchableBy applies ExecutableUsers: AMIs the named users may launch,
// which without launch permissions are the public ones and their owner's.
func launchableBy(a amiRecord, users []string, caller string) bool {
	for _, u := range users {
		switch {
		case a.Public,
			u == "self" && a.OwnerId == caller,
			u == a.OwnerId:
			return true
		}
	}
	return false
}

func validAccountID(s string) bool {
	if len(s) != 12 {
		return false
	}
	for _, c := range s {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

// Tags on AMIs: only on those the account registered.

func (e *EC2) tagImage(ctx context.Context, account, region, id string, set, remove []Tag) error {
	a, err := e.lookupImage(ctx, account, region, id)
	if err != nil {
		return err
	}
	if a.BuiltIn {
		return awserr.New(awserr.AccessDenied, "UnauthorizedOperation",
			"You are not authorized to perform this operation: image %s belongs to another account.", id)
	}
	err = e.store.Update(ctx, func(tx store.Tx) error {
		return retagStored(tx, imageKey(account, region, id), func() error { return amiNotFound(id) },
			func(a *amiRecord) *[]Tag { return &a.Tags }, set, remove)
	})
	return asAPIErrorOrNil(err, "tag image")
}

func (e *EC2) listImageTags(ctx context.Context, account, region string) ([]TaggedResource, error) {
	var out []TaggedResource
	err := e.store.View(ctx, func(tx store.Tx) error {
		return tx.List(store.Query{Kind: kindImage, Account: account, Region: region}, func(o store.Object) error {
			var a amiRecord
			if err := o.Decode(&a); err != nil {
				return err
			}
			out = append(out, TaggedResource{ResourceId: a.ImageId, ResourceType: "image", Tags: a.Tags})
			return nil
		})
	})
	if err != nil {
		return nil, awserr.Internalf(err, "list images")
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ResourceId < out[j].ResourceId })
	return out, nil
}

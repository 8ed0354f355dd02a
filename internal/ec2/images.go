package ec2

import (
	"context"
	"strings"
	"sync"

	"github.com/nimbus-dev/nimbus/internal/awserr"
	"github.com/nimbus-dev/nimbus/internal/service"
)

// amiRecord is an AMI: a name for an image in nimbus's image store, with the
// root device AWS describes.
type amiRecord struct {
	ImageId        string
	Name           string
	Description    string
	Architecture   string // x86_64 or arm64
	OwnerId        string
	State          string // available
	ImageStoreName string // the nimbus image-store reference sandboxes run
	ImageDigest    string
	RootDeviceName string // /dev/xvda
	RootDeviceType string // ebs
	VolumeSizeGiB  int
	Public         bool
	BuiltIn        bool
	Tags           []Tag
}

// amiCatalog is the state of the built-in AMIs.
type amiCatalog struct {
	mu sync.Mutex
}

func (e *EC2) registerImages(svc *service.Service) {}

// lookupImage returns the AMI imageID as account sees it in region.
func (e *EC2) lookupImage(ctx context.Context, account, region, imageID string) (*amiRecord, error) {
	if !strings.HasPrefix(imageID, "ami-") {
		return nil, awserr.New(awserr.Validation, "InvalidAMIID.Malformed", "Invalid id: \"%s\" (expecting \"ami-...\")", imageID)
	}
	return nil, awserr.New(awserr.NotFound, "InvalidAMIID.NotFound", "The image id '[%s]' does not exist", imageID)
}

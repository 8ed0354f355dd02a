package s3

import (
	"time"

	"github.com/nimbus-dev/nimbus/internal/store"
)

// Store kinds. S3 bucket names are one namespace across every account and
// region, so S3's records live in one partition (globalAccount, region "")
// and each bucket records its owner and region; object, upload and part IDs
// start with their bucket's name, which cannot hold a '/', so a bucket's
// objects are one ID range, listed in S3's UTF-8 binary key order.
const (
	kindBucket = "s3:bucket" // ID: bucket
	kindObject = "s3:object" // ID: bucket/key
	kindUpload = "s3:upload" // ID: bucket/uploadID
	kindPart   = "s3:part"   // ID: uploadID/%05d part number
	kindEvent  = "s3:event"  // ID: %020d sequence: the notification outbox

	globalAccount = "s3-global"

	eventSequence = "s3:event"
)

func bucketKey(bucket string) store.Key {
	return store.Key{Account: globalAccount, Kind: kindBucket, ID: bucket}
}

func objectKey(bucket, key string) store.Key {
	return store.Key{Account: globalAccount, Kind: kindObject, ID: bucket + "/" + key}
}

func uploadKey(bucket, uploadID string) store.Key {
	return store.Key{Account: globalAccount, Kind: kindUpload, ID: bucket + "/" + uploadID}
}

func partKey(uploadID string, part int) store.Key {
	return store.Key{Account: globalAccount, Kind: kindPart, ID: partID(uploadID, part)}
}

func partID(uploadID string, part int) string {
	const digits = "0123456789"
	b := []byte(uploadID + "/00000")
	for i := len(b) - 1; part > 0; i-- {
		b[i] = digits[part%10]
		part /= 10
	}
	return string(b)
}

// tag is one S3 tag (object or bucket tagging).
type tag struct {
	Key   string `json:"key"`
	Value string `json:"value"`
}

// bucketRecord is a bucket: its owner and region, tags and notification
// configuration.
type bucketRecord struct {
	Name          string              `json:"name"`
	Owner         string              `json:"owner"` // account ID
	Region        string              `json:"region"`
	Created       time.Time           `json:"created"`
	Tags          []tag               `json:"tags,omitempty"`
	Notifications *notificationConfig `json:"notifications,omitempty"`
	Policy        string              `json:"policy,omitempty"` // the bucket policy document, as given
}

// objectRecord is one object's metadata; its bytes are the blob File.
type objectRecord struct {
	Key          string            `json:"key"`
	Size         int64             `json:"size"`
	ETag         string            `json:"etag"` // quoted, as S3 answers it
	LastModified time.Time         `json:"lastModified"`
	ContentType  string            `json:"contentType,omitempty"`
	Headers      map[string]string `json:"headers,omitempty"`  // stored standard headers by model member name (CacheControl...)
	Metadata     map[string]string `json:"metadata,omitempty"` // x-amz-meta-*, keys lower-case
	Checksums    map[string]string `json:"checksums,omitempty"`
	Tags         []tag             `json:"tags,omitempty"`
	Parts        int               `json:"parts,omitempty"` // parts of a multipart object
	Owner        string            `json:"owner"`
	File         string            `json:"file"` // blob name under the data directory
}

// uploadRecord is a multipart upload in progress.
type uploadRecord struct {
	UploadID    string            `json:"uploadId"`
	Key         string            `json:"key"`
	Initiated   time.Time         `json:"initiated"`
	Owner       string            `json:"owner"`
	Initiator   string            `json:"initiator"` // principal ARN
	ContentType string            `json:"contentType,omitempty"`
	Headers     map[string]string `json:"headers,omitempty"`
	Metadata    map[string]string `json:"metadata,omitempty"`
	Tags        []tag             `json:"tags,omitempty"`
	Checksum    string            `json:"checksum,omitempty"` // algorithm asked for at creation
}

// partRecord is one uploaded part.
type partRecord struct {
	PartNumber   int               `json:"partNumber"`
	Size         int64             `json:"size"`
	ETag         string            `json:"etag"`
	MD5          []byte            `json:"md5"`
	LastModified time.Time         `json:"lastModified"`
	Checksums    map[string]string `json:"checksums,omitempty"`
	File         string            `json:"file"`
}

// eventRecord is a notification waiting in the outbox for its hand-over
// to Lambda.
type eventRecord struct {
	FunctionARN string `json:"functionArn"`
	Payload     []byte `json:"payload"` // the S3 event JSON
}

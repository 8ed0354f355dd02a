package s3

import (
	"net/netip"
	"strings"
)

// validBucketName applies S3's general-purpose bucket naming rules: 3 to
// 63 characters of lower-case letters, digits, dots and hyphens, starting
// and ending with a letter or digit, no two adjacent dots, not shaped like
// an IPv4 address, and none of the prefixes and suffixes S3 reserves.
func validBucketName(name string) bool {
	if len(name) < 3 || len(name) > 63 {
		return false
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		alnum := (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9')
		if !alnum && c != '.' && c != '-' {
			return false
		}
		if (i == 0 || i == len(name)-1) && !alnum {
			return false
		}
	}
	if strings.Contains(name, "..") {
		return false
	}
	if addr, err := netip.ParseAddr(name); err == nil && addr.Is4() {
		return false
	}
	for _, p := range []string{"xn--", "sthree-", "amzn-s3-demo-"} {
		if strings.HasPrefix(name, p) {
			return false
		}
	}
	for _, s := range []string{"-s3alias", "--ol-s3", ".mrap", "--x-s3", "--table-s3"} {
		if strings.HasSuffix(name, s) {
			return false
		}
	}
	return true
}

// bucketARN is the ARN S3 gives a bucket: no region, no account.
func bucketARN(bucket string) string { return "arn:aws:s3:::" + bucket }

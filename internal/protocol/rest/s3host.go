package rest

import (
	"net"
	"net/netip"
	"strings"
)

// BucketFromHost extracts the bucket of an S3 virtual-hosted-style request
// from its Host header: "bucket.s3.localhost:4566",
// "bucket.s3.us-east-1.localhost", "bucket.s3.amazonaws.com",
// "bucket.s3-us-west-2.amazonaws.com" and "bucket.localhost" all name
// "bucket". Bucket names may hold dots, so the bucket is everything before
// the last "s3" or "s3-<region>" label. Hosts that are the service endpoint
// itself ("s3.localhost", "localhost", "127.0.0.1") name no bucket.
func BucketFromHost(host string) (bucket string, ok bool) {
	host = strings.ToLower(strings.TrimSpace(host))
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	host = strings.TrimSuffix(host, ".")
	if host == "" || strings.HasPrefix(host, "[") {
		return "", false
	}
	if _, err := netip.ParseAddr(host); err == nil {
		return "", false
	}
	labels := strings.Split(host, ".")
	for i := len(labels) - 1; i >= 0; i-- {
		if isS3Label(labels[i]) {
			if i > 0 {
				return strings.Join(labels[:i], "."), true
			}
			if labels[0] == "s3" {
				return "", false
			}
			break // "s3-logs.localhost": a bucket whose name starts with s3-
		}
	}
	if len(labels) >= 2 && labels[len(labels)-1] == "localhost" {
		return strings.Join(labels[:len(labels)-1], "."), true
	}
	return "", false
}

// isS3Label reports whether a host label names the S3 endpoint: "s3",
// the legacy "s3-us-west-2" and "s3-external-1", or "s3-accelerate".
func isS3Label(l string) bool {
	return l == "s3" || strings.HasPrefix(l, "s3-")
}

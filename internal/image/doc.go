// Package image is nimbus's OCI image store. Every EC2 instance (its AMI),
// Batch job (its container image) and Lambda function (its image or runtime
// base) runs from an image kept here.
//
// The store is a directory under the data directory:
//
//	<data>/images/oci-layout          OCI image layout marker
//	<data>/images/index.json          OCI image index: one descriptor per name,
//	                                  the name in org.opencontainers.image.ref.name
//	<data>/images/blobs/sha256/<hex>  manifests, configs and layers, content-addressed
//	<data>/images/roots/<hex>         the unpacked root of manifest <hex>, shared
//	                                  read-only by every sandbox (the overlay lower dir)
//	<data>/images/tmp/                work in progress; emptied on Open
//
// The images directory is itself a valid OCI image layout, so other tools can
// read it. Every file is written to a temporary name, synced and renamed, and
// a root is unpacked into tmp/ and renamed into roots/ only when complete, so
// a crash never leaves a half-written blob or root in use.
//
// Images come from docker-save archives and OCI layouts (Import), registries
// (Pull), the host's busybox-static (EnsureBusybox) and debootstrap
// (Bootstrap): these hosts have no other way to reach a registry.
package image

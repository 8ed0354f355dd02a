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
//
// Using it:
//
//	store, err := image.Open(dataDir)
//	img, err := store.EnsureBusybox(ctx)             // busybox:latest, no network
//	img, err = store.Import(ctx, "app.tar", "", p)   // docker save / OCI layout
//	img, err = store.Pull(ctx, "127.0.0.1:5000/app:v1", p)
//	img, err = store.Get(ctx, "busybox")             // name or digest (prefix)
//	spec.RootFS.ImageDir = img.RootDir               // read-only overlay lower dir
//	argv, env := img.Config.Argv(), img.Config.Env
//
// A root in roots/ is never modified after it is renamed into place, so any
// number of sandboxes may use it as an overlay lower directory at once.
// Remove and GC keep a root that is still mounted (found in
// /proc/self/mountinfo) and collect it later.
package image

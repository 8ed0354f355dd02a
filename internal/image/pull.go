package image

import (
	"context"
	"fmt"
	"net"
	"strings"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

// Pull fetches ref ("host:port/repo:tag" or "repo@sha256:...") from its
// registry and stores it under ref. A registry on a loopback address is
// spoken to over plain HTTP, as tests and local mirrors need; every other
// registry over HTTPS. Multi-platform images resolve to the store's platform.
func (s *Store) Pull(ctx context.Context, ref string, p Progress) (*Image, error) {
	p = orNoProgress(p)
	stored, err := NormalizeName(ref)
	if err != nil {
		return nil, err
	}
	r, err := name.ParseReference(ref)
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %v", ErrInvalidReference, ref, err)
	}
	if isLoopbackRegistry(r.Context().RegistryStr()) {
		if r, err = name.ParseReference(ref, name.Insecure); err != nil {
			return nil, fmt.Errorf("%w: %s: %v", ErrInvalidReference, ref, err)
		}
	}
	p.Step("resolve "+r.Name(), 0)
	desc, err := remote.Get(r,
		remote.WithContext(ctx),
		remote.WithAuthFromKeychain(authn.DefaultKeychain),
		remote.WithPlatform(s.platform),
	)
	if err != nil {
		return nil, fmt.Errorf("pull %s: %w", ref, err)
	}
	img, err := desc.Image() // resolves an index to the store's platform
	if err != nil {
		return nil, fmt.Errorf("pull %s: %w", ref, err)
	}
	out, err := s.add(ctx, img, []string{stored}, p)
	if err != nil {
		return nil, fmt.Errorf("pull %s: %w", ref, err)
	}
	return out, nil
}

// isLoopbackRegistry reports whether a registry host[:port] is this machine.
func isLoopbackRegistry(registry string) bool {
	host := registry
	if h, _, err := net.SplitHostPort(registry); err == nil {
		host = h
	}
	host = strings.Trim(host, "[]")
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// Package region is the catalog of regions and availability zones nimbus
// answers for. Zone names are <region>a/b/c as on AWS; zone IDs follow AWS's
// <short-region>-az<N> form.
package region

import (
	"fmt"
	"strings"
)

// Defaults is a realistic list of commercial regions, all opted in.
var Defaults = []string{
	"us-east-1", "us-east-2", "us-west-1", "us-west-2",
	"ca-central-1", "sa-east-1",
	"eu-west-1", "eu-west-2", "eu-west-3", "eu-central-1", "eu-north-1",
	"ap-south-1", "ap-northeast-1", "ap-northeast-2", "ap-northeast-3",
	"ap-southeast-1", "ap-southeast-2",
}

// Zone is one availability zone.
type Zone struct {
	Name   string // us-east-1a
	ID     string // use1-az1
	Region string
}

// Catalog is the configured set of regions.
type Catalog struct {
	names  []string
	known  map[string]bool
	strict bool
}

// NewCatalog returns a catalog of names (Defaults when empty). When strict,
// only those regions are served; otherwise any well-formed region works, as
// AWS tools expect of a local endpoint.
func NewCatalog(names []string, strict bool) (*Catalog, error) {
	if len(names) == 0 {
		names = Defaults
	}
	c := &Catalog{known: map[string]bool{}, strict: strict}
	for _, n := range names {
		if !Valid(n) {
			return nil, fmt.Errorf("region %q is not a valid region name", n)
		}
		if !c.known[n] {
			c.known[n] = true
			c.names = append(c.names, n)
		}
	}
	return c, nil
}

// Names lists the configured regions in order.
func (c *Catalog) Names() []string { return append([]string(nil), c.names...) }

// Listed reports whether r is in the configured list.
func (c *Catalog) Listed(r string) bool { return c.known[r] }

// Allowed reports whether requests for region r are served.
func (c *Catalog) Allowed(r string) bool {
	if c.strict {
		return c.known[r]
	}
	return Valid(r)
}

// Valid reports whether r has the shape of a region name (xx-name-N).
func Valid(r string) bool {
	parts := strings.Split(r, "-")
	if len(parts) < 3 || len(r) > 32 {
		return false
	}
	for _, p := range parts {
		if p == "" || strings.Trim(p, "abcdefghijklmnopqrstuvwxyz0123456789") != "" {
			return false
		}
	}
	last := parts[len(parts)-1]
	return strings.Trim(last, "0123456789") == ""
}

// Zones returns the three zones of a region.
func Zones(r string) []Zone {
	short := Short(r)
	zs := make([]Zone, 0, 3)
	for i, l := range []string{"a", "b", "c"} {
		zs = append(zs, Zone{Name: r + l, ID: fmt.Sprintf("%s-az%d", short, i+1), Region: r})
	}
	return zs
}

// ZoneRegion returns the region of a zone name, if it is one of its zones.
func ZoneRegion(zone string) (string, bool) {
	if len(zone) < 2 {
		return "", false
	}
	r := zone[:len(zone)-1]
	l := zone[len(zone)-1]
	if !Valid(r) || l < 'a' || l > 'c' {
		return "", false
	}
	return r, true
}

// Short abbreviates a region the way AWS zone IDs do: us-east-1 -> use1,
// ap-southeast-2 -> apse2, eu-central-1 -> euc1.
func Short(r string) string {
	parts := strings.Split(r, "-")
	if len(parts) < 3 {
		return r
	}
	var b strings.Builder
	b.WriteString(parts[0])
	for _, p := range parts[1 : len(parts)-1] {
		for _, dir := range []string{"north", "south", "east", "west", "central"} {
			if strings.HasPrefix(p, dir) {
				b.WriteByte(dir[0])
				p = p[len(dir):]
			}
		}
		b.WriteString(p)
	}
	b.WriteString(parts[len(parts)-1])
	return b.String()
}

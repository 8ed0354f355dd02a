package ec2

import (
	"context"

	"github.com/nimbus-dev/nimbus/internal/region"
	"github.com/nimbus-dev/nimbus/internal/service"
)

func (e *EC2) registerRegions(svc *service.Service) {
	svc.Handle("DescribeRegions", service.Op(e.describeRegions))
	svc.Handle("DescribeAvailabilityZones", service.Op(e.describeAvailabilityZones))
}

type describeRegionsInput struct {
	RegionNames []string
	Filters     []Filter
	AllRegions  bool
	DryRun      bool
}

type regionInfo struct {
	Endpoint    string
	RegionName  string
	OptInStatus string
}

type describeRegionsOutput struct {
	Regions []regionInfo
}

func (e *EC2) describeRegions(ctx context.Context, in *describeRegionsInput) (*describeRegionsOutput, error) {
	if in.DryRun {
		return nil, dryRun()
	}
	names := e.regions.Names()
	if len(in.RegionNames) > 0 {
		for _, n := range in.RegionNames {
			if !e.regions.Listed(n) {
				return nil, invalidParameter("Invalid region: %s", n)
			}
		}
		names = in.RegionNames
	}
	out := &describeRegionsOutput{Regions: []regionInfo{}}
	for _, n := range names {
		r := regionInfo{Endpoint: "ec2." + n + ".amazonaws.com", RegionName: n, OptInStatus: "opt-in-not-required"}
		ok, err := matchFilters(in.Filters, func(name string) ([]string, bool) {
			switch name {
			case "region-name":
				return []string{r.RegionName}, true
			case "endpoint":
				return []string{r.Endpoint}, true
			case "opt-in-status":
				return []string{r.OptInStatus}, true
			}
			return nil, false
		}, nil)
		if err != nil {
			return nil, err
		}
		if ok {
			out.Regions = append(out.Regions, r)
		}
	}
	return out, nil
}

type describeAvailabilityZonesInput struct {
	ZoneNames            []string
	ZoneIds              []string
	Filters              []Filter
	AllAvailabilityZones bool
	DryRun               bool
}

type availabilityZone struct {
	State              string
	OptInStatus        string
	Messages           []struct{}
	RegionName         string
	ZoneName           string
	ZoneId             string
	GroupName          string
	NetworkBorderGroup string
	ZoneType           string
}

type describeAvailabilityZonesOutput struct {
	AvailabilityZones []availabilityZone
}

func (e *EC2) describeAvailabilityZones(ctx context.Context, in *describeAvailabilityZonesInput) (*describeAvailabilityZonesOutput, error) {
	if in.DryRun {
		return nil, dryRun()
	}
	_, reg := partition(ctx)
	out := &describeAvailabilityZonesOutput{AvailabilityZones: []availabilityZone{}}
	zones := region.Zones(reg)
	for _, n := range in.ZoneNames {
		if !zoneKnown(zones, func(z region.Zone) bool { return z.Name == n }) {
			return nil, invalidParameter("The zone '%s' does not exist.", n)
		}
	}
	for _, id := range in.ZoneIds {
		if !zoneKnown(zones, func(z region.Zone) bool { return z.ID == id }) {
			return nil, invalidParameter("The zone ID '%s' does not exist.", id)
		}
	}
	for _, z := range zones {
		if len(in.ZoneNames) > 0 && !matchAny(in.ZoneNames, z.Name) {
			continue
		}
		if len(in.ZoneIds) > 0 && !matchAny(in.ZoneIds, z.ID) {
			continue
		}
		az := availabilityZone{State: "available", OptInStatus: "opt-in-not-required", Messages: []struct{}{},
			RegionName: reg, ZoneName: z.Name, ZoneId: z.ID, GroupName: reg, NetworkBorderGroup: reg,
			ZoneType: "availability-zone"}
		ok, err := matchFilters(in.Filters, func(name string) ([]string, bool) {
			switch name {
			case "zone-name":
				return []string{az.ZoneName}, true
			case "zone-id":
				return []string{az.ZoneId}, true
			case "region-name":
				return []string{az.RegionName}, true
			case "state":
				return []string{az.State}, true
			case "zone-type":
				return []string{az.ZoneType}, true
			case "group-name":
				return []string{az.GroupName}, true
			case "opt-in-status":
				return []string{az.OptInStatus}, true
			case "network-border-group":
				return []string{az.NetworkBorderGroup}, true
			}
			return nil, false
		}, nil)
		if err != nil {
			return nil, err
		}
		if ok {
			out.AvailabilityZones = append(out.AvailabilityZones, az)
		}
	}
	return out, nil
}

func zoneKnown(zones []region.Zone, pred func(region.Zone) bool) bool {
	for _, z := range zones {
		if pred(z) {
			return true
		}
	}
	return false
}

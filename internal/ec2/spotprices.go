package ec2

import (
	"context"
	"fmt"
	"hash/fnv"
	"math"
	"time"

	"github.com/nimbus-dev/nimbus/internal/region"
)

// spotPriceInterval is how often spot prices change.
const spotPriceInterval = time.Hour

// spotPriceAt is the spot price of a type in a zone at a time: between 26 %
// and 34 % of the on-demand price, drawn from a hash of the type, the zone
// and the hour, so every nimbus gives the same history and it varies.
func spotPriceAt(t instanceTypeInfo, zone string, at time.Time) float64 {
	h := fnv.New64a()
	fmt.Fprintf(h, "%s|%s|%d", t.Name, zone, at.Unix()/int64(spotPriceInterval/time.Second))
	frac := float64(h.Sum64()%10001) / 10000
	price := t.OnDemandPricePerHour * (0.26 + 0.08*frac)
	return math.Round(price*1e6) / 1e6
}

func formatPrice(p float64) string { return fmt.Sprintf("%.6f", p) }

type describeSpotPriceHistoryInput struct {
	AvailabilityZone    string
	StartTime           time.Time
	EndTime             time.Time
	InstanceTypes       []string
	ProductDescriptions []string
	Filters             []Filter
	MaxResults          int
	NextToken           string
	DryRun              bool
}

type spotPriceView struct {
	AvailabilityZone   string
	AvailabilityZoneId string
	InstanceType       string
	ProductDescription string
	SpotPrice          string
	Timestamp          time.Time
}

type describeSpotPriceHistoryOutput struct {
	SpotPriceHistory []spotPriceView
	NextToken        string `json:",omitempty"`
}

// maxSpotPricePoints bounds one history answer before paging, as a guard
// against a years-long window over every type.
const maxSpotPricePoints = 100000

// describeSpotPriceHistory lists, newest first, the price in force at the
// start of the window and every change inside it (now alone when no
// StartTime is given), for each type and zone asked for.
func (e *EC2) describeSpotPriceHistory(ctx context.Context, in *describeSpotPriceHistoryInput) (*describeSpotPriceHistoryOutput, error) {
	if err := checkMaxResults(in.MaxResults, 1, 1000); err != nil {
		return nil, err
	}
	if in.DryRun {
		return nil, dryRun()
	}
	_, reg := partition(ctx)
	now := time.Now().UTC()
	end := in.EndTime
	if end.IsZero() || end.After(now) {
		end = now
	}
	start := in.StartTime
	if start.IsZero() {
		start = end
	}
	if start.After(end) {
		return nil, invalidParameter("The start time must be before the end time.")
	}
	var types []instanceTypeInfo
	if len(in.InstanceTypes) == 0 {
		types = allInstanceTypes()
	}
	for _, name := range in.InstanceTypes {
		t, ok := lookupInstanceType(name)
		if !ok {
			return nil, invalidParameter("Invalid value '%s' for InstanceType.", name)
		}
		types = append(types, t)
	}
	var zones []region.Zone
	for _, z := range region.Zones(reg) {
		if in.AvailabilityZone == "" || z.Name == in.AvailabilityZone {
			zones = append(zones, z)
		}
	}
	if len(zones) == 0 {
		return nil, invalidParameter("Invalid availability zone: [%s]", in.AvailabilityZone)
	}
	step := int64(spotPriceInterval / time.Second)
	first := start.Unix() / step * step
	var points []spotPriceView
	for ts := end.Unix() / step * step; ts >= first; ts -= step {
		for _, t := range types {
			for _, z := range zones {
				at := time.Unix(ts, 0).UTC()
				points = append(points, spotPriceView{AvailabilityZone: z.Name, AvailabilityZoneId: z.ID, InstanceType: t.Name,
					ProductDescription: "Linux/UNIX", SpotPrice: formatPrice(spotPriceAt(t, z.Name, at)), Timestamp: at})
			}
		}
		if len(points) > maxSpotPricePoints {
			return nil, invalidParameter("The time window asks for more than %d prices; narrow it or name instance types.", maxSpotPricePoints)
		}
	}
	if len(in.ProductDescriptions) > 0 && !matchAny(in.ProductDescriptions, "Linux/UNIX") &&
		!matchAny(in.ProductDescriptions, "Linux/UNIX (Amazon VPC)") {
		points = nil
	}
	for i := range points {
		// Keys sort newest first, as EC2 lists its history.
		points[i].Timestamp = points[i].Timestamp.UTC()
	}
	key := func(p spotPriceView) string {
		return fmt.Sprintf("%020d|%s|%s", math.MaxInt64-p.Timestamp.Unix(), p.InstanceType, p.AvailabilityZone)
	}
	sortByKey(points, key)
	matched, err := matching(points, in.Filters, func(p spotPriceView) fields { return p.filterFields }, func(spotPriceView) []Tag { return nil })
	if err != nil {
		return nil, err
	}
	max := in.MaxResults
	if max == 0 {
		max = 1000
	}
	page, next, err := paginate(matched, max, in.NextToken, key)
	if err != nil {
		return nil, err
	}
	return &describeSpotPriceHistoryOutput{SpotPriceHistory: page, NextToken: next}, nil
}

func (p spotPriceView) filterFields(name string) ([]string, bool) {
	switch name {
	case "availability-zone":
		return []string{p.AvailabilityZone}, true
	case "instance-type":
		return []string{p.InstanceType}, true
	case "product-description":
		return []string{p.ProductDescription}, true
	case "spot-price":
		return []string{p.SpotPrice}, true
	case "timestamp":
		return []string{p.Timestamp.Format(time.RFC3339)}, true
	}
	return nil, false
}

// allInstanceTypes is the catalog in name order.
func allInstanceTypes() []instanceTypeInfo {
	out := make([]instanceTypeInfo, 0, len(instanceTypeNames))
	for _, n := range instanceTypeNames {
		out = append(out, instanceTypes[n])
	}
	return out
}

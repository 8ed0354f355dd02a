package ec2

import (
	"context"
	"slices"
	"testing"

	"github.com/nimbus-dev/nimbus/internal/awserr"
	"github.com/nimbus-dev/nimbus/internal/identity"
	"github.com/nimbus-dev/nimbus/internal/region"
	"github.com/nimbus-dev/nimbus/internal/service"
	"github.com/nimbus-dev/nimbus/internal/store/sqlitestore"
)

const catalogTestAccount = "000000000000"

// catalogEC2 is an EC2 with the catalog's operations registered over a
// temporary store, and no host.
func catalogEC2(t *testing.T) *EC2 {
	t.Helper()
	regions, err := region.NewCatalog(nil, false)
	if err != nil {
		t.Fatal(err)
	}
	svc, err := service.New("ec2")
	if err != nil {
		t.Fatal(err)
	}
	e := &EC2{store: sqlitestore.OpenTemp(t), regions: regions}
	e.registerCatalog(svc)
	if err := svc.Check(); err != nil {
		t.Fatal(err)
	}
	return e
}

// callIn is a request context of the test account in a region.
func callIn(region string) context.Context {
	return identity.With(context.Background(), &identity.Call{Region: region,
		Principal: &identity.Principal{Type: identity.Root, Account: catalogTestAccount}})
}

// wantCode fails the test unless err is an AWS error with that code.
func wantCode(t *testing.T, what string, err error, code string) {
	t.Helper()
	ae := awserr.As(err)
	if ae == nil || awserr.Resolve(awserr.FamilyEC2, ae).Code != code {
		t.Errorf("%s: got error %v, want code %s", what, err, code)
	}
}

func TestLookupInstanceType(t *testing.T) {
	cases := []struct {
		name      string
		vcpus     int
		memMiB    int64
		gpus      int
		storageGB int
		price     float64
	}{
		{"t3.nano", 2, 512, 0, 0, 0.0052},
		{"t3.micro", 2, 1024, 0, 0, 0.0104},
		{"t3.2xlarge", 8, 32768, 0, 0, 0.3328},
		{"t2.micro", 1, 1024, 0, 0, 0.0116},
		{"m1.small", 1, 1740, 0, 160, 0.044},
		{"m5.large", 2, 8192, 0, 0, 0.096},
		{"m5.24xlarge", 96, 393216, 0, 0, 4.608},
		{"c5.9xlarge", 36, 73728, 0, 0, 1.53},
		{"r5.large", 2, 16384, 0, 0, 0.126},
		{"g5.xlarge", 4, 16384, 1, 250, 1.006},
		{"g5.12xlarge", 48, 196608, 4, 3800, 5.672},
		{"g5.48xlarge", 192, 786432, 8, 7600, 16.288},
	}
	for _, tc := range cases {
		got, ok := lookupInstanceType(tc.name)
		if !ok {
			t.Errorf("%s: not in the catalog", tc.name)
			continue
		}
		if got.VCPUs != tc.vcpus || got.MemoryMiB != tc.memMiB || got.GPUs != tc.gpus ||
			got.InstanceStorageGB != tc.storageGB || got.OnDemandPricePerHour != tc.price {
			t.Errorf("%s = %+v", tc.name, got)
		}
	}
	if _, ok := lookupInstanceType("t3.mega"); ok {
		t.Error("t3.mega found")
	}
	if _, ok := lookupInstanceType(defaultInstanceType); !ok {
		t.Errorf("default type %s not in the catalog", defaultInstanceType)
	}
	// Every family the issue names is complete.
	for family, n := range map[string]int{"t3": 7, "m5": 8, "c5": 8, "r5": 8, "g5": 8} {
		count := 0
		for _, name := range instanceTypeNames {
			if instanceTypes[name].Family == family {
				count++
			}
		}
		if count != n {
			t.Errorf("family %s has %d sizes, want %d", family, count, n)
		}
	}
}

func names(ds []instanceTypeDescription) []string {
	var out []string
	for _, d := range ds {
		out = append(out, d.InstanceType)
	}
	return out
}

func TestDescribeInstanceTypes(t *testing.T) {
	e := catalogEC2(t)
	ctx := callIn("us-east-1")
	cases := []struct {
		name  string
		in    describeInstanceTypesInput
		want  []string
		count int // when want is nil
	}{
		{"all", describeInstanceTypesInput{}, nil, len(instanceTypeNames)},
		{"by name", describeInstanceTypesInput{InstanceTypes: []string{"t3.micro", "g5.xlarge"}}, []string{"g5.xlarge", "t3.micro"}, 0},
		{"96 vcpus", describeInstanceTypesInput{Filters: []Filter{{"vcpu-info.default-vcpus", []string{"96"}}}},
			[]string{"c5.24xlarge", "g5.24xlarge", "m5.24xlarge", "r5.24xlarge"}, 0},
		{"16 GiB", describeInstanceTypesInput{Filters: []Filter{{"memory-info.size-in-mib", []string{"16384"}}}},
			[]string{"c5.2xlarge", "g5.xlarge", "m5.xlarge", "r5.large", "t3.xlarge"}, 0},
		{"previous generation", describeInstanceTypesInput{Filters: []Filter{{"current-generation", []string{"false"}}}},
			[]string{"m1.small"}, 0},
		{"i386", describeInstanceTypesInput{Filters: []Filter{{"processor-info.supported-architecture", []string{"i386"}}}},
			[]string{"m1.small", "t2.micro"}, 0},
		{"wildcard and and", describeInstanceTypesInput{Filters: []Filter{{"instance-type", []string{"g5.*"}},
			{"gpu-info.total-gpu-memory-in-mib", []string{"98304"}}}}, []string{"g5.12xlarge", "g5.24xlarge"}, 0},
		{"free tier", describeInstanceTypesInput{Filters: []Filter{{"free-tier-eligible", []string{"true"}}}},
			[]string{"t2.micro", "t3.micro"}, 0},
	}
	for _, tc := range cases {
		out, err := e.describeInstanceTypes(ctx, &tc.in)
		if err != nil {
			t.Errorf("%s: %v", tc.name, err)
			continue
		}
		got := names(out.InstanceTypes)
		if tc.want != nil && !slices.Equal(got, tc.want) {
			t.Errorf("%s: got %v, want %v", tc.name, got, tc.want)
		}
		if tc.want == nil && len(got) != tc.count {
			t.Errorf("%s: got %d types, want %d", tc.name, len(got), tc.count)
		}
	}
	g5, err := e.describeInstanceTypes(ctx, &describeInstanceTypesInput{InstanceTypes: []string{"g5.48xlarge"}})
	if err != nil {
		t.Fatal(err)
	}
	gi := g5.InstanceTypes[0].GpuInfo
	if gi == nil || gi.Gpus[0].Name != "A10G" || gi.Gpus[0].Manufacturer != "NVIDIA" || gi.Gpus[0].Count != 8 || gi.TotalGpuMemoryInMiB != 8*24576 {
		t.Errorf("g5.48xlarge GpuInfo = %+v", gi)
	}
	if tm, _ := e.describeInstanceTypes(ctx, &describeInstanceTypesInput{InstanceTypes: []string{"t3.micro"}}); tm.InstanceTypes[0].GpuInfo != nil {
		t.Error("t3.micro has GpuInfo")
	}

	errs := []struct {
		name string
		in   describeInstanceTypesInput
		code string
	}{
		{"unknown type", describeInstanceTypesInput{InstanceTypes: []string{"t3.micro", "x9.huge"}}, "InvalidInstanceType"},
		{"unknown filter", describeInstanceTypesInput{Filters: []Filter{{"colour", []string{"blue"}}}}, "InvalidParameterValue"},
		{"max results too small", describeInstanceTypesInput{MaxResults: 4}, "InvalidParameterValue"},
		{"max results too large", describeInstanceTypesInput{MaxResults: 101}, "InvalidParameterValue"},
		{"bad token", describeInstanceTypesInput{NextToken: "garbage"}, "InvalidPaginationToken"},
		{"dry run", describeInstanceTypesInput{DryRun: true}, "DryRunOperation"},
	}
	for _, tc := range errs {
		_, err := e.describeInstanceTypes(ctx, &tc.in)
		wantCode(t, tc.name, err, tc.code)
	}
}

func TestDescribeInstanceTypesPages(t *testing.T) {
	e := catalogEC2(t)
	ctx := callIn("us-east-1")
	var got []string
	token := ""
	for pages := 0; ; pages++ {
		if pages > len(instanceTypeNames) {
			t.Fatal("pagination does not end")
		}
		out, err := e.describeInstanceTypes(ctx, &describeInstanceTypesInput{MaxResults: 5, NextToken: token})
		if err != nil {
			t.Fatal(err)
		}
		if len(out.InstanceTypes) > 5 {
			t.Fatalf("page of %d", len(out.InstanceTypes))
		}
		got = append(got, names(out.InstanceTypes)...)
		if out.NextToken == "" {
			break
		}
		token = out.NextToken
	}
	if !slices.Equal(got, instanceTypeNames) {
		t.Errorf("pages gave %v, want %v", got, instanceTypeNames)
	}
}

func TestDescribeInstanceTypeOfferings(t *testing.T) {
	e := catalogEC2(t)
	ctx := callIn("eu-west-1")
	zones := region.Zones("eu-west-1")
	cases := []struct {
		name      string
		in        describeInstanceTypeOfferingsInput
		count     int
		location  string
		locations int
	}{
		{"region", describeInstanceTypeOfferingsInput{}, len(instanceTypeNames), "eu-west-1", 1},
		{"zones", describeInstanceTypeOfferingsInput{LocationType: "availability-zone"}, len(zones) * len(instanceTypeNames), "", len(zones)},
		{"one type in one zone", describeInstanceTypeOfferingsInput{LocationType: "availability-zone",
			Filters: []Filter{{"location", []string{zones[1].Name}}, {"instance-type", []string{"t3.micro"}}}}, 1, zones[1].Name, 1},
		{"zone ids", describeInstanceTypeOfferingsInput{LocationType: "availability-zone-id",
			Filters: []Filter{{"instance-type", []string{"g5.*"}}}}, len(zones) * 8, "", len(zones)},
	}
	for _, tc := range cases {
		out, err := e.describeInstanceTypeOfferings(ctx, &tc.in)
		if err != nil {
			t.Errorf("%s: %v", tc.name, err)
			continue
		}
		locs := map[string]bool{}
		for _, o := range out.InstanceTypeOfferings {
			locs[o.Location] = true
			if tc.location != "" && o.Location != tc.location {
				t.Errorf("%s: location %s", tc.name, o.Location)
			}
			if want := tc.in.LocationType; want != "" && o.LocationType != want {
				t.Errorf("%s: location type %s", tc.name, o.LocationType)
			}
		}
		if len(out.InstanceTypeOfferings) != tc.count || len(locs) != tc.locations {
			t.Errorf("%s: %d offerings in %d locations, want %d in %d", tc.name, len(out.InstanceTypeOfferings), len(locs), tc.count, tc.locations)
		}
	}
	if out, _ := e.describeInstanceTypeOfferings(ctx, &describeInstanceTypeOfferingsInput{LocationType: "availability-zone-id"}); len(out.InstanceTypeOfferings) > 0 && out.InstanceTypeOfferings[0].Location != zones[0].ID {
		t.Errorf("zone-id offering location %s, want %s", out.InstanceTypeOfferings[0].Location, zones[0].ID)
	}
	// Pages over zones cover everything once.
	seen := map[string]bool{}
	token := ""
	for {
		out, err := e.describeInstanceTypeOfferings(ctx, &describeInstanceTypeOfferingsInput{LocationType: "availability-zone", MaxResults: 7, NextToken: token})
		if err != nil {
			t.Fatal(err)
		}
		for _, o := range out.InstanceTypeOfferings {
			k := o.Location + o.InstanceType
			if seen[k] {
				t.Fatalf("%s twice", k)
			}
			seen[k] = true
		}
		if token = out.NextToken; token == "" {
			break
		}
	}
	if len(seen) != len(zones)*len(instanceTypeNames) {
		t.Errorf("pages covered %d offerings", len(seen))
	}
	_, err := e.describeInstanceTypeOfferings(ctx, &describeInstanceTypeOfferingsInput{LocationType: "galaxy"})
	wantCode(t, "bad location type", err, "InvalidParameterValue")
}

package ec2

import (
	"context"
	"sort"
	"strconv"
	"strings"

	"github.com/nimbus-dev/nimbus/internal/awserr"
	"github.com/nimbus-dev/nimbus/internal/region"
	"github.com/nimbus-dev/nimbus/internal/service"
)

// defaultInstanceType is what RunInstances launches without InstanceType.
// AWS uses m1.small there, a previous-generation type; nimbus uses t3.micro,
// the smallest current general-purpose type that tools expect to exist.
const defaultInstanceType = "t3.micro"

// instanceTypeInfo is one entry of the catalog: AWS's published sizes and the
// us-east-1 on-demand Linux list price, which billing and spot pricing use.
type instanceTypeInfo struct {
	Name                 string
	Family               string
	VCPUs                int
	Cores                int
	ThreadsPerCore       int
	MemoryMiB            int64
	GPUs                 int
	GPUMemoryMiB         int64 // per GPU
	InstanceStorageGB    int
	InstanceStorageDisks int
	OnDemandPricePerHour float64
	Architectures        []string
	ClockGHz             float64
	CurrentGeneration    bool
	Burstable            bool
	FreeTier             bool
	Hypervisor           string
	NetworkPerformance   string
}

// instanceFamily describes what every size of a family shares.
type instanceFamily struct {
	name        string
	archs       []string
	clockGHz    float64
	current     bool
	burstable   bool
	hypervisor  string
	gpuMemMiB   int64
	threadsCore int
}

// size is one size of a family: vCPUs, memory, GPUs, instance storage
// (total GB over disks), price and network performance.
type size struct {
	suffix  string
	vcpus   int
	memMiB  int64
	gpus    int
	storeGB int
	disks   int
	price   float64
	network string
}

var (
	familyT3 = instanceFamily{name: "t3", archs: []string{"x86_64"}, clockGHz: 2.5, current: true, burstable: true, hypervisor: "nitro", threadsCore: 2}
	familyT2 = instanceFamily{name: "t2", archs: []string{"i386", "x86_64"}, clockGHz: 2.5, current: true, burstable: true, hypervisor: "xen", threadsCore: 1}
	familyM1 = instanceFamily{name: "m1", archs: []string{"i386", "x86_64"}, current: false, hypervisor: "xen", threadsCore: 1}
	familyM5 = instanceFamily{name: "m5", archs: []string{"x86_64"}, clockGHz: 3.1, current: true, hypervisor: "nitro", threadsCore: 2}
	familyC5 = instanceFamily{name: "c5", archs: []string{"x86_64"}, clockGHz: 3.4, current: true, hypervisor: "nitro", threadsCore: 2}
	familyR5 = instanceFamily{name: "r5", archs: []string{"x86_64"}, clockGHz: 3.1, current: true, hypervisor: "nitro", threadsCore: 2}
	// g5 carries NVIDIA A10G GPUs with 24 GiB each.
	familyG5 = instanceFamily{name: "g5", archs: []string{"x86_64"}, clockGHz: 3.3, current: true, hypervisor: "nitro", gpuMemMiB: 24576, threadsCore: 2}
)

var catalogSizes = []struct {
	family instanceFamily
	sizes  []size
}{
	{familyT3, []size{
		{"nano", 2, 512, 0, 0, 0, 0.0052, "Up to 5 Gigabit"},
		{"micro", 2, 1024, 0, 0, 0, 0.0104, "Up to 5 Gigabit"},
		{"small", 2, 2048, 0, 0, 0, 0.0208, "Up to 5 Gigabit"},
		{"medium", 2, 4096, 0, 0, 0, 0.0416, "Up to 5 Gigabit"},
		{"large", 2, 8192, 0, 0, 0, 0.0832, "Up to 5 Gigabit"},
		{"xlarge", 4, 16384, 0, 0, 0, 0.1664, "Up to 5 Gigabit"},
		{"2xlarge", 8, 32768, 0, 0, 0, 0.3328, "Up to 5 Gigabit"},
	}},
	{familyT2, []size{{"micro", 1, 1024, 0, 0, 0, 0.0116, "Low to Moderate"}}},
	{familyM1, []size{{"small", 1, 1740, 0, 160, 1, 0.044, "Low"}}},
	{familyM5, []size{
		{"large", 2, 8192, 0, 0, 0, 0.096, "Up to 10 Gigabit"},
		{"xlarge", 4, 16384, 0, 0, 0, 0.192, "Up to 10 Gigabit"},
		{"2xlarge", 8, 32768, 0, 0, 0, 0.384, "Up to 10 Gigabit"},
		{"4xlarge", 16, 65536, 0, 0, 0, 0.768, "Up to 10 Gigabit"},
		{"8xlarge", 32, 131072, 0, 0, 0, 1.536, "10 Gigabit"},
		{"12xlarge", 48, 196608, 0, 0, 0, 2.304, "12 Gigabit"},
		{"16xlarge", 64, 262144, 0, 0, 0, 3.072, "20 Gigabit"},
		{"24xlarge", 96, 393216, 0, 0, 0, 4.608, "25 Gigabit"},
	}},
	{familyC5, []size{
		{"large", 2, 4096, 0, 0, 0, 0.085, "Up to 10 Gigabit"},
		{"xlarge", 4, 8192, 0, 0, 0, 0.17, "Up to 10 Gigabit"},
		{"2xlarge", 8, 16384, 0, 0, 0, 0.34, "Up to 10 Gigabit"},
		{"4xlarge", 16, 32768, 0, 0, 0, 0.68, "Up to 10 Gigabit"},
		{"9xlarge", 36, 73728, 0, 0, 0, 1.53, "12 Gigabit"},
		{"12xlarge", 48, 98304, 0, 0, 0, 2.04, "12 Gigabit"},
		{"18xlarge", 72, 147456, 0, 0, 0, 3.06, "25 Gigabit"},
		{"24xlarge", 96, 196608, 0, 0, 0, 4.08, "25 Gigabit"},
	}},
	{familyR5, []size{
		{"large", 2, 16384, 0, 0, 0, 0.126, "Up to 10 Gigabit"},
		{"xlarge", 4, 32768, 0, 0, 0, 0.252, "Up to 10 Gigabit"},
		{"2xlarge", 8, 65536, 0, 0, 0, 0.504, "Up to 10 Gigabit"},
		{"4xlarge", 16, 131072, 0, 0, 0, 1.008, "Up to 10 Gigabit"},
		{"8xlarge", 32, 262144, 0, 0, 0, 2.016, "10 Gigabit"},
		{"12xlarge", 48, 393216, 0, 0, 0, 3.024, "12 Gigabit"},
		{"16xlarge", 64, 524288, 0, 0, 0, 4.032, "20 Gigabit"},
		{"24xlarge", 96, 786432, 0, 0, 0, 6.048, "25 Gigabit"},
	}},
	{familyG5, []size{
		{"xlarge", 4, 16384, 1, 250, 1, 1.006, "Up to 10 Gigabit"},
		{"2xlarge", 8, 32768, 1, 450, 1, 1.212, "Up to 10 Gigabit"},
		{"4xlarge", 16, 65536, 1, 600, 1, 1.624, "Up to 25 Gigabit"},
		{"8xlarge", 32, 131072, 1, 900, 1, 2.448, "25 Gigabit"},
		{"12xlarge", 48, 196608, 4, 3800, 1, 5.672, "40 Gigabit"},
		{"16xlarge", 64, 262144, 1, 1900, 1, 4.096, "25 Gigabit"},
		{"24xlarge", 96, 393216, 4, 3800, 1, 8.144, "50 Gigabit"},
		{"48xlarge", 192, 786432, 8, 7600, 2, 16.288, "100 Gigabit"},
	}},
}

// instanceTypes is the catalog by name, built once from catalogSizes.
var instanceTypes, instanceTypeNames = buildCatalog()

func buildCatalog() (map[string]instanceTypeInfo, []string) {
	m := map[string]instanceTypeInfo{}
	var names []string
	for _, fs := range catalogSizes {
		f := fs.family
		for _, s := range fs.sizes {
			t := instanceTypeInfo{
				Name: f.name + "." + s.suffix, Family: f.name, VCPUs: s.vcpus, ThreadsPerCore: f.threadsCore,
				MemoryMiB: s.memMiB, GPUs: s.gpus, InstanceStorageGB: s.storeGB, InstanceStorageDisks: s.disks,
				OnDemandPricePerHour: s.price, Architectures: f.archs, ClockGHz: f.clockGHz,
				CurrentGeneration: f.current, Burstable: f.burstable, Hypervisor: f.hypervisor,
				NetworkPerformance: s.network,
			}
			t.Cores = s.vcpus / f.threadsCore
			if s.gpus > 0 {
				t.GPUMemoryMiB = f.gpuMemMiB
			}
			t.FreeTier = t.Name == "t2.micro" || t.Name == "t3.micro"
			m[t.Name] = t
			names = append(names, t.Name)
		}
	}
	sort.Strings(names)
	return m, names
}

// lookupInstanceType returns the catalog entry of an instance type name.
func lookupInstanceType(name string) (instanceTypeInfo, bool) {
	t, ok := instanceTypes[name]
	return t, ok
}

func (e *EC2) registerInstanceTypes(svc *service.Service) {
	svc.Handle("DescribeInstanceTypes", service.Op(e.describeInstanceTypes))
	svc.Handle("DescribeInstanceTypeOfferings", service.Op(e.describeInstanceTypeOfferings))
}

type describeInstanceTypesInput struct {
	InstanceTypes []string
	Filters       []Filter
	MaxResults    int
	NextToken     string
	DryRun        bool
}

type vCpuInfo struct {
	DefaultVCpus          int
	DefaultCores          int
	DefaultThreadsPerCore int
	ValidCores            []int `json:",omitempty"`
	ValidThreadsPerCore   []int `json:",omitempty"`
}

type memoryInfo struct {
	SizeInMiB int64
}

type processorInfo struct {
	SupportedArchitectures   []string
	SustainedClockSpeedInGhz float64 `json:",omitempty"`
	Manufacturer             string  `json:",omitempty"`
}

type gpuDeviceInfo struct {
	Name         string
	Manufacturer string
	Count        int
	MemoryInfo   memoryInfo
}

type gpuInfo struct {
	Gpus                []gpuDeviceInfo
	TotalGpuMemoryInMiB int64
}

type diskInfo struct {
	SizeInGB int
	Count    int
	Type     string
}

type instanceStorageInfo struct {
	TotalSizeInGB int
	Disks         []diskInfo
	NvmeSupport   string
}

type ebsInfo struct {
	EbsOptimizedSupport string
	EncryptionSupport   string
	NvmeSupport         string
}

type networkInfo struct {
	NetworkPerformance        string
	MaximumNetworkInterfaces  int
	Ipv4AddressesPerInterface int
	Ipv6Supported             bool
	EnaSupport                string
}

type instanceTypeDescription struct {
	InstanceType                  string
	CurrentGeneration             bool
	FreeTierEligible              bool
	SupportedUsageClasses         []string
	SupportedRootDeviceTypes      []string
	SupportedVirtualizationTypes  []string
	BareMetal                     bool
	Hypervisor                    string
	ProcessorInfo                 processorInfo
	VCpuInfo                      vCpuInfo
	MemoryInfo                    memoryInfo
	InstanceStorageSupported      bool
	InstanceStorageInfo           *instanceStorageInfo `json:",omitempty"`
	EbsInfo                       ebsInfo
	NetworkInfo                   networkInfo
	GpuInfo                       *gpuInfo `json:",omitempty"`
	BurstablePerformanceSupported bool
	AutoRecoverySupported         bool
	HibernationSupported          bool
	DedicatedHostsSupported       bool
	SupportedBootModes            []string
}

type describeInstanceTypesOutput struct {
	InstanceTypes []instanceTypeDescription
	NextToken     string `json:",omitempty"`
}

// describe renders a catalog entry as DescribeInstanceTypes shows it.
func (t instanceTypeInfo) describe() instanceTypeDescription {
	d := instanceTypeDescription{
		InstanceType: t.Name, CurrentGeneration: t.CurrentGeneration, FreeTierEligible: t.FreeTier,
		SupportedUsageClasses: []string{"on-demand", "spot"}, SupportedRootDeviceTypes: []string{"ebs"},
		SupportedVirtualizationTypes: []string{"hvm"}, Hypervisor: t.Hypervisor,
		ProcessorInfo: processorInfo{SupportedArchitectures: t.Architectures, SustainedClockSpeedInGhz: t.ClockGHz, Manufacturer: "Intel"},
		VCpuInfo:      vCpuInfo{DefaultVCpus: t.VCPUs, DefaultCores: t.Cores, DefaultThreadsPerCore: t.ThreadsPerCore},
		MemoryInfo:    memoryInfo{SizeInMiB: t.MemoryMiB},
		EbsInfo:       ebsInfo{EbsOptimizedSupport: "default", EncryptionSupport: "supported", NvmeSupport: "required"},
		NetworkInfo: networkInfo{NetworkPerformance: t.NetworkPerformance, MaximumNetworkInterfaces: 3,
			Ipv4AddressesPerInterface: 10, Ipv6Supported: true, EnaSupport: "required"},
		BurstablePerformanceSupported: t.Burstable, AutoRecoverySupported: t.InstanceStorageGB == 0,
		HibernationSupported: t.Family != "g5", DedicatedHostsSupported: !t.Burstable,
		SupportedBootModes: []string{"legacy-bios", "uefi"},
	}
	if t.Hypervisor == "xen" {
		d.SupportedVirtualizationTypes = []string{"hvm", "paravirtual"}
		d.EbsInfo = ebsInfo{EbsOptimizedSupport: "unsupported", EncryptionSupport: "supported", NvmeSupport: "unsupported"}
		d.NetworkInfo.EnaSupport = "unsupported"
		d.NetworkInfo.Ipv6Supported = t.Family != "m1"
		d.SupportedBootModes = []string{"legacy-bios"}
	}
	if t.InstanceStorageGB > 0 {
		d.InstanceStorageSupported = true
		disk := diskInfo{SizeInGB: t.InstanceStorageGB / t.InstanceStorageDisks, Count: t.InstanceStorageDisks, Type: "ssd"}
		nvme := "required"
		if t.Family == "m1" {
			disk.Type, nvme = "hdd", "unsupported"
			d.SupportedRootDeviceTypes = []string{"ebs", "instance-store"}
		}
		d.InstanceStorageInfo = &instanceStorageInfo{TotalSizeInGB: t.InstanceStorageGB, Disks: []diskInfo{disk}, NvmeSupport: nvme}
	}
	if t.GPUs > 0 {
		d.GpuInfo = &gpuInfo{
			Gpus:                []gpuDeviceInfo{{Name: "A10G", Manufacturer: "NVIDIA", Count: t.GPUs, MemoryInfo: memoryInfo{SizeInMiB: t.GPUMemoryMiB}}},
			TotalGpuMemoryInMiB: t.GPUMemoryMiB * int64(t.GPUs),
		}
		d.ProcessorInfo.Manufacturer = "AMD"
	}
	return d
}

// fields answers DescribeInstanceTypes filter names for one type.
func (d instanceTypeDescription) fields(name string) ([]string, bool) {
	b := strconv.FormatBool
	i := func(n int) string { return strconv.Itoa(n) }
	switch name {
	case "instance-type":
		return []string{d.InstanceType}, true
	case "current-generation":
		return []string{b(d.CurrentGeneration)}, true
	case "free-tier-eligible":
		return []string{b(d.FreeTierEligible)}, true
	case "bare-metal":
		return []string{b(d.BareMetal)}, true
	case "burstable-performance-supported":
		return []string{b(d.BurstablePerformanceSupported)}, true
	case "hibernation-supported":
		return []string{b(d.HibernationSupported)}, true
	case "dedicated-hosts-supported":
		return []string{b(d.DedicatedHostsSupported)}, true
	case "auto-recovery-supported":
		return []string{b(d.AutoRecoverySupported)}, true
	case "hypervisor":
		return []string{d.Hypervisor}, true
	case "instance-storage-supported":
		return []string{b(d.InstanceStorageSupported)}, true
	case "instance-storage-info.total-size-in-gb":
		if d.InstanceStorageInfo == nil {
			return nil, true
		}
		return []string{i(d.InstanceStorageInfo.TotalSizeInGB)}, true
	case "memory-info.size-in-mib":
		return []string{strconv.FormatInt(d.MemoryInfo.SizeInMiB, 10)}, true
	case "vcpu-info.default-vcpus":
		return []string{i(d.VCpuInfo.DefaultVCpus)}, true
	case "vcpu-info.default-cores":
		return []string{i(d.VCpuInfo.DefaultCores)}, true
	case "vcpu-info.default-threads-per-core":
		return []string{i(d.VCpuInfo.DefaultThreadsPerCore)}, true
	case "processor-info.supported-architecture":
		return d.ProcessorInfo.SupportedArchitectures, true
	case "processor-info.sustained-clock-speed-in-ghz":
		return []string{strconv.FormatFloat(d.ProcessorInfo.SustainedClockSpeedInGhz, 'f', -1, 64)}, true
	case "supported-usage-class":
		return d.SupportedUsageClasses, true
	case "supported-root-device-type":
		return d.SupportedRootDeviceTypes, true
	case "supported-virtualization-type":
		return d.SupportedVirtualizationTypes, true
	case "supported-boot-mode":
		return d.SupportedBootModes, true
	case "network-info.network-performance":
		return []string{d.NetworkInfo.NetworkPerformance}, true
	case "network-info.ena-support":
		return []string{d.NetworkInfo.EnaSupport}, true
	case "ebs-info.ebs-optimized-support":
		return []string{d.EbsInfo.EbsOptimizedSupport}, true
	case "gpu-info.total-gpu-memory-in-mib":
		if d.GpuInfo == nil {
			return nil, true
		}
		return []string{strconv.FormatInt(d.GpuInfo.TotalGpuMemoryInMiB, 10)}, true
	}
	return nil, false
}

func (e *EC2) describeInstanceTypes(ctx context.Context, in *describeInstanceTypesInput) (*describeInstanceTypesOutput, error) {
	if err := checkMaxResults(in.MaxResults, 5, 100); err != nil {
		return nil, err
	}
	var unknown []string
	for _, n := range in.InstanceTypes {
		if _, ok := lookupInstanceType(n); !ok {
			unknown = append(unknown, n)
		}
	}
	if len(unknown) > 0 {
		return nil, awserr.New(awserr.Validation, "InvalidInstanceType",
			"The following supplied instance types do not exist: [%s]", strings.Join(unknown, ", "))
	}
	if in.DryRun {
		return nil, dryRun()
	}
	var matched []instanceTypeDescription
	for _, n := range instanceTypeNames {
		if len(in.InstanceTypes) > 0 && !matchAny(in.InstanceTypes, n) {
			continue
		}
		d := instanceTypes[n].describe()
		ok, err := matchFilters(in.Filters, d.fields, nil)
		if err != nil {
			return nil, err
		}
		if ok {
			matched = append(matched, d)
		}
	}
	page, next, err := paginate(matched, in.MaxResults, in.NextToken, func(d instanceTypeDescription) string { return d.InstanceType })
	if err != nil {
		return nil, err
	}
	return &describeInstanceTypesOutput{InstanceTypes: page, NextToken: next}, nil
}

type describeInstanceTypeOfferingsInput struct {
	LocationType string
	Filters      []Filter
	MaxResults   int
	NextToken    string
	DryRun       bool
}

type instanceTypeOffering struct {
	InstanceType string
	LocationType string
	Location     string
}

type describeInstanceTypeOfferingsOutput struct {
	InstanceTypeOfferings []instanceTypeOffering
	NextToken             string `json:",omitempty"`
}

func (e *EC2) describeInstanceTypeOfferings(ctx context.Context, in *describeInstanceTypeOfferingsInput) (*describeInstanceTypeOfferingsOutput, error) {
	if err := checkMaxResults(in.MaxResults, 5, 1000); err != nil {
		return nil, err
	}
	_, reg := partition(ctx)
	var locations []string
	switch in.LocationType {
	case "", "region":
		in.LocationType = "region"
		locations = []string{reg}
	case "availability-zone", "availability-zone-id":
		for _, z := range region.Zones(reg) {
			if in.LocationType == "availability-zone" {
				locations = append(locations, z.Name)
			} else {
				locations = append(locations, z.ID)
			}
		}
	default:
		return nil, invalidParameter("Value (%s) for parameter locationType is invalid. Valid values are region, availability-zone, availability-zone-id.", in.LocationType)
	}
	if in.DryRun {
		return nil, dryRun()
	}
	var matched []instanceTypeOffering
	for _, loc := range locations {
		for _, n := range instanceTypeNames {
			o := instanceTypeOffering{InstanceType: n, LocationType: in.LocationType, Location: loc}
			ok, err := matchFilters(in.Filters, func(name string) ([]string, bool) {
				switch name {
				case "location":
					return []string{o.Location}, true
				case "instance-type":
					return []string{o.InstanceType}, true
				}
				return nil, false
			}, nil)
			if err != nil {
				return nil, err
			}
			if ok {
				matched = append(matched, o)
			}
		}
	}
	offeringKey := func(o instanceTypeOffering) string { return o.Location + "/" + o.InstanceType }
	sortByKey(matched, offeringKey)
	page, next, err := paginate(matched, in.MaxResults, in.NextToken, offeringKey)
	if err != nil {
		return nil, err
	}
	return &describeInstanceTypeOfferingsOutput{InstanceTypeOfferings: page, NextToken: next}, nil
}

// registerCatalog registers the instance-type catalog and the resources
// instances depend on: tags, images and security groups.
func (e *EC2) registerCatalog(svc *service.Service) {
	e.registerInstanceTypes(svc)
	e.registerTags(svc)
	e.registerImages(svc)
	e.registerSecurityGroups(svc)
}

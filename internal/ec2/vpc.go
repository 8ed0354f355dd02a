package ec2

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strings"
)

// Every account has a default VPC in each region, 172.31.0.0/16, with a
// default /20 subnet per availability zone (a: 172.31.0.0/20, b: .16.0/20,
// c: .32.0/20, and so on), as on AWS. Their IDs are derived from the account
// and the region or zone, so they need no stored state and are the same on
// every nimbus start. The VPC API itself (DescribeVpcs, CreateSubnet...) is
// a later issue; these are the identifiers instances and security groups
// refer to meanwhile.

// defaultVPCCIDR is the address range of every default VPC.
const defaultVPCCIDR = "172.31.0.0/16"

// defaultVPCID returns the ID of the default VPC of account in region.
func defaultVPCID(account, region string) string {
	return derivedID("vpc", "default-vpc", account, region)
}

// defaultSubnet returns the ID and CIDR of the default subnet of account in
// zone (a zone name such as us-east-1a). The third octet steps by 16 per zone
// letter.
func defaultSubnet(account, zone string) (subnetID, cidr string) {
	index := 0
	if zone != "" {
		last := zone[len(zone)-1]
		if last >= 'a' && last <= 'p' {
			index = int(last - 'a')
		}
	}
	return derivedID("subnet", "default-subnet", account, zone), fmt.Sprintf("172.31.%d.0/20", index*16)
}

// derivedID is an EC2 resource ID (prefix, dash, 17 hex digits) that is a
// hash of its parts, for resources whose identity is fixed by what they are.
func derivedID(prefix string, parts ...string) string {
	sum := sha256.Sum256([]byte(strings.Join(parts, "\x00")))
	return prefix + "-" + hex.EncodeToString(sum[:])[:17]
}

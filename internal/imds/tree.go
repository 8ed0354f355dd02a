package imds

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
)

// node is one entry of the metadata tree: a directory (children) or a leaf
// (value). Trees are built per request from the Instance, so they always
// show its current state and need no invalidation.
type node struct {
	children map[string]*node
	// listing replaces the generated listing where EC2 lists something other
	// than the child names (public-keys/ lists "0=name").
	listing []string
	// subdir builds a directory on first use, so a request for one leaf
	// does not build every subtree beside it.
	subdir func() *node
	// A leaf is either static or computed by value (role credentials).
	static []byte
	value  func(ctx context.Context) ([]byte, error)
	// contentType of a leaf; text/plain when empty.
	contentType string
}

func dir(children map[string]*node) *node { return &node{children: children} }

func lazyDir(build func() *node) *node { return &node{subdir: build} }

func text(s string) *node { return &node{static: []byte(s)} }

func lines(items []string) *node { return text(strings.Join(items, "\n")) }

func (n *node) isDir() bool { return n.children != nil || n.subdir != nil }

// read returns a leaf's content.
func (n *node) read(ctx context.Context) ([]byte, error) {
	if n.value != nil {
		return n.value(ctx)
	}
	return n.static, nil
}

// list renders a directory as EC2 does: one entry a line, sorted,
// sub-directories with a trailing slash, no final newline.
func (n *node) list() []byte {
	if n.listing != nil {
		return []byte(strings.Join(n.listing, "\n"))
	}
	names := make([]string, 0, len(n.children))
	for name, child := range n.children {
		if child.isDir() {
			name += "/"
		}
		names = append(names, name)
	}
	slices.Sort(names)
	return []byte(strings.Join(names, "\n"))
}

// walk follows path segments from n; nil when there is no such entry.
func (n *node) walk(segments []string) *node {
	for _, s := range segments {
		if s == "" {
			continue // tolerate doubled and trailing slashes
		}
		if !n.isDir() {
			return nil
		}
		next, ok := n.children[s]
		if !ok {
			return nil
		}
		n = next
		if n.subdir != nil {
			n = n.subdir()
		}
	}
	return n
}

// metaDataTree is /latest/meta-data/ for one instance.
func metaDataTree(in *Instance) *node {
	root := map[string]*node{
		"ami-id":               text(in.ImageID),
		"ami-launch-index":     text(strconv.Itoa(in.LaunchIndex)),
		"ami-manifest-path":    text("(unknown)"), // what EC2 shows for EBS-backed AMIs
		"block-device-mapping": lazyDir(func() *node { return blockDeviceMapping(in) }),
		"events":               lazyDir(events),
		"hostname":             text(in.hostname()),
		"instance-action":      text("none"),
		"instance-id":          text(in.InstanceID),
		"instance-life-cycle":  text(in.lifecycle()),
		"instance-type":        text(in.InstanceType),
		"local-hostname":       text(in.hostname()),
		"mac":                  text(in.mac()),
		"network":              lazyDir(func() *node { return networkTree(in) }),
		"placement":            lazyDir(func() *node { return placement(in) }),
		"profile":              text("default-hvm"),
		"reservation-id":       text(in.ReservationID),
		"security-groups":      lines(groupNames(in.SecurityGroups)),
		"services":             lazyDir(func() *node { return services(in.Region) }),
	}
	if in.PrivateIP.IsValid() {
		root["local-ipv4"] = text(in.PrivateIP.String())
	}
	if len(in.PublicKeys) > 0 {
		root["public-keys"] = lazyDir(func() *node { return publicKeys(in.PublicKeys) })
	}
	if in.SpotAction != nil {
		root["spot"] = lazyDir(func() *node { return spot(in.SpotAction) })
	}
	if in.IAM != nil {
		root["iam"] = lazyDir(func() *node { return iam(in.IAM) })
	}
	if in.Options.InstanceMetadataTags {
		root["tags"] = lazyDir(func() *node {
			tags := make(map[string]*node, len(in.Tags))
			for k, v := range in.Tags {
				tags[k] = text(v)
			}
			return dir(map[string]*node{"instance": dir(tags)})
		})
	}
	return dir(root)
}

func events() *node {
	return dir(map[string]*node{"maintenance": dir(map[string]*node{
		"history":   text("[]"),
		"scheduled": text("[]"),
	})})
}

func services(region string) *node {
	return dir(map[string]*node{
		"domain":    text(domainFor(region)),
		"partition": text(partitionFor(region)),
	})
}

func blockDeviceMapping(in *Instance) *node {
	m := map[string]*node{
		"ami":  text(in.rootDevice()),
		"root": text(in.rootDevice()),
	}
	for name, dev := range in.EBSDevices {
		m[name] = text(dev)
	}
	return dir(m)
}

func networkTree(in *Instance) *node {
	mac := in.mac()
	iface := map[string]*node{
		"device-number":      text("0"),
		"local-hostname":     text(in.hostname()),
		"mac":                text(mac),
		"security-groups":    lines(groupNames(in.SecurityGroups)),
		"security-group-ids": lines(groupIDs(in.SecurityGroups)),
	}
	optional := map[string]string{
		"interface-id":           in.InterfaceID,
		"owner-id":               in.AccountID,
		"subnet-id":              in.SubnetID,
		"subnet-ipv4-cidr-block": in.SubnetCIDR,
		"vpc-id":                 in.VPCID,
		"vpc-ipv4-cidr-block":    in.VPCCIDR,
		"vpc-ipv4-cidr-blocks":   in.VPCCIDR,
	}
	for k, v := range optional {
		if v != "" {
			iface[k] = text(v)
		}
	}
	if in.PrivateIP.IsValid() {
		iface["local-ipv4s"] = text(in.PrivateIP.String())
	}
	return dir(map[string]*node{"interfaces": dir(map[string]*node{
		"macs": dir(map[string]*node{mac: dir(iface)}),
	})})
}

func placement(in *Instance) *node {
	m := map[string]*node{
		"availability-zone": text(in.AvailabilityZone),
		"region":            text(in.Region),
	}
	if in.AvailabilityZoneID != "" {
		m["availability-zone-id"] = text(in.AvailabilityZoneID)
	}
	return dir(m)
}

// publicKeys lists "0=name" a line; each index is a directory holding
// openssh-key.
func publicKeys(keys []PublicKey) *node {
	children := make(map[string]*node, len(keys))
	listing := make([]string, len(keys))
	for i, k := range keys {
		idx := strconv.Itoa(i)
		children[idx] = dir(map[string]*node{"openssh-key": text(k.OpenSSH)})
		listing[i] = idx + "=" + k.Name
	}
	return &node{children: children, listing: listing}
}

func spot(a *SpotAction) *node {
	when := a.Time.UTC().Format(time.RFC3339)
	m := map[string]*node{
		"instance-action": text(fmt.Sprintf(`{"action": %q, "time": %q}`, a.Action, when)),
	}
	// termination-time predates instance-action and is only set for
	// interruptions that end the instance's run.
	if a.Action == "terminate" || a.Action == "stop" {
		m["termination-time"] = text(when)
	}
	return dir(m)
}

func iam(p *IAMProfile) *node {
	creds := func(ctx context.Context) (*RoleCredentials, error) {
		if p.Credentials == nil {
			return nil, fmt.Errorf("role %s: %w", p.RoleName, ErrNoCredentials)
		}
		c, err := p.Credentials(ctx)
		if err != nil {
			return nil, fmt.Errorf("credentials for role %s: %w", p.RoleName, err)
		}
		return c, nil
	}
	info := &node{value: func(ctx context.Context) ([]byte, error) {
		c, err := creds(ctx)
		if err != nil {
			return nil, err
		}
		return prettyJSON([]field{
			{"Code", "Success"},
			{"LastUpdated", stamp(c.LastUpdated)},
			{"InstanceProfileArn", p.InstanceProfileArn},
			{"InstanceProfileId", p.InstanceProfileID},
		}), nil
	}}
	role := &node{value: func(ctx context.Context) ([]byte, error) {
		c, err := creds(ctx)
		if err != nil {
			return nil, err
		}
		return prettyJSON([]field{
			{"Code", "Success"},
			{"LastUpdated", stamp(c.LastUpdated)},
			{"Type", "AWS-HMAC"},
			{"AccessKeyId", c.AccessKeyID},
			{"SecretAccessKey", c.SecretAccessKey},
			{"Token", c.Token},
			{"Expiration", stamp(c.Expiration)},
		}), nil
	}}
	return dir(map[string]*node{
		"info":                 info,
		"security-credentials": dir(map[string]*node{p.RoleName: role}),
	})
}

// dynamicTree is /latest/dynamic/. Only the identity document is served:
// its pkcs7, signature and rsa2048 siblings would need AWS's signing keys.
func dynamicTree(in *Instance) *node {
	return dir(map[string]*node{"instance-identity": dir(map[string]*node{
		"document": {value: func(context.Context) ([]byte, error) { return identityDocument(in), nil }},
	})})
}

// identityDocument renders the document in EC2's field order and layout.
func identityDocument(in *Instance) []byte {
	var ip any
	if in.PrivateIP.IsValid() {
		ip = in.PrivateIP.String()
	}
	return prettyJSON([]field{
		{"accountId", in.AccountID},
		{"architecture", in.architecture()},
		{"availabilityZone", in.AvailabilityZone},
		{"billingProducts", nil},
		{"devpayProductCodes", nil},
		{"marketplaceProductCodes", nil},
		{"imageId", in.ImageID},
		{"instanceId", in.InstanceID},
		{"instanceType", in.InstanceType},
		{"kernelId", nil},
		{"pendingTime", stamp(in.PendingTime)},
		{"privateIp", ip},
		{"ramdiskId", nil},
		{"region", in.Region},
		{"version", "2017-09-30"},
	})
}

func stamp(t time.Time) string { return t.UTC().Format(time.RFC3339) }

func groupNames(gs []SecurityGroup) []string {
	out := make([]string, 0, len(gs))
	for _, g := range gs {
		out = append(out, g.Name)
	}
	return out
}

func groupIDs(gs []SecurityGroup) []string {
	out := make([]string, 0, len(gs))
	for _, g := range gs {
		out = append(out, g.ID)
	}
	return out
}

func partitionFor(region string) string {
	switch {
	case strings.HasPrefix(region, "cn-"):
		return "aws-cn"
	case strings.HasPrefix(region, "us-gov-"):
		return "aws-us-gov"
	}
	return "aws"
}

func domainFor(region string) string {
	if strings.HasPrefix(region, "cn-") {
		return "amazonaws.com.cn"
	}
	return "amazonaws.com"
}

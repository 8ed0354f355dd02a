package iam

import (
	"fmt"
	"strings"

	"github.com/nimbus-dev/nimbus/internal/identity"
)

// actionPrefix maps a signing name to its IAM action prefix where they differ.
var actionPrefix = map[string]string{"execute-api": "execute-api", "monitoring": "cloudwatch"}

// actionNames maps operations whose IAM action is not their own name.
var actionNames = map[string]string{
	"lambda:Invoke":                   "lambda:InvokeFunction",
	"lambda:InvokeWithResponseStream": "lambda:InvokeFunction",
	"lambda:InvokeAsync":              "lambda:InvokeAsync",
	"s3:ListObjectsV2":                "s3:ListBucket",
	"s3:ListObjects":                  "s3:ListBucket",
	"s3:HeadBucket":                   "s3:ListBucket",
	"s3:HeadObject":                   "s3:GetObject",
	"s3:ListBuckets":                  "s3:ListAllMyBuckets",
	"s3:DeleteObjects":                "s3:DeleteObject",
	"s3:CopyObject":                   "s3:PutObject",
	"s3:CreateMultipartUpload":        "s3:PutObject",
	"s3:UploadPart":                   "s3:PutObject",
	"s3:UploadPartCopy":               "s3:PutObject",
	"s3:CompleteMultipartUpload":      "s3:PutObject",
	"s3:ListParts":                    "s3:ListMultipartUploadParts",
	"s3:ListMultipartUploads":         "s3:ListBucketMultipartUploads",
	"s3:ListObjectVersions":           "s3:ListBucketVersions",
	"s3:GetObjectAttributes":          "s3:GetObject",
	"s3:GetBucketLocation":            "s3:GetBucketLocation",
}

// ActionFor is the IAM action of an operation of a service (by signing
// name): ec2:RunInstances, lambda:InvokeFunction, s3:ListBucket.
func ActionFor(signingName, operation string) string {
	prefix := signingName
	if p, ok := actionPrefix[signingName]; ok {
		prefix = p
	}
	a := prefix + ":" + operation
	if mapped, ok := actionNames[a]; ok {
		return mapped
	}
	return a
}

// ResourcesFor returns the ARNs an operation acts on, best effort per
// service, from its decoded input: "*" when the operation names no
// resource (Describe and List calls, creations before an ID exists).
func ResourcesFor(signingName, operation string, in map[string]any, call *identity.Call, p *identity.Principal) []string {
	acct, region := p.Account, call.Region
	str := func(name string) string { s, _ := in[name].(string); return s }
	strs := func(name string) []string {
		l, _ := in[name].([]any)
		out := make([]string, 0, len(l))
		for _, v := range l {
			if s, ok := v.(string); ok {
				out = append(out, s)
			}
		}
		return out
	}
	switch signingName {
	case "ec2":
		return ec2Resources(operation, region, acct, str, strs)
	case "lambda":
		fn := str("FunctionName")
		if fn == "" {
			return []string{"*"}
		}
		return []string{lambdaFunctionARN(fn, region, acct)}
	case "batch":
		base := fmt.Sprintf("arn:aws:batch:%s:%s:", region, acct)
		for _, f := range []struct{ member, kind string }{{"jobQueue", "job-queue/"}, {"computeEnvironment", "compute-environment/"},
			{"jobDefinition", "job-definition/"}, {"jobId", "job/"}, {"jobQueueName", "job-queue/"},
			{"computeEnvironmentName", "compute-environment/"}, {"jobDefinitionName", "job-definition/"}} {
			if v := str(f.member); v != "" {
				if strings.HasPrefix(v, "arn:") {
					return []string{v}
				}
				return []string{base + f.kind + v}
			}
		}
		return []string{"*"}
	case "s3":
		bucket, key := str("Bucket"), str("Key")
		switch {
		case bucket == "":
			return []string{"*"}
		case key != "":
			return []string{"arn:aws:s3:::" + bucket + "/" + key}
		}
		return []string{"arn:aws:s3:::" + bucket}
	case "iam":
		return iamResources(operation, acct, str, p)
	case "sts":
		if operation == "AssumeRole" && str("RoleArn") != "" {
			return []string{str("RoleArn")}
		}
		return []string{"*"}
	case "logs":
		if g := str("logGroupName"); g != "" {
			return []string{fmt.Sprintf("arn:aws:logs:%s:%s:log-group:%s", region, acct, g)}
		}
	}
	return []string{"*"}
}

func lambdaFunctionARN(fn, region, acct string) string {
	if strings.HasPrefix(fn, "arn:") {
		return fn
	}
	// A partial ARN (ACCOUNT:function:NAME) or a NAME[:QUALIFIER].
	if strings.Contains(fn, ":function:") {
		return "arn:aws:lambda:" + region + ":" + fn
	}
	return fmt.Sprintf("arn:aws:lambda:%s:%s:function:%s", region, acct, fn)
}

// ec2IDKinds maps EC2 ID members to their ARN resource types.
var ec2IDKinds = []struct{ member, kind string }{
	{"InstanceId", "instance"}, {"InstanceIds", "instance"}, {"VolumeId", "volume"}, {"VolumeIds", "volume"},
	{"GroupId", "security-group"}, {"GroupIds", "security-group"}, {"VpcId", "vpc"}, {"SubnetId", "subnet"},
	{"KeyName", "key-pair"}, {"SnapshotId", "snapshot"}, {"NetworkInterfaceId", "network-interface"},
}

func ec2Resources(op, region, acct string, str func(string) string, strs func(string) []string) []string {
	if strings.HasPrefix(op, "Describe") {
		return []string{"*"}
	}
	if op == "RunInstances" {
		return []string{fmt.Sprintf("arn:aws:ec2:%s:%s:instance/*", region, acct)}
	}
	if op == "CreateTags" || op == "DeleteTags" {
		var out []string
		for _, id := range strs("Resources") {
			out = append(out, ec2ARNForID(id, region, acct))
		}
		if len(out) > 0 {
			return out
		}
	}
	for _, f := range ec2IDKinds {
		ids := strs(f.member)
		if s := str(f.member); s != "" {
			ids = []string{s}
		}
		if len(ids) == 0 {
			continue
		}
		out := make([]string, 0, len(ids))
		for _, id := range ids {
			out = append(out, "arn:aws:ec2:"+region+":"+acct+":"+f.kind+"/"+id)
		}
		return out
	}
	if id := str("ImageId"); id != "" {
		return []string{fmt.Sprintf("arn:aws:ec2:%s::image/%s", region, id)}
	}
	return []string{"*"}
}

// ec2ARNForID names an EC2 resource from its ID's prefix.
func ec2ARNForID(id, region, acct string) string {
	kinds := map[string]string{"i": "instance", "vol": "volume", "sg": "security-group", "vpc": "vpc", "subnet": "subnet",
		"snap": "snapshot", "eni": "network-interface", "key": "key-pair", "igw": "internet-gateway", "rtb": "route-table"}
	prefix, _, _ := strings.Cut(id, "-")
	if prefix == "ami" {
		return fmt.Sprintf("arn:aws:ec2:%s::image/%s", region, id)
	}
	if k, ok := kinds[prefix]; ok {
		return fmt.Sprintf("arn:aws:ec2:%s:%s:%s/%s", region, acct, k, id)
	}
	return "*"
}

func iamResources(op, acct string, str func(string) string, p *identity.Principal) []string {
	base := "arn:aws:iam::" + acct + ":"
	switch {
	case str("PolicyArn") != "" && str("UserName") == "" && str("RoleName") == "" && str("GroupName") == "":
		return []string{str("PolicyArn")}
	case str("UserName") != "":
		return []string{base + "user/" + str("UserName")}
	case str("RoleName") != "":
		return []string{base + "role/" + str("RoleName")}
	case str("GroupName") != "":
		return []string{base + "group/" + str("GroupName")}
	case str("InstanceProfileName") != "":
		return []string{base + "instance-profile/" + str("InstanceProfileName")}
	case str("PolicySourceArn") != "":
		return []string{str("PolicySourceArn")}
	case op == "GetUser" || op == "CreateAccessKey" || op == "ListAccessKeys" || op == "UpdateAccessKey" || op == "DeleteAccessKey":
		// Without a UserName these act on the caller.
		return []string{p.ARN}
	case op == "CreatePolicy" && str("PolicyName") != "":
		path := str("Path")
		if path == "" {
			path = "/"
		}
		return []string{base + "policy" + path + str("PolicyName")}
	}
	return []string{"*"}
}

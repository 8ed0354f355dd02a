package ec2

import (
	"context"

	"github.com/nimbus-dev/nimbus/internal/awserr"
)

// DescribeAccountAttributes answers the questions tools ask before they
// create anything: which platforms the account has (VPC only, as every
// account since 2013) and which VPC is its default, plus the limits AWS
// gives a new account.

// accountAttributeNames are the attributes, in the order AWS lists them.
var accountAttributeNames = []string{
	"supported-platforms", "vpc-max-security-groups-per-interface", "max-elastic-ips",
	"max-instances", "vpc-max-elastic-ips", "default-vpc",
}

type describeAccountAttributesInput struct {
	AttributeNames []string
	DryRun         bool
}

type accountAttributeValue struct {
	AttributeValue string
}

type accountAttribute struct {
	AttributeName   string
	AttributeValues []accountAttributeValue
}

type describeAccountAttributesOutput struct {
	AccountAttributes []accountAttribute
}

// accountAttributeValues returns one attribute's values for a partition.
func accountAttributeValues(name, account, reg string) ([]string, bool) {
	switch name {
	case "supported-platforms":
		return []string{"VPC"}, true
	case "default-vpc":
		return []string{defaultVPCID(account, reg)}, true
	case "max-instances":
		return []string{"20"}, true
	case "vpc-max-security-groups-per-interface":
		return []string{"5"}, true
	case "max-elastic-ips", "vpc-max-elastic-ips":
		return []string{"5"}, true
	}
	return nil, false
}

func (e *EC2) describeAccountAttributes(ctx context.Context, in *describeAccountAttributesInput) (*describeAccountAttributesOutput, error) {
	names := in.AttributeNames
	if len(names) == 0 {
		names = accountAttributeNames
	}
	account, reg := partition(ctx)
	out := &describeAccountAttributesOutput{AccountAttributes: make([]accountAttribute, 0, len(names))}
	for _, n := range names {
		values, ok := accountAttributeValues(n, account, reg)
		if !ok {
			return nil, awserr.New(awserr.Validation, "InvalidParameterValue",
				"Value (%s) for parameter attributeName is invalid. Unknown attribute.", n)
		}
		a := accountAttribute{AttributeName: n, AttributeValues: make([]accountAttributeValue, 0, len(values))}
		for _, v := range values {
			a.AttributeValues = append(a.AttributeValues, accountAttributeValue{AttributeValue: v})
		}
		out.AccountAttributes = append(out.AccountAttributes, a)
	}
	if in.DryRun {
		return nil, dryRun()
	}
	// The default VPC named here must be describable right away.
	if err := e.ensureDefaultNetwork(ctx, account, reg); err != nil {
		return nil, err
	}
	return out, nil
}

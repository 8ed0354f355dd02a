package ec2

import "testing"

func TestDescribeAccountAttributes(t *testing.T) {
	e := vpcEC2(t)
	all, err := e.describeAccountAttributes(callIn("us-west-2"), &describeAccountAttributesInput{})
	if err != nil {
		t.Fatal(err)
	}
	got := map[string][]string{}
	for _, a := range all.AccountAttributes {
		for _, v := range a.AttributeValues {
			got[a.AttributeName] = append(got[a.AttributeName], v.AttributeValue)
		}
	}
	if len(got) != len(accountAttributeNames) || len(got["supported-platforms"]) != 1 || got["supported-platforms"][0] != "VPC" ||
		got["default-vpc"][0] != defaultVPCID(catalogTestAccount, "us-west-2") || got["max-instances"][0] != "20" {
		t.Errorf("account attributes = %v", got)
	}
	// The default VPC named is one DescribeVpcs knows.
	vpcs, err := e.describeVpcs(callIn("us-west-2"), &describeVpcsInput{VpcIds: got["default-vpc"]})
	if err != nil || len(vpcs.Vpcs) != 1 {
		t.Errorf("describe the default-vpc attribute's VPC: %+v, %v", vpcs, err)
	}
	one, err := e.describeAccountAttributes(callIn("eu-west-1"), &describeAccountAttributesInput{AttributeNames: []string{"default-vpc"}})
	if err != nil || len(one.AccountAttributes) != 1 ||
		one.AccountAttributes[0].AttributeValues[0].AttributeValue != defaultVPCID(catalogTestAccount, "eu-west-1") {
		t.Errorf("default-vpc in eu-west-1 = %+v, %v", one, err)
	}
	_, err = e.describeAccountAttributes(callIn("eu-west-1"), &describeAccountAttributesInput{AttributeNames: []string{"max-cats"}})
	wantCode(t, "unknown attribute", err, "InvalidParameterValue")
}

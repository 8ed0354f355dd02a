package awsmodel

import "testing"

func TestLoadEveryModel(t *testing.T) {
	want := map[string]string{"ec2": "ec2", "sts": "query", "iam": "query", "logs": "json",
		"lambda": "rest-json", "batch": "rest-json", "s3": "rest-xml", "ce": "json"}
	for key, proto := range want {
		s, err := Load(key)
		if err != nil {
			t.Fatalf("load %s: %v", key, err)
		}
		if s.Metadata.Protocol != proto {
			t.Errorf("%s protocol = %q, want %q", key, s.Metadata.Protocol, proto)
		}
		if len(s.Operations) == 0 {
			t.Errorf("%s has no operations", key)
		}
	}
	ec2 := MustLoad("ec2")
	op := ec2.Operations["DescribeRegions"]
	if op == nil || op.Input.Shape == nil || op.Input.Shape.Type != "structure" {
		t.Fatalf("DescribeRegions input not resolved: %+v", op)
	}
	in := op.Input.Shape
	if len(in.MemberOrder) != len(in.Members) {
		t.Errorf("member order %v vs members %d", in.MemberOrder, len(in.Members))
	}
	if _, r, ok := in.MemberFold("regionnames"); !ok || r.Shape.Type != "list" {
		t.Errorf("MemberFold(regionnames) = %v %v", r, ok)
	}
	if ec2.SigningName() != "ec2" || MustLoad("logs").SigningName() != "logs" {
		t.Errorf("signing names wrong")
	}
}

func TestStreamingInput(t *testing.T) {
	s3 := MustLoad("s3")
	for op, want := range map[string]bool{"PutObject": true, "UploadPart": true, "GetObject": false, "PutBucketTagging": false} {
		if got := s3.Operations[op].StreamingInput(); got != want {
			t.Errorf("%s StreamingInput = %v, want %v", op, got, want)
		}
	}
	if MustLoad("lambda").Operations["Invoke"].StreamingInput() {
		t.Error("Lambda Invoke is not streaming")
	}
}

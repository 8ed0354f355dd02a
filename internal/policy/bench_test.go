package policy

import (
	"fmt"
	"strings"
	"testing"
)

// BenchmarkEvaluate10x20 evaluates a request against a principal holding 10
// policies of 20 statements each (the authorization-cost figure),
// none of which allows it, so every statement is examined.
func BenchmarkEvaluate10x20(b *testing.B) {
	var set Set
	for p := 0; p < 10; p++ {
		var stmts []string
		for s := 0; s < 20; s++ {
			stmts = append(stmts, fmt.Sprintf(`{"Sid":"s%d","Effect":"Allow","Action":["ec2:Describe%d*","lambda:Get%d"],"Resource":"arn:aws:ec2:*:123456789012:instance/i-%d*","Condition":{"StringEquals":{"aws:RequestedRegion":["us-east-1","eu-west-1"]},"IpAddress":{"aws:SourceIp":"10.0.0.0/8"}}}`, s, p, s, s))
		}
		set.Identity = append(set.Identity, MustParse(`{"Version":"2012-10-17","Statement":[`+strings.Join(stmts, ",")+`]}`, Identity))
	}
	ctx := Context{}
	ctx.Set("aws:RequestedRegion", "us-east-1")
	ctx.Set("aws:SourceIp", "10.1.2.3")
	ctx.Set("aws:username", "alice")
	req := &Request{Caller: Caller{ARN: userARN, Account: acct}, Action: "ec2:RunInstances", Resource: inst, Context: ctx}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if Evaluate(req, &set).Decision != ImplicitDeny {
			b.Fatal("allowed")
		}
	}
}

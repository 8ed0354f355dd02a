package query

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/nimbus-dev/nimbus/internal/awsmodel"
	"github.com/nimbus-dev/nimbus/internal/protocol/protocoltest"
)

func benchmarkRoundTrip(b *testing.B, service, form string, out map[string]any) {
	protocoltest.BenchmarkRoundTrip(b, New(awsmodel.MustLoad(service)), httptest.NewRequest(http.MethodPost, "/", nil), []byte(form), out)
}

func BenchmarkSTSGetCallerIdentity(b *testing.B) {
	benchmarkRoundTrip(b, "sts", "Action=GetCallerIdentity&Version=2011-06-15",
		map[string]any{"Account": "000000000000", "Arn": "arn:aws:iam::000000000000:user/alice", "UserId": "AIDAEXAMPLE"})
}

func BenchmarkEC2DescribeRegions(b *testing.B) {
	var regions []any
	for _, name := range []string{"us-east-1", "us-east-2", "us-west-1", "us-west-2", "eu-west-1", "eu-west-2", "eu-central-1", "ap-south-1",
		"ap-northeast-1", "ap-northeast-2", "ap-southeast-1", "ap-southeast-2", "ca-central-1", "sa-east-1", "eu-north-1", "eu-west-3", "ap-northeast-3"} {
		regions = append(regions, map[string]any{"RegionName": name, "Endpoint": fmt.Sprintf("ec2.%s.amazonaws.com", name), "OptInStatus": "opt-in-not-required"})
	}
	benchmarkRoundTrip(b, "ec2", "Action=DescribeRegions&Version=2016-11-15", map[string]any{"Regions": regions})
}

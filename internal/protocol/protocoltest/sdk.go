package protocoltest

import (
	"context"
	"net/http"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/nimbus-dev/nimbus/internal/awsmodel"
	"github.com/nimbus-dev/nimbus/internal/protocol/wire"
)

// CodecFor builds a codec for a service model: a codec package's New.
type CodecFor func(*awsmodel.Service) wire.Codec

// ClientConfig is an SDK configuration whose requests go to rt: a fixed
// region, endpoint and static test credentials, and no retries so a failed
// call fails the test at once.
func ClientConfig(rt http.RoundTripper) aws.Config {
	return aws.Config{
		Region:       "us-east-1",
		BaseEndpoint: aws.String("http://127.0.0.1:4566"),
		Credentials: aws.CredentialsProviderFunc(func(context.Context) (aws.Credentials, error) {
			return aws.Credentials{AccessKeyID: "AKIDTEST", SecretAccessKey: "secret"}, nil
		}),
		HTTPClient: &http.Client{Transport: rt},
		Retryer:    func() aws.Retryer { return aws.NopRetryer{} },
	}
}

// SDKConfig is an SDK configuration whose requests go in memory to the
// codec newCodec builds for service, answered by handle.
func SDKConfig(t testing.TB, newCodec CodecFor, service string, handle Handler) aws.Config {
	t.Helper()
	svc, err := awsmodel.Load(service)
	if err != nil {
		t.Fatal(err)
	}
	return ClientConfig(Transport{Codec: newCodec(svc), Handle: handle})
}

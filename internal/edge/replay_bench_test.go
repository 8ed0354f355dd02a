package edge_test

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
)

// signedQueryRequest returns the wire bytes of a form POST signed once by the
// SDK's signer, so a benchmark can replay it without the SDK client's cost.
func signedQueryRequest(tb testing.TB, url, signingName, body string) []byte {
	tb.Helper()
	req, err := http.NewRequest(http.MethodPost, url+"/", strings.NewReader(body))
	if err != nil {
		tb.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded; charset=utf-8")
	sum := sha256.Sum256([]byte(body))
	creds := aws.Credentials{AccessKeyID: "test", SecretAccessKey: "test"}
	if err := v4.NewSigner().SignHTTP(context.Background(), creds, req, hex.EncodeToString(sum[:]), signingName, "us-east-1", time.Now()); err != nil {
		tb.Fatal(err)
	}
	var buf bytes.Buffer
	if err := req.Write(&buf); err != nil {
		tb.Fatal(err)
	}
	return buf.Bytes()
}

// benchmarkReplay sends one pre-signed request over a keep-alive connection
// per goroutine: nimbus parses, verifies, decodes, handles and encodes every
// request, while the client side only writes bytes and reads the answer.
func benchmarkReplay(b *testing.B, signingName, body string) {
	f := newFixture(b, false)
	raw := signedQueryRequest(b, f.url, signingName, body)
	addr := strings.TrimPrefix(f.url, "http://")
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		conn, err := net.Dial("tcp", addr)
		if err != nil {
			b.Error(err)
			return
		}
		defer conn.Close()
		br := bufio.NewReader(conn)
		for pb.Next() {
			if _, err := conn.Write(raw); err != nil {
				b.Error(err)
				return
			}
			resp, err := http.ReadResponse(br, nil)
			if err != nil {
				b.Error(err)
				return
			}
			_, err = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if err != nil || resp.StatusCode != http.StatusOK {
				b.Errorf("status %d, read error %v", resp.StatusCode, err)
				return
			}
		}
	})
}

func BenchmarkReplayGetCallerIdentity(b *testing.B) {
	benchmarkReplay(b, "sts", "Action=GetCallerIdentity&Version=2011-06-15")
}

func BenchmarkReplayDescribeRegions(b *testing.B) {
	benchmarkReplay(b, "ec2", "Action=DescribeRegions&Version=2016-11-15")
}

// BenchmarkReplayDescribeRegionsByName carries input members, so the
// handler's input decoding (service.Op) is part of the cost.
func BenchmarkReplayDescribeRegionsByName(b *testing.B) {
	benchmarkReplay(b, "ec2", "Action=DescribeRegions&Version=2016-11-15&RegionName.1=us-east-1&RegionName.2=eu-west-1&Filter.1.Name=opt-in-status&Filter.1.Value.1=opt-in-not-required")
}

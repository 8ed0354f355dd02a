package e2e

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os/exec"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/aws/smithy-go"
)

func apiCode(t *testing.T, err error) (string, string) {
	t.Helper()
	var ae smithy.APIError
	if !errors.As(err, &ae) {
		t.Fatalf("want an AWS API error, got %v", err)
	}
	return ae.ErrorCode(), ae.ErrorMessage()
}

func TestCLIFoundation(t *testing.T) {
	n := startNimbus(t, "")
	var id struct{ Account, Arn, UserId string }
	if _, err := n.cli(t, &id, "sts", "get-caller-identity"); err != nil {
		t.Fatal(err)
	}
	if id.Account != "000000000000" || id.Arn != "arn:aws:iam::000000000000:root" || id.UserId != "000000000000" {
		t.Errorf("get-caller-identity = %+v", id)
	}
	var regions struct {
		Regions []struct{ RegionName, Endpoint, OptInStatus string }
	}
	if _, err := n.cli(t, &regions, "ec2", "describe-regions"); err != nil {
		t.Fatal(err)
	}
	names := map[string]bool{}
	for _, r := range regions.Regions {
		names[r.RegionName] = true
		if r.Endpoint != "ec2."+r.RegionName+".amazonaws.com" || r.OptInStatus != "opt-in-not-required" {
			t.Errorf("region %+v", r)
		}
	}
	if len(regions.Regions) < 10 || !names["us-east-1"] || !names["eu-west-1"] {
		t.Errorf("describe-regions = %v", names)
	}
	var zones struct {
		AvailabilityZones []struct{ ZoneName, ZoneId, State, RegionName string }
	}
	if _, err := n.cli(t, &zones, "ec2", "describe-availability-zones", "--region", "eu-west-1"); err != nil {
		t.Fatal(err)
	}
	if len(zones.AvailabilityZones) != 3 || zones.AvailabilityZones[1].ZoneName != "eu-west-1b" ||
		zones.AvailabilityZones[0].State != "available" || zones.AvailabilityZones[2].RegionName != "eu-west-1" {
		t.Errorf("describe-availability-zones = %+v", zones)
	}
	// An error through the CLI: the CLI prints the code.
	stderr, err := n.cli(t, nil, "ec2", "describe-key-pairs", "--key-names", "nope")
	if err == nil || !strings.Contains(stderr, "InvalidKeyPair.NotFound") {
		t.Errorf("describe-key-pairs of a missing key: err=%v stderr=%s", err, stderr)
	}
}

func TestSDKFoundation(t *testing.T) {
	n := startNimbus(t, "")
	ctx := context.Background()
	out, err := sts.NewFromConfig(n.cfg()).GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
	if err != nil {
		t.Fatal(err)
	}
	if aws.ToString(out.Account) != "000000000000" || aws.ToString(out.Arn) != "arn:aws:iam::000000000000:root" {
		t.Errorf("GetCallerIdentity = %+v", out)
	}
	client := ec2.NewFromConfig(n.cfg())
	regs, err := client.DescribeRegions(ctx, &ec2.DescribeRegionsInput{
		Filters: []ec2types.Filter{{Name: aws.String("region-name"), Values: []string{"us-*", "eu-west-1"}}},
	})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, r := range regs.Regions {
		got = append(got, aws.ToString(r.RegionName))
	}
	if strings.Join(got, ",") != "us-east-1,us-east-2,us-west-1,us-west-2,eu-west-1" {
		t.Errorf("filtered regions = %v", got)
	}
	_, err = client.DescribeRegions(ctx, &ec2.DescribeRegionsInput{RegionNames: []string{"xx-nowhere-9"}})
	if code, _ := apiCode(t, err); code != "InvalidParameterValue" {
		t.Errorf("unknown region name: code %s", code)
	}
	_, err = client.DescribeRegions(ctx, &ec2.DescribeRegionsInput{DryRun: aws.Bool(true)})
	if code, _ := apiCode(t, err); code != "DryRunOperation" {
		t.Errorf("dry run: code %s", code)
	}
	// Every region is its own partition: zones follow the client's region.
	azs, err := ec2.NewFromConfig(n.awsConfig("ap-southeast-2", "test", "test")).DescribeAvailabilityZones(ctx,
		&ec2.DescribeAvailabilityZonesInput{Filters: []ec2types.Filter{{Name: aws.String("zone-name"), Values: []string{"*c"}}}})
	if err != nil {
		t.Fatal(err)
	}
	if len(azs.AvailabilityZones) != 1 || aws.ToString(azs.AvailabilityZones[0].ZoneName) != "ap-southeast-2c" ||
		aws.ToString(azs.AvailabilityZones[0].ZoneId) != "apse2-az3" {
		t.Errorf("zones = %+v", azs.AvailabilityZones)
	}
}

func TestSigV4Errors(t *testing.T) {
	n := startNimbus(t, "")
	ctx := context.Background()
	cases := []struct {
		name, key, secret string
		call              func(cfg aws.Config) error
		code              string
		status            int
	}{
		{"sts wrong secret", "test", "wrong", func(c aws.Config) error {
			_, err := sts.NewFromConfig(c).GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
			return err
		}, "SignatureDoesNotMatch", 403},
		{"sts unknown key", "AKIANOBODY", "x", func(c aws.Config) error {
			_, err := sts.NewFromConfig(c).GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
			return err
		}, "InvalidClientTokenId", 403},
		{"ec2 wrong secret", "test", "wrong", func(c aws.Config) error {
			_, err := ec2.NewFromConfig(c).DescribeRegions(ctx, &ec2.DescribeRegionsInput{})
			return err
		}, "SignatureDoesNotMatch", 403},
		{"ec2 unknown key", "AKIANOBODY", "x", func(c aws.Config) error {
			_, err := ec2.NewFromConfig(c).DescribeRegions(ctx, &ec2.DescribeRegionsInput{})
			return err
		}, "AuthFailure", 401},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.call(n.awsConfig("us-east-1", tc.key, tc.secret))
			code, _ := apiCode(t, err)
			if code != tc.code {
				t.Errorf("code = %s, want %s (err %v)", code, tc.code, err)
			}
			var re interface{ HTTPStatusCode() int }
			if errors.As(err, &re) && re.HTTPStatusCode() != tc.status {
				t.Errorf("status = %d, want %d", re.HTTPStatusCode(), tc.status)
			}
		})
	}
}

func TestPresignedGetCallerIdentity(t *testing.T) {
	n := startNimbus(t, "")
	ctx := context.Background()
	pc := sts.NewPresignClient(sts.NewFromConfig(n.cfg()))
	req, err := pc.PresignGetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
	if err != nil {
		t.Fatal(err)
	}
	hreq, _ := http.NewRequest(req.Method, req.URL, nil)
	for k, v := range req.SignedHeader {
		hreq.Header[k] = v
	}
	resp, err := http.DefaultClient.Do(hreq)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.Contains(string(body), "<Account>000000000000</Account>") {
		t.Errorf("presigned: %d %s", resp.StatusCode, body)
	}
	// Tampering with the presigned query breaks the signature.
	u, _ := url.Parse(req.URL)
	q := u.Query()
	q.Set("Version", "2011-06-15")
	q.Set("X-Amz-Signature", strings.Repeat("0", 64))
	u.RawQuery = q.Encode()
	hreq, _ = http.NewRequest(req.Method, u.String(), nil)
	for k, v := range req.SignedHeader {
		hreq.Header[k] = v
	}
	resp, err = http.DefaultClient.Do(hreq)
	if err != nil {
		t.Fatal(err)
	}
	body, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 403 || !strings.Contains(string(body), "SignatureDoesNotMatch") {
		t.Errorf("tampered presign: %d %s", resp.StatusCode, body)
	}
}

func TestUnknownOperationsAndBadInput(t *testing.T) {
	n := startNimbus(t, "")
	// Raw requests signed by the SDK's signer through a custom operation are
	// awkward; unsigned requests exercise routing and the error envelope, and
	// must be refused for lack of a signature rather than crash.
	cases := []struct {
		name, method, target, body, ctype string
		status                            int
		contains                          string
	}{
		{"ec2 unsigned", "POST", "", "Action=DescribeRegions&Version=2016-11-15", "application/x-www-form-urlencoded", 401, "AuthFailure"},
		{"sts unsigned", "POST", "", "Action=GetCallerIdentity&Version=2011-06-15", "application/x-www-form-urlencoded", 403, "MissingAuthenticationToken"},
		{"garbage", "POST", "", "\x00\x01\x02", "application/octet-stream", 0, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			req, _ := http.NewRequest(tc.method, n.URL+"/", strings.NewReader(tc.body))
			req.Header.Set("Content-Type", tc.ctype)
			if tc.target != "" {
				req.Header.Set("X-Amz-Target", tc.target)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode >= 500 {
				t.Errorf("status %d: %s", resp.StatusCode, body)
			}
			if tc.status != 0 && resp.StatusCode != tc.status {
				t.Errorf("status %d, want %d: %s", resp.StatusCode, tc.status, body)
			}
			if !strings.Contains(string(body), tc.contains) {
				t.Errorf("body %s lacks %s", body, tc.contains)
			}
		})
	}
	// Signed but unknown or invalid: through the SDK's own middleware.
	ctx := context.Background()
	client := ec2.NewFromConfig(n.cfg())
	_, err := client.CreateKeyPair(ctx, &ec2.CreateKeyPairInput{KeyName: aws.String("")})
	if code, _ := apiCode(t, err); code != "MissingParameter" {
		t.Errorf("CreateKeyPair without a name: %s", code)
	}
	_, err = client.CreateKeyPair(ctx, &ec2.CreateKeyPairInput{KeyName: aws.String("k"), KeyType: "dsa"})
	if code, _ := apiCode(t, err); code != "InvalidParameterValue" {
		t.Errorf("CreateKeyPair dsa: %s", code)
	}
	_, err = client.DescribeVpcEndpointServices(ctx, &ec2.DescribeVpcEndpointServicesInput{})
	if code, _ := apiCode(t, err); code != "NotImplemented" && code != "InvalidAction" {
		t.Errorf("unimplemented operation: %s", code)
	}
}

func TestKeyPairsDurableAcrossKill9(t *testing.T) {
	data := t.TempDir()
	n := startNimbus(t, data)
	ctx := context.Background()
	client := ec2.NewFromConfig(n.cfg())

	var acked sync.Map
	var count atomic.Int64
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for w := 0; w < 4; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				name := fmt.Sprintf("k-%d-%d", w, i)
				pub := "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIFKV3PsY8eVn8Gh4B7XZ0sRaeKjzlqA7zR3OjS1XyQxS test"
				out, err := client.ImportKeyPair(ctx, &ec2.ImportKeyPairInput{KeyName: aws.String(name), PublicKeyMaterial: []byte(pub)})
				if err != nil {
					return // the server died under us
				}
				acked.Store(name, aws.ToString(out.KeyPairId))
				count.Add(1)
			}
		}(w)
	}
	for count.Load() < 150 {
		time.Sleep(5 * time.Millisecond)
	}
	n.Kill()
	close(stop)
	wg.Wait()

	n2 := startNimbus(t, data)
	out, err := ec2.NewFromConfig(n2.cfg()).DescribeKeyPairs(ctx, &ec2.DescribeKeyPairsInput{})
	if err != nil {
		t.Fatal(err)
	}
	have := map[string]string{}
	for _, k := range out.KeyPairs {
		have[aws.ToString(k.KeyName)] = aws.ToString(k.KeyPairId)
	}
	lost := 0
	acked.Range(func(k, v any) bool {
		if have[k.(string)] != v.(string) {
			lost++
			t.Errorf("acknowledged key pair %s (%s) lost after kill -9", k, v)
		}
		return true
	})
	t.Logf("%d acknowledged writes, %d present after kill -9, %d lost", count.Load(), len(have), lost)
}

func TestAuthAnyAndAccountID(t *testing.T) {
	n := startNimbus(t, "", "--auth", "any", "--account-id", "123456789012")
	ctx := context.Background()
	out, err := sts.NewFromConfig(n.awsConfig("eu-central-1", "whatever", "anything")).GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
	if err != nil {
		t.Fatal(err)
	}
	if aws.ToString(out.Account) != "123456789012" || aws.ToString(out.Arn) != "arn:aws:iam::123456789012:root" {
		t.Errorf("GetCallerIdentity = %+v", out)
	}
	// The same scenario in strict mode refuses the made-up key.
	s := startNimbus(t, "", "--account-id", "123456789012")
	_, err = sts.NewFromConfig(s.awsConfig("eu-central-1", "whatever", "anything")).GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
	if code, _ := apiCode(t, err); code != "InvalidClientTokenId" {
		t.Errorf("strict mode with an unknown key: %s", code)
	}
	out, err = sts.NewFromConfig(s.cfg()).GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
	if err != nil || aws.ToString(out.Account) != "123456789012" {
		t.Errorf("strict mode root: %+v %v", out, err)
	}
}

func TestRefusesUnsafeStart(t *testing.T) {
	cases := [][]string{
		{"serve", "--listen", "0.0.0.0:0", "--data", t.TempDir()},
		{"serve", "--listen", "127.0.0.1:0", "--auth", "any", "--listen", "0.0.0.0:0", "--data", t.TempDir()},
		{"serve", "--auth", "maybe", "--data", t.TempDir()},
	}
	for _, args := range cases {
		out, err := exec.Command(nimbusBin, args...).CombinedOutput()
		var ee *exec.ExitError
		if !errors.As(err, &ee) || ee.ExitCode() != 2 {
			t.Errorf("%v: want exit 2, got %v: %s", args, err, out)
		}
		if !strings.Contains(string(out), "nimbus:") {
			t.Errorf("%v: no clear message: %s", args, out)
		}
	}
	// Binding a public address is fine with configured root credentials.
	addr := freeAddr(t)
	cmd := exec.Command(nimbusBin, "serve", "--listen", strings.Replace(addr, "127.0.0.1", "0.0.0.0", 1), "--data", t.TempDir(),
		"--root-access-key-id", "AKIAEXAMPLEROOT", "--root-secret-access-key", "s3cr3t")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { cmd.Process.Kill(); cmd.Wait() }()
	n := &Nimbus{URL: "http://" + addr}
	var out *sts.GetCallerIdentityOutput
	var err error
	for i := 0; i < 100; i++ {
		out, err = sts.NewFromConfig(n.awsConfig("us-east-1", "AKIAEXAMPLEROOT", "s3cr3t")).GetCallerIdentity(context.Background(), &sts.GetCallerIdentityInput{})
		if err == nil {
			break
		}
		time.Sleep(30 * time.Millisecond)
	}
	if err != nil || aws.ToString(out.Account) != "000000000000" {
		t.Errorf("configured root keys: %v", err)
	}
	_, err = sts.NewFromConfig(n.awsConfig("us-east-1", "test", "test")).GetCallerIdentity(context.Background(), &sts.GetCallerIdentityInput{})
	if err == nil {
		t.Error("default test/test keys accepted on a public address")
	}
}

func TestResetHealthMetricsAndShutdown(t *testing.T) {
	n := startNimbus(t, "")
	ctx := context.Background()
	client := ec2.NewFromConfig(n.cfg())
	if _, err := client.CreateKeyPair(ctx, &ec2.CreateKeyPairInput{KeyName: aws.String("before-reset"), KeyType: "ed25519"}); err != nil {
		t.Fatal(err)
	}
	for _, path := range []string{"/_nimbus/reset", "/moto-api/reset"} {
		resp, err := http.Post(n.URL+path, "application/json", nil)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || !strings.Contains(string(body), "ec2") {
			t.Errorf("%s: %d %s", path, resp.StatusCode, body)
		}
	}
	out, err := client.DescribeKeyPairs(ctx, &ec2.DescribeKeyPairsInput{})
	if err != nil || len(out.KeyPairs) != 0 {
		t.Errorf("after reset: %+v %v", out, err)
	}
	resp, err := http.Get(n.URL + "/_nimbus/health")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, want := range []string{`"version"`, `"uptime_seconds"`, `"backend": "sqlite"`, `"auth": "strict"`} {
		if !strings.Contains(string(body), want) {
			t.Errorf("health lacks %s: %s", want, body)
		}
	}
	resp, err = http.Get(n.URL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.Contains(string(body), `nimbus_requests_total{service="ec2",operation="CreateKeyPair",code="200"} 1`) {
		t.Errorf("metrics lack the CreateKeyPair count:\n%s", body)
	}
	if !strings.Contains(n.Log(), "request_id=") {
		t.Errorf("log lines carry no request ID:\n%s", n.Log())
	}
	if code := n.Stop(); code != 0 {
		t.Errorf("graceful shutdown exit code %d; log:\n%s", code, n.Log())
	}
	if !strings.Contains(n.Log(), "nimbus stopped") {
		t.Errorf("no clean stop in log:\n%s", n.Log())
	}
}

func TestRegionsStrictAndOpen(t *testing.T) {
	n := startNimbus(t, "", "--regions", "us-east-1,eu-west-1")
	ctx := context.Background()
	regs, err := ec2.NewFromConfig(n.cfg()).DescribeRegions(ctx, &ec2.DescribeRegionsInput{})
	if err != nil || len(regs.Regions) != 2 {
		t.Fatalf("configured regions: %+v %v", regs, err)
	}
	// A region outside the list still works unless the list is strict.
	if _, err := sts.NewFromConfig(n.awsConfig("ap-south-2", "test", "test")).GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{}); err != nil {
		t.Errorf("unlisted region refused in open mode: %v", err)
	}
	s := startNimbus(t, "", "--regions", "us-east-1", "--strict-regions")
	_, err = ec2.NewFromConfig(s.awsConfig("eu-west-1", "test", "test")).DescribeRegions(ctx, &ec2.DescribeRegionsInput{})
	if err == nil {
		t.Error("unlisted region accepted in strict mode")
	}
}

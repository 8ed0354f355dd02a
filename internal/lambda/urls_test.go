package lambda

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/lambda/types"

	"github.com/nimbus-dev/nimbus/internal/lambda/runner"
)

var functionURLPattern = regexp.MustCompile(`^http://([a-z0-9]{32})\.lambda-url\.us-east-1\.localhost:4566/$`)

func TestFunctionURLConfigs(t *testing.T) {
	h := newHarness(t, nil)
	h.createFunction(t, "web", func(in *lambda.CreateFunctionInput) { in.Publish = true })
	if _, err := h.client.CreateAlias(ctx, &lambda.CreateAliasInput{FunctionName: aws.String("web"), Name: aws.String("live"), FunctionVersion: aws.String("1")}); err != nil {
		t.Fatal(err)
	}
	created, err := h.client.CreateFunctionUrlConfig(ctx, &lambda.CreateFunctionUrlConfigInput{FunctionName: aws.String("web"), AuthType: types.FunctionUrlAuthTypeNone,
		Cors: &types.Cors{AllowOrigins: []string{"*"}}})
	if err != nil {
		t.Fatal(err)
	}
	if !functionURLPattern.MatchString(aws.ToString(created.FunctionUrl)) || aws.ToString(created.FunctionArn) != "arn:aws:lambda:us-east-1:000000000000:function:web" ||
		created.InvokeMode != types.InvokeModeBuffered || aws.ToString(created.CreationTime) == "" {
		t.Errorf("CreateFunctionUrlConfig: %+v", created)
	}
	_, err = h.client.CreateFunctionUrlConfig(ctx, &lambda.CreateFunctionUrlConfigInput{FunctionName: aws.String("web"), AuthType: types.FunctionUrlAuthTypeNone})
	wantAPIError(t, err, "ResourceConflictException", 409)
	_, err = h.client.CreateFunctionUrlConfig(ctx, &lambda.CreateFunctionUrlConfigInput{FunctionName: aws.String("web"), Qualifier: aws.String("nope"), AuthType: types.FunctionUrlAuthTypeNone})
	wantAPIError(t, err, "ResourceNotFoundException", 404)
	onAlias, err := h.client.CreateFunctionUrlConfig(ctx, &lambda.CreateFunctionUrlConfigInput{FunctionName: aws.String("web"), Qualifier: aws.String("live"), AuthType: types.FunctionUrlAuthTypeAwsIam})
	if err != nil || aws.ToString(onAlias.FunctionArn) != "arn:aws:lambda:us-east-1:000000000000:function:web:live" || aws.ToString(onAlias.FunctionUrl) == aws.ToString(created.FunctionUrl) {
		t.Fatalf("URL of an alias: %+v %v", onAlias, err)
	}
	upd, err := h.client.UpdateFunctionUrlConfig(ctx, &lambda.UpdateFunctionUrlConfigInput{FunctionName: aws.String("web"), AuthType: types.FunctionUrlAuthTypeAwsIam})
	if err != nil || upd.AuthType != types.FunctionUrlAuthTypeAwsIam || aws.ToString(upd.FunctionUrl) != aws.ToString(created.FunctionUrl) || upd.Cors == nil {
		t.Fatalf("UpdateFunctionUrlConfig: %+v %v", upd, err)
	}
	got, err := h.client.GetFunctionUrlConfig(ctx, &lambda.GetFunctionUrlConfigInput{FunctionName: aws.String("web")})
	if err != nil || got.AuthType != types.FunctionUrlAuthTypeAwsIam || aws.ToString(got.LastModifiedTime) == "" {
		t.Fatalf("GetFunctionUrlConfig: %+v %v", got, err)
	}
	list, err := h.client.ListFunctionUrlConfigs(ctx, &lambda.ListFunctionUrlConfigsInput{FunctionName: aws.String("web"), MaxItems: aws.Int32(1)})
	if err != nil || len(list.FunctionUrlConfigs) != 1 || list.NextMarker == nil {
		t.Fatalf("ListFunctionUrlConfigs: %+v %v", list, err)
	}
	if _, err := h.client.DeleteFunctionUrlConfig(ctx, &lambda.DeleteFunctionUrlConfigInput{FunctionName: aws.String("web")}); err != nil {
		t.Fatal(err)
	}
	_, err = h.client.GetFunctionUrlConfig(ctx, &lambda.GetFunctionUrlConfigInput{FunctionName: aws.String("web")})
	wantAPIError(t, err, "ResourceNotFoundException", 404)
}

// createURL makes a function with a URL and returns the URL's host.
func createURL(t *testing.T, h *harness, name string, auth types.FunctionUrlAuthType) string {
	t.Helper()
	h.createFunction(t, name, nil)
	out, err := h.client.CreateFunctionUrlConfig(ctx, &lambda.CreateFunctionUrlConfigInput{FunctionName: aws.String(name), AuthType: auth,
		Cors: &types.Cors{AllowOrigins: []string{"https://example.com"}, AllowMethods: []string{"GET", "POST"}}})
	if err != nil {
		t.Fatal(err)
	}
	if auth == types.FunctionUrlAuthTypeNone {
		if _, err := h.client.AddPermission(ctx, &lambda.AddPermissionInput{FunctionName: aws.String(name), StatementId: aws.String("public-url"),
			Action: aws.String("lambda:InvokeFunctionUrl"), Principal: aws.String("*"), FunctionUrlAuthType: types.FunctionUrlAuthTypeNone}); err != nil {
			t.Fatal(err)
		}
	}
	u, err := url.Parse(aws.ToString(out.FunctionUrl))
	if err != nil {
		t.Fatal(err)
	}
	return u.Host
}

// urlRequest sends a plain HTTP request to a function URL through the edge.
func urlRequest(t *testing.T, h *harness, host, method, target string, body string, header http.Header) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequest(method, h.url+target, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Host = host
	for k, vs := range header {
		req.Header[k] = vs
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

func TestFunctionURLMapsRequestAndResponse(t *testing.T) {
	h := newHarness(t, nil)
	host := createURL(t, h, "site", types.FunctionUrlAuthTypeNone)
	id := host[:32]
	var event map[string]any
	h.invoker.setAnswer(func(fn *runner.Function, req *runner.Request) (*runner.Result, error) {
		if err := json.Unmarshal(req.Payload, &event); err != nil {
			return nil, err
		}
		return &runner.Result{Payload: []byte(`{"statusCode":201,"headers":{"X-Custom":"yes","Content-Type":"text/plain"},` +
			`"cookies":["a=1; Path=/","b=2"],"body":"` + base64.StdEncoding.EncodeToString([]byte("créé")) + `","isBase64Encoded":true}`)}, nil
	})
	resp, body := urlRequest(t, h, host, "POST", "/items/7?x=1&x=2&y=z", `{"name":"n"}`, http.Header{
		"Content-Type": {"application/json"}, "Cookie": {"c1=v1; c2=v2"}, "X-Multi": {"a", "b"}, "User-Agent": {"tester"},
		"Origin": {"https://example.com"},
	})
	if resp.StatusCode != 201 || body != "créé" || resp.Header.Get("X-Custom") != "yes" || resp.Header.Get("Content-Type") != "text/plain" ||
		strings.Join(resp.Header.Values("Set-Cookie"), "|") != "a=1; Path=/|b=2" || resp.Header.Get("Access-Control-Allow-Origin") != "https://example.com" {
		t.Errorf("response %d %q %v", resp.StatusCode, body, resp.Header)
	}
	want := map[string]any{"version": "2.0", "routeKey": "$default", "rawPath": "/items/7", "rawQueryString": "x=1&x=2&y=z",
		"body": `{"name":"n"}`, "isBase64Encoded": false}
	for k, v := range want {
		if event[k] != v {
			t.Errorf("event %s = %v, want %v", k, event[k], v)
		}
	}
	headers := event["headers"].(map[string]any)
	if headers["x-multi"] != "a,b" || headers["content-type"] != "application/json" || headers["cookie"] != nil {
		t.Errorf("event headers %v", headers)
	}
	if c := event["cookies"].([]any); len(c) != 2 || c[0] != "c1=v1" || c[1] != "c2=v2" {
		t.Errorf("event cookies %v", c)
	}
	if q := event["queryStringParameters"].(map[string]any); q["x"] != "1,2" || q["y"] != "z" {
		t.Errorf("event queryStringParameters %v", q)
	}
	rc := event["requestContext"].(map[string]any)
	httpCtx := rc["http"].(map[string]any)
	if rc["accountId"] != testAccount || rc["apiId"] != id || rc["domainName"] != strings.Split(host, ":")[0] || rc["requestId"] == "" ||
		rc["timeEpoch"].(float64) <= 0 || rc["time"] == "" || httpCtx["method"] != "POST" || httpCtx["path"] != "/items/7" ||
		httpCtx["protocol"] != "HTTP/1.1" || httpCtx["sourceIp"] != "127.0.0.1" || httpCtx["userAgent"] != "tester" {
		t.Errorf("requestContext %v", rc)
	}

	// A binary body goes base64; any JSON without statusCode is the body.
	h.invoker.setAnswer(func(fn *runner.Function, req *runner.Request) (*runner.Result, error) {
		if err := json.Unmarshal(req.Payload, &event); err != nil {
			return nil, err
		}
		return &runner.Result{Payload: []byte(`{"hello":"world"}`)}, nil
	})
	resp, body = urlRequest(t, h, host, "PUT", "/", "\x00\x01", http.Header{"Content-Type": {"application/octet-stream"}})
	if resp.StatusCode != 200 || body != `{"hello":"world"}` || resp.Header.Get("Content-Type") != "application/json" {
		t.Errorf("plain JSON answer: %d %q %v", resp.StatusCode, body, resp.Header)
	}
	if event["isBase64Encoded"] != true || event["body"] != base64.StdEncoding.EncodeToString([]byte("\x00\x01")) {
		t.Errorf("binary body mapped as %v %v", event["body"], event["isBase64Encoded"])
	}

	// Function errors are 502s; unknown URLs are forbidden.
	h.invoker.setAnswer(func(fn *runner.Function, req *runner.Request) (*runner.Result, error) {
		return &runner.Result{FunctionError: "Unhandled", Payload: []byte(`{"errorMessage":"x"}`)}, nil
	})
	if resp, _ := urlRequest(t, h, host, "GET", "/", "", nil); resp.StatusCode != http.StatusBadGateway {
		t.Errorf("function error answered %d", resp.StatusCode)
	}
	if resp, _ := urlRequest(t, h, strings.Repeat("a", 32)+".lambda-url.us-east-1.localhost:4566", "GET", "/", "", nil); resp.StatusCode != http.StatusForbidden {
		t.Errorf("unknown URL answered %d", resp.StatusCode)
	}
	// CORS preflight is answered without invoking.
	before := len(h.invoker.invocations())
	resp, _ = urlRequest(t, h, host, "OPTIONS", "/", "", http.Header{"Origin": {"https://example.com"}, "Access-Control-Request-Method": {"POST"}})
	if resp.StatusCode != 200 || resp.Header.Get("Access-Control-Allow-Methods") != "GET,POST" || len(h.invoker.invocations()) != before {
		t.Errorf("preflight: %d %v", resp.StatusCode, resp.Header)
	}
}

func TestFunctionURLOfAuthTypeNoneNeedsAPublicPolicy(t *testing.T) {
	h := newHarness(t, nil)
	h.createFunction(t, "closed", nil)
	out, err := h.client.CreateFunctionUrlConfig(ctx, &lambda.CreateFunctionUrlConfigInput{FunctionName: aws.String("closed"), AuthType: types.FunctionUrlAuthTypeNone})
	if err != nil {
		t.Fatal(err)
	}
	u, _ := url.Parse(aws.ToString(out.FunctionUrl))
	// Another principal's permission opens nothing.
	if _, err := h.client.AddPermission(ctx, &lambda.AddPermissionInput{FunctionName: aws.String("closed"), StatementId: aws.String("acct"),
		Action: aws.String("lambda:InvokeFunctionUrl"), Principal: aws.String("111111111111")}); err != nil {
		t.Fatal(err)
	}
	if resp, _ := urlRequest(t, h, u.Host, "GET", "/", "", nil); resp.StatusCode != http.StatusForbidden {
		t.Errorf("URL without a public policy answered %d", resp.StatusCode)
	}
	if _, err := h.client.AddPermission(ctx, &lambda.AddPermissionInput{FunctionName: aws.String("closed"), StatementId: aws.String("public"),
		Action: aws.String("lambda:InvokeFunctionUrl"), Principal: aws.String("*"), FunctionUrlAuthType: types.FunctionUrlAuthTypeNone}); err != nil {
		t.Fatal(err)
	}
	if resp, _ := urlRequest(t, h, u.Host, "GET", "/", "", nil); resp.StatusCode != http.StatusOK {
		t.Errorf("URL with a public policy answered %d", resp.StatusCode)
	}
	if n := len(h.invoker.invocations()); n != 1 {
		t.Errorf("%d invocations, want 1", n)
	}
}

func TestFunctionURLWithIAMAuth(t *testing.T) {
	allow := false
	h := newHarness(t, func(o *Options) {
		o.URLAuthorizer = func(r *http.Request, account, fnARN string) error {
			if !allow || account != testAccount || fnARN != "arn:aws:lambda:us-east-1:000000000000:function:private" {
				return errors.New("denied")
			}
			return nil
		}
	})
	host := createURL(t, h, "private", types.FunctionUrlAuthTypeAwsIam)
	if resp, _ := urlRequest(t, h, host, "GET", "/", "", nil); resp.StatusCode != http.StatusForbidden {
		t.Errorf("unauthorized request answered %d", resp.StatusCode)
	}
	allow = true
	if resp, _ := urlRequest(t, h, host, "GET", "/", "", nil); resp.StatusCode != http.StatusOK {
		t.Errorf("authorized request answered %d", resp.StatusCode)
	}
	if n := len(h.invoker.invocations()); n != 1 {
		t.Errorf("%d invocations, want 1", n)
	}
}

func TestIsFunctionURLHost(t *testing.T) {
	id := "abcdefghijklmnopqrstuvwxyz012345"
	for host, want := range map[string]bool{
		id + ".lambda-url.us-east-1.localhost:4566":                   true,
		id + ".lambda-url.eu-west-1.on.aws":                           true,
		"127.0.0.1:4566":                                              false,
		"lambda.us-east-1.amazonaws.com":                              false,
		"short.lambda-url.us-east-1.localhost":                        false,
		strings.ToUpper(id[:31]) + "_.lambda-url.us-east-1.localhost": false,
	} {
		if got := IsFunctionURLHost(host); got != want {
			t.Errorf("IsFunctionURLHost(%q) = %v, want %v", host, got, want)
		}
	}
}

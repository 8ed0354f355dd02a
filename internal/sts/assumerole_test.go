package sts

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/nimbus-dev/nimbus/internal/awserr"
	"github.com/nimbus-dev/nimbus/internal/iam"
	"github.com/nimbus-dev/nimbus/internal/identity"
	"github.com/nimbus-dev/nimbus/internal/service"
	"github.com/nimbus-dev/nimbus/internal/store/sqlitestore"
)

const account = "123456789012"

func ctxAs(p *identity.Principal) context.Context {
	return identity.With(context.Background(), &identity.Call{Region: "us-east-1", SourceIP: "127.0.0.1", Principal: p})
}

func call(t *testing.T, svc *service.Service, ctx context.Context, op string, in map[string]any) (map[string]any, error) {
	t.Helper()
	h, ok := svc.Handler(op)
	if !ok {
		t.Fatalf("no handler for %s", op)
	}
	out, err := h(ctx, in)
	if err != nil {
		return nil, err
	}
	return service.ToDocument(out)
}

// TestAssumeRoleRoundTrip creates a user and a role through IAM's API,
// assumes the role through STS's and checks who the credentials are.
func TestAssumeRoleRoundTrip(t *testing.T) {
	dir := iam.New(iam.Options{Store: sqlitestore.OpenTemp(t)})
	iamSvc, err := dir.Service()
	if err != nil {
		t.Fatal(err)
	}
	stsSvc, err := New(WithIAM(dir))
	if err != nil {
		t.Fatal(err)
	}
	if err := stsSvc.Check(); err != nil {
		t.Fatal(err)
	}
	root := ctxAs(&identity.Principal{Type: identity.Root, Account: account, ARN: identity.RootARN(account), UserID: account})
	for _, step := range []struct {
		op string
		in map[string]any
	}{
		{"CreateUser", map[string]any{"UserName": "alice"}},
		{"CreateRole", map[string]any{"RoleName": "deployer", "AssumeRolePolicyDocument": `{"Version":"2012-10-17","Statement":{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::123456789012:user/alice"},"Action":"sts:AssumeRole"}}`}},
	} {
		if _, err := call(t, iamSvc, root, step.op, step.in); err != nil {
			t.Fatalf("%s: %v", step.op, err)
		}
	}
	key, err := call(t, iamSvc, root, "CreateAccessKey", map[string]any{"UserName": "alice"})
	if err != nil {
		t.Fatal(err)
	}
	alice, err := dir.Lookup(context.Background(), key["AccessKey"].(map[string]any)["AccessKeyId"].(string))
	if err != nil {
		t.Fatal(err)
	}
	out, err := call(t, stsSvc, ctxAs(alice.Principal), "AssumeRole", map[string]any{"RoleArn": "arn:aws:iam::123456789012:role/deployer",
		"RoleSessionName": "deploy-1", "DurationSeconds": int64(900), "Tags": []any{map[string]any{"Key": "project", "Value": "x"}}})
	if err != nil {
		t.Fatal(err)
	}
	creds := out["Credentials"].(map[string]any)
	user := out["AssumedRoleUser"].(map[string]any)
	if user["Arn"] != "arn:aws:sts::123456789012:assumed-role/deployer/deploy-1" || !strings.HasPrefix(creds["AccessKeyId"].(string), "ASIA") {
		t.Fatalf("AssumeRole = %v", out)
	}
	if exp, ok := creds["Expiration"].(time.Time); !ok || exp.Sub(time.Now()) > 901*time.Second || exp.Sub(time.Now()) < 800*time.Second {
		t.Errorf("Expiration = %v", creds["Expiration"])
	}
	sess, err := dir.Lookup(context.Background(), creds["AccessKeyId"].(string))
	if err != nil || sess.SessionToken != creds["SessionToken"] {
		t.Fatalf("Lookup session = %+v, %v", sess, err)
	}
	who, err := call(t, stsSvc, ctxAs(sess.Principal), "GetCallerIdentity", nil)
	if err != nil || who["Arn"] != user["Arn"] || who["UserId"] != user["AssumedRoleId"] || who["Account"] != account {
		t.Errorf("GetCallerIdentity = %v, %v", who, err)
	}
	// The root user of the account is not named by the trust policy.
	_, err = call(t, stsSvc, root, "AssumeRole", map[string]any{"RoleArn": "arn:aws:iam::123456789012:role/deployer", "RoleSessionName": "r1"})
	if ae, ok := err.(*awserr.Error); !ok || ae.Code != "AccessDenied" {
		t.Errorf("root AssumeRole = %v", err)
	}
	tok, err := call(t, stsSvc, ctxAs(alice.Principal), "GetSessionToken", map[string]any{"DurationSeconds": int64(900)})
	if err != nil || tok["Credentials"] == nil {
		t.Errorf("GetSessionToken = %v, %v", tok, err)
	}
	_, err = call(t, stsSvc, root, "DecodeAuthorizationMessage", map[string]any{"EncodedMessage": "garbage"})
	if ae, ok := err.(*awserr.Error); !ok || ae.Code != "InvalidAuthorizationMessageException" {
		t.Errorf("decode garbage = %v", err)
	}
}

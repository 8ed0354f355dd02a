package server

import (
	"context"
	"errors"
	"testing"

	"github.com/nimbus-dev/nimbus/internal/awserr"
	"github.com/nimbus-dev/nimbus/internal/iam"
	"github.com/nimbus-dev/nimbus/internal/identity"
)

// needsNoPermission are the operations AWS answers for any authenticated
// caller: who am I, and a session token for oneself.
var needsNoPermission = map[string]bool{"sts:GetCallerIdentity": true, "sts:GetSessionToken": true}

// Nothing is reachable unchecked: every operation every service registers
// is refused to an IAM user that holds no policy, with the service's own
// access-denied error.
func TestEveryOperationIsAuthorized(t *testing.T) {
	_, srv, cancel, done := startServer(t)
	defer func() { cancel(); <-done }()
	ctx := context.Background()
	rootCtx := identity.With(ctx, &identity.Call{Region: "us-east-1",
		Principal: &identity.Principal{Type: identity.Root, Account: "000000000000", ARN: identity.RootARN("000000000000")}})
	var createUser func(context.Context, map[string]any) (any, error)
	for _, svc := range srv.services {
		if svc.Key() == "iam" {
			h, _ := svc.Handler("CreateUser")
			createUser = h
		}
	}
	if _, err := createUser(rootCtx, map[string]any{"UserName": "nobody"}); err != nil {
		t.Fatal(err)
	}
	user := &identity.Principal{Type: identity.User, Account: "000000000000", ARN: "arn:aws:iam::000000000000:user/nobody",
		UserID: "AIDANOBODY", Name: "nobody"}
	userCtx := identity.With(ctx, &identity.Call{Region: "us-east-1", SourceIP: "127.0.0.1", Principal: user})
	authz := srv.iam.Authorizer().WithResourcePolicies("lambda", srv.lambda)
	checked := 0
	for _, svc := range srv.services {
		model := svc.Model()
		for _, name := range svc.Implemented() {
			op := model.Operations[name]
			if op == nil {
				t.Errorf("%s registers %s, which its model lacks", svc.Key(), name)
				continue
			}
			action := iam.ActionFor(model.SigningName(), name)
			err := authz.Authorize(userCtx, model, op, map[string]any{})
			checked++
			if needsNoPermission[action] {
				if err != nil {
					t.Errorf("%s: %v", action, err)
				}
				continue
			}
			var ae *awserr.Error
			if !errors.As(err, &ae) || ae.Kind != awserr.AccessDenied {
				t.Errorf("%s (%s) is not refused to a user without policies: %v", action, name, err)
			}
		}
	}
	if checked < 200 {
		t.Errorf("only %d operations checked", checked)
	}
	t.Logf("%d operations checked", checked)
}

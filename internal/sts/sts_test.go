package sts

import (
	"context"
	"testing"

	"github.com/nimbus-dev/nimbus/internal/identity"
)

func TestGetCallerIdentity(t *testing.T) {
	svc, err := New()
	if err != nil {
		t.Fatal(err)
	}
	if err := svc.Check(); err != nil {
		t.Fatal(err)
	}
	h, _ := svc.Handler("GetCallerIdentity")
	ctx := identity.With(context.Background(), &identity.Call{Principal: &identity.Principal{
		Type: identity.Root, Account: "123456789012", ARN: identity.RootARN("123456789012"), UserID: "123456789012"}})
	out, err := h(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	got := out.(*getCallerIdentityOutput)
	if got.Account != "123456789012" || got.Arn != "arn:aws:iam::123456789012:root" {
		t.Errorf("GetCallerIdentity = %+v", got)
	}
}

package iam

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/nimbus-dev/nimbus/internal/awserr"
	"github.com/nimbus-dev/nimbus/internal/credentials"
	"github.com/nimbus-dev/nimbus/internal/identity"
)

// Compile-time check: IAM is a credentials.Source.
var _ credentials.Source = (*IAM)(nil)

// as returns a context whose caller is the credential's principal.
func as(c *credentials.Credential) context.Context {
	return identity.With(context.Background(), &identity.Call{Region: "us-east-1", SourceIP: "10.0.0.5", Principal: c.Principal})
}

func TestAccessKeysResolveToTheirUser(t *testing.T) {
	h := newHarness(t)
	h.must("CreateUser", map[string]any{"UserName": "alice"})
	k1 := h.must("CreateAccessKey", map[string]any{"UserName": "alice"})
	id, secret := str(k1, "AccessKey", "AccessKeyId"), str(k1, "AccessKey", "SecretAccessKey")
	if len(id) != 20 || !strings.HasPrefix(id, "AKIA") || len(secret) != 40 {
		t.Fatalf("key %q secret %q", id, secret)
	}
	h.must("CreateAccessKey", map[string]any{"UserName": "alice"})
	_, err := h.do(h.root, "CreateAccessKey", map[string]any{"UserName": "alice"})
	wantCode(t, err, "LimitExceeded", 409)

	cred, err := h.iam.Lookup(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	p := cred.Principal
	if cred.Secret != secret || p.Type != identity.User || p.ARN != "arn:aws:iam::123456789012:user/alice" || p.Name != "alice" || p.Account != testAccount {
		t.Fatalf("Lookup = %+v %+v", cred, p)
	}
	// GetUser without a name answers for the caller; so do the key operations.
	if me := h.must("GetUser", nil); str(me, "User", "Arn") != identity.RootARN(testAccount) {
		t.Errorf("root GetUser = %v", me)
	}
	me, err := h.do(as(cred), "GetUser", nil)
	if err != nil || str(me, "User", "UserName") != "alice" {
		t.Errorf("caller GetUser = %v, %v", me, err)
	}
	if l, err := h.do(as(cred), "ListAccessKeys", nil); err != nil || len(items(l, "AccessKeyMetadata")) != 2 {
		t.Errorf("ListAccessKeys = %v, %v", l, err)
	}

	h.must("UpdateAccessKey", map[string]any{"UserName": "alice", "AccessKeyId": id, "Status": "Inactive"})
	if _, err := h.iam.Lookup(context.Background(), id); !errors.Is(err, credentials.ErrInactiveKey) {
		t.Errorf("inactive key Lookup = %v", err)
	}
	_, err = h.do(h.root, "UpdateAccessKey", map[string]any{"UserName": "alice", "AccessKeyId": id, "Status": "Sleeping"})
	wantCode(t, err, "ValidationError", 0)
	h.must("DeleteAccessKey", map[string]any{"UserName": "alice", "AccessKeyId": id})
	if _, err := h.iam.Lookup(context.Background(), id); !errors.Is(err, credentials.ErrUnknownKey) {
		t.Errorf("deleted key Lookup = %v", err)
	}
	_, err = h.do(h.root, "DeleteAccessKey", map[string]any{"UserName": "alice", "AccessKeyId": id})
	wantCode(t, err, "NoSuchEntity", 404)
	if _, err := h.iam.Lookup(context.Background(), "AKIANOSUCHKEY0000000"); !errors.Is(err, credentials.ErrUnknownKey) {
		t.Errorf("unknown key Lookup = %v", err)
	}
}

// userWithKey creates a user with the given inline policy and returns its credential.
func (h *harness) userWithKey(name, inline string) *credentials.Credential {
	h.t.Helper()
	h.must("CreateUser", map[string]any{"UserName": name})
	if inline != "" {
		h.must("PutUserPolicy", map[string]any{"UserName": name, "PolicyName": "inline", "PolicyDocument": inline})
	}
	k := h.must("CreateAccessKey", map[string]any{"UserName": name})
	cred, err := h.iam.Lookup(context.Background(), str(k, "AccessKey", "AccessKeyId"))
	if err != nil {
		h.t.Fatal(err)
	}
	return cred
}

func TestAssumeRoleRoundTripAndExpiry(t *testing.T) {
	h := newHarness(t)
	alice := h.userWithKey("alice", "")
	bob := h.userWithKey("bob", "")
	h.must("CreateRole", map[string]any{"RoleName": "worker", "AssumeRolePolicyDocument": trustUser, "MaxSessionDuration": int64(7200),
		"Tags": tagList("team", "blue")})
	h.must("AttachRolePolicy", map[string]any{"RoleName": "worker", "PolicyArn": "arn:aws:iam::aws:policy/AmazonEC2ReadOnlyAccess"})
	roleARN := "arn:aws:iam::123456789012:role/worker"

	// bob is not in the trust policy and has no identity policy.
	_, err := h.iam.AssumeRole(as(bob), bob.Principal, AssumeRoleRequest{RoleARN: roleARN, RoleSessionName: "s1"})
	wantCode(t, err, "AccessDenied", 403)
	_, err = h.iam.AssumeRole(as(alice), alice.Principal, AssumeRoleRequest{RoleARN: roleARN, RoleSessionName: "s1", DurationSeconds: 7201})
	wantCode(t, err, "ValidationError", 0)
	_, err = h.iam.AssumeRole(as(alice), alice.Principal, AssumeRoleRequest{RoleARN: roleARN, RoleSessionName: "s1", DurationSeconds: 899})
	wantCode(t, err, "ValidationError", 0)
	_, err = h.iam.AssumeRole(as(alice), alice.Principal, AssumeRoleRequest{RoleARN: roleARN, RoleSessionName: "s", Policy: "{"})
	if err == nil {
		t.Fatal("one-character session name and bad policy accepted")
	}
	_, err = h.iam.AssumeRole(as(alice), alice.Principal, AssumeRoleRequest{RoleARN: roleARN, RoleSessionName: "s1", Policy: "{"})
	wantCode(t, err, "MalformedPolicyDocument", 400)

	creds, err := h.iam.AssumeRole(as(alice), alice.Principal, AssumeRoleRequest{RoleARN: roleARN, RoleSessionName: "s1", DurationSeconds: 1800,
		Policy: `{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"ec2:DescribeInstances","Resource":"*"}}`})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(creds.AccessKeyID, "ASIA") || len(creds.SecretAccessKey) != 40 || creds.SessionToken == "" ||
		creds.AssumedRoleARN != "arn:aws:sts::123456789012:assumed-role/worker/s1" || !strings.HasPrefix(creds.AssumedRoleID, "AROA") ||
		!strings.HasSuffix(creds.AssumedRoleID, ":s1") || !creds.Expiration.Equal(h.clock.now().Add(30*time.Minute)) {
		t.Fatalf("credentials = %+v", creds)
	}
	sess, err := h.iam.Lookup(context.Background(), creds.AccessKeyID)
	if err != nil {
		t.Fatal(err)
	}
	if sess.SessionToken != creds.SessionToken || sess.Principal.Type != identity.RoleSession || sess.Principal.ARN != creds.AssumedRoleARN ||
		sess.Principal.UserID != creds.AssumedRoleID {
		t.Fatalf("session principal = %+v", sess.Principal)
	}

	// The session's permissions: the role's policy, cut down by the session policy.
	az := h.iam.Authorizer()
	if err := az.Authorize(as(sess), ec2Model(t), ec2Op(t, "DescribeInstances"), nil); err != nil {
		t.Errorf("DescribeInstances within role and session policy: %v", err)
	}
	err = az.Authorize(as(sess), ec2Model(t), ec2Op(t, "DescribeVolumes"), nil)
	wantCode(t, err, "UnauthorizedOperation", 403)
	if !strings.Contains(err.Error(), "because no session policy allows the ec2:DescribeVolumes action") {
		t.Errorf("denial = %v", err)
	}

	// Role chaining is limited to an hour (a session without a session
	// policy, since one naming only ec2:DescribeInstances would deny it).
	plain, err := h.iam.AssumeRole(as(alice), alice.Principal, AssumeRoleRequest{RoleARN: roleARN, RoleSessionName: "plain"})
	if err != nil {
		t.Fatal(err)
	}
	if sess, err = h.iam.Lookup(context.Background(), plain.AccessKeyID); err != nil {
		t.Fatal(err)
	}
	h.must("UpdateAssumeRolePolicy", map[string]any{"RoleName": "worker", "PolicyDocument": `{"Version":"2012-10-17","Statement":{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::123456789012:role/worker"},"Action":"sts:AssumeRole"}}`})
	_, err = h.iam.AssumeRole(as(sess), sess.Principal, AssumeRoleRequest{RoleARN: roleARN, RoleSessionName: "s2", DurationSeconds: 3601})
	wantCode(t, err, "ValidationError", 0)
	if _, err := h.iam.AssumeRole(as(sess), sess.Principal, AssumeRoleRequest{RoleARN: roleARN, RoleSessionName: "s2"}); err != nil {
		t.Errorf("role session assuming a role that trusts its role: %v", err)
	}

	h.clock.advance(30 * time.Minute)
	_, err = h.iam.Lookup(context.Background(), creds.AccessKeyID)
	wantCode(t, err, "ExpiredToken", 403)
	if !errors.Is(err, credentials.ErrExpiredToken) {
		t.Error("ExpiredToken does not unwrap to credentials.ErrExpiredToken")
	}
	// Only the first session (30 minutes) has expired; the two one-hour ones live on.
	n, err := h.iam.PurgeExpiredSessions(context.Background())
	if err != nil || n != 1 {
		t.Errorf("PurgeExpiredSessions = %d, %v; want 1", n, err)
	}
	if _, err := h.iam.Lookup(context.Background(), creds.AccessKeyID); !errors.Is(err, credentials.ErrUnknownKey) {
		t.Errorf("purged session Lookup = %v", err)
	}
}

func TestGetSessionTokenAndMint(t *testing.T) {
	h := newHarness(t)
	alice := h.userWithKey("alice", allowEC2)
	c, err := h.iam.GetSessionToken(as(alice), alice.Principal, 0)
	if err != nil {
		t.Fatal(err)
	}
	if !c.Expiration.Equal(h.clock.now().Add(12 * time.Hour)) {
		t.Errorf("default expiration %v", c.Expiration)
	}
	sess, err := h.iam.Lookup(context.Background(), c.AccessKeyID)
	if err != nil || sess.Principal.Type != identity.User || sess.Principal.Name != "alice" {
		t.Fatalf("session = %+v, %v", sess, err)
	}
	if _, err := h.iam.GetSessionToken(as(sess), sess.Principal, 0); err == nil {
		t.Error("GetSessionToken with session credentials accepted")
	}
	_, err = h.iam.GetSessionToken(as(alice), alice.Principal, 600)
	wantCode(t, err, "ValidationError", 0)

	h.must("CreateRole", map[string]any{"RoleName": "fn", "AssumeRolePolicyDocument": `{"Version":"2012-10-17","Statement":{"Effect":"Allow","Principal":{"Service":"lambda.amazonaws.com"},"Action":"sts:AssumeRole"}}`})
	arn := "arn:aws:iam::123456789012:role/fn"
	if err := h.iam.CheckServiceTrust(context.Background(), arn, "lambda.amazonaws.com"); err != nil {
		t.Errorf("lambda trust: %v", err)
	}
	if err := h.iam.CheckServiceTrust(context.Background(), arn, "ec2.amazonaws.com"); err == nil {
		t.Error("ec2 trusted by a lambda-only role")
	}
	m, err := h.iam.MintRoleCredentials(context.Background(), arn, "fn-invocation", 2*time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if !m.Expiration.Equal(h.clock.now().Add(time.Hour)) {
		t.Errorf("minted expiration %v, want capped at the role's hour", m.Expiration)
	}
	got, err := h.iam.Lookup(context.Background(), m.AccessKeyID)
	if err != nil || got.Principal.ARN != "arn:aws:sts::123456789012:assumed-role/fn/fn-invocation" {
		t.Fatalf("minted session = %+v, %v", got, err)
	}
	if _, err := h.iam.MintRoleCredentials(context.Background(), "arn:aws:iam::123456789012:role/none", "x", 0); err == nil {
		t.Error("minted credentials for a missing role")
	}
	var ae *awserr.Error
	_, err = h.iam.MintRoleCredentials(context.Background(), "not-an-arn", "x", 0)
	if !errors.As(err, &ae) {
		t.Errorf("bad ARN error = %v", err)
	}
}

// Lookup's cache answers as the store would, at once after each change,
// and hands out copies the caller may change.
func TestLookupCacheFollowsChanges(t *testing.T) {
	h := newHarness(t)
	alice := h.userWithKey("alice", "")
	id := alice.AccessKeyID
	got, err := h.iam.Lookup(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	got.Secret, got.Principal.ARN = "changed", "changed"
	again, err := h.iam.Lookup(context.Background(), id)
	if err != nil || again.Secret != alice.Secret || again.Principal.ARN != "arn:aws:iam::123456789012:user/alice" {
		t.Fatalf("after changing a returned credential, Lookup = %+v, %v", again, err)
	}
	h.must("UpdateAccessKey", map[string]any{"UserName": "alice", "AccessKeyId": id, "Status": "Inactive"})
	if _, err := h.iam.Lookup(context.Background(), id); !errors.Is(err, credentials.ErrInactiveKey) {
		t.Errorf("deactivated key: Lookup = %v", err)
	}
	h.must("UpdateAccessKey", map[string]any{"UserName": "alice", "AccessKeyId": id, "Status": "Active"})
	if _, err := h.iam.Lookup(context.Background(), id); err != nil {
		t.Errorf("reactivated key: Lookup = %v", err)
	}

	h.must("CreateRole", map[string]any{"RoleName": "worker", "AssumeRolePolicyDocument": trustUser})
	sc, err := h.iam.MintRoleCredentials(context.Background(), "arn:aws:iam::123456789012:role/worker", "job", 15*time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := h.iam.Lookup(context.Background(), sc.AccessKeyID); err != nil {
		t.Fatalf("new session: Lookup = %v", err)
	}
	h.clock.advance(15*time.Minute - time.Second)
	if _, err := h.iam.Lookup(context.Background(), sc.AccessKeyID); err != nil {
		t.Errorf("a second before expiry: Lookup = %v", err)
	}
	h.clock.advance(time.Second)
	if _, err := h.iam.Lookup(context.Background(), sc.AccessKeyID); !errors.Is(err, credentials.ErrExpiredToken) {
		t.Errorf("at expiry: Lookup = %v", err)
	}
	if n, err := h.iam.PurgeExpiredSessions(context.Background()); err != nil || n != 1 {
		t.Fatalf("purge = %d, %v", n, err)
	}
	if _, err := h.iam.Lookup(context.Background(), sc.AccessKeyID); !errors.Is(err, credentials.ErrUnknownKey) {
		t.Errorf("purged session: Lookup = %v", err)
	}

	if err := h.svc.Reset(context.Background()); err != nil {
		t.Fatal(err)
	}
	if _, err := h.iam.Lookup(context.Background(), id); !errors.Is(err, credentials.ErrUnknownKey) {
		t.Errorf("after reset: Lookup = %v", err)
	}
}

package iam

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/nimbus-dev/nimbus/internal/awsmodel"
	"github.com/nimbus-dev/nimbus/internal/credentials"
	"github.com/nimbus-dev/nimbus/internal/store"
	"github.com/nimbus-dev/nimbus/internal/store/sqlitestore"
)

const (
	allowDescribeInstances = `{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"ec2:DescribeInstances","Resource":"*"}}`
	allowDescribeVolumes   = `{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"ec2:DescribeVolumes","Resource":"*"}}`
	denyEC2                = `{"Version":"2012-10-17","Statement":{"Effect":"Deny","Action":"ec2:*","Resource":"*"}}`
)

// decider asks an authorizer about ec2:DescribeInstances and fails the
// test when the answer is not the expected one.
type decider struct {
	t   *testing.T
	az  *Authorizer
	ec2 *awsmodel.Service
	op  *awsmodel.Operation
}

func newDecider(t *testing.T, m *IAM) *decider {
	ec2 := ec2Model(t)
	return &decider{t: t, az: m.Authorizer(), ec2: ec2, op: ec2.Operations["DescribeInstances"]}
}

func (d *decider) want(step string, cred *credentials.Credential, allowed bool) {
	d.t.Helper()
	err := d.az.Authorize(as(cred), d.ec2, d.op, nil)
	if allowed && err != nil {
		d.t.Fatalf("%s: denied: %v", step, err)
	}
	if !allowed {
		if err == nil {
			d.t.Fatalf("%s: allowed, want denied", step)
		}
		wantCode(d.t, err, "UnauthorizedOperation", 403)
	}
}

// Every change that bears on a user's decision is seen by the very next
// request, with the cache warm from the request before it.
func TestAuthorizerSeesUserChangesAtOnce(t *testing.T) {
	h := newHarness(t)
	d := newDecider(t, h.iam)
	alice := h.userWithKey("alice", "")
	arn := str(h.must("CreatePolicy", map[string]any{"PolicyName": "describe", "PolicyDocument": allowDescribeInstances}), "Policy", "Arn")
	boundary := str(h.must("CreatePolicy", map[string]any{"PolicyName": "volumes-only", "PolicyDocument": allowDescribeVolumes}), "Policy", "Arn")
	h.must("CreateGroup", map[string]any{"GroupName": "ops"})
	h.must("AttachGroupPolicy", map[string]any{"GroupName": "ops", "PolicyArn": arn})

	steps := []struct {
		op      string
		in      map[string]any
		allowed bool
	}{
		{"AddUserToGroup", map[string]any{"GroupName": "ops", "UserName": "alice"}, true},
		{"CreatePolicyVersion", map[string]any{"PolicyArn": arn, "PolicyDocument": allowDescribeVolumes, "SetAsDefault": true}, false},
		{"SetDefaultPolicyVersion", map[string]any{"PolicyArn": arn, "VersionId": "v1"}, true},
		{"RemoveUserFromGroup", map[string]any{"GroupName": "ops", "UserName": "alice"}, false},
		{"AttachUserPolicy", map[string]any{"UserName": "alice", "PolicyArn": arn}, true},
		{"PutUserPolicy", map[string]any{"UserName": "alice", "PolicyName": "no-ec2", "PolicyDocument": denyEC2}, false},
		{"DeleteUserPolicy", map[string]any{"UserName": "alice", "PolicyName": "no-ec2"}, true},
		{"PutGroupPolicy", map[string]any{"GroupName": "ops", "PolicyName": "no-ec2", "PolicyDocument": denyEC2}, true}, // alice left ops
		{"AddUserToGroup", map[string]any{"GroupName": "ops", "UserName": "alice"}, false},
		{"DeleteGroupPolicy", map[string]any{"GroupName": "ops", "PolicyName": "no-ec2"}, true},
		{"PutUserPermissionsBoundary", map[string]any{"UserName": "alice", "PermissionsBoundary": boundary}, false},
		{"CreatePolicyVersion", map[string]any{"PolicyArn": boundary, "PolicyDocument": allowEC2, "SetAsDefault": true}, true},
		{"DeleteUserPermissionsBoundary", map[string]any{"UserName": "alice"}, true},
		{"RemoveUserFromGroup", map[string]any{"GroupName": "ops", "UserName": "alice"}, true}, // still attached to alice
		{"DetachUserPolicy", map[string]any{"UserName": "alice", "PolicyArn": arn}, false},
		{"AttachUserPolicy", map[string]any{"UserName": "alice", "PolicyArn": "arn:aws:iam::aws:policy/AmazonEC2ReadOnlyAccess"}, true},
	}
	d.want("before any change", alice, false)
	for i, s := range steps {
		// The request before (the previous step's) left the cache warm.
		h.must(s.op, s.in)
		d.want(fmt.Sprintf("step %d %s", i, s.op), alice, s.allowed)
	}

	// A reset wipes alice and her policies: her next request is denied.
	if err := h.svc.Reset(context.Background()); err != nil {
		t.Fatal(err)
	}
	d.want("after reset", alice, false)
}

// A role session sees changes to its role at once, and two sessions of
// one role with different session policies never share a cache entry.
func TestAuthorizerSeesRoleSessionChangesAtOnce(t *testing.T) {
	h := newHarness(t)
	d := newDecider(t, h.iam)
	alice := h.userWithKey("alice", "")
	h.must("CreateRole", map[string]any{"RoleName": "worker", "AssumeRolePolicyDocument": trustUser})
	h.must("PutRolePolicy", map[string]any{"RoleName": "worker", "PolicyName": "ec2", "PolicyDocument": allowEC2})
	assume := func(name, sessionPolicy string) *credentials.Credential {
		t.Helper()
		sc, err := h.iam.AssumeRole(context.Background(), alice.Principal, AssumeRoleRequest{
			RoleARN: "arn:aws:iam::123456789012:role/worker", RoleSessionName: name, Policy: sessionPolicy})
		if err != nil {
			t.Fatalf("assume role: %v", err)
		}
		cred, err := h.iam.Lookup(context.Background(), sc.AccessKeyID)
		if err != nil {
			t.Fatal(err)
		}
		return cred
	}
	open := assume("open", "")
	d.want("open session", open, true)
	// Same role, same session name, so the same ARN: only the access key
	// tells the sessions apart. Minting it leaves the cache warm.
	gen := h.iam.changes.current()
	narrow := assume("open", allowDescribeVolumes)
	if now := h.iam.changes.current(); now != gen {
		t.Errorf("creating a session moved the change generation from %d to %d", gen, now)
	}
	d.want("session policy without DescribeInstances", narrow, false)
	if _, ok := h.iam.principals.get(gen, principalKey{arn: open.Principal.ARN, accessKey: open.Principal.AccessKey}); !ok {
		t.Error("the open session's entry did not survive minting another session")
	}
	d.want("open session again", open, true)

	h.must("PutRolePolicy", map[string]any{"RoleName": "worker", "PolicyName": "no-ec2", "PolicyDocument": denyEC2})
	d.want("role gains a deny", open, false)
	h.must("DeleteRolePolicy", map[string]any{"RoleName": "worker", "PolicyName": "no-ec2"})
	d.want("role loses the deny", open, true)
	h.must("DeleteRolePolicy", map[string]any{"RoleName": "worker", "PolicyName": "ec2"})
	d.want("role loses its allow", open, false)
	h.must("AttachRolePolicy", map[string]any{"RoleName": "worker", "PolicyArn": "arn:aws:iam::aws:policy/AmazonEC2ReadOnlyAccess"})
	d.want("role gains a managed allow", open, true)
}

// A role session whose record is not (yet) in the store is not cached,
// since creating a session does not invalidate the cache.
func TestAuthorizerDoesNotCacheAMissingSession(t *testing.T) {
	h := newHarness(t)
	d := newDecider(t, h.iam)
	h.must("CreateRole", map[string]any{"RoleName": "worker", "AssumeRolePolicyDocument": trustUser})
	h.must("PutRolePolicy", map[string]any{"RoleName": "worker", "PolicyName": "ec2", "PolicyDocument": allowEC2})
	const keyID = "ASIAFUTURESESSION001"
	rec := &sessionRecord{AccessKeyID: keyID, Account: testAccount, RoleName: "worker", SessionName: "s",
		Expiration: h.clock.now().Add(time.Hour), Policy: allowDescribeVolumes, HasSessionPolicies: true}
	cred := &credentials.Credential{AccessKeyID: keyID, Principal: rec.principal()}
	d.want("session without a record: the role's policies alone", cred, true)
	err := h.iam.store.Update(context.Background(), func(tx store.Tx) error {
		_, err := tx.Create(store.Key{Account: testAccount, Kind: kindSession, ID: keyID}, rec)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	d.want("session policy, once the record exists", cred, false)
}

// Requests racing with writes never see a decision older than the last
// write that returned (run with -race for the data races as well).
func TestAuthorizerCacheUnderConcurrentWrites(t *testing.T) {
	h := newHarness(t)
	d := newDecider(t, h.iam)
	alice := h.userWithKey("alice", "")
	ctx, cancel := context.WithCancel(context.Background())
	var readers sync.WaitGroup
	for range 4 {
		readers.Add(1)
		go func() {
			defer readers.Done()
			for ctx.Err() == nil {
				d.az.Authorize(as(alice), d.ec2, d.op, nil) //nolint:errcheck // only racing the writer
			}
		}()
	}
	defer func() {
		cancel()
		readers.Wait()
	}()
	for i := range 20 {
		attached := i%2 == 0
		op := "DetachUserPolicy"
		if attached {
			op = "AttachUserPolicy"
		}
		h.must(op, map[string]any{"UserName": "alice", "PolicyArn": "arn:aws:iam::aws:policy/AmazonEC2ReadOnlyAccess"})
		d.want(fmt.Sprintf("write %d (%s)", i, op), alice, attached)
	}
}

// Writes made through another IAM over the same store reach this one's
// cache through Run.
func TestRunSeesWritesOfAnotherIAM(t *testing.T) {
	st := sqlitestore.OpenTemp(t)
	h := newHarness(t)
	h.iam = New(Options{Store: st})
	svc, err := h.iam.Service()
	if err != nil {
		t.Fatal(err)
	}
	h.svc = svc
	other := New(Options{Store: st})
	ctx, cancel := context.WithCancel(context.Background())
	stopped := make(chan error, 1)
	go func() { stopped <- other.Run(ctx) }()
	defer func() {
		cancel()
		if err := <-stopped; err != nil {
			t.Errorf("Run: %v", err)
		}
	}()

	alice := h.userWithKey("alice", allowEC2)
	d := newDecider(t, other)
	d.want("before the change", alice, true)
	h.must("PutUserPolicy", map[string]any{"UserName": "alice", "PolicyName": "no-ec2", "PolicyDocument": denyEC2})
	deadline := time.Now().Add(10 * time.Second)
	for d.az.Authorize(as(alice), d.ec2, d.op, nil) == nil {
		if time.Now().After(deadline) {
			t.Fatal("the other IAM still allows 10s after the deny was written")
		}
		time.Sleep(time.Millisecond)
	}
}

func TestGenerationCache(t *testing.T) {
	var c generationCache[principalKey, *principalPolicies]
	a, b := principalKey{arn: "a"}, principalKey{arn: "b"}
	pa, pb := &principalPolicies{userName: "a"}, &principalPolicies{userName: "b"}
	if _, ok := c.get(0, a); ok {
		t.Fatal("hit in an empty cache")
	}
	c.put(1, a, pa)
	if got, ok := c.get(1, a); !ok || got != pa {
		t.Fatalf("get(1, a) = %v, %v", got, ok)
	}
	if _, ok := c.get(2, a); ok {
		t.Error("entry of generation 1 served at generation 2")
	}
	c.put(0, b, pb) // gathered before the cache's generation: dropped
	if _, ok := c.get(0, b); ok {
		t.Error("stale put served")
	}
	if _, ok := c.get(1, b); ok {
		t.Error("stale put stored under the current generation")
	}
	c.put(2, b, pb) // a newer generation drops the older entries
	if _, ok := c.get(2, a); ok {
		t.Error("generation 1 entry survived the move to generation 2")
	}
	if got, ok := c.get(2, b); !ok || got != pb {
		t.Errorf("get(2, b) = %v, %v", got, ok)
	}
	for i := range maxCachedEntries + 1 {
		c.put(2, principalKey{arn: fmt.Sprint(i)}, pa)
	}
	if n := len(c.entries); n > maxCachedEntries {
		t.Errorf("%d entries, bound is %d", n, maxCachedEntries)
	}
}

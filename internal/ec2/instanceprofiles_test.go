package ec2

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/nimbus-dev/nimbus/internal/iam"
	"github.com/nimbus-dev/nimbus/internal/identity"
	"github.com/nimbus-dev/nimbus/internal/service"
)

const ec2TrustPolicy = `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"ec2.amazonaws.com"},"Action":"sts:AssumeRole"}]}`

// iamWithProfile is a real IAM over the harness's store holding role
// "app" in profile "app-profile", and an empty profile "empty".
func iamWithProfile(t *testing.T, h *instanceHarness) *iam.IAM {
	t.Helper()
	m := iam.New(iam.Options{Store: h.st})
	svc, err := m.Service()
	if err != nil {
		t.Fatal(err)
	}
	call := func(op string, in map[string]any) {
		t.Helper()
		handler, ok := svc.Handler(op)
		if !ok {
			t.Fatalf("IAM has no %s", op)
		}
		if _, err := handler(h.ctx, in); err != nil {
			t.Fatalf("%s: %v", op, err)
		}
	}
	call("CreateRole", map[string]any{"RoleName": "app", "AssumeRolePolicyDocument": ec2TrustPolicy})
	call("CreateInstanceProfile", map[string]any{"InstanceProfileName": "app-profile"})
	call("AddRoleToInstanceProfile", map[string]any{"InstanceProfileName": "app-profile", "RoleName": "app"})
	call("CreateInstanceProfile", map[string]any{"InstanceProfileName": "empty"})
	return m
}

func newProfileHarness(t *testing.T) (*instanceHarness, *iam.IAM) {
	t.Helper()
	var m *iam.IAM
	h := newInstanceHarness(t, func(h *instanceHarness) {
		// The store is the harness's, open before this option runs.
		m = iamWithProfile(t, &instanceHarness{t: t, st: h.st, ctx: rootContext()})
		h.profiles = m
	})
	return h, m
}

func rootContext() context.Context {
	return identity.With(context.Background(), &identity.Call{Region: "us-east-1",
		Principal: &identity.Principal{Type: identity.Root, Account: testAccount}})
}

func TestInstanceProfileCredentials(t *testing.T) {
	h, m := newProfileHarness(t)
	r := h.run(&runInstancesInput{IamInstanceProfile: &iamInstanceProfileSpecification{Name: "app-profile"}})
	id := r.Instances[0].InstanceId
	wantARN := "arn:aws:iam::" + testAccount + ":instance-profile/app-profile"
	if p := r.Instances[0].IamInstanceProfile; p == nil || p.Arn != wantARN || !strings.HasPrefix(p.Id, "AIPA") || len(p.Id) != 21 {
		t.Fatalf("RunInstances IamInstanceProfile = %+v, want %s", p, wantARN)
	}
	h.waitState(id, stateRunning)
	if p := h.describe(id).IamInstanceProfile; p == nil || p.Arn != wantARN {
		t.Errorf("DescribeInstances IamInstanceProfile = %+v", p)
	}

	md, err := h.ctrl.InstanceForSandbox(h.ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	if md.IAM == nil || md.IAM.RoleName != "app" || md.IAM.InstanceProfileArn != wantARN {
		t.Fatalf("metadata IAM = %+v", md.IAM)
	}
	creds, err := md.IAM.Credentials(h.ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(creds.AccessKeyID, "ASIA") || creds.SecretAccessKey == "" || creds.Token == "" ||
		time.Until(creds.Expiration) < 50*time.Minute {
		t.Errorf("credentials = %+v", creds)
	}
	// They are real: IAM knows them as a session of the role named for the
	// instance.
	cred, err := m.Lookup(h.ctx, creds.AccessKeyID)
	if err != nil {
		t.Fatal(err)
	}
	wantSession := "arn:aws:sts::" + testAccount + ":assumed-role/app/" + id
	if cred.Secret != creds.SecretAccessKey || cred.SessionToken != creds.Token || cred.Principal.ARN != wantSession {
		t.Errorf("IAM's view of the credentials = %+v (principal %+v), want session %s", cred, cred.Principal, wantSession)
	}
	again, err := md.IAM.Credentials(h.ctx)
	if err != nil || again.AccessKeyID != creds.AccessKeyID {
		t.Errorf("second fetch = %+v, %v: want the cached %s", again, err, creds.AccessKeyID)
	}
	// Near expiry they are replaced.
	h.ctrl.creds.now = func() time.Time { return creds.Expiration.Add(-instanceCredentialRefresh + time.Second) }
	fresh, err := md.IAM.Credentials(h.ctx)
	if err != nil || fresh.AccessKeyID == creds.AccessKeyID {
		t.Errorf("fetch near expiry = %+v, %v: want new credentials", fresh, err)
	}

	// A profile without a role: no iam/ in the metadata.
	empty := h.run(&runInstancesInput{IamInstanceProfile: &iamInstanceProfileSpecification{Arn: "arn:aws:iam::" + testAccount + ":instance-profile/empty"}})
	h.waitState(empty.Instances[0].InstanceId, stateRunning)
	if md, err := h.ctrl.InstanceForSandbox(h.ctx, empty.Instances[0].InstanceId); err != nil || md.IAM != nil {
		t.Errorf("metadata of an instance whose profile has no role: IAM %+v, %v", md.IAM, err)
	}
	// An instance without a profile has none either.
	plain := h.run(&runInstancesInput{})
	h.waitState(plain.Instances[0].InstanceId, stateRunning)
	if md, err := h.ctrl.InstanceForSandbox(h.ctx, plain.Instances[0].InstanceId); err != nil || md.IAM != nil {
		t.Errorf("metadata without a profile: IAM %+v, %v", md.IAM, err)
	}
}

func TestInstanceProfileErrors(t *testing.T) {
	h, _ := newProfileHarness(t)
	run := func(p *iamInstanceProfileSpecification) error {
		_, err := h.e.runInstances(h.ctx, &runInstancesInput{ImageId: h.amiID, MinCount: 1, MaxCount: 1, IamInstanceProfile: p})
		return err
	}
	wantErr(t, run(&iamInstanceProfileSpecification{Name: "nope"}), "InvalidParameterValue")
	wantErr(t, run(&iamInstanceProfileSpecification{Arn: "arn:aws:iam::" + testAccount + ":instance-profile/nope"}), "InvalidParameterValue")
	wantErr(t, run(&iamInstanceProfileSpecification{Arn: "arn:aws:iam::999999999999:instance-profile/app-profile"}), "InvalidParameterValue")

	without := newInstanceHarness(t)
	_, err := without.e.runInstances(without.ctx, &runInstancesInput{ImageId: without.amiID, MinCount: 1, MaxCount: 1,
		IamInstanceProfile: &iamInstanceProfileSpecification{Name: "app-profile"}})
	wantErr(t, err, "Unsupported")
}

func TestInstanceProfileAssociations(t *testing.T) {
	h, _ := newProfileHarness(t)
	svc, err := service.New("ec2")
	if err != nil {
		t.Fatal(err)
	}
	h.e.registerInstanceProfiles(svc)
	r := h.run(&runInstancesInput{})
	id := r.Instances[0].InstanceId
	profile := &iamInstanceProfileSpecification{Name: "app-profile"}
	h.waitState(id, stateRunning)
	ended := h.run(&runInstancesInput{}).Instances[0].InstanceId
	if _, err := h.e.terminateInstances(h.ctx, &instanceIDsInput{InstanceIds: []string{ended}}); err != nil {
		t.Fatal(err)
	}
	h.waitState(ended, stateTerminated)
	_, err = h.e.associateIamInstanceProfile(h.ctx, &associateIamInstanceProfileInput{InstanceId: ended, IamInstanceProfile: profile})
	wantErr(t, err, "IncorrectInstanceState")
	if md, _ := h.ctrl.InstanceForSandbox(h.ctx, id); md == nil || md.IAM != nil {
		t.Fatalf("metadata before the association = %+v", md)
	}
	out, err := h.e.associateIamInstanceProfile(h.ctx, &associateIamInstanceProfileInput{InstanceId: id, IamInstanceProfile: profile})
	if err != nil {
		t.Fatal(err)
	}
	a := out.IamInstanceProfileAssociation
	if a.InstanceId != id || a.State != "associating" || !strings.HasPrefix(a.AssociationId, "iip-assoc-") ||
		a.IamInstanceProfile.Arn != "arn:aws:iam::"+testAccount+":instance-profile/app-profile" {
		t.Errorf("association = %+v", a)
	}
	_, err = h.e.associateIamInstanceProfile(h.ctx, &associateIamInstanceProfileInput{InstanceId: id, IamInstanceProfile: profile})
	wantErr(t, err, "IncorrectState")
	_, err = h.e.associateIamInstanceProfile(h.ctx, &associateIamInstanceProfileInput{InstanceId: "i-0123456789abcdef0", IamInstanceProfile: profile})
	wantErr(t, err, "InvalidInstanceID.NotFound")
	_, err = h.e.associateIamInstanceProfile(h.ctx, &associateIamInstanceProfileInput{InstanceId: id})
	wantErr(t, err, "MissingParameter")
	if md, _ := h.ctrl.InstanceForSandbox(h.ctx, id); md == nil || md.IAM == nil || md.IAM.RoleName != "app" {
		t.Errorf("metadata after the association = %+v", md)
	}

	described, err := h.e.describeIamInstanceProfileAssociations(h.ctx, &describeIamInstanceProfileAssociationsInput{
		Filters: []Filter{{"instance-id", []string{id}}}})
	if err != nil || len(described.IamInstanceProfileAssociations) != 1 ||
		described.IamInstanceProfileAssociations[0].AssociationId != a.AssociationId ||
		described.IamInstanceProfileAssociations[0].State != "associated" {
		t.Errorf("described = %+v, %v", described, err)
	}
	_, err = h.e.describeIamInstanceProfileAssociations(h.ctx, &describeIamInstanceProfileAssociationsInput{AssociationIds: []string{"iip-assoc-0123456789abcdef0"}})
	wantErr(t, err, "InvalidAssociationID.NotFound")

	replaced, err := h.e.replaceIamInstanceProfileAssociation(h.ctx, &replaceIamInstanceProfileAssociationInput{
		AssociationId: a.AssociationId, IamInstanceProfile: &iamInstanceProfileSpecification{Name: "empty"}})
	if err != nil {
		t.Fatal(err)
	}
	if replaced.IamInstanceProfileAssociation.AssociationId == a.AssociationId {
		t.Error("a replaced association kept its ID")
	}
	if md, _ := h.ctrl.InstanceForSandbox(h.ctx, id); md == nil || md.IAM != nil {
		t.Errorf("metadata with a role-less profile = %+v", md)
	}
	_, err = h.e.disassociateIamInstanceProfile(h.ctx, &disassociateIamInstanceProfileInput{AssociationId: a.AssociationId})
	wantErr(t, err, "InvalidAssociationID.NotFound")
	gone, err := h.e.disassociateIamInstanceProfile(h.ctx, &disassociateIamInstanceProfileInput{
		AssociationId: replaced.IamInstanceProfileAssociation.AssociationId})
	if err != nil || gone.IamInstanceProfileAssociation.State != "disassociating" {
		t.Errorf("disassociate = %+v, %v", gone, err)
	}
	if p := h.describe(id).IamInstanceProfile; p != nil {
		t.Errorf("profile after disassociation = %+v", p)
	}
	left, err := h.e.describeIamInstanceProfileAssociations(h.ctx, &describeIamInstanceProfileAssociationsInput{})
	if err != nil || len(left.IamInstanceProfileAssociations) != 0 {
		t.Errorf("associations left = %+v, %v", left, err)
	}
}

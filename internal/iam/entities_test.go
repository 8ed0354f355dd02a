package iam

import (
	"net/url"
	"strings"
	"testing"
)

const trustUser = `{"Version":"2012-10-17","Statement":{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::123456789012:user/alice"},"Action":"sts:AssumeRole"}}`
const allowEC2 = `{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"ec2:*","Resource":"*"}}`

func TestHandlersNameModelOperations(t *testing.T) {
	h := newHarness(t)
	if err := h.svc.Check(); err != nil {
		t.Fatal(err)
	}
	if n := len(h.svc.Implemented()); n < 60 {
		t.Errorf("only %d IAM operations implemented", n)
	}
}

func TestUsersAndGroups(t *testing.T) {
	h := newHarness(t)
	out := h.must("CreateUser", map[string]any{"UserName": "alice", "Tags": tagList("team", "blue")})
	if str(out, "User", "Arn") != "arn:aws:iam::123456789012:user/alice" || !strings.HasPrefix(str(out, "User", "UserId"), "AIDA") {
		t.Errorf("CreateUser = %v", out)
	}
	_, err := h.do(h.root, "CreateUser", map[string]any{"UserName": "ALICE"})
	wantCode(t, err, "EntityAlreadyExists", 409)
	_, err = h.do(h.root, "GetUser", map[string]any{"UserName": "bob"})
	wantCode(t, err, "NoSuchEntity", 404)
	_, err = h.do(h.root, "CreateUser", map[string]any{"UserName": "bad name!"})
	wantCode(t, err, "ValidationError", 0)

	h.must("CreateUser", map[string]any{"UserName": "bob", "Path": "/eng/"})
	h.must("CreateUser", map[string]any{"UserName": "carol"})
	page1 := h.must("ListUsers", map[string]any{"MaxItems": int64(2)})
	if len(items(page1, "Users")) != 2 || page1["IsTruncated"] != true || str(page1, "Marker") == "" {
		t.Fatalf("first page = %v", page1)
	}
	page2 := h.must("ListUsers", map[string]any{"MaxItems": int64(2), "Marker": str(page1, "Marker")})
	if len(items(page2, "Users")) != 1 || page2["IsTruncated"] != false {
		t.Fatalf("second page = %v", page2)
	}
	if eng := h.must("ListUsers", map[string]any{"PathPrefix": "/eng/"}); len(items(eng, "Users")) != 1 {
		t.Errorf("PathPrefix /eng/ = %v", eng)
	}

	h.must("CreateGroup", map[string]any{"GroupName": "devs"})
	_, err = h.do(h.root, "AddUserToGroup", map[string]any{"GroupName": "nogroup", "UserName": "alice"})
	wantCode(t, err, "NoSuchEntity", 404)
	h.must("AddUserToGroup", map[string]any{"GroupName": "devs", "UserName": "alice"})
	if g := h.must("GetGroup", map[string]any{"GroupName": "devs"}); len(items(g, "Users")) != 1 {
		t.Errorf("GetGroup = %v", g)
	}
	if gs := h.must("ListGroupsForUser", map[string]any{"UserName": "alice"}); len(items(gs, "Groups")) != 1 {
		t.Errorf("ListGroupsForUser = %v", gs)
	}
	_, err = h.do(h.root, "DeleteUser", map[string]any{"UserName": "alice"})
	wantCode(t, err, "DeleteConflict", 409)
	_, err = h.do(h.root, "DeleteGroup", map[string]any{"GroupName": "devs"})
	wantCode(t, err, "DeleteConflict", 409)
	h.must("RemoveUserFromGroup", map[string]any{"GroupName": "devs", "UserName": "alice"})
	h.must("DeleteGroup", map[string]any{"GroupName": "devs"})

	h.must("TagUser", map[string]any{"UserName": "alice", "Tags": tagList("team", "red", "env", "dev")})
	tags := h.must("ListUserTags", map[string]any{"UserName": "alice"})
	if len(items(tags, "Tags")) != 2 || str(items(tags, "Tags")[0].(map[string]any), "Value") != "red" {
		t.Errorf("tags = %v", tags)
	}
	h.must("UntagUser", map[string]any{"UserName": "alice", "TagKeys": []any{"env"}})
	if tags := h.must("ListUserTags", map[string]any{"UserName": "alice"}); len(items(tags, "Tags")) != 1 {
		t.Errorf("after untag = %v", tags)
	}
	h.must("DeleteUser", map[string]any{"UserName": "alice"})
	_, err = h.do(h.root, "GetUser", map[string]any{"UserName": "alice"})
	wantCode(t, err, "NoSuchEntity", 404)
}

func TestRolesAndInstanceProfiles(t *testing.T) {
	h := newHarness(t)
	_, err := h.do(h.root, "CreateRole", map[string]any{"RoleName": "r", "AssumeRolePolicyDocument": `{"Statement":{"Effect":"Allow","Action":"sts:AssumeRole"}}`})
	wantCode(t, err, "MalformedPolicyDocument", 400)
	_, err = h.do(h.root, "CreateRole", map[string]any{"RoleName": "r", "AssumeRolePolicyDocument": trustUser, "MaxSessionDuration": int64(100)})
	wantCode(t, err, "ValidationError", 0)
	out := h.must("CreateRole", map[string]any{"RoleName": "worker", "AssumeRolePolicyDocument": trustUser, "Tags": tagList("k", "v")})
	if !strings.HasPrefix(str(out, "Role", "RoleId"), "AROA") || field(out, "Role", "MaxSessionDuration") != int64(3600) {
		t.Errorf("CreateRole = %v", out)
	}
	got := h.must("GetRole", map[string]any{"RoleName": "worker"})
	doc, err := url.QueryUnescape(str(got, "Role", "AssumeRolePolicyDocument"))
	if err != nil || doc != trustUser {
		t.Errorf("trust document round trip = %q, %v", doc, err)
	}
	h.must("UpdateAssumeRolePolicy", map[string]any{"RoleName": "worker", "PolicyDocument": strings.ReplaceAll(trustUser, "alice", "bob")})
	got = h.must("GetRole", map[string]any{"RoleName": "worker"})
	if doc, _ := url.QueryUnescape(str(got, "Role", "AssumeRolePolicyDocument")); !strings.Contains(doc, "bob") {
		t.Errorf("trust policy not updated: %s", doc)
	}

	h.must("CreateInstanceProfile", map[string]any{"InstanceProfileName": "web"})
	_, err = h.do(h.root, "CreateInstanceProfile", map[string]any{"InstanceProfileName": "web"})
	wantCode(t, err, "EntityAlreadyExists", 409)
	h.must("AddRoleToInstanceProfile", map[string]any{"InstanceProfileName": "web", "RoleName": "worker"})
	_, err = h.do(h.root, "AddRoleToInstanceProfile", map[string]any{"InstanceProfileName": "web", "RoleName": "worker"})
	wantCode(t, err, "LimitExceeded", 409)
	ip := h.must("GetInstanceProfile", map[string]any{"InstanceProfileName": "web"})
	if roles := field(ip, "InstanceProfile", "Roles").([]any); len(roles) != 1 {
		t.Errorf("profile roles = %v", roles)
	}
	if l := h.must("ListInstanceProfilesForRole", map[string]any{"RoleName": "worker"}); len(items(l, "InstanceProfiles")) != 1 {
		t.Errorf("ListInstanceProfilesForRole = %v", l)
	}
	if arn, err := h.iam.InstanceProfileRole(h.root, testAccount, "web"); err != nil || arn != "arn:aws:iam::123456789012:role/worker" {
		t.Errorf("InstanceProfileRole = %q, %v", arn, err)
	}
	_, err = h.do(h.root, "DeleteRole", map[string]any{"RoleName": "worker"})
	wantCode(t, err, "DeleteConflict", 409)
	_, err = h.do(h.root, "DeleteInstanceProfile", map[string]any{"InstanceProfileName": "web"})
	wantCode(t, err, "DeleteConflict", 409)
	h.must("RemoveRoleFromInstanceProfile", map[string]any{"InstanceProfileName": "web", "RoleName": "worker"})
	h.must("DeleteInstanceProfile", map[string]any{"InstanceProfileName": "web"})
	h.must("DeleteRole", map[string]any{"RoleName": "worker"})
	_, err = h.do(h.root, "GetRole", map[string]any{"RoleName": "worker"})
	wantCode(t, err, "NoSuchEntity", 404)
}

func TestManagedPoliciesAndVersions(t *testing.T) {
	h := newHarness(t)
	_, err := h.do(h.root, "CreatePolicy", map[string]any{"PolicyName": "p", "PolicyDocument": `{"Statement":{"Effect":"Allow","Action":"ec2:*"}}`})
	wantCode(t, err, "MalformedPolicyDocument", 400)
	out := h.must("CreatePolicy", map[string]any{"PolicyName": "ec2", "PolicyDocument": allowEC2})
	arn := str(out, "Policy", "Arn")
	if arn != "arn:aws:iam::123456789012:policy/ec2" || str(out, "Policy", "DefaultVersionId") != "v1" {
		t.Fatalf("CreatePolicy = %v", out)
	}
	_, err = h.do(h.root, "CreatePolicy", map[string]any{"PolicyName": "ec2", "PolicyDocument": allowEC2})
	wantCode(t, err, "EntityAlreadyExists", 409)
	for i := 2; i <= 5; i++ {
		v := h.must("CreatePolicyVersion", map[string]any{"PolicyArn": arn, "PolicyDocument": allowEC2, "SetAsDefault": i == 3})
		if str(v, "PolicyVersion", "VersionId") != "v"+string(rune('0'+i)) {
			t.Errorf("version %d = %v", i, v)
		}
	}
	_, err = h.do(h.root, "CreatePolicyVersion", map[string]any{"PolicyArn": arn, "PolicyDocument": allowEC2})
	wantCode(t, err, "LimitExceeded", 409)
	if p := h.must("GetPolicy", map[string]any{"PolicyArn": arn}); str(p, "Policy", "DefaultVersionId") != "v3" {
		t.Errorf("default version = %v", p)
	}
	_, err = h.do(h.root, "DeletePolicyVersion", map[string]any{"PolicyArn": arn, "VersionId": "v3"})
	wantCode(t, err, "DeleteConflict", 409)
	h.must("DeletePolicyVersion", map[string]any{"PolicyArn": arn, "VersionId": "v1"})
	if vs := h.must("ListPolicyVersions", map[string]any{"PolicyArn": arn}); len(items(vs, "Versions")) != 4 {
		t.Errorf("versions = %v", vs)
	}
	pv := h.must("GetPolicyVersion", map[string]any{"PolicyArn": arn, "VersionId": "v3"})
	if doc, _ := url.QueryUnescape(str(pv, "PolicyVersion", "Document")); doc != allowEC2 || field(pv, "PolicyVersion", "IsDefaultVersion") != true {
		t.Errorf("GetPolicyVersion = %v", pv)
	}

	h.must("CreateUser", map[string]any{"UserName": "alice"})
	h.must("AttachUserPolicy", map[string]any{"UserName": "alice", "PolicyArn": arn})
	h.must("AttachUserPolicy", map[string]any{"UserName": "alice", "PolicyArn": "arn:aws:iam::aws:policy/ReadOnlyAccess"})
	_, err = h.do(h.root, "AttachUserPolicy", map[string]any{"UserName": "alice", "PolicyArn": "arn:aws:iam::aws:policy/NoSuchPolicy"})
	wantCode(t, err, "NoSuchEntity", 404)
	if l := h.must("ListAttachedUserPolicies", map[string]any{"UserName": "alice"}); len(items(l, "AttachedPolicies")) != 2 {
		t.Errorf("attached = %v", l)
	}
	ents := h.must("ListEntitiesForPolicy", map[string]any{"PolicyArn": arn})
	if len(items(ents, "PolicyUsers")) != 1 {
		t.Errorf("entities = %v", ents)
	}
	if p := h.must("GetPolicy", map[string]any{"PolicyArn": arn}); field(p, "Policy", "AttachmentCount") != int64(1) {
		t.Errorf("attachment count = %v", p)
	}
	_, err = h.do(h.root, "DeletePolicy", map[string]any{"PolicyArn": arn})
	wantCode(t, err, "DeleteConflict", 409)
	_, err = h.do(h.root, "DeleteUser", map[string]any{"UserName": "alice"})
	wantCode(t, err, "DeleteConflict", 409)
	h.must("DetachUserPolicy", map[string]any{"UserName": "alice", "PolicyArn": arn})
	_, err = h.do(h.root, "DetachUserPolicy", map[string]any{"UserName": "alice", "PolicyArn": arn})
	wantCode(t, err, "NoSuchEntity", 404)

	aws := h.must("ListPolicies", map[string]any{"Scope": "AWS"})
	names := map[string]bool{}
	for _, p := range items(aws, "Policies") {
		names[str(p.(map[string]any), "PolicyName")] = true
	}
	for _, want := range []string{"AdministratorAccess", "ReadOnlyAccess", "AmazonEC2FullAccess", "AmazonEC2ReadOnlyAccess",
		"AWSLambda_FullAccess", "AWSBatchFullAccess", "AmazonS3FullAccess", "IAMFullAccess", "PowerUserAccess"} {
		if !names[want] {
			t.Errorf("AWS-managed %s missing", want)
		}
	}
	if local := h.must("ListPolicies", map[string]any{"Scope": "Local"}); len(items(local, "Policies")) != 1 {
		t.Errorf("local policies = %v", local)
	}
	_, err = h.do(h.root, "CreatePolicyVersion", map[string]any{"PolicyArn": "arn:aws:iam::aws:policy/ReadOnlyAccess", "PolicyDocument": allowEC2})
	wantCode(t, err, "InvalidInput", 0)
}

func TestInlinePolicies(t *testing.T) {
	h := newHarness(t)
	h.must("CreateUser", map[string]any{"UserName": "alice"})
	h.must("CreateGroup", map[string]any{"GroupName": "g"})
	h.must("CreateRole", map[string]any{"RoleName": "r", "AssumeRolePolicyDocument": trustUser})
	for _, e := range []struct{ noun, member, name string }{{"User", "UserName", "alice"}, {"Group", "GroupName", "g"}, {"Role", "RoleName", "r"}} {
		_, err := h.do(h.root, "Put"+e.noun+"Policy", map[string]any{e.member: e.name, "PolicyName": "p", "PolicyDocument": `{"Statement":{"Effect":"Allow","Principal":"*","Action":"*","Resource":"*"}}`})
		wantCode(t, err, "MalformedPolicyDocument", 400)
		h.must("Put"+e.noun+"Policy", map[string]any{e.member: e.name, "PolicyName": "p", "PolicyDocument": allowEC2})
		got := h.must("Get"+e.noun+"Policy", map[string]any{e.member: e.name, "PolicyName": "p"})
		if doc, _ := url.QueryUnescape(str(got, "PolicyDocument")); doc != allowEC2 {
			t.Errorf("%s inline document = %q", e.noun, doc)
		}
		if l := h.must("List"+e.noun+"Policies", map[string]any{e.member: e.name}); len(items(l, "PolicyNames")) != 1 {
			t.Errorf("%s inline list = %v", e.noun, l)
		}
		h.must("Delete"+e.noun+"Policy", map[string]any{e.member: e.name, "PolicyName": "p"})
		_, err = h.do(h.root, "Get"+e.noun+"Policy", map[string]any{e.member: e.name, "PolicyName": "p"})
		wantCode(t, err, "NoSuchEntity", 404)
	}
}

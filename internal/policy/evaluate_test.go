package policy

import (
	"fmt"
	"testing"
)

const (
	acct    = "123456789012"
	userARN = "arn:aws:iam::123456789012:user/alice"
	roleARN = "arn:aws:iam::123456789012:role/worker"
	sessARN = "arn:aws:sts::123456789012:assumed-role/worker/s1"
	inst    = "arn:aws:ec2:us-east-1:123456789012:instance/i-0abc"
)

// stmt builds a one-statement identity policy document.
func stmt(effect, action, resource string, cond string) string {
	c := ""
	if cond != "" {
		c = `,"Condition":` + cond
	}
	return fmt.Sprintf(`{"Version":"2012-10-17","Statement":{"Effect":%q,"Action":%s,"Resource":%s%s}}`,
		effect, action, resource, c)
}

func allowIf(cond string) string { return stmt("Allow", `"ec2:RunInstances"`, `"*"`, cond) }

func ctxOf(kv ...string) Context {
	c := Context{}
	for i := 0; i+1 < len(kv); i += 2 {
		c[toLower(kv[i])] = append(c[toLower(kv[i])], kv[i+1])
	}
	return c
}

func toLower(s string) string {
	b := []byte(s)
	for i, c := range b {
		if 'A' <= c && c <= 'Z' {
			b[i] = c + 32
		}
	}
	return string(b)
}

type evalCase struct {
	name     string
	identity []string
	boundary string
	session  []string
	hasSess  bool
	resource []string
	caller   Caller
	action   string
	res      string
	ctx      Context
	want     Decision
	by       PolicyType
}

func runEval(t *testing.T, cases []evalCase) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			set := &Set{HasSession: tc.hasSess || len(tc.session) > 0}
			for i, d := range tc.identity {
				p := MustParse(d, Identity)
				p.Name = fmt.Sprintf("id%d", i)
				set.Identity = append(set.Identity, p)
			}
			if tc.boundary != "" {
				set.Boundary = MustParse(tc.boundary, Identity)
			}
			for _, d := range tc.session {
				set.Session = append(set.Session, MustParse(d, Identity))
			}
			for _, d := range tc.resource {
				set.Resource = append(set.Resource, MustParse(d, Resource))
			}
			caller := tc.caller
			if caller.ARN == "" {
				caller = Caller{ARN: userARN, Account: acct}
			}
			action, res := tc.action, tc.res
			if action == "" {
				action = "ec2:RunInstances"
			}
			if res == "" {
				res = inst
			}
			ctx := tc.ctx
			if ctx == nil {
				ctx = Context{}
			}
			got := Evaluate(&Request{Caller: caller, Action: action, Resource: res, Context: ctx}, set)
			if got.Decision != tc.want {
				t.Fatalf("decision = %v (by %s), want %v", got.Decision, got.By, tc.want)
			}
			if tc.by != "" && got.By != tc.by {
				t.Errorf("decided by %q, want %q", got.By, tc.by)
			}
		})
	}
}

func TestEvaluatePrecedenceAndWildcards(t *testing.T) {
	allowAll := stmt("Allow", `"*"`, `"*"`, "")
	denyRun := stmt("Deny", `"ec2:RunInstances"`, `"*"`, "")
	runEval(t, []evalCase{
		{name: "no policies implicit deny", want: ImplicitDeny, by: IdentityBased},
		{name: "allow all", identity: []string{allowAll}, want: Allowed},
		{name: "explicit deny beats allow", identity: []string{allowAll, denyRun}, want: ExplicitDeny, by: IdentityBased},
		{name: "deny first then allow still deny", identity: []string{denyRun, allowAll}, want: ExplicitDeny},
		{name: "deny other action irrelevant", identity: []string{allowAll, stmt("Deny", `"ec2:TerminateInstances"`, `"*"`, "")}, want: Allowed},
		{name: "exact action", identity: []string{stmt("Allow", `"ec2:RunInstances"`, `"*"`, "")}, want: Allowed},
		{name: "action case-insensitive", identity: []string{stmt("Allow", `"EC2:runinstances"`, `"*"`, "")}, want: Allowed},
		{name: "action prefix wildcard", identity: []string{stmt("Allow", `"ec2:Run*"`, `"*"`, "")}, want: Allowed},
		{name: "action service wildcard", identity: []string{stmt("Allow", `"ec2:*"`, `"*"`, "")}, want: Allowed},
		{name: "action ? wildcard", identity: []string{stmt("Allow", `"ec2:RunInstance?"`, `"*"`, "")}, want: Allowed},
		{name: "action other service", identity: []string{stmt("Allow", `"lambda:*"`, `"*"`, "")}, want: ImplicitDeny},
		{name: "action list", identity: []string{stmt("Allow", `["s3:GetObject","ec2:RunInstances"]`, `"*"`, "")}, want: Allowed},
		{name: "action mismatch", identity: []string{stmt("Allow", `"ec2:Describe*"`, `"*"`, "")}, want: ImplicitDeny},
		{name: "NotAction allows others", identity: []string{`{"Version":"2012-10-17","Statement":{"Effect":"Allow","NotAction":"iam:*","Resource":"*"}}`}, want: Allowed},
		{name: "NotAction excludes", identity: []string{`{"Version":"2012-10-17","Statement":{"Effect":"Allow","NotAction":"ec2:*","Resource":"*"}}`}, want: ImplicitDeny},
		{name: "Deny NotAction denies others", identity: []string{allowAll, `{"Version":"2012-10-17","Statement":{"Effect":"Deny","NotAction":"s3:*","Resource":"*"}}`}, want: ExplicitDeny},
		{name: "Deny NotAction spares listed", identity: []string{allowAll, `{"Version":"2012-10-17","Statement":{"Effect":"Deny","NotAction":"ec2:*","Resource":"*"}}`}, want: Allowed},
		{name: "resource exact", identity: []string{stmt("Allow", `"ec2:*"`, `"`+inst+`"`, "")}, want: Allowed},
		{name: "resource wildcard", identity: []string{stmt("Allow", `"ec2:*"`, `"arn:aws:ec2:*:123456789012:instance/*"`, "")}, want: Allowed},
		{name: "resource other account", identity: []string{stmt("Allow", `"ec2:*"`, `"arn:aws:ec2:*:999999999999:instance/*"`, "")}, want: ImplicitDeny},
		{name: "resource other type", identity: []string{stmt("Allow", `"ec2:*"`, `"arn:aws:ec2:*:*:volume/*"`, "")}, want: ImplicitDeny},
		{name: "resource ? wildcard", identity: []string{stmt("Allow", `"ec2:*"`, `"arn:aws:ec2:us-east-?:*:instance/*"`, "")}, want: Allowed},
		{name: "resource case-sensitive", identity: []string{stmt("Allow", `"ec2:*"`, `"arn:aws:ec2:*:*:INSTANCE/*"`, "")}, want: ImplicitDeny},
		{name: "resource list", identity: []string{stmt("Allow", `"ec2:*"`, `["arn:aws:s3:::b","`+inst+`"]`, "")}, want: Allowed},
		{name: "NotResource allows others", identity: []string{`{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"*","NotResource":"arn:aws:s3:::*"}}`}, want: Allowed},
		{name: "NotResource excludes", identity: []string{`{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"*","NotResource":"arn:aws:ec2:*"}}`}, want: ImplicitDeny},
		{name: "deny on resource", identity: []string{allowAll, stmt("Deny", `"*"`, `"arn:aws:ec2:*:*:instance/i-0abc"`, "")}, want: ExplicitDeny},
		{name: "deny on other resource", identity: []string{allowAll, stmt("Deny", `"*"`, `"arn:aws:ec2:*:*:instance/i-other"`, "")}, want: Allowed},
		{name: "star resource request only matches *", identity: []string{stmt("Allow", `"ec2:*"`, `"arn:aws:ec2:*:*:*"`, "")}, res: "*", want: ImplicitDeny},
		{name: "star resource request with * policy", identity: []string{allowAll}, res: "*", want: Allowed},
		{name: "statement array mixed", identity: []string{`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"ec2:*","Resource":"*"},{"Effect":"Deny","Action":"ec2:Terminate*","Resource":"*"}]}`}, action: "ec2:TerminateInstances", want: ExplicitDeny},
		{name: "statement array allows other", identity: []string{`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"ec2:*","Resource":"*"},{"Effect":"Deny","Action":"ec2:Terminate*","Resource":"*"}]}`}, want: Allowed},
		{name: "glob star in middle", identity: []string{stmt("Allow", `"ec2:*Instances"`, `"*"`, "")}, want: Allowed},
		{name: "glob multiple stars", identity: []string{stmt("Allow", `"ec2:*Inst*"`, `"*"`, "")}, want: Allowed},
		{name: "glob star no match", identity: []string{stmt("Allow", `"ec2:*Volume*"`, `"*"`, "")}, want: ImplicitDeny},
	})
}

func TestEvaluateBoundariesSessionsResources(t *testing.T) {
	allowAll := stmt("Allow", `"*"`, `"*"`, "")
	ec2Only := stmt("Allow", `"ec2:*"`, `"*"`, "")
	s3Only := stmt("Allow", `"s3:*"`, `"*"`, "")
	session := Caller{ARN: sessARN, RoleARN: roleARN, Account: acct}
	runEval(t, []evalCase{
		{name: "boundary allows", identity: []string{allowAll}, boundary: ec2Only, want: Allowed},
		{name: "boundary excludes", identity: []string{allowAll}, boundary: s3Only, want: ImplicitDeny, by: BoundaryPolicy},
		{name: "boundary alone grants nothing", boundary: ec2Only, want: ImplicitDeny, by: IdentityBased},
		{name: "boundary explicit deny", identity: []string{allowAll}, boundary: `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"},{"Effect":"Deny","Action":"ec2:RunInstances","Resource":"*"}]}`, want: ExplicitDeny, by: BoundaryPolicy},
		{name: "session allows", caller: session, identity: []string{allowAll}, session: []string{ec2Only}, want: Allowed},
		{name: "session excludes", caller: session, identity: []string{allowAll}, session: []string{s3Only}, want: ImplicitDeny, by: SessionPolicy},
		{name: "session alone grants nothing", caller: session, session: []string{ec2Only}, want: ImplicitDeny, by: IdentityBased},
		{name: "empty session set denies", caller: session, identity: []string{allowAll}, hasSess: true, want: ImplicitDeny, by: SessionPolicy},
		{name: "any session policy allows", caller: session, identity: []string{allowAll}, session: []string{s3Only, ec2Only}, want: Allowed},
		{name: "session explicit deny", caller: session, identity: []string{allowAll}, session: []string{allowAll, stmt("Deny", `"ec2:*"`, `"*"`, "")}, want: ExplicitDeny, by: SessionPolicy},
		{name: "boundary and session both allow", caller: session, identity: []string{allowAll}, boundary: ec2Only, session: []string{ec2Only}, want: Allowed},
		{name: "boundary allows session does not", caller: session, identity: []string{allowAll}, boundary: ec2Only, session: []string{s3Only}, want: ImplicitDeny},
		{name: "identity not allowing within boundary", identity: []string{s3Only}, boundary: ec2Only, want: ImplicitDeny, by: IdentityBased},
		{name: "resource policy names user", resource: []string{`{"Statement":{"Effect":"Allow","Principal":{"AWS":"` + userARN + `"},"Action":"ec2:*","Resource":"*"}}`}, want: Allowed},
		{name: "resource policy names user past boundary", resource: []string{`{"Statement":{"Effect":"Allow","Principal":{"AWS":"` + userARN + `"},"Action":"ec2:*","Resource":"*"}}`}, boundary: s3Only, want: Allowed},
		{name: "resource policy names other user", resource: []string{`{"Statement":{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::123456789012:user/bob"},"Action":"ec2:*","Resource":"*"}}`}, want: ImplicitDeny},
		{name: "resource policy names account needs identity", resource: []string{`{"Statement":{"Effect":"Allow","Principal":{"AWS":"123456789012"},"Action":"ec2:*","Resource":"*"}}`}, want: ImplicitDeny},
		{name: "resource policy names account with identity", resource: []string{`{"Statement":{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::123456789012:root"},"Action":"ec2:*","Resource":"*"}}`}, identity: []string{ec2Only}, want: Allowed},
		{name: "resource policy star", resource: []string{`{"Statement":{"Effect":"Allow","Principal":"*","Action":"ec2:*","Resource":"*"}}`}, want: Allowed},
		{name: "resource policy AWS star", resource: []string{`{"Statement":{"Effect":"Allow","Principal":{"AWS":"*"},"Action":"ec2:*","Resource":"*"}}`}, want: Allowed},
		{name: "resource policy deny beats identity allow", identity: []string{allowAll}, resource: []string{`{"Statement":{"Effect":"Deny","Principal":"*","Action":"ec2:*","Resource":"*"}}`}, want: ExplicitDeny, by: ResourceBased},
		{name: "resource deny for other principal", identity: []string{allowAll}, resource: []string{`{"Statement":{"Effect":"Deny","Principal":{"AWS":"arn:aws:iam::123456789012:user/bob"},"Action":"ec2:*","Resource":"*"}}`}, want: Allowed},
		{name: "resource deny NotPrincipal", identity: []string{allowAll}, resource: []string{`{"Statement":{"Effect":"Deny","NotPrincipal":{"AWS":"arn:aws:iam::123456789012:user/bob"},"Action":"ec2:*","Resource":"*"}}`}, want: ExplicitDeny},
		{name: "resource deny NotPrincipal spares named", identity: []string{allowAll}, resource: []string{`{"Statement":{"Effect":"Deny","NotPrincipal":{"AWS":"` + userARN + `"},"Action":"ec2:*","Resource":"*"}}`}, want: Allowed},
		{name: "resource policy names session", caller: session, resource: []string{`{"Statement":{"Effect":"Allow","Principal":{"AWS":"` + sessARN + `"},"Action":"ec2:*","Resource":"*"}}`}, hasSess: true, want: Allowed},
		{name: "resource policy names role, session policy limits", caller: session, resource: []string{`{"Statement":{"Effect":"Allow","Principal":{"AWS":"` + roleARN + `"},"Action":"ec2:*","Resource":"*"}}`}, session: []string{s3Only}, want: ImplicitDeny, by: SessionPolicy},
		{name: "resource policy names role", caller: session, resource: []string{`{"Statement":{"Effect":"Allow","Principal":{"AWS":"` + roleARN + `"},"Action":"ec2:*","Resource":"*"}}`}, want: Allowed},
		{name: "resource policy service principal", caller: Caller{ARN: "svc", Service: "lambda.amazonaws.com", Account: acct}, resource: []string{`{"Statement":{"Effect":"Allow","Principal":{"Service":"lambda.amazonaws.com"},"Action":"ec2:*","Resource":"*"}}`}, want: Allowed},
		{name: "resource policy other service", caller: Caller{ARN: "svc", Service: "ec2.amazonaws.com", Account: acct}, resource: []string{`{"Statement":{"Effect":"Allow","Principal":{"Service":"lambda.amazonaws.com"},"Action":"ec2:*","Resource":"*"}}`}, want: ImplicitDeny},
		{name: "resource policy wrong action", resource: []string{`{"Statement":{"Effect":"Allow","Principal":"*","Action":"s3:*","Resource":"*"}}`}, want: ImplicitDeny},
		{name: "resource policy resource mismatch", resource: []string{`{"Statement":{"Effect":"Allow","Principal":"*","Action":"ec2:*","Resource":"arn:aws:ec2:*:*:volume/*"}}`}, want: ImplicitDeny},
		{name: "trust policy role principal", caller: session, action: "sts:AssumeRole", res: roleARN, resource: []string{`{"Statement":{"Effect":"Allow","Principal":{"AWS":"` + roleARN + `"},"Action":"sts:AssumeRole"}}`}, want: Allowed},
	})
}

func TestEvaluateConditions(t *testing.T) {
	ctx := ctxOf("aws:username", "alice", "aws:SourceIp", "10.1.2.3", "ec2:InstanceType", "t3.micro",
		"aws:CurrentTime", "2026-06-01T12:00:00Z", "aws:SecureTransport", "false", "aws:MultiFactorAuthAge", "300",
		"aws:TagKeys", "env", "aws:TagKeys", "team", "aws:RequestTag/env", "prod", "aws:PrincipalArn", userARN,
		"aws:PrincipalTag/team", "blue", "aws:RequestedRegion", "us-east-1", "s3:prefix", "home/alice/x")
	cases := []struct {
		cond string
		want Decision
	}{
		{`{"StringEquals":{"aws:username":"alice"}}`, Allowed},
		{`{"StringEquals":{"aws:username":"bob"}}`, ImplicitDeny},
		{`{"StringEquals":{"aws:username":["bob","alice"]}}`, Allowed},
		{`{"StringEquals":{"AWS:USERNAME":"alice"}}`, Allowed},
		{`{"StringEquals":{"aws:username":"ALICE"}}`, ImplicitDeny},
		{`{"StringEqualsIgnoreCase":{"aws:username":"ALICE"}}`, Allowed},
		{`{"StringNotEqualsIgnoreCase":{"aws:username":"ALICE"}}`, ImplicitDeny},
		{`{"StringNotEquals":{"aws:username":"bob"}}`, Allowed},
		{`{"StringNotEquals":{"aws:username":["bob","alice"]}}`, ImplicitDeny},
		{`{"StringNotEquals":{"aws:missing":"x"}}`, Allowed},
		{`{"StringEquals":{"aws:missing":"x"}}`, ImplicitDeny},
		{`{"StringEqualsIfExists":{"aws:missing":"x"}}`, Allowed},
		{`{"StringEqualsIfExists":{"aws:username":"bob"}}`, ImplicitDeny},
		{`{"StringLike":{"ec2:InstanceType":"t3.*"}}`, Allowed},
		{`{"StringLike":{"ec2:InstanceType":"m5.*"}}`, ImplicitDeny},
		{`{"StringLike":{"ec2:InstanceType":"t?.micro"}}`, Allowed},
		{`{"StringNotLike":{"ec2:InstanceType":"m5.*"}}`, Allowed},
		{`{"StringNotLike":{"ec2:InstanceType":["m5.*","t3.*"]}}`, ImplicitDeny},
		{`{"StringLike":{"s3:prefix":"home/${aws:username}/*"}}`, Allowed},
		{`{"StringLike":{"s3:prefix":"home/${aws:userid}/*"}}`, ImplicitDeny},
		{`{"StringEquals":{"aws:RequestTag/env":"prod"}}`, Allowed},
		{`{"StringEquals":{"aws:requesttag/env":"prod"}}`, Allowed},
		{`{"StringEquals":{"aws:RequestTag/env":"dev"}}`, ImplicitDeny},
		{`{"StringEquals":{"aws:PrincipalTag/team":"blue"}}`, Allowed},
		{`{"StringEquals":{"aws:RequestedRegion":"eu-west-1"}}`, ImplicitDeny},
		{`{"StringEquals":{"aws:RequestedRegion":["eu-west-1","us-east-1"]}}`, Allowed},
		{`{"StringEquals":{"aws:username":"alice","ec2:InstanceType":"t3.micro"}}`, Allowed},
		{`{"StringEquals":{"aws:username":"alice","ec2:InstanceType":"t3.large"}}`, ImplicitDeny},
		{`{"StringEquals":{"aws:username":"alice"},"StringLike":{"ec2:InstanceType":"m*"}}`, ImplicitDeny},
		{`{"NumericLessThan":{"aws:MultiFactorAuthAge":"3600"}}`, Allowed},
		{`{"NumericLessThan":{"aws:MultiFactorAuthAge":"300"}}`, ImplicitDeny},
		{`{"NumericLessThanEquals":{"aws:MultiFactorAuthAge":"300"}}`, Allowed},
		{`{"NumericGreaterThan":{"aws:MultiFactorAuthAge":"299"}}`, Allowed},
		{`{"NumericGreaterThan":{"aws:MultiFactorAuthAge":300}}`, ImplicitDeny},
		{`{"NumericGreaterThanEquals":{"aws:MultiFactorAuthAge":"300"}}`, Allowed},
		{`{"NumericEquals":{"aws:MultiFactorAuthAge":"300.0"}}`, Allowed},
		{`{"NumericEquals":{"aws:MultiFactorAuthAge":"301"}}`, ImplicitDeny},
		{`{"NumericNotEquals":{"aws:MultiFactorAuthAge":"301"}}`, Allowed},
		{`{"NumericNotEquals":{"aws:MultiFactorAuthAge":"300"}}`, ImplicitDeny},
		{`{"NumericLessThan":{"aws:username":"5"}}`, ImplicitDeny},
		{`{"DateGreaterThan":{"aws:CurrentTime":"2026-01-01T00:00:00Z"}}`, Allowed},
		{`{"DateGreaterThan":{"aws:CurrentTime":"2027-01-01T00:00:00Z"}}`, ImplicitDeny},
		{`{"DateLessThan":{"aws:CurrentTime":"2027-01-01T00:00:00Z"}}`, Allowed},
		{`{"DateLessThan":{"aws:CurrentTime":"2026-06-01T12:00:00Z"}}`, ImplicitDeny},
		{`{"DateLessThanEquals":{"aws:CurrentTime":"2026-06-01T12:00:00Z"}}`, Allowed},
		{`{"DateGreaterThanEquals":{"aws:CurrentTime":"2026-06-01T12:00:00Z"}}`, Allowed},
		{`{"DateEquals":{"aws:CurrentTime":"2026-06-01T12:00:00Z"}}`, Allowed},
		{`{"DateNotEquals":{"aws:CurrentTime":"2026-06-01T12:00:00Z"}}`, ImplicitDeny},
		{`{"DateGreaterThan":{"aws:CurrentTime":"1767225600"}}`, Allowed},
		{`{"DateLessThan":{"aws:CurrentTime":"2026-06-01"}}`, ImplicitDeny},
		{`{"Bool":{"aws:SecureTransport":"false"}}`, Allowed},
		{`{"Bool":{"aws:SecureTransport":"true"}}`, ImplicitDeny},
		{`{"Bool":{"aws:SecureTransport":false}}`, Allowed},
		{`{"Bool":{"aws:MultiFactorAuthPresent":"true"}}`, ImplicitDeny},
		{`{"BoolIfExists":{"aws:MultiFactorAuthPresent":"true"}}`, Allowed},
		{`{"IpAddress":{"aws:SourceIp":"10.0.0.0/8"}}`, Allowed},
		{`{"IpAddress":{"aws:SourceIp":"192.168.0.0/16"}}`, ImplicitDeny},
		{`{"IpAddress":{"aws:SourceIp":["192.168.0.0/16","10.1.2.3/32"]}}`, Allowed},
		{`{"IpAddress":{"aws:SourceIp":"10.1.2.3"}}`, Allowed},
		{`{"NotIpAddress":{"aws:SourceIp":"192.168.0.0/16"}}`, Allowed},
		{`{"NotIpAddress":{"aws:SourceIp":"10.0.0.0/8"}}`, ImplicitDeny},
		{`{"ArnEquals":{"aws:PrincipalArn":"` + userARN + `"}}`, Allowed},
		{`{"ArnEquals":{"aws:PrincipalArn":"arn:aws:iam::123456789012:user/bob"}}`, ImplicitDeny},
		{`{"ArnLike":{"aws:PrincipalArn":"arn:aws:iam::*:user/*"}}`, Allowed},
		{`{"ArnLike":{"aws:PrincipalArn":"arn:aws:iam::*:role/*"}}`, ImplicitDeny},
		{`{"ArnLike":{"aws:PrincipalArn":"arn:aws:iam::123456789012:*"}}`, Allowed},
		{`{"ArnNotLike":{"aws:PrincipalArn":"arn:aws:iam::*:role/*"}}`, Allowed},
		{`{"ArnNotEquals":{"aws:PrincipalArn":"` + userARN + `"}}`, ImplicitDeny},
		{`{"ArnLike":{"aws:PrincipalArn":"arn:aws:iam:*"}}`, ImplicitDeny},
		{`{"Null":{"aws:missing":"true"}}`, Allowed},
		{`{"Null":{"aws:username":"true"}}`, ImplicitDeny},
		{`{"Null":{"aws:username":"false"}}`, Allowed},
		{`{"Null":{"aws:missing":"false"}}`, ImplicitDeny},
		{`{"ForAnyValue:StringEquals":{"aws:TagKeys":["team","owner"]}}`, Allowed},
		{`{"ForAnyValue:StringEquals":{"aws:TagKeys":["owner"]}}`, ImplicitDeny},
		{`{"ForAnyValue:StringEquals":{"aws:missing":["owner"]}}`, ImplicitDeny},
		{`{"ForAllValues:StringEquals":{"aws:TagKeys":["env","team","owner"]}}`, Allowed},
		{`{"ForAllValues:StringEquals":{"aws:TagKeys":["env"]}}`, ImplicitDeny},
		{`{"ForAllValues:StringEquals":{"aws:missing":["env"]}}`, Allowed},
		{`{"ForAllValues:StringLike":{"aws:TagKeys":["e*","t*"]}}`, Allowed},
		{`{"ForAnyValue:StringNotEquals":{"aws:TagKeys":["env"]}}`, Allowed},
		{`{"ForAnyValue:StringNotEquals":{"aws:TagKeys":["env","team"]}}`, ImplicitDeny},
		{`{"ForAllValues:StringNotEquals":{"aws:TagKeys":["owner"]}}`, Allowed},
		{`{"ForAllValues:StringNotEquals":{"aws:TagKeys":["team"]}}`, ImplicitDeny},
		{`{"StringEquals":{"aws:TagKeys":"team"}}`, Allowed},
		{`{"StringEquals":{"aws:PrincipalTag/team":"${aws:PrincipalTag/team}"}}`, Allowed},
		{`{"StringEquals":{"aws:username":"${aws:missing, 'alice'}"}}`, Allowed},
		{`{"StringEquals":{"aws:username":"${aws:missing}"}}`, ImplicitDeny},
		{`{"ForAnyValue:StringLikeIfExists":{"aws:missing":"x"}}`, Allowed},
	}
	for i, tc := range cases {
		t.Run(fmt.Sprintf("%d", i), func(t *testing.T) {
			p, err := Parse(allowIf(tc.cond), Identity)
			if err != nil {
				t.Fatalf("parse %s: %v", tc.cond, err)
			}
			got := Evaluate(&Request{Caller: Caller{ARN: userARN, Account: acct}, Action: "ec2:RunInstances", Resource: inst, Context: ctx},
				&Set{Identity: []*Policy{p}})
			if got.Decision != tc.want {
				t.Errorf("%s: %v, want %v", tc.cond, got.Decision, tc.want)
			}
		})
	}
}

func TestPolicyVariablesInResource(t *testing.T) {
	ctx := ctxOf("aws:username", "alice", "aws:PrincipalTag/team", "blue")
	cases := []struct {
		version, resource, req string
		want                   bool
	}{
		{"2012-10-17", "arn:aws:s3:::home/${aws:username}/*", "arn:aws:s3:::home/alice/f", true},
		{"2012-10-17", "arn:aws:s3:::home/${aws:username}/*", "arn:aws:s3:::home/bob/f", false},
		{"2012-10-17", "arn:aws:s3:::home/${aws:PrincipalTag/team}/*", "arn:aws:s3:::home/blue/f", true},
		{"2012-10-17", "arn:aws:s3:::home/${aws:userid}/*", "arn:aws:s3:::home/alice/f", false},
		{"2012-10-17", "arn:aws:s3:::home/${aws:userid,'nobody'}/*", "arn:aws:s3:::home/nobody/f", true},
		{"2012-10-17", "arn:aws:s3:::a${$}b", "arn:aws:s3:::a$b", true},
		{"2008-10-17", "arn:aws:s3:::home/${aws:username}/*", "arn:aws:s3:::home/alice/f", false},
		{"2008-10-17", "arn:aws:s3:::home/${aws:username}/*", "arn:aws:s3:::home/${aws:username}/f", true},
	}
	for _, tc := range cases {
		doc := fmt.Sprintf(`{"Version":%q,"Statement":{"Effect":"Allow","Action":"s3:GetObject","Resource":%q}}`, tc.version, tc.resource)
		p := MustParse(doc, Identity)
		got := Allows(&Request{Caller: Caller{ARN: userARN, Account: acct}, Action: "s3:GetObject", Resource: tc.req, Context: ctx}, &Set{Identity: []*Policy{p}})
		if got != tc.want {
			t.Errorf("%s %s vs %s: %v, want %v", tc.version, tc.resource, tc.req, got, tc.want)
		}
	}
}

package iam

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/nimbus-dev/nimbus/internal/awserr"
	"github.com/nimbus-dev/nimbus/internal/identity"
	"github.com/nimbus-dev/nimbus/internal/policy"
	"github.com/nimbus-dev/nimbus/internal/store"
)

// Session duration limits (seconds), as STS sets them.
const (
	minSessionSeconds       = 900
	defaultRoleSeconds      = 3600
	roleChainingMaxSeconds  = 3600
	defaultUserTokenSeconds = 43200
	maxUserTokenSeconds     = 129600
	maxRootTokenSeconds     = 3600
	maxSessionPolicyBytes   = 2048
	maxSessionPolicyArns    = 10
	maxSessionTags          = 50
	sessionTokenRandomBytes = 120
)

// SessionCredentials are temporary credentials STS hands out.
type SessionCredentials struct {
	AccessKeyID     string
	SecretAccessKey string
	SessionToken    string
	Expiration      time.Time
	// For role sessions: arn:aws:sts::ACCOUNT:assumed-role/ROLE/SESSION and ROLEID:SESSION.
	AssumedRoleARN string
	AssumedRoleID  string
}

// AssumeRoleRequest is AssumeRole's input.
type AssumeRoleRequest struct {
	RoleARN         string
	RoleSessionName string
	DurationSeconds int64 // 0: one hour
	Policy          string
	PolicyARNs      []string
	Tags            []Tag
	ExternalID      string
	SourceIP        string
}

func accessDenied(format string, args ...any) error {
	return &awserr.Error{Kind: awserr.AccessDenied, Code: "AccessDenied", Status: http.StatusForbidden, Message: fmt.Sprintf(format, args...)}
}

// parseRoleARN splits arn:aws:iam::ACCOUNT:role/PATH/NAME.
func parseRoleARN(arn string) (acct, name string, err error) {
	rest, ok := strings.CutPrefix(arn, "arn:aws:iam::")
	if ok {
		var res string
		acct, res, ok = strings.Cut(rest, ":role/")
		if ok && len(acct) == 12 && res != "" {
			return acct, res[strings.LastIndexByte(res, '/')+1:], nil
		}
	}
	return "", "", validation("%s is invalid", arn)
}

func checkSessionName(name string) error {
	if name == "" {
		return awserr.Missing("RoleSessionName")
	}
	if len(name) < 2 || len(name) > 64 {
		return validation("1 validation error detected: Value '%s' at 'roleSessionName' failed to satisfy constraint: Member must have length between 2 and 64", name)
	}
	return checkName("RoleSessionName", name, 64)
}

// AssumeRole checks the role's trust policy (and, across accounts or when
// the trust policy names only the account, the caller's own policies)
// against the caller and returns credentials for a session of the role.
func (m *IAM) AssumeRole(ctx context.Context, caller *identity.Principal, req AssumeRoleRequest) (*SessionCredentials, error) {
	if caller == nil {
		return nil, accessDenied("Anonymous callers may not assume roles")
	}
	roleAcct, roleName, err := parseRoleARN(req.RoleARN)
	if err != nil {
		return nil, err
	}
	if err := checkSessionName(req.RoleSessionName); err != nil {
		return nil, err
	}
	if req.Policy != "" {
		if len(req.Policy) > maxSessionPolicyBytes {
			return nil, &awserr.Error{Kind: awserr.Validation, Code: "PackedPolicyTooLarge", Message: "Packed policy consumes more than 100 percent of the allotted space"}
		}
		if err := m.checkDocument(req.Policy, policy.Identity); err != nil {
			return nil, err
		}
	}
	if len(req.PolicyARNs) > maxSessionPolicyArns {
		return nil, validation("Too many policy ARNs: at most %d are allowed", maxSessionPolicyArns)
	}
	if len(req.Tags) > maxSessionTags {
		return nil, validation("Too many session tags: at most %d are allowed", maxSessionTags)
	}
	var creds *SessionCredentials
	err = m.store.Update(ctx, func(tx store.Tx) error {
		r, err := get[roleRecord](tx, roleAcct, kindRole, roleName, "role")
		if err != nil {
			return accessDenied("User: %s is not authorized to perform: sts:AssumeRole on resource: %s", caller.ARN, req.RoleARN)
		}
		if r.ARN != req.RoleARN && !strings.EqualFold(r.Name, roleName) {
			return accessDenied("User: %s is not authorized to perform: sts:AssumeRole on resource: %s", caller.ARN, req.RoleARN)
		}
		if err := m.checkTrust(tx, caller, r, &req); err != nil {
			return err
		}
		duration, err := roleDuration(caller, r, req.DurationSeconds)
		if err != nil {
			return err
		}
		for _, arn := range req.PolicyARNs {
			if _, err := m.managedPolicy(tx, roleAcct, arn); err != nil {
				return err
			}
		}
		creds, err = m.createRoleSession(tx, r, roleAcct, req, duration, caller.ARN)
		return err
	})
	return creds, err
}

// roleDuration applies DurationSeconds' limits: 900 up to the role's
// MaxSessionDuration, and one hour when a role session assumes a role.
func roleDuration(caller *identity.Principal, r *roleRecord, requested int64) (time.Duration, error) {
	if requested == 0 {
		requested = defaultRoleSeconds
	}
	if requested < minSessionSeconds {
		return 0, validation("1 validation error detected: Value '%d' at 'durationSeconds' failed to satisfy constraint: Member must have value greater than or equal to %d", requested, minSessionSeconds)
	}
	max := r.MaxSessionDuration
	if max == 0 {
		max = defaultRoleSeconds
	}
	if caller.Type == identity.RoleSession && requested > roleChainingMaxSeconds {
		return 0, validation("The requested DurationSeconds exceeds the 1 hour session limit for roles assumed by role chaining.")
	}
	if requested > max {
		return 0, validation("The requested DurationSeconds exceeds the MaxSessionDuration set for this role.")
	}
	return time.Duration(requested) * time.Second, nil
}

// checkTrust decides whether caller may assume r.
func (m *IAM) checkTrust(tx store.Tx, caller *identity.Principal, r *roleRecord, req *AssumeRoleRequest) error {
	denied := accessDenied("User: %s is not authorized to perform: sts:AssumeRole on resource: %s", caller.ARN, r.ARN)
	trust, err := m.parse(r.TrustPolicy, policy.Trust)
	if err != nil {
		return denied
	}
	trust = named(trust, r.ARN+" trust policy")
	roleAcct := strings.Split(r.ARN, ":")[4]
	var pp *principalPolicies
	if caller.Account == roleAcct || caller.Type != identity.Root {
		// Callers from other accounts must exist there; their policies
		// are read from their own account.
		if pp, err = m.policiesOf(tx, caller); err != nil {
			return denied
		}
	} else {
		pp = &principalPolicies{caller: policy.Caller{ARN: caller.ARN, Account: caller.Account}, set: policy.Set{Identity: []*policy.Policy{allowAll}}}
	}
	ctx := m.requestContext(pp, caller, &identity.Call{SourceIP: req.SourceIP})
	ctx.Set("sts:RoleSessionName", req.RoleSessionName)
	if req.ExternalID != "" {
		ctx.Set("sts:ExternalId", req.ExternalID)
	}
	addRequestTags(ctx, req.Tags)
	preq := &policy.Request{Caller: pp.caller, Action: "sts:AssumeRole", Resource: r.ARN, Context: ctx}
	trustOnly := policy.Set{Resource: []*policy.Policy{trust}}
	if !trustAllows(preq, &trustOnly) {
		// Unlike other resources, a role is assumable only if its trust
		// policy allows the caller, whatever the caller's own policies say.
		return denied
	}
	if caller.Account == roleAcct {
		set := pp.set
		set.Resource = []*policy.Policy{trust}
		if policy.Evaluate(preq, &set).Decision != policy.Allowed {
			return denied
		}
		return nil
	}
	// Across accounts both sides must allow: the trust policy names the
	// caller (or its account) and the caller's own policies allow.
	trustSet := policy.Set{Identity: []*policy.Policy{allowAll}, Resource: []*policy.Policy{trust}}
	if policy.Evaluate(preq, &trustSet).Decision != policy.Allowed {
		return denied
	}
	own := pp.set
	if policy.Evaluate(preq, &own).Decision != policy.Allowed {
		return denied
	}
	return nil
}

// trustAllows reports whether some Allow statement of the trust policy
// matches the request at all (naming the account counts).
func trustAllows(req *policy.Request, set *policy.Set) bool {
	for _, p := range set.Resource {
		for _, st := range p.Statements {
			if st.Effect == policy.Allow && st.Matches(req, true) {
				return true
			}
		}
	}
	return false
}

func newSessionToken() string {
	b := make([]byte, sessionTokenRandomBytes)
	rand.Read(b)
	return "FwoGZXIvYXdzE" + base64.StdEncoding.EncodeToString(b)
}

// createRoleSession stores a role session and returns its credentials.
func (m *IAM) createRoleSession(tx store.Tx, r *roleRecord, acct string, req AssumeRoleRequest, d time.Duration, callerARN string) (*SessionCredentials, error) {
	s := &sessionRecord{AccessKeyID: newID("ASIA", 16), Secret: newSecret(), Token: newSessionToken(),
		Expiration: m.now().Add(d).UTC().Truncate(time.Second), Account: acct, RoleName: r.Name, RoleARN: r.ARN, RoleID: r.ID,
		SessionName: req.RoleSessionName, Policy: req.Policy, PolicyARNs: req.PolicyARNs, Tags: req.Tags,
		SourceIP: req.SourceIP, CallerARN: callerARN, HasSessionPolicies: req.Policy != "" || len(req.PolicyARNs) > 0}
	if _, err := tx.Create(store.Key{Account: acct, Kind: kindSession, ID: s.AccessKeyID}, s); err != nil {
		return nil, storeErr(err, "store session")
	}
	p := s.principal()
	return &SessionCredentials{AccessKeyID: s.AccessKeyID, SecretAccessKey: s.Secret, SessionToken: s.Token,
		Expiration: s.Expiration, AssumedRoleARN: p.ARN, AssumedRoleID: p.UserID}, nil
}

// MintRoleCredentials returns credentials for a session of a role on behalf
// of a workload nimbus runs (an EC2 instance's profile, a Lambda
// function's execution role, a Batch job role). nimbus is the AWS service
// here, so the role's trust policy is not consulted; see CheckServiceTrust.
// A duration of 0 means one hour; it is capped at the role's
// MaxSessionDuration.
func (m *IAM) MintRoleCredentials(ctx context.Context, roleARN, sessionName string, duration time.Duration) (*SessionCredentials, error) {
	acct, name, err := parseRoleARN(roleARN)
	if err != nil {
		return nil, err
	}
	if len(sessionName) < 2 {
		sessionName = "nimbus-" + sessionName
	}
	if len(sessionName) > 64 {
		sessionName = sessionName[:64]
	}
	var creds *SessionCredentials
	err = m.store.Update(ctx, func(tx store.Tx) error {
		r, err := get[roleRecord](tx, acct, kindRole, name, "role")
		if err != nil {
			return err
		}
		d := duration
		if d <= 0 {
			d = defaultRoleSeconds * time.Second
		}
		if limit := time.Duration(r.MaxSessionDuration) * time.Second; limit > 0 && d > limit {
			d = limit
		}
		if d < minSessionSeconds*time.Second {
			d = minSessionSeconds * time.Second
		}
		creds, err = m.createRoleSession(tx, r, acct, AssumeRoleRequest{RoleSessionName: sessionName}, d, "nimbus")
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("mint credentials for %s: %w", roleARN, err)
	}
	return creds, nil
}

// CheckServiceTrust reports whether a role's trust policy lets an AWS
// service principal (ec2.amazonaws.com, lambda.amazonaws.com,
// ecs-tasks.amazonaws.com) assume it, for the layers that launch
// workloads to refuse a role their service could not use.
func (m *IAM) CheckServiceTrust(ctx context.Context, roleARN, servicePrincipal string) error {
	acct, name, err := parseRoleARN(roleARN)
	if err != nil {
		return err
	}
	return m.store.View(ctx, func(tx store.Tx) error {
		r, err := get[roleRecord](tx, acct, kindRole, name, "role")
		if err != nil {
			return err
		}
		trust, err := m.parse(r.TrustPolicy, policy.Trust)
		if err != nil {
			return malformedDocument(err)
		}
		req := &policy.Request{Caller: policy.Caller{ARN: servicePrincipal, Service: servicePrincipal, Account: acct},
			Action: "sts:AssumeRole", Resource: r.ARN, Context: policy.Context{}}
		if !policy.Allows(req, &policy.Set{Resource: []*policy.Policy{trust}}) {
			return invalidInput("The role %s cannot be assumed by %s: its trust policy does not allow it.", roleARN, servicePrincipal)
		}
		return nil
	})
}

// GetSessionToken returns temporary credentials for an IAM user (or the
// account root) with the caller's own permissions.
func (m *IAM) GetSessionToken(ctx context.Context, caller *identity.Principal, durationSeconds int64) (*SessionCredentials, error) {
	if caller == nil || caller.Type == identity.RoleSession || strings.HasPrefix(caller.AccessKey, "ASIA") {
		return nil, accessDenied("Cannot call GetSessionToken with session credentials")
	}
	max, def := int64(maxUserTokenSeconds), int64(defaultUserTokenSeconds)
	if caller.Type == identity.Root {
		max, def = maxRootTokenSeconds, maxRootTokenSeconds
	}
	if durationSeconds == 0 {
		durationSeconds = def
	}
	if durationSeconds < minSessionSeconds || durationSeconds > maxUserTokenSeconds {
		return nil, validation("1 validation error detected: Value '%d' at 'durationSeconds' failed to satisfy constraint: Member must have value between %d and %d", durationSeconds, minSessionSeconds, maxUserTokenSeconds)
	}
	if durationSeconds > max {
		durationSeconds = max
	}
	s := &sessionRecord{AccessKeyID: newID("ASIA", 16), Secret: newSecret(), Token: newSessionToken(),
		Expiration: m.now().Add(time.Duration(durationSeconds) * time.Second).UTC().Truncate(time.Second),
		Account:    caller.Account, CallerARN: caller.ARN}
	if caller.Type == identity.Root {
		s.Root = true
	} else {
		s.UserName, s.UserARN, s.UserID = caller.Name, caller.ARN, caller.UserID
	}
	err := m.store.Update(ctx, func(tx store.Tx) error {
		_, err := tx.Create(store.Key{Account: caller.Account, Kind: kindSession, ID: s.AccessKeyID}, s)
		return storeErrOrNil(err, "store session")
	})
	if err != nil {
		return nil, err
	}
	return &SessionCredentials{AccessKeyID: s.AccessKeyID, SecretAccessKey: s.Secret, SessionToken: s.Token, Expiration: s.Expiration}, nil
}

// PurgeExpiredSessions deletes the records of temporary credentials that
// expired before now (they are refused from their expiration on; this
// only reclaims their space) and returns how many it deleted. The server
// calls it now and then from a goroutine it owns.
func (m *IAM) PurgeExpiredSessions(ctx context.Context) (int, error) {
	now := m.now()
	var expired []store.Key
	err := m.store.View(ctx, func(tx store.Tx) error {
		return tx.List(store.Query{Kind: kindSession, AllAccounts: true, AllRegions: true}, func(o store.Object) error {
			var s sessionRecord
			if err := o.Decode(&s); err != nil {
				return err
			}
			if !now.Before(s.Expiration) {
				expired = append(expired, o.Key)
			}
			return nil
		})
	})
	if err != nil || len(expired) == 0 {
		return 0, err
	}
	err = m.store.Update(ctx, func(tx store.Tx) error {
		for _, k := range expired {
			if err := tx.Delete(k, 0); err != nil && !errors.Is(err, store.ErrNotFound) {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("purge expired sessions: %w", err)
	}
	return len(expired), nil
}

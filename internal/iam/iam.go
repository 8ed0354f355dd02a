// Package iam serves AWS Identity and Access Management over the query
// protocol and is nimbus's directory of principals: it stores users, groups,
// roles, managed and inline policies, access keys, instance profiles and STS
// sessions, resolves access keys to principals (a credentials.Source), mints
// role credentials for workloads, and authorizes every request (an
// edge.Authorizer) with package policy. IAM is global: every object is
// stored under its account with region "".
package iam

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/nimbus-dev/nimbus/internal/awserr"
	"github.com/nimbus-dev/nimbus/internal/identity"
	"github.com/nimbus-dev/nimbus/internal/policy"
	"github.com/nimbus-dev/nimbus/internal/service"
	"github.com/nimbus-dev/nimbus/internal/store"
)

// Store kinds IAM owns.
const (
	kindUser            = "iam:user"
	kindGroup           = "iam:group"
	kindRole            = "iam:role"
	kindPolicy          = "iam:policy"
	kindAccessKey       = "iam:access-key"
	kindInstanceProfile = "iam:instance-profile"
	kindSession         = "iam:session"
)

var allKinds = []string{kindUser, kindGroup, kindRole, kindPolicy, kindAccessKey, kindInstanceProfile, kindSession}

// Options are IAM's dependencies.
type Options struct {
	Store store.Store
	// Now is the clock (sessions expire by it); nil means time.Now.
	Now func() time.Time
}

// IAM is the directory of principals and their policies.
type IAM struct {
	store store.Store
	now   func() time.Time
	// parsed caches parsed policy documents by kind and text: documents
	// are immutable once stored, and parsing dominates authorization.
	parsed sync.Map // parsedKey -> *policy.Policy
	// changes counts IAM's writes; the caches below hold what was read
	// from the store while it is unchanged (changes.go).
	changes    *changeCounter
	principals generationCache[principalKey, *principalPolicies] // principalcache.go
	keys       generationCache[string, *cachedCredential]        // credentials.go, by access key ID
}

type parsedKey struct {
	kind policy.Kind
	doc  string
}

// New returns the IAM directory over a store.
func New(opts Options) *IAM {
	now := opts.Now
	if now == nil {
		now = time.Now
	}
	changes := &changeCounter{}
	return &IAM{store: countingStore{Store: opts.Store, changes: changes}, now: now, changes: changes}
}

// Service returns the IAM API service.
func (m *IAM) Service() (*service.Service, error) {
	svc, err := service.New("iam")
	if err != nil {
		return nil, err
	}
	m.registerUsers(svc)
	m.registerGroups(svc)
	m.registerRoles(svc)
	m.registerPolicies(svc)
	m.registerAttachments(svc)
	m.registerInline(svc)
	m.registerAccessKeys(svc)
	m.registerInstanceProfiles(svc)
	m.registerSimulation(svc)
	svc.OnReset(func(ctx context.Context) error { return service.DeleteKinds(ctx, m.store, allKinds...) })
	return svc, nil
}

// parse parses a document through the cache.
func (m *IAM) parse(doc string, kind policy.Kind) (*policy.Policy, error) {
	k := parsedKey{kind, doc}
	if p, ok := m.parsed.Load(k); ok {
		return p.(*policy.Policy), nil
	}
	p, err := policy.Parse(doc, kind)
	if err != nil {
		return nil, err
	}
	m.parsed.Store(k, p)
	return p, nil
}

// checkDocument validates a document from a request, answering
// MalformedPolicyDocument with the reason.
func (m *IAM) checkDocument(doc string, kind policy.Kind) error {
	if doc == "" {
		return awserr.Missing("PolicyDocument")
	}
	if _, err := m.parse(doc, kind); err != nil {
		return malformedDocument(err)
	}
	return nil
}

func malformedDocument(err error) error {
	if me, ok := err.(*policy.MalformedError); ok {
		return &awserr.Error{Kind: awserr.Validation, Code: "MalformedPolicyDocument", Status: http.StatusBadRequest, Message: me.Reason, Err: err}
	}
	return &awserr.Error{Kind: awserr.Validation, Code: "MalformedPolicyDocument", Status: http.StatusBadRequest, Message: err.Error(), Err: err}
}

func noSuchEntity(format string, args ...any) error {
	return &awserr.Error{Kind: awserr.NotFound, Code: "NoSuchEntity", Status: http.StatusNotFound, Message: fmt.Sprintf(format, args...)}
}

func alreadyExists(format string, args ...any) error {
	return &awserr.Error{Kind: awserr.AlreadyExists, Code: "EntityAlreadyExists", Status: http.StatusConflict, Message: fmt.Sprintf(format, args...)}
}

func limitExceeded(format string, args ...any) error {
	return &awserr.Error{Kind: awserr.LimitExceeded, Code: "LimitExceeded", Status: http.StatusConflict, Message: fmt.Sprintf(format, args...)}
}

func deleteConflict(format string, args ...any) error {
	return &awserr.Error{Kind: awserr.Conflict, Code: "DeleteConflict", Status: http.StatusConflict, Message: fmt.Sprintf(format, args...)}
}

func validation(format string, args ...any) error {
	return &awserr.Error{Kind: awserr.Validation, Code: "ValidationError", Message: fmt.Sprintf(format, args...)}
}

func invalidInput(format string, args ...any) error {
	return &awserr.Error{Kind: awserr.Validation, Code: "InvalidInput", Message: fmt.Sprintf(format, args...)}
}

// account is the calling principal's account: IAM objects live there.
func account(ctx context.Context) (string, error) {
	a := identity.Account(ctx)
	if a == "" {
		return "", awserr.Internalf(nil, "IAM request without an account")
	}
	return a, nil
}

func key(account, kind, name string) store.Key {
	return store.Key{Account: account, Kind: kind, ID: strings.ToLower(name)}
}

// storeErr turns a store failure into an API error.
func storeErr(err error, what string) error {
	if _, ok := err.(*awserr.Error); ok {
		return err
	}
	return awserr.Internalf(err, "%s", what)
}

const idAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"

// newID returns an IAM unique ID: a four-letter prefix (AIDA user, AROA
// role, AGPA group, ANPA policy, AIPA instance profile, AKIA or ASIA access
// key) and n more characters.
func newID(prefix string, n int) string {
	b := make([]byte, n)
	rand.Read(b)
	for i := range b {
		b[i] = idAlphabet[int(b[i])%len(idAlphabet)]
	}
	return prefix + string(b)
}

// newSecret returns a 40-character secret access key.
func newSecret() string {
	b := make([]byte, 30)
	rand.Read(b)
	return base64.StdEncoding.EncodeToString(b)
}

// encodeDocument URL-encodes a policy document as IAM returns documents
// (the CLI decodes them; SDK users call url.QueryUnescape).
func encodeDocument(doc string) string {
	return strings.ReplaceAll(url.QueryEscape(doc), "+", "%20")
}

// checkName validates an IAM entity name.
func checkName(field, name string, max int) error {
	if name == "" {
		return awserr.Missing(field)
	}
	if len(name) > max {
		return validation("1 validation error detected: Value '%s' at '%s' failed to satisfy constraint: Member must have length less than or equal to %d", name, lowerFirst(field), max)
	}
	for _, c := range name {
		ok := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.ContainsRune("+=,.@_-", c)
		if !ok {
			return validation("1 validation error detected: Value '%s' at '%s' failed to satisfy constraint: Member must satisfy regular expression pattern: [\\w+=,.@-]+", name, lowerFirst(field))
		}
	}
	return nil
}

// checkPath validates an IAM path and returns it, "/" when empty.
func checkPath(p string) (string, error) {
	if p == "" {
		return "/", nil
	}
	if !strings.HasPrefix(p, "/") || !strings.HasSuffix(p, "/") || len(p) > 512 {
		return "", validation("The specified value for path is invalid. It must begin and end with / and contain only alphanumeric characters and/or / characters.")
	}
	return p, nil
}

func lowerFirst(s string) string {
	if s == "" {
		return s
	}
	return strings.ToLower(s[:1]) + s[1:]
}

func arnOf(account, kind, path, name string) string {
	return "arn:aws:iam::" + account + ":" + kind + path + name
}

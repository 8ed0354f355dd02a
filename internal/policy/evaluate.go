package policy

import "strings"

// Caller is who makes a request, as resource and trust policies' Principal
// elements name it.
type Caller struct {
	ARN     string // user ARN, assumed-role session ARN, or the account root's ARN
	RoleARN string // for a role session, the IAM ARN of its role
	Account string
	Service string // a service principal such as lambda.amazonaws.com, for workloads minted by nimbus
}

// Request is one authorization question: may Caller perform Action on
// Resource, given the condition keys in Context?
type Request struct {
	Caller   Caller
	Action   string // service:Operation, e.g. ec2:RunInstances
	Resource string // an ARN, or "*" when the action has no resource
	Context  Context
}

// Set is every policy that bears on a request.
type Set struct {
	Identity []*Policy // the principal's own, its groups' and its role's policies
	// Boundary is the principal's permissions boundary; nil means none.
	Boundary *Policy
	// Session holds the session policies of a role session (the inline
	// Policy and the PolicyArns); HasSession says there were any, since an
	// empty Session then allows nothing.
	Session    []*Policy
	HasSession bool
	// Resource holds the resource-based policies of the resource (a trust
	// policy for sts:AssumeRole), all in the caller's account.
	Resource []*Policy
}

// Decision is the outcome of an evaluation.
type Decision int

const (
	ImplicitDeny Decision = iota
	Allowed
	ExplicitDeny
)

func (d Decision) String() string {
	switch d {
	case Allowed:
		return "allowed"
	case ExplicitDeny:
		return "explicitDeny"
	}
	return "implicitDeny"
}

// PolicyType says which kind of policy decided, for AWS's denial wording.
type PolicyType string

const (
	IdentityBased  PolicyType = "identity-based policy"
	ResourceBased  PolicyType = "resource-based policy"
	BoundaryPolicy PolicyType = "permissions boundary"
	SessionPolicy  PolicyType = "session policy"
)

// Result is a decision and what made it.
type Result struct {
	Decision Decision
	// By is the kind of policy that denied: for an explicit deny, the one
	// holding the Deny; for an implicit deny, the one that failed to allow.
	By PolicyType
	// Policy is the name of the policy that decided, when one did.
	Policy string
	// Statement is the statement that decided (the Deny, or an Allow).
	Statement *Statement
}

// Evaluate applies AWS's evaluation logic for a request within one account:
// an explicit Deny in any policy wins; otherwise a resource policy that
// names the caller itself (its user or session ARN) allows on its own;
// otherwise the identity policies (or a resource policy naming the role or
// account) must allow, and so must the permissions boundary and session
// policies where there are any.
func Evaluate(req *Request, set *Set) Result {
	type group struct {
		by       PolicyType
		policies []*Policy
	}
	groups := [...]group{{IdentityBased, set.Identity}, {ResourceBased, set.Resource},
		{BoundaryPolicy, nil}, {SessionPolicy, set.Session}}
	if set.Boundary != nil {
		groups[2].policies = []*Policy{set.Boundary}
	}
	for _, g := range groups {
		for _, p := range g.policies {
			if st := p.firstMatch(req, Deny, g.by == ResourceBased); st != nil {
				return Result{Decision: ExplicitDeny, By: g.by, Policy: p.Name, Statement: st}
			}
		}
	}
	// A same-account resource policy naming the caller's own ARN grants
	// by itself, past boundaries and session policies; one naming its role
	// (or everyone) stands in for an identity policy; one naming only the
	// account delegates to the identity policies.
	var resAllow *Statement
	var resPolicy string
	for _, p := range set.Resource {
		for _, st := range p.Statements {
			if st.Effect != Allow || !st.Matches(req, true) {
				continue
			}
			switch grantOf(st, &req.Caller) {
			case grantsCaller:
				return Result{Decision: Allowed, By: ResourceBased, Policy: p.Name, Statement: st}
			case grantsRole:
				if resAllow == nil {
					resAllow, resPolicy = st, p.Name
				}
			}
		}
	}
	allow, allowPolicy := resAllow, resPolicy
	if allow == nil {
		for _, p := range set.Identity {
			if st := p.firstMatch(req, Allow, false); st != nil {
				allow, allowPolicy = st, p.Name
				break
			}
		}
	}
	if allow == nil {
		return Result{Decision: ImplicitDeny, By: IdentityBased}
	}
	if set.Boundary != nil && set.Boundary.firstMatch(req, Allow, false) == nil {
		return Result{Decision: ImplicitDeny, By: BoundaryPolicy, Policy: set.Boundary.Name}
	}
	if set.HasSession {
		ok := false
		for _, p := range set.Session {
			if p.firstMatch(req, Allow, false) != nil {
				ok = true
				break
			}
		}
		if !ok {
			return Result{Decision: ImplicitDeny, By: SessionPolicy}
		}
	}
	return Result{Decision: Allowed, Policy: allowPolicy, Statement: allow}
}

// Allows is Evaluate's answer alone.
func Allows(req *Request, set *Set) bool { return Evaluate(req, set).Decision == Allowed }

// firstMatch returns the first statement with the given effect that
// applies to the request. withPrincipal checks Principal/NotPrincipal (for
// resource and trust policies).
func (p *Policy) firstMatch(req *Request, effect Effect, withPrincipal bool) *Statement {
	for _, st := range p.Statements {
		if st.Effect == effect && st.Matches(req, withPrincipal) {
			return st
		}
	}
	return nil
}

// Matches reports whether the statement applies to the request, whatever
// its effect.
func (st *Statement) Matches(req *Request, withPrincipal bool) bool {
	if withPrincipal {
		switch {
		case st.Principal != nil:
			if !st.Principal.matches(&req.Caller) {
				return false
			}
		case st.NotPrincipal != nil:
			if st.NotPrincipal.matches(&req.Caller) {
				return false
			}
		}
	}
	if !st.matchesAction(req.Action) || !st.matchesResource(req) {
		return false
	}
	for i := range st.Conditions {
		if !st.Conditions[i].eval(req.Context, st.varsExpand) {
			return false
		}
	}
	return true
}

func (st *Statement) matchesAction(action string) bool {
	if st.NotAction != nil {
		for _, a := range st.NotAction {
			if actionMatches(a, action) {
				return false
			}
		}
		return true
	}
	for _, a := range st.Action {
		if actionMatches(a, action) {
			return true
		}
	}
	return false
}

func (st *Statement) matchesResource(req *Request) bool {
	if st.Resource == nil && st.NotResource == nil {
		return true // trust policies: the role is the resource
	}
	list, negate := st.Resource, false
	if st.NotResource != nil {
		list, negate = st.NotResource, true
	}
	hit := false
	for _, r := range list {
		if r == "*" {
			hit = true
			break
		}
		if st.varsExpand {
			var ok bool
			if r, ok = expand(r, req.Context); !ok {
				continue
			}
		}
		if req.Resource != "*" && Glob(r, req.Resource) {
			hit = true
			break
		}
	}
	return hit != negate
}

// matches reports whether a Principal element names the caller: "*", its
// account (ID or root ARN), its own ARN, its role's ARN, or its service.
func (p *Principals) matches(c *Caller) bool {
	if p.All {
		return true
	}
	for _, a := range p.AWS {
		switch {
		case a == "*":
			return true
		case c.Account != "" && (a == c.Account || a == "arn:aws:iam::"+c.Account+":root"):
			return true
		case c.ARN != "" && a == c.ARN, c.RoleARN != "" && a == c.RoleARN:
			return true
		}
	}
	for _, s := range p.Service {
		if c.Service != "" && strings.EqualFold(s, c.Service) {
			return true
		}
	}
	return false
}

// grant is how directly a matching resource-policy statement names the
// caller, which decides what else must allow the request.
type grant int

const (
	grantsAccount grant = iota // only the account: identity policies must allow too
	grantsRole                 // the role, everyone, a service: boundaries and session policies still apply
	grantsCaller               // the caller's own user or session ARN: allowed outright
)

func grantOf(st *Statement, c *Caller) grant {
	p := st.Principal
	if p == nil {
		return grantsRole // NotPrincipal
	}
	best := grantsAccount
	if p.All {
		best = grantsRole
	}
	for _, a := range p.AWS {
		switch {
		case c.ARN != "" && a == c.ARN && !strings.HasSuffix(a, ":root"):
			return grantsCaller
		case a == "*", c.RoleARN != "" && a == c.RoleARN:
			best = grantsRole
		}
	}
	for _, s := range p.Service {
		if c.Service != "" && strings.EqualFold(s, c.Service) {
			best = grantsRole
		}
	}
	return best
}

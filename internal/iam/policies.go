package iam

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/nimbus-dev/nimbus/internal/policy"
	"github.com/nimbus-dev/nimbus/internal/service"
	"github.com/nimbus-dev/nimbus/internal/store"
)

// maxPolicyVersions is IAM's limit of stored versions per managed policy.
const maxPolicyVersions = 5

func (m *IAM) registerPolicies(svc *service.Service) {
	svc.Handle("CreatePolicy", service.Op(m.createPolicy))
	svc.Handle("GetPolicy", service.Op(m.getPolicy))
	svc.Handle("ListPolicies", service.Op(m.listPolicies))
	svc.Handle("DeletePolicy", service.Op(m.deletePolicy))
	svc.Handle("CreatePolicyVersion", service.Op(m.createPolicyVersion))
	svc.Handle("GetPolicyVersion", service.Op(m.getPolicyVersion))
	svc.Handle("ListPolicyVersions", service.Op(m.listPolicyVersions))
	svc.Handle("DeletePolicyVersion", service.Op(m.deletePolicyVersion))
	svc.Handle("SetDefaultPolicyVersion", service.Op(m.setDefaultPolicyVersion))
	svc.Handle("ListEntitiesForPolicy", service.Op(m.listEntitiesForPolicy))
}

// Policy is IAM's Policy shape.
type Policy struct {
	PolicyName       string
	PolicyId         string
	Arn              string
	Path             string
	DefaultVersionId string
	AttachmentCount  int64
	IsAttachable     bool
	Description      string `json:",omitempty"`
	CreateDate       time.Time
	UpdateDate       time.Time
	Tags             []Tag `json:",omitempty"`
}

func (p *policyRecord) view(attachments int64) Policy {
	return Policy{PolicyName: p.Name, PolicyId: p.ID, Arn: p.ARN, Path: p.Path, DefaultVersionId: p.DefaultVersion,
		AttachmentCount: attachments, IsAttachable: true, Description: p.Description, CreateDate: p.Created,
		UpdateDate: p.Updated, Tags: p.Tags}
}

// policyNameFromARN splits a customer policy ARN of the account into its
// name; ok is false for an ARN of another account or shape.
func policyNameFromARN(acct, arn string) (string, bool) {
	rest, ok := strings.CutPrefix(arn, "arn:aws:iam::"+acct+":policy/")
	if !ok || rest == "" {
		return "", false
	}
	return rest[strings.LastIndexByte(rest, '/')+1:], true
}

// managedPolicy finds a managed policy by ARN: an AWS-managed one or one of
// the account's own.
func (m *IAM) managedPolicy(tx store.Tx, acct, arn string) (*policyRecord, error) {
	if p, ok := awsManaged[arn]; ok {
		return p, nil
	}
	name, ok := policyNameFromARN(acct, arn)
	if !ok {
		if !strings.HasPrefix(arn, "arn:") {
			return nil, invalidInput("ARN %s is not valid.", arn)
		}
		return nil, noSuchEntity("Policy %s does not exist or is not attachable.", arn)
	}
	p := new(policyRecord)
	if _, err := tx.Get(key(acct, kindPolicy, name), p); err != nil || p.ARN != arn {
		return nil, noSuchEntity("Policy %s does not exist or is not attachable.", arn)
	}
	return p, nil
}

type createPolicyInput struct {
	PolicyName     string
	Path           string
	PolicyDocument string
	Description    string
	Tags           []Tag
}

type policyOutput struct{ Policy Policy }

func (m *IAM) createPolicy(ctx context.Context, in *createPolicyInput) (*policyOutput, error) {
	if err := checkName("PolicyName", in.PolicyName, 128); err != nil {
		return nil, err
	}
	path, err := checkPath(in.Path)
	if err != nil {
		return nil, err
	}
	if err := m.checkDocument(in.PolicyDocument, policy.Identity); err != nil {
		return nil, err
	}
	tags, err := mergeTags(nil, in.Tags)
	if err != nil {
		return nil, err
	}
	var p *policyRecord
	err = m.update(ctx, func(tx store.Tx, acct string) error {
		now := m.now().UTC()
		p = &policyRecord{Name: in.PolicyName, ID: newID("ANPA", 17), Path: path, ARN: arnOf(acct, "policy", path, in.PolicyName),
			Description: in.Description, Created: now, Updated: now, DefaultVersion: "v1", NextVersion: 2,
			Versions: []policyVersion{{ID: "v1", Document: in.PolicyDocument, Created: now}}, Tags: tags}
		if _, err := tx.Create(key(acct, kindPolicy, in.PolicyName), p); err != nil {
			return alreadyExists("A policy called %s already exists. Duplicate names are not allowed.", in.PolicyName)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return &policyOutput{Policy: p.view(0)}, nil
}

type policyArnInput struct {
	PolicyArn string
	VersionId string
}

func (m *IAM) getPolicy(ctx context.Context, in *policyArnInput) (*policyOutput, error) {
	var out Policy
	err := m.view(ctx, func(tx store.Tx, acct string) error {
		p, err := m.managedPolicy(tx, acct, in.PolicyArn)
		if err != nil {
			return err
		}
		ents, err := m.entitiesFor(tx, acct, p.ARN)
		out = p.view(ents.count())
		return err
	})
	if err != nil {
		return nil, err
	}
	return &policyOutput{Policy: out}, nil
}

type listPoliciesInput struct {
	Scope        string
	OnlyAttached bool
	PathPrefix   string
	Marker       string
	MaxItems     int64
}

type listPoliciesOutput struct {
	Policies    []Policy
	IsTruncated bool
	Marker      string `json:",omitempty"`
}

func (m *IAM) listPolicies(ctx context.Context, in *listPoliciesInput) (*listPoliciesOutput, error) {
	var all []Policy
	err := m.view(ctx, func(tx store.Tx, acct string) error {
		var recs []*policyRecord
		if in.Scope != "Local" {
			for _, p := range awsManaged {
				recs = append(recs, p)
			}
			sort.Slice(recs, func(i, j int) bool { return recs[i].Name < recs[j].Name })
		}
		if in.Scope != "AWS" {
			own, err := list[policyRecord](tx, acct, kindPolicy)
			if err != nil {
				return err
			}
			recs = append(recs, own...)
		}
		counts, err := m.attachmentCounts(tx, acct)
		if err != nil {
			return err
		}
		for _, p := range recs {
			if in.PathPrefix != "" && !strings.HasPrefix(p.Path, in.PathPrefix) {
				continue
			}
			if in.OnlyAttached && counts[p.ARN] == 0 {
				continue
			}
			all = append(all, p.view(counts[p.ARN]))
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	pg, more, next, err := page(all, in.Marker, in.MaxItems)
	if err != nil {
		return nil, err
	}
	return &listPoliciesOutput{Policies: append([]Policy{}, pg...), IsTruncated: more, Marker: next}, nil
}

func (m *IAM) deletePolicy(ctx context.Context, in *policyArnInput) (*struct{}, error) {
	err := m.update(ctx, func(tx store.Tx, acct string) error {
		p, err := m.customerPolicy(tx, acct, in.PolicyArn)
		if err != nil {
			return err
		}
		ents, err := m.entitiesFor(tx, acct, p.ARN)
		if err != nil {
			return err
		}
		if ents.count() > 0 {
			return deleteConflict("Cannot delete a policy attached to entities.")
		}
		if len(p.Versions) > 1 {
			return deleteConflict("Cannot delete a policy with non-default versions: delete them first.")
		}
		return remove(tx, acct, kindPolicy, p.Name)
	})
	return &struct{}{}, err
}

// customerPolicy is managedPolicy for operations that change a policy,
// which AWS-managed ones refuse.
func (m *IAM) customerPolicy(tx store.Tx, acct, arn string) (*policyRecord, error) {
	if strings.HasPrefix(arn, awsManagedPrefix) {
		if _, ok := awsManaged[arn]; ok {
			return nil, invalidInput("The policy %s is managed by AWS and cannot be modified.", arn)
		}
	}
	return m.managedPolicy(tx, acct, arn)
}

type createPolicyVersionInput struct {
	PolicyArn      string
	PolicyDocument string
	SetAsDefault   bool
}

// PolicyVersion is IAM's PolicyVersion shape.
type PolicyVersion struct {
	Document         string `json:",omitempty"`
	VersionId        string
	IsDefaultVersion bool
	CreateDate       time.Time
}

type policyVersionOutput struct{ PolicyVersion PolicyVersion }

func (m *IAM) createPolicyVersion(ctx context.Context, in *createPolicyVersionInput) (*policyVersionOutput, error) {
	if err := m.checkDocument(in.PolicyDocument, policy.Identity); err != nil {
		return nil, err
	}
	var v policyVersion
	var isDefault bool
	err := m.update(ctx, func(tx store.Tx, acct string) error {
		p, err := m.customerPolicy(tx, acct, in.PolicyArn)
		if err != nil {
			return err
		}
		if len(p.Versions) >= maxPolicyVersions {
			return limitExceeded("A managed policy can have up to %d versions. Before you create a new version, you must delete an existing version.", maxPolicyVersions)
		}
		if p.NextVersion == 0 {
			p.NextVersion = len(p.Versions) + 1
		}
		v = policyVersion{ID: fmt.Sprintf("v%d", p.NextVersion), Document: in.PolicyDocument, Created: m.now().UTC()}
		p.NextVersion++
		p.Versions = append(p.Versions, v)
		if in.SetAsDefault {
			p.DefaultVersion, isDefault = v.ID, true
		}
		p.Updated = v.Created
		return put(tx, acct, kindPolicy, p.Name, p)
	})
	if err != nil {
		return nil, err
	}
	return &policyVersionOutput{PolicyVersion: PolicyVersion{VersionId: v.ID, IsDefaultVersion: isDefault, CreateDate: v.Created}}, nil
}

func (m *IAM) getPolicyVersion(ctx context.Context, in *policyArnInput) (*policyVersionOutput, error) {
	var out PolicyVersion
	err := m.view(ctx, func(tx store.Tx, acct string) error {
		p, err := m.managedPolicy(tx, acct, in.PolicyArn)
		if err != nil {
			return err
		}
		v := p.version(in.VersionId)
		if v == nil {
			return noSuchEntity("Policy %s version %s does not exist or is not attachable.", in.PolicyArn, in.VersionId)
		}
		out = PolicyVersion{Document: encodeDocument(v.Document), VersionId: v.ID, IsDefaultVersion: v.ID == p.DefaultVersion, CreateDate: v.Created}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return &policyVersionOutput{PolicyVersion: out}, nil
}

type listPolicyVersionsOutput struct {
	Versions    []PolicyVersion
	IsTruncated bool
}

func (m *IAM) listPolicyVersions(ctx context.Context, in *policyArnInput) (*listPolicyVersionsOutput, error) {
	out := &listPolicyVersionsOutput{Versions: []PolicyVersion{}}
	err := m.view(ctx, func(tx store.Tx, acct string) error {
		p, err := m.managedPolicy(tx, acct, in.PolicyArn)
		if err != nil {
			return err
		}
		// Newest first, as IAM lists them.
		for i := len(p.Versions) - 1; i >= 0; i-- {
			v := p.Versions[i]
			out.Versions = append(out.Versions, PolicyVersion{VersionId: v.ID, IsDefaultVersion: v.ID == p.DefaultVersion, CreateDate: v.Created})
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

func (m *IAM) deletePolicyVersion(ctx context.Context, in *policyArnInput) (*struct{}, error) {
	err := m.update(ctx, func(tx store.Tx, acct string) error {
		p, err := m.customerPolicy(tx, acct, in.PolicyArn)
		if err != nil {
			return err
		}
		if p.version(in.VersionId) == nil {
			return noSuchEntity("Policy %s version %s does not exist or is not attachable.", in.PolicyArn, in.VersionId)
		}
		if in.VersionId == p.DefaultVersion {
			return deleteConflict("Cannot delete the default version of a policy.")
		}
		kept := p.Versions[:0:0]
		for _, v := range p.Versions {
			if v.ID != in.VersionId {
				kept = append(kept, v)
			}
		}
		p.Versions = kept
		return put(tx, acct, kindPolicy, p.Name, p)
	})
	return &struct{}{}, err
}

func (m *IAM) setDefaultPolicyVersion(ctx context.Context, in *policyArnInput) (*struct{}, error) {
	err := m.update(ctx, func(tx store.Tx, acct string) error {
		p, err := m.customerPolicy(tx, acct, in.PolicyArn)
		if err != nil {
			return err
		}
		if p.version(in.VersionId) == nil {
			return noSuchEntity("Policy %s version %s does not exist or is not attachable.", in.PolicyArn, in.VersionId)
		}
		p.DefaultVersion = in.VersionId
		p.Updated = m.now().UTC()
		return put(tx, acct, kindPolicy, p.Name, p)
	})
	return &struct{}{}, err
}

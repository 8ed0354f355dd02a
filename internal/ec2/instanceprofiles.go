package ec2

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"sort"
	"strings"
	"time"

	"github.com/nimbus-dev/nimbus/internal/awserr"
	"github.com/nimbus-dev/nimbus/internal/iam"
	"github.com/nimbus-dev/nimbus/internal/service"
	"github.com/nimbus-dev/nimbus/internal/store"
)

// An instance's IAM instance profile is kept on its record, with the
// association EC2 reports for it (at most one per instance). The role is
// resolved from IAM when the profile is given and again whenever the
// instance's credentials are refreshed (instancecredentials.go), so an
// SDK inside the instance gets the role's permissions through IMDS.

// InstanceProfiles is what EC2 needs of IAM; *iam.IAM is one.
type InstanceProfiles interface {
	// InstanceProfileRole is the ARN of the role in a profile named by
	// name or ARN; "" when the profile holds no role.
	InstanceProfileRole(ctx context.Context, account, profile string) (string, error)
	// MintRoleCredentials makes real STS credentials for a role session.
	MintRoleCredentials(ctx context.Context, roleARN, sessionName string, duration time.Duration) (*iam.SessionCredentials, error)
}

// instanceProfile is an instance's profile and its association.
type instanceProfile struct {
	Arn           string
	Id            string
	RoleArn       string // "" while the profile holds no role
	AssociationId string
	AssociatedAt  time.Time
}

// iamInstanceProfileSpecification is how requests name a profile.
type iamInstanceProfileSpecification struct {
	Arn  string
	Name string
}

type iamInstanceProfileView struct {
	Arn string
	Id  string
}

// profileID is the profile's ID as EC2 shows it: IAM's IDs are AIPA and 17
// upper-case characters. IAM does not hand its ID to EC2, so this one is
// derived from the ARN, stable for one profile.
// TODO: IAM's own ID once internal/iam exposes it.
func profileID(arn string) string {
	sum := sha256.Sum256([]byte(arn))
	return "AIPA" + strings.ToUpper(hex.EncodeToString(sum[:]))[:17]
}

// resolveProfile checks a profile named in a request against IAM.
func (e *EC2) resolveProfile(ctx context.Context, account string, spec *iamInstanceProfileSpecification) (*instanceProfile, error) {
	if spec == nil || (spec.Arn == "" && spec.Name == "") {
		return nil, awserr.Missing("IamInstanceProfile")
	}
	if e.profiles == nil {
		return nil, awserr.New(awserr.NotImplemented, "Unsupported",
			"This nimbus runs EC2 without IAM: instance profiles are unavailable.")
	}
	ref, arn, param, what := spec.Name, "", "iamInstanceProfile.name", "name"
	if spec.Arn != "" {
		ref, arn, param, what = spec.Arn, spec.Arn, "iamInstanceProfile.arn", "ARN"
		if !strings.HasPrefix(arn, "arn:aws:iam::"+account+":instance-profile/") {
			return nil, invalidParameter("Value (%s) for parameter %s is invalid. Invalid IAM Instance Profile ARN", arn, param)
		}
	} else {
		arn = "arn:aws:iam::" + account + ":instance-profile/" + spec.Name
	}
	role, err := e.profiles.InstanceProfileRole(ctx, account, ref)
	if err != nil {
		if ae := awserr.As(err); ae != nil && ae.Kind == awserr.NotFound {
			return nil, invalidParameter("Value (%s) for parameter %s is invalid. Invalid IAM Instance Profile %s", ref, param, what)
		}
		return nil, awserr.Internalf(err, "look up instance profile %s", ref)
	}
	return &instanceProfile{Arn: arn, Id: profileID(arn), RoleArn: role, AssociationId: newID("iip-assoc"),
		AssociatedAt: time.Now().UTC().Truncate(time.Second)}, nil
}

func (e *EC2) registerInstanceProfiles(svc *service.Service) {
	svc.Handle("AssociateIamInstanceProfile", service.Op(e.associateIamInstanceProfile))
	svc.Handle("DescribeIamInstanceProfileAssociations", service.Op(e.describeIamInstanceProfileAssociations))
	svc.Handle("DisassociateIamInstanceProfile", service.Op(e.disassociateIamInstanceProfile))
	svc.Handle("ReplaceIamInstanceProfileAssociation", service.Op(e.replaceIamInstanceProfileAssociation))
}

type iamInstanceProfileAssociation struct {
	AssociationId      string
	InstanceId         string
	IamInstanceProfile iamInstanceProfileView
	State              string
	Timestamp          time.Time
}

func (p *instanceProfile) association(instanceID, state string) iamInstanceProfileAssociation {
	return iamInstanceProfileAssociation{AssociationId: p.AssociationId, InstanceId: instanceID,
		IamInstanceProfile: iamInstanceProfileView{Arn: p.Arn, Id: p.Id}, State: state, Timestamp: p.AssociatedAt}
}

type iamInstanceProfileAssociationOutput struct {
	IamInstanceProfileAssociation iamInstanceProfileAssociation
}

func associationNotFound(id string) error {
	return awserr.New(awserr.NotFound, "InvalidAssociationID.NotFound", "An association with ID %s does not exist.", id)
}

// AssociateIamInstanceProfile

type associateIamInstanceProfileInput struct {
	IamInstanceProfile *iamInstanceProfileSpecification
	InstanceId         string
}

func (e *EC2) associateIamInstanceProfile(ctx context.Context, in *associateIamInstanceProfileInput) (*iamInstanceProfileAssociationOutput, error) {
	if in.InstanceId == "" {
		return nil, awserr.Missing("InstanceId")
	}
	account, _ := partition(ctx)
	p, err := e.resolveProfile(ctx, account, in.IamInstanceProfile)
	if err != nil {
		return nil, err
	}
	_, err = e.changeStates(ctx, []string{in.InstanceId}, false, func(inst *instance, _ time.Time) (string, error) {
		if inst.State != stateRunning && inst.State != stateStopped {
			return "", awserr.New(awserr.Conflict, "IncorrectInstanceState",
				"The instance '%s' is not in the 'running' or 'stopped' states.", inst.InstanceId)
		}
		if inst.Profile != nil {
			return "", awserr.New(awserr.Conflict, "IncorrectState", "There is an existing association for instance %s", inst.InstanceId)
		}
		inst.Profile = p
		return "", nil
	})
	if err != nil {
		return nil, err
	}
	return &iamInstanceProfileAssociationOutput{IamInstanceProfileAssociation: p.association(in.InstanceId, "associating")}, nil
}

// DescribeIamInstanceProfileAssociations

type describeIamInstanceProfileAssociationsInput struct {
	AssociationIds []string
	Filters        []Filter
	MaxResults     int
	NextToken      string
}

type describeIamInstanceProfileAssociationsOutput struct {
	IamInstanceProfileAssociations []iamInstanceProfileAssociation
	NextToken                      string `json:",omitempty"`
}

func (a iamInstanceProfileAssociation) fields(name string) ([]string, bool) {
	switch name {
	case "instance-id":
		return []string{a.InstanceId}, true
	case "state":
		return []string{a.State}, true
	}
	return nil, false
}

// profileAssociations lists the partition's associations, by ID.
func (e *EC2) profileAssociations(ctx context.Context, account, reg string) ([]iamInstanceProfileAssociation, error) {
	var out []iamInstanceProfileAssociation
	err := e.store.View(ctx, func(tx store.Tx) error {
		return tx.List(store.Query{Kind: kindInstance, Account: account, Region: reg}, func(o store.Object) error {
			var inst instance
			if err := o.Decode(&inst); err != nil {
				return err
			}
			if inst.Profile != nil && inst.State != stateTerminated {
				out = append(out, inst.Profile.association(inst.InstanceId, "associated"))
			}
			return nil
		})
	})
	if err != nil {
		return nil, awserr.Internalf(err, "list instance profile associations")
	}
	sort.Slice(out, func(i, j int) bool { return out[i].AssociationId < out[j].AssociationId })
	return out, nil
}

func (e *EC2) describeIamInstanceProfileAssociations(ctx context.Context, in *describeIamInstanceProfileAssociationsInput) (*describeIamInstanceProfileAssociationsOutput, error) {
	if in.MaxResults != 0 && (in.MaxResults < 5 || in.MaxResults > 1000) {
		return nil, invalidParameter("Value (%d) for parameter maxResults is invalid. Expecting a value between 5 and 1000.", in.MaxResults)
	}
	account, reg := partition(ctx)
	all, err := e.profileAssociations(ctx, account, reg)
	if err != nil {
		return nil, err
	}
	page, next, err := selectDescribed(all, describeSelection[iamInstanceProfileAssociation]{
		IDs: in.AssociationIds, Filters: in.Filters, MaxResults: in.MaxResults, NextToken: in.NextToken,
		ID:     func(a iamInstanceProfileAssociation) string { return a.AssociationId },
		Fields: func(a iamInstanceProfileAssociation) fields { return a.fields },
		Tags:   func(iamInstanceProfileAssociation) []Tag { return nil }, NotFound: associationNotFound,
	})
	if err != nil {
		return nil, err
	}
	return &describeIamInstanceProfileAssociationsOutput{IamInstanceProfileAssociations: append([]iamInstanceProfileAssociation{}, page...), NextToken: next}, nil
}

// DisassociateIamInstanceProfile and ReplaceIamInstanceProfileAssociation

type disassociateIamInstanceProfileInput struct {
	AssociationId string
}

// changeAssociation replaces (p non-nil) or removes the profile of the
// instance holding association id, returning the old profile and the
// instance's ID.
func (e *EC2) changeAssociation(ctx context.Context, id string, p *instanceProfile) (*instanceProfile, string, error) {
	account, reg := partition(ctx)
	all, err := e.profileAssociations(ctx, account, reg)
	if err != nil {
		return nil, "", err
	}
	instanceID := ""
	for _, a := range all {
		if a.AssociationId == id {
			instanceID = a.InstanceId
		}
	}
	if instanceID == "" {
		return nil, "", associationNotFound(id)
	}
	var old *instanceProfile
	_, err = e.changeStates(ctx, []string{instanceID}, false, func(inst *instance, _ time.Time) (string, error) {
		if inst.Profile == nil || inst.Profile.AssociationId != id {
			return "", associationNotFound(id)
		}
		if p != nil && inst.State != stateRunning {
			return "", awserr.New(awserr.Conflict, "IncorrectState", "The association %s is not the active association", id)
		}
		old, inst.Profile = inst.Profile, p
		return "", nil
	})
	return old, instanceID, err
}

func (e *EC2) disassociateIamInstanceProfile(ctx context.Context, in *disassociateIamInstanceProfileInput) (*iamInstanceProfileAssociationOutput, error) {
	if in.AssociationId == "" {
		return nil, awserr.Missing("AssociationId")
	}
	old, instanceID, err := e.changeAssociation(ctx, in.AssociationId, nil)
	if err != nil {
		return nil, err
	}
	return &iamInstanceProfileAssociationOutput{IamInstanceProfileAssociation: old.association(instanceID, "disassociating")}, nil
}

type replaceIamInstanceProfileAssociationInput struct {
	IamInstanceProfile *iamInstanceProfileSpecification
	AssociationId      string
}

func (e *EC2) replaceIamInstanceProfileAssociation(ctx context.Context, in *replaceIamInstanceProfileAssociationInput) (*iamInstanceProfileAssociationOutput, error) {
	if in.AssociationId == "" {
		return nil, awserr.Missing("AssociationId")
	}
	account, _ := partition(ctx)
	p, err := e.resolveProfile(ctx, account, in.IamInstanceProfile)
	if err != nil {
		return nil, err
	}
	_, instanceID, err := e.changeAssociation(ctx, in.AssociationId, p)
	if err != nil {
		return nil, err
	}
	return &iamInstanceProfileAssociationOutput{IamInstanceProfileAssociation: p.association(instanceID, "associating")}, nil
}

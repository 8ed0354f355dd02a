package iam

import "time"

// Tag is an IAM tag.
type Tag struct {
	Key   string
	Value string
}

// attachable is what users, groups and roles share: inline policies and
// attached managed policies.
type attachable struct {
	Inline   map[string]string `json:",omitempty"` // policy name -> document
	Attached []string          `json:",omitempty"` // managed policy ARNs
}

type userRecord struct {
	Name     string
	ID       string
	Path     string
	ARN      string
	Created  time.Time
	Tags     []Tag    `json:",omitempty"`
	Groups   []string `json:",omitempty"` // group names
	Boundary string   `json:",omitempty"` // permissions boundary policy ARN
	attachable
}

type groupRecord struct {
	Name    string
	ID      string
	Path    string
	ARN     string
	Created time.Time
	attachable
}

type roleRecord struct {
	Name               string
	ID                 string
	Path               string
	ARN                string
	Created            time.Time
	TrustPolicy        string
	Description        string `json:",omitempty"`
	MaxSessionDuration int64
	Tags               []Tag  `json:",omitempty"`
	Boundary           string `json:",omitempty"`
	attachable
}

type policyVersion struct {
	ID       string // v1, v2, ...
	Document string
	Created  time.Time
}

type policyRecord struct {
	Name           string
	ID             string
	Path           string
	ARN            string
	Description    string `json:",omitempty"`
	Created        time.Time
	Updated        time.Time
	DefaultVersion string
	NextVersion    int
	Versions       []policyVersion
	Tags           []Tag `json:",omitempty"`
}

func (p *policyRecord) version(id string) *policyVersion {
	for i := range p.Versions {
		if p.Versions[i].ID == id {
			return &p.Versions[i]
		}
	}
	return nil
}

func (p *policyRecord) defaultDocument() string {
	if v := p.version(p.DefaultVersion); v != nil {
		return v.Document
	}
	return ""
}

type accessKeyRecord struct {
	ID       string
	Secret   string
	UserName string
	Status   string // Active or Inactive
	Created  time.Time
}

type instanceProfileRecord struct {
	Name    string
	ID      string
	Path    string
	ARN     string
	Created time.Time
	Roles   []string `json:",omitempty"` // role names (at most one)
	Tags    []Tag    `json:",omitempty"`
}

// sessionRecord is a set of temporary credentials: a role session
// (AssumeRole, or minted for a workload) or a user's GetSessionToken.
type sessionRecord struct {
	AccessKeyID        string
	Secret             string
	Token              string
	Expiration         time.Time
	Account            string
	UserName           string   `json:",omitempty"` // GetSessionToken: the user
	UserARN            string   `json:",omitempty"`
	UserID             string   `json:",omitempty"`
	Root               bool     `json:",omitempty"` // GetSessionToken by the account root
	RoleName           string   `json:",omitempty"` // AssumeRole: the role
	RoleARN            string   `json:",omitempty"`
	RoleID             string   `json:",omitempty"`
	SessionName        string   `json:",omitempty"`
	Policy             string   `json:",omitempty"` // inline session policy
	PolicyARNs         []string `json:",omitempty"`
	Tags               []Tag    `json:",omitempty"`
	SourceIP           string   `json:",omitempty"`
	CallerARN          string   `json:",omitempty"` // who created the session
	HasSessionPolicies bool     `json:",omitempty"`
}

package ec2

import (
	"context"
	"errors"

	"github.com/nimbus-dev/nimbus/internal/awserr"
	"github.com/nimbus-dev/nimbus/internal/service"
	"github.com/nimbus-dev/nimbus/internal/store"
)

// Internet gateways are stored one object per gateway, with the VPC it is
// attached to. What one does is give a VPC egress: a VPC whose route tables
// send 0.0.0.0/0 to its attached gateway gets egress NAT on its host
// network (routetables.go, vpcnetwork.go). The default VPC's gateway is
// written with it.

const kindInternetGateway = "ec2:internet-gateway"

type internetGateway struct {
	InternetGatewayId string
	OwnerId           string
	VpcId             string // "" while detached
	Tags              []Tag
}

func igwKey(account, reg, id string) store.Key {
	return store.Key{Account: account, Region: reg, Kind: kindInternetGateway, ID: id}
}

// defaultIGWID is the ID of the default VPC's internet gateway.
func defaultIGWID(account, reg string) string {
	return derivedID("igw", "default-internet-gateway", account, reg)
}

func (e *EC2) registerInternetGateways(svc *service.Service) {
	e.kinds = append(e.kinds, kindInternetGateway)
	svc.Handle("CreateInternetGateway", service.Op(e.createInternetGateway))
	svc.Handle("DescribeInternetGateways", service.Op(e.describeInternetGateways))
	svc.Handle("DeleteInternetGateway", service.Op(e.deleteInternetGateway))
	svc.Handle("AttachInternetGateway", service.Op(e.attachInternetGateway))
	svc.Handle("DetachInternetGateway", service.Op(e.detachInternetGateway))
	e.registerTagger("igw-", tagger{ResourceType: "internet-gateway", Apply: e.tagInternetGateway, List: e.listInternetGatewayTags})
}

func igwNotFound(id string) error {
	return awserr.New(awserr.NotFound, "InvalidInternetGatewayID.NotFound", "The internetGateway ID '%s' does not exist", id)
}

func checkIGWID(id string) error {
	return checkResourceID(id, "igw", "InvalidInternetGatewayID.Malformed")
}

func getIGW(tx store.Tx, account, reg, id string) (internetGateway, store.Meta, error) {
	var g internetGateway
	meta, err := tx.Get(igwKey(account, reg, id), &g)
	if errors.Is(err, store.ErrNotFound) {
		return g, meta, igwNotFound(id)
	}
	return g, meta, err
}

type igwAttachment struct {
	State string
	VpcId string
}

type internetGatewayDescription struct {
	Attachments       []igwAttachment
	InternetGatewayId string
	OwnerId           string
	Tags              []Tag
}

func (g internetGateway) describe() internetGatewayDescription {
	d := internetGatewayDescription{Attachments: []igwAttachment{}, InternetGatewayId: g.InternetGatewayId,
		OwnerId: g.OwnerId, Tags: g.Tags}
	if d.Tags == nil {
		d.Tags = []Tag{}
	}
	if g.VpcId != "" {
		d.Attachments = append(d.Attachments, igwAttachment{State: "available", VpcId: g.VpcId})
	}
	return d
}

func (g internetGateway) fields(name string) ([]string, bool) {
	switch name {
	case "internet-gateway-id":
		return []string{g.InternetGatewayId}, true
	case "owner-id":
		return []string{g.OwnerId}, true
	case "attachment.vpc-id":
		if g.VpcId == "" {
			return nil, true
		}
		return []string{g.VpcId}, true
	case "attachment.state":
		if g.VpcId == "" {
			return nil, true
		}
		return []string{"available"}, true
	}
	return nil, false
}

type createInternetGatewayInput struct {
	TagSpecifications []TagSpecification
	DryRun            bool
}

type createInternetGatewayOutput struct {
	InternetGateway internetGatewayDescription
}

func (e *EC2) createInternetGateway(ctx context.Context, in *createInternetGatewayInput) (*createInternetGatewayOutput, error) {
	tags, err := tagsFor(in.TagSpecifications, "internet-gateway")
	if err != nil {
		return nil, err
	}
	if err := validateTags(tags); err != nil {
		return nil, err
	}
	if in.DryRun {
		return nil, dryRun()
	}
	account, reg := partition(ctx)
	if tags == nil {
		tags = []Tag{}
	}
	g := internetGateway{InternetGatewayId: newID("igw"), OwnerId: account, Tags: tags}
	err = e.store.Update(ctx, func(tx store.Tx) error {
		_, err := tx.Create(igwKey(account, reg, g.InternetGatewayId), &g)
		return err
	})
	if err != nil {
		return nil, awserr.Internalf(err, "store internet gateway")
	}
	return &createInternetGatewayOutput{InternetGateway: g.describe()}, nil
}

type describeInternetGatewaysInput struct {
	InternetGatewayIds []string
	Filters            []Filter
	MaxResults         int
	NextToken          string
	DryRun             bool
}

type describeInternetGatewaysOutput struct {
	InternetGateways []internetGatewayDescription
	NextToken        string `json:",omitempty"`
}

func (e *EC2) listInternetGateways(ctx context.Context, account, reg string) ([]internetGateway, error) {
	if err := e.ensureDefaultNetwork(ctx, account, reg); err != nil {
		return nil, err
	}
	return listKind(ctx, e.store, account, reg, kindInternetGateway, "internet gateways",
		func(g internetGateway) string { return g.InternetGatewayId })
}

func (e *EC2) describeInternetGateways(ctx context.Context, in *describeInternetGatewaysInput) (*describeInternetGatewaysOutput, error) {
	if err := checkDescribe(in.MaxResults, in.InternetGatewayIds, checkIGWID, in.DryRun); err != nil {
		return nil, err
	}
	account, reg := partition(ctx)
	all, err := e.listInternetGateways(ctx, account, reg)
	if err != nil {
		return nil, err
	}
	page, next, err := selectDescribed(all, describeSelection[internetGateway]{
		IDs: in.InternetGatewayIds, Filters: in.Filters, MaxResults: in.MaxResults, NextToken: in.NextToken,
		ID:     func(g internetGateway) string { return g.InternetGatewayId },
		Fields: func(g internetGateway) fields { return g.fields }, Tags: func(g internetGateway) []Tag { return g.Tags },
		NotFound: igwNotFound,
	})
	if err != nil {
		return nil, err
	}
	out := &describeInternetGatewaysOutput{InternetGateways: make([]internetGatewayDescription, 0, len(page)), NextToken: next}
	for _, g := range page {
		out.InternetGateways = append(out.InternetGateways, g.describe())
	}
	return out, nil
}

type deleteInternetGatewayInput struct {
	InternetGatewayId string
	DryRun            bool
}

func (e *EC2) deleteInternetGateway(ctx context.Context, in *deleteInternetGatewayInput) (*returnOutput, error) {
	if in.InternetGatewayId == "" {
		return nil, awserr.Missing("InternetGatewayId")
	}
	if err := checkIGWID(in.InternetGatewayId); err != nil {
		return nil, err
	}
	account, reg := partition(ctx)
	if err := e.ensureDefaultNetwork(ctx, account, reg); err != nil {
		return nil, err
	}
	err := e.store.Update(ctx, func(tx store.Tx) error {
		g, _, err := getIGW(tx, account, reg, in.InternetGatewayId)
		if err != nil {
			return err
		}
		if g.VpcId != "" {
			return awserr.New(awserr.Conflict, "DependencyViolation",
				"The internetGateway '%s' has dependencies and cannot be deleted.", g.InternetGatewayId)
		}
		if in.DryRun {
			return dryRun()
		}
		return tx.Delete(igwKey(account, reg, g.InternetGatewayId), 0)
	})
	if err != nil {
		return nil, asAPIError(err, "delete internet gateway")
	}
	return &returnOutput{}, nil
}

type attachInternetGatewayInput struct {
	InternetGatewayId string
	VpcId             string
	DryRun            bool
}

func (e *EC2) attachInternetGateway(ctx context.Context, in *attachInternetGatewayInput) (*returnOutput, error) {
	return e.changeIGWAttachment(ctx, in, true)
}

func (e *EC2) detachInternetGateway(ctx context.Context, in *attachInternetGatewayInput) (*returnOutput, error) {
	return e.changeIGWAttachment(ctx, in, false)
}

// changeIGWAttachment attaches or detaches a gateway; a VPC has at most
// one, and only the VPC a gateway is attached to can detach it.
func (e *EC2) changeIGWAttachment(ctx context.Context, in *attachInternetGatewayInput, attach bool) (*returnOutput, error) {
	switch {
	case in.InternetGatewayId == "":
		return nil, awserr.Missing("InternetGatewayId")
	case in.VpcId == "":
		return nil, awserr.Missing("VpcId")
	}
	if err := checkIGWID(in.InternetGatewayId); err != nil {
		return nil, err
	}
	if err := checkVPCID(in.VpcId); err != nil {
		return nil, err
	}
	account, reg := partition(ctx)
	if err := e.ensureDefaultNetwork(ctx, account, reg); err != nil {
		return nil, err
	}
	err := e.store.Update(ctx, func(tx store.Tx) error {
		g, meta, err := getIGW(tx, account, reg, in.InternetGatewayId)
		if err != nil {
			return err
		}
		if _, _, err := getVPC(tx, account, reg, in.VpcId); err != nil {
			return err
		}
		if attach {
			if g.VpcId != "" {
				return awserr.New(awserr.Conflict, "Resource.AlreadyAssociated",
					"resource %s is already attached to network %s", g.InternetGatewayId, g.VpcId)
			}
			other, err := attachedIGW(tx, account, reg, in.VpcId)
			if err != nil {
				return err
			}
			if other != "" {
				return awserr.New(awserr.Conflict, "Resource.AlreadyAssociated",
					"network %s already has an internet gateway attached", in.VpcId)
			}
			g.VpcId = in.VpcId
		} else {
			if g.VpcId != in.VpcId {
				return awserr.New(awserr.Conflict, "Gateway.NotAttached",
					"resource %s is not attached to network %s", g.InternetGatewayId, in.VpcId)
			}
			g.VpcId = ""
		}
		if in.DryRun {
			return dryRun()
		}
		_, err = tx.Put(igwKey(account, reg, g.InternetGatewayId), &g, meta.Version)
		return err
	})
	if err != nil {
		return nil, asAPIError(err, "change internet gateway attachment")
	}
	if err := e.syncVPCEgress(ctx, account, reg, in.VpcId); err != nil {
		return nil, awserr.Internalf(err, "update egress of %s", in.VpcId)
	}
	return &returnOutput{}, nil
}

// attachedIGW is the ID of the gateway attached to a VPC, "" if none.
func attachedIGW(tx store.Tx, account, reg, vpcID string) (string, error) {
	id := ""
	err := tx.List(store.Query{Kind: kindInternetGateway, Account: account, Region: reg}, func(o store.Object) error {
		var g internetGateway
		if err := o.Decode(&g); err != nil {
			return err
		}
		if g.VpcId == vpcID {
			id = g.InternetGatewayId
			return store.ErrStop
		}
		return nil
	})
	return id, err
}

func (e *EC2) tagInternetGateway(ctx context.Context, account, reg, id string, set, remove []Tag) error {
	if err := e.ensureDefaultNetwork(ctx, account, reg); err != nil {
		return err
	}
	err := e.store.Update(ctx, func(tx store.Tx) error {
		return retagStored(tx, igwKey(account, reg, id), func() error { return igwNotFound(id) },
			func(g *internetGateway) *[]Tag { return &g.Tags }, set, remove)
	})
	return asAPIErrorOrNil(err, "tag internet gateway")
}

func (e *EC2) listInternetGatewayTags(ctx context.Context, account, reg string) ([]TaggedResource, error) {
	all, err := e.listInternetGateways(ctx, account, reg)
	if err != nil {
		return nil, err
	}
	return taggedResources(all, "internet-gateway", func(g internetGateway) string { return g.InternetGatewayId },
		func(g internetGateway) []Tag { return g.Tags }), nil
}

package ec2

import (
	"context"
	"errors"
	"regexp"
	"sort"
	"time"

	"github.com/nimbus-dev/nimbus/internal/awserr"
	"github.com/nimbus-dev/nimbus/internal/service"
	"github.com/nimbus-dev/nimbus/internal/store"
)

func (e *EC2) registerSpot(svc *service.Service) {
	e.kinds = append(e.kinds, kindSpotRequest, kindUsage)
	e.registerTagger("sir-", tagger{ResourceType: "spot-instances-request", Apply: e.tagSpotRequest, List: e.listSpotRequestTags})
	svc.Handle("RequestSpotInstances", service.Op(e.requestSpotInstances))
	svc.Handle("DescribeSpotInstanceRequests", service.Op(e.describeSpotInstanceRequests))
	svc.Handle("CancelSpotInstanceRequests", service.Op(e.cancelSpotInstanceRequests))
	svc.Handle("DescribeSpotPriceHistory", service.Op(e.describeSpotPriceHistory))
}

type spotPlacementView struct {
	AvailabilityZone string `json:",omitempty"`
	Tenancy          string `json:",omitempty"`
}

// launchSpecView is a spot request's LaunchSpecification.
type launchSpecView struct {
	ImageId        string
	InstanceType   string
	KeyName        string `json:",omitempty"`
	Placement      spotPlacementView
	SecurityGroups []groupIdentifier
	SubnetId       string `json:",omitempty"`
	Monitoring     struct{ Enabled bool }
}

func launchSpecOf(inst *instance) launchSpecView {
	v := launchSpecView{ImageId: inst.ImageId, InstanceType: inst.InstanceType, KeyName: inst.KeyName,
		Placement: spotPlacementView{AvailabilityZone: inst.AvailabilityZone}, SecurityGroups: append([]groupIdentifier{}, inst.SecurityGroups...),
		SubnetId: inst.SubnetId}
	v.Monitoring.Enabled = inst.Monitoring
	return v
}

type requestSpotLaunchSpecification struct {
	ImageId             string
	InstanceType        string
	KeyName             string
	SecurityGroupIds    []string
	SecurityGroups      []string
	UserData            string
	Placement           *placementRequest
	SubnetId            string
	BlockDeviceMappings []blockDeviceMappingRequest
	Monitoring          *struct{ Enabled bool }
}

type requestSpotInstancesInput struct {
	SpotPrice                    string
	InstanceCount                int
	Type                         string
	LaunchSpecification          *requestSpotLaunchSpecification
	InstanceInterruptionBehavior string
	ValidUntil                   time.Time
	TagSpecifications            []TagSpecification
	ClientToken                  string
	DryRun                       bool
}

type spotStatusView struct {
	Code       string
	Message    string
	UpdateTime time.Time
}

type spotInstanceRequestView struct {
	CreateTime                   time.Time
	InstanceId                   string `json:",omitempty"`
	LaunchSpecification          launchSpecView
	LaunchedAvailabilityZone     string `json:",omitempty"`
	ProductDescription           string
	SpotInstanceRequestId        string
	SpotPrice                    string
	State                        string
	Status                       spotStatusView
	Tags                         []Tag
	Type                         string
	ValidUntil                   *time.Time `json:",omitempty"`
	InstanceInterruptionBehavior string
}

func (r *spotRequest) view() spotInstanceRequestView {
	v := spotInstanceRequestView{CreateTime: r.CreateTime, InstanceId: r.InstanceId, LaunchSpecification: r.Launch,
		LaunchedAvailabilityZone: r.LaunchedAvailabilityZone, ProductDescription: "Linux/UNIX",
		SpotInstanceRequestId: r.SpotInstanceRequestId, SpotPrice: r.SpotPrice, State: r.State,
		Status: spotStatusView{Code: r.StatusCode, Message: r.StatusMessage, UpdateTime: r.StatusUpdate},
		Tags:   r.Tags, Type: r.Type, InstanceInterruptionBehavior: r.InstanceInterruptionBehavior}
	if v.Tags == nil {
		v.Tags = []Tag{}
	}
	if !r.ValidUntil.IsZero() {
		t := r.ValidUntil
		v.ValidUntil = &t
	}
	return v
}

type spotInstanceRequestsOutput struct {
	SpotInstanceRequests []spotInstanceRequestView
	NextToken            string `json:",omitempty"`
}

// requestSpotInstances makes InstanceCount requests and fulfils at once
// those the region has room for at the asked price; the others stay open
// with EC2's status code saying why.
func (e *EC2) requestSpotInstances(ctx context.Context, in *requestSpotInstancesInput) (*spotInstanceRequestsOutput, error) {
	if in.LaunchSpecification == nil {
		return nil, awserr.Missing("LaunchSpecification")
	}
	count := in.InstanceCount
	if count == 0 {
		count = 1
	}
	if count < 1 || count > 1000 {
		return nil, invalidParameter("Value (%d) for parameter instanceCount is invalid.", count)
	}
	tags, err := tagsFor(in.TagSpecifications, "spot-instances-request")
	if err != nil {
		return nil, err
	}
	spec := in.LaunchSpecification
	run := &runInstancesInput{ImageId: spec.ImageId, InstanceType: spec.InstanceType, MinCount: 1, MaxCount: count,
		KeyName: spec.KeyName, SecurityGroupIds: spec.SecurityGroupIds, SecurityGroups: spec.SecurityGroups, UserData: spec.UserData,
		Placement: spec.Placement, SubnetId: spec.SubnetId, BlockDeviceMappings: spec.BlockDeviceMappings, Monitoring: spec.Monitoring,
		InstanceMarketOptions: &instanceMarketOptionsRequest{MarketType: "spot", SpotOptions: &spotMarketOptionsRequest{
			MaxPrice: in.SpotPrice, SpotInstanceType: in.Type, InstanceInterruptionBehavior: in.InstanceInterruptionBehavior}}}
	account, reg := partition(ctx)
	req, err := e.validateLaunch(ctx, account, reg, run)
	if err != nil {
		return nil, err
	}
	if in.DryRun {
		return nil, dryRun()
	}
	now := time.Now().UTC().Truncate(time.Second)
	priceErr := checkSpotPrice(req.spot.MaxPrice, req.itype, req.zone, now)
	var out []spotInstanceRequestView
	err = e.store.Update(ctx, func(tx store.Tx) error {
		out = nil
		n := 0
		if priceErr == nil {
			adm, err := e.admit(tx, reg, req.itype, 1, count, true)
			if err != nil {
				return err
			}
			n = adm.Count
		}
		launched := e.newInstances(account, reg, req, "", n)
		if err := e.storeLaunch(tx, req, launched, now); err != nil {
			return err
		}
		for _, inst := range launched {
			r := spotRequest{}
			if _, err := tx.Get(store.Key{Account: account, Region: reg, Kind: kindSpotRequest, ID: inst.Spot.RequestId}, &r); err != nil {
				return err
			}
			r.Tags, r.ValidUntil, r.Run = tags, in.ValidUntil, openRequestLaunch(run)
			if _, err := tx.Put(r.key(), &r, 0); err != nil {
				return err
			}
			out = append(out, r.view())
		}
		for i := n; i < count; i++ {
			s := *req.spot
			r := &spotRequest{Schema: 1, SpotInstanceRequestId: newID("sir"), OwnerId: account, Region: reg, SpotPrice: s.MaxPrice,
				Type: s.Type, CreateTime: now, ValidUntil: in.ValidUntil, InstanceInterruptionBehavior: s.InterruptionBehavior,
				Tags: tags, Run: openRequestLaunch(run), Launch: launchSpecView{ImageId: req.ami.ImageId, InstanceType: req.itype.Name, KeyName: spec.KeyName,
					Placement: spotPlacementView{AvailabilityZone: req.zone}, SecurityGroups: req.groups, SubnetId: req.subnetID}}
			if r.SpotPrice == "" {
				r.SpotPrice = formatPrice(req.itype.OnDemandPricePerHour)
			}
			code := "capacity-not-available"
			if priceErr != nil {
				code = "price-too-low"
			}
			r.setStatus(spotOpen, code, now)
			if _, err := tx.Create(r.key(), r); err != nil {
				return err
			}
			out = append(out, r.view())
		}
		return nil
	})
	if err != nil {
		return nil, asAPIError(err, "request spot instances")
	}
	return &spotInstanceRequestsOutput{SpotInstanceRequests: out}, nil
}

// openRequestLaunch is the one-instance launch a request makes when it is
// (re)fulfilled.
func openRequestLaunch(run *runInstancesInput) *runInstancesInput {
	one := *run
	one.MinCount, one.MaxCount, one.ClientToken = 1, 1, ""
	return &one
}

var spotRequestIDPattern = regexp.MustCompile(`^sir-[0-9a-z]{8,17}$`)

func checkSpotRequestID(id string) error {
	if !spotRequestIDPattern.MatchString(id) {
		return awserr.New(awserr.Validation, "InvalidSpotInstanceRequestID.Malformed", "Invalid id: \"%s\"", id)
	}
	return nil
}

func spotRequestNotFound(id string) error {
	return awserr.New(awserr.NotFound, "InvalidSpotInstanceRequestID.NotFound", "The spot instance request ID '%s' does not exist", id)
}

type describeSpotInstanceRequestsInput struct {
	SpotInstanceRequestIds []string
	Filters                []Filter
	MaxResults             int
	NextToken              string
	DryRun                 bool
}

func (e *EC2) describeSpotInstanceRequests(ctx context.Context, in *describeSpotInstanceRequestsInput) (*spotInstanceRequestsOutput, error) {
	if err := checkDescribe(in.MaxResults, in.SpotInstanceRequestIds, checkSpotRequestID, in.DryRun); err != nil {
		return nil, err
	}
	account, reg := partition(ctx)
	all, err := listKind(ctx, e.store, account, reg, kindSpotRequest, "spot instance requests",
		func(r spotRequest) string { return r.SpotInstanceRequestId })
	if err != nil {
		return nil, err
	}
	page, next, err := selectDescribed(all, describeSelection[spotRequest]{
		IDs: in.SpotInstanceRequestIds, Filters: in.Filters, MaxResults: in.MaxResults, NextToken: in.NextToken,
		ID:       func(r spotRequest) string { return r.SpotInstanceRequestId },
		Fields:   func(r spotRequest) fields { return r.filterFields },
		Tags:     func(r spotRequest) []Tag { return r.Tags },
		NotFound: spotRequestNotFound,
	})
	if err != nil {
		return nil, err
	}
	out := &spotInstanceRequestsOutput{SpotInstanceRequests: make([]spotInstanceRequestView, 0, len(page)), NextToken: next}
	for i := range page {
		out.SpotInstanceRequests = append(out.SpotInstanceRequests, page[i].view())
	}
	return out, nil
}

func (r spotRequest) filterFields(name string) ([]string, bool) {
	one := func(v string) ([]string, bool) { return []string{v}, true }
	switch name {
	case "spot-instance-request-id":
		return one(r.SpotInstanceRequestId)
	case "state":
		return one(r.State)
	case "status-code":
		return one(r.StatusCode)
	case "status-message":
		return one(r.StatusMessage)
	case "instance-id":
		return one(r.InstanceId)
	case "type":
		return one(r.Type)
	case "spot-price":
		return one(r.SpotPrice)
	case "launched-availability-zone":
		return one(r.LaunchedAvailabilityZone)
	case "launch.image-id":
		return one(r.Launch.ImageId)
	case "launch.instance-type":
		return one(r.Launch.InstanceType)
	case "launch.key-name":
		return one(r.Launch.KeyName)
	case "product-description":
		return one("Linux/UNIX")
	case "create-time":
		return one(r.CreateTime.Format(time.RFC3339))
	}
	return nil, false
}

type cancelSpotInstanceRequestsInput struct {
	SpotInstanceRequestIds []string
	DryRun                 bool
}

type cancelledSpotInstanceRequest struct {
	SpotInstanceRequestId string
	State                 string
}

type cancelSpotInstanceRequestsOutput struct {
	CancelledSpotInstanceRequests []cancelledSpotInstanceRequest
}

// cancelSpotInstanceRequests cancels requests; their instances keep running,
// as on EC2, until terminated.
func (e *EC2) cancelSpotInstanceRequests(ctx context.Context, in *cancelSpotInstanceRequestsInput) (*cancelSpotInstanceRequestsOutput, error) {
	if len(in.SpotInstanceRequestIds) == 0 {
		return nil, awserr.Missing("SpotInstanceRequestId")
	}
	for _, id := range in.SpotInstanceRequestIds {
		if err := checkSpotRequestID(id); err != nil {
			return nil, err
		}
	}
	account, reg := partition(ctx)
	now := time.Now().UTC().Truncate(time.Second)
	out := &cancelSpotInstanceRequestsOutput{CancelledSpotInstanceRequests: []cancelledSpotInstanceRequest{}}
	err := e.store.Update(ctx, func(tx store.Tx) error {
		out.CancelledSpotInstanceRequests = out.CancelledSpotInstanceRequests[:0]
		for _, id := range in.SpotInstanceRequestIds {
			var r spotRequest
			meta, err := tx.Get(store.Key{Account: account, Region: reg, Kind: kindSpotRequest, ID: id}, &r)
			if errors.Is(err, store.ErrNotFound) {
				return spotRequestNotFound(id)
			}
			if err != nil {
				return err
			}
			if in.DryRun {
				continue
			}
			switch r.State {
			case spotActive, spotDisabled:
				r.setStatus(spotCancelled, "request-canceled-and-instance-running", now)
			case spotOpen:
				r.setStatus(spotCancelled, "canceled-before-fulfillment", now)
			}
			if _, err := tx.Put(r.key(), &r, meta.Version); err != nil {
				return err
			}
			out.CancelledSpotInstanceRequests = append(out.CancelledSpotInstanceRequests,
				cancelledSpotInstanceRequest{SpotInstanceRequestId: id, State: r.State})
		}
		if in.DryRun {
			return dryRun()
		}
		return nil
	})
	if err != nil {
		return nil, asAPIError(err, "cancel spot instance requests")
	}
	return out, nil
}

func (e *EC2) tagSpotRequest(ctx context.Context, account, reg, id string, set, remove []Tag) error {
	err := e.store.Update(ctx, func(tx store.Tx) error {
		return retagStored(tx, store.Key{Account: account, Region: reg, Kind: kindSpotRequest, ID: id},
			func() error { return spotRequestNotFound(id) }, func(r *spotRequest) *[]Tag { return &r.Tags }, set, remove)
	})
	return asAPIErrorOrNil(err, "tag spot instance request")
}

func (e *EC2) listSpotRequestTags(ctx context.Context, account, reg string) ([]TaggedResource, error) {
	all, err := listKind(ctx, e.store, account, reg, kindSpotRequest, "spot instance requests",
		func(r spotRequest) string { return r.SpotInstanceRequestId })
	if err != nil {
		return nil, err
	}
	var out []TaggedResource
	for _, r := range all {
		if len(r.Tags) > 0 {
			out = append(out, TaggedResource{ResourceId: r.SpotInstanceRequestId, ResourceType: "spot-instances-request", Tags: r.Tags})
		}
	}
	return out, nil
}

// fulfilSpotRequests launches an instance for each open spot request that
// now fits at its price, oldest first, and closes those past ValidUntil.
// The controller calls it when an instance gives back its room, and
// periodically.
func (c *InstanceController) fulfilSpotRequests(ctx context.Context) {
	var open []spotRequest
	err := c.e.store.View(ctx, func(tx store.Tx) error {
		return tx.List(store.Query{Kind: kindSpotRequest, AllAccounts: true, AllRegions: true}, func(o store.Object) error {
			var r spotRequest
			if err := o.Decode(&r); err != nil {
				return err
			}
			if r.State == spotOpen && r.Run != nil {
				open = append(open, r)
			}
			return nil
		})
	})
	if err != nil {
		if ctx.Err() == nil {
			c.log.Error("spot: list open requests", "err", err)
		}
		return
	}
	sort.Slice(open, func(i, j int) bool { return open[i].CreateTime.Before(open[j].CreateTime) })
	for i := range open {
		if err := c.fulfilSpotRequest(ctx, &open[i]); err != nil && ctx.Err() == nil {
			c.log.Error("spot: fulfil request", "request", open[i].SpotInstanceRequestId, "err", err)
		}
	}
}

func (c *InstanceController) fulfilSpotRequest(ctx context.Context, r *spotRequest) error {
	now := time.Now().UTC().Truncate(time.Second)
	run := *r.Run
	req, verr := c.e.validateLaunch(ctx, r.OwnerId, r.Region, &run)
	code := ""
	switch {
	case !r.ValidUntil.IsZero() && now.After(r.ValidUntil):
		code = "schedule-expired"
	case verr != nil:
		code = "bad-parameters"
	case checkSpotPrice(req.spot.MaxPrice, req.itype, req.zone, now) != nil:
		code = "price-too-low"
	}
	return c.e.store.Update(ctx, func(tx store.Tx) error {
		var cur spotRequest
		meta, err := tx.Get(r.key(), &cur)
		if err != nil || cur.State != spotOpen {
			return ignoreGone(err)
		}
		n := 0
		if code == "" {
			adm, err := c.e.admit(tx, cur.Region, req.itype, 1, 1, true)
			if err != nil {
				return err
			}
			if n = adm.Count; n == 0 {
				code = "capacity-not-available"
			}
		}
		if n == 0 {
			if code == cur.StatusCode {
				return nil
			}
			state := spotOpen
			if code == "schedule-expired" || code == "bad-parameters" {
				state = spotClosed
			}
			cur.setStatus(state, code, now)
			_, err := tx.Put(cur.key(), &cur, meta.Version)
			return err
		}
		req.spot.RequestId = cur.SpotInstanceRequestId
		launched := c.e.newInstances(cur.OwnerId, cur.Region, req, "", 1)
		if err := c.e.storeLaunch(tx, req, launched, now); err != nil {
			return err
		}
		cur.InstanceId, cur.LaunchedAvailabilityZone = launched[0].InstanceId, launched[0].AvailabilityZone
		cur.setStatus(spotActive, "fulfilled", now)
		_, err = tx.Put(cur.key(), &cur, meta.Version)
		return err
	})
}

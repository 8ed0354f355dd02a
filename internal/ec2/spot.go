package ec2

import (
	"strconv"
	"time"

	"github.com/nimbus-dev/nimbus/internal/awserr"
	"github.com/nimbus-dev/nimbus/internal/store"
)

// Spot instances run on the capacity on-demand instances leave free. An
// on-demand launch that needs that capacity schedules the interruption of
// the newest spot instances: the notice appears in their metadata
// (spot/instance-action) for the warning period, then the controller stops
// or terminates them with EC2's Server.SpotInstanceTermination reason. Each
// spot instance belongs to a spot instance request (RunInstances makes a
// one-time request behind the scenes, as EC2 does).

const kindSpotRequest = "ec2:spot-request"

type spotMarketOptionsRequest struct {
	MaxPrice                     string
	SpotInstanceType             string
	BlockDurationMinutes         int
	ValidUntil                   time.Time
	InstanceInterruptionBehavior string
}

type instanceMarketOptionsRequest struct {
	MarketType  string
	SpotOptions *spotMarketOptionsRequest
}

// spotState is what a spot instance's record keeps of its market.
type spotState struct {
	RequestId            string
	MaxPrice             string
	Type                 string // one-time or persistent
	InterruptionBehavior string // terminate, stop or hibernate
	// InterruptAt is when the scheduled interruption happens; zero while
	// none is scheduled.
	InterruptAt time.Time
}

// EC2's spot instance request states and the reason of an interruption.
const (
	spotOpen      = "open"
	spotActive    = "active"
	spotClosed    = "closed"
	spotCancelled = "cancelled"
	spotDisabled  = "disabled"
)

var reasonSpotTermination = stateReason{Code: "Server.SpotInstanceTermination", Message: "Server.SpotInstanceTermination: Spot instance termination"}

// spotRequest is the stored record of one spot instance request.
type spotRequest struct {
	Schema                       int
	SpotInstanceRequestId        string
	OwnerId                      string
	Region                       string
	SpotPrice                    string // the maximum price
	Type                         string
	State                        string
	StatusCode                   string
	StatusMessage                string
	StatusUpdate                 time.Time
	InstanceId                   string
	LaunchedAvailabilityZone     string
	CreateTime                   time.Time
	ValidUntil                   time.Time
	InstanceInterruptionBehavior string
	Launch                       launchSpecView
	Tags                         []Tag
	// Run is the launch an open request makes once it can be fulfilled
	// (requests from RequestSpotInstances; nil for RunInstances' own).
	Run *runInstancesInput `json:",omitempty"`
}

func (r *spotRequest) key() store.Key {
	return store.Key{Account: r.OwnerId, Region: r.Region, Kind: kindSpotRequest, ID: r.SpotInstanceRequestId}
}

// setStatus moves the request to a state with one of EC2's status codes.
func (r *spotRequest) setStatus(state, code string, now time.Time) {
	r.State, r.StatusCode, r.StatusMessage, r.StatusUpdate = state, code, spotStatusMessages[code], now
}

// spotStatusMessages are EC2's messages for the spot request status codes.
var spotStatusMessages = map[string]string{
	"pending-evaluation":                    "Your Spot request has been submitted for review, and is pending evaluation.",
	"fulfilled":                             "Your spot request is fulfilled.",
	"capacity-not-available":                "There is no capacity available that matches your request.",
	"price-too-low":                         "Your Spot request price is lower than the minimum required Spot request fulfillment price.",
	"canceled-before-fulfillment":           "Your Spot request was canceled before it was fulfilled.",
	"request-canceled-and-instance-running": "Your Spot request is canceled, but your instance is still running.",
	"instance-terminated-by-user":           "Your Spot instance was terminated by the user.",
	"instance-terminated-no-capacity":       "Your Spot instance was terminated because there is no Spot capacity available that matches your request.",
	"instance-stopped-no-capacity":          "Your Spot instance was stopped because there is no Spot capacity available that matches your request.",
	"marked-for-termination":                "Your Spot instance is marked for termination because there is no capacity available.",
	"marked-for-stop":                       "Your Spot instance is marked for stop because there is no capacity available.",
	"schedule-expired":                      "Your Spot request has expired.",
	"bad-parameters":                        "One or more parameters for your Spot request are not valid.",
}

// validSpotOptions checks InstanceMarketOptions and returns the spot state
// new instances get, or nil for on-demand.
func validSpotOptions(o *instanceMarketOptionsRequest) (*spotState, error) {
	if o == nil || o.MarketType == "" {
		if o != nil && o.SpotOptions != nil {
			return nil, invalidParameter("SpotOptions can only be given with MarketType spot.")
		}
		return nil, nil
	}
	if o.MarketType != "spot" {
		return nil, invalidParameter("Value (%s) for parameter MarketType is invalid. Valid values are spot and capacity-block.", o.MarketType)
	}
	s := &spotState{Type: "one-time", InterruptionBehavior: "terminate"}
	if so := o.SpotOptions; so != nil {
		if so.SpotInstanceType != "" {
			s.Type = so.SpotInstanceType
		}
		if so.InstanceInterruptionBehavior != "" {
			s.InterruptionBehavior = so.InstanceInterruptionBehavior
		}
		s.MaxPrice = so.MaxPrice
	}
	return s, checkSpotShape(s)
}

// checkSpotShape checks a request type, interruption behaviour and price.
func checkSpotShape(s *spotState) error {
	switch s.Type {
	case "one-time", "persistent":
	default:
		return invalidParameter("Value (%s) for parameter SpotInstanceType is invalid. Valid values are one-time and persistent.", s.Type)
	}
	switch s.InterruptionBehavior {
	case "terminate":
	case "stop", "hibernate":
		if s.Type != "persistent" {
			return awserr.New(awserr.Validation, "InvalidParameterCombination",
				"The interruption behavior '%s' is only supported for persistent Spot Instance requests.", s.InterruptionBehavior)
		}
	default:
		return invalidParameter("Value (%s) for parameter InstanceInterruptionBehavior is invalid. Valid values are hibernate, stop and terminate.", s.InterruptionBehavior)
	}
	if s.MaxPrice != "" {
		if p, err := strconv.ParseFloat(s.MaxPrice, 64); err != nil || p <= 0 {
			return invalidParameter("Invalid value '%s' for spot price.", s.MaxPrice)
		}
	}
	return nil
}

// checkSpotPrice refuses a maximum price below the current spot price.
func checkSpotPrice(maxPrice string, itype instanceTypeInfo, zone string, now time.Time) error {
	if maxPrice == "" {
		return nil // the default maximum is the on-demand price, above any spot price
	}
	p, _ := strconv.ParseFloat(maxPrice, 64)
	if cur := spotPriceAt(itype, zone, now); p < cur {
		return awserr.New(awserr.Validation, "SpotMaxPriceTooLow",
			"Your Spot request price of %s is lower than the minimum required Spot request fulfillment price of %s.",
			maxPrice, formatPrice(cur))
	}
	return nil
}

// newSpotRequest is the request record behind a spot instance launched now.
func newSpotRequest(inst *instance, s *spotState, launch launchSpecView, tags []Tag, now time.Time) *spotRequest {
	r := &spotRequest{Schema: 1, SpotInstanceRequestId: s.RequestId, OwnerId: inst.OwnerId, Region: inst.Region,
		SpotPrice: s.MaxPrice, Type: s.Type, CreateTime: now, InstanceInterruptionBehavior: s.InterruptionBehavior,
		Launch: launch, Tags: tags}
	if r.SpotPrice == "" {
		r.SpotPrice = formatPrice(launchTypePrice(inst.InstanceType))
	}
	r.InstanceId, r.LaunchedAvailabilityZone = inst.InstanceId, inst.AvailabilityZone
	r.setStatus(spotActive, "fulfilled", now)
	return r
}

func launchTypePrice(typ string) float64 {
	t, _ := lookupInstanceType(typ)
	return t.OnDemandPricePerHour
}

// interruptionEnded updates a spot instance's request once the controller
// has interrupted the instance.
func interruptionEnded(tx store.Tx, inst *instance, now time.Time) error {
	return updateSpotRequest(tx, inst, func(r *spotRequest) {
		switch {
		case r.State != spotActive:
		case inst.Spot.InterruptionBehavior == "terminate" && r.Type == "persistent":
			r.setStatus(spotOpen, "instance-terminated-no-capacity", now)
		case inst.Spot.InterruptionBehavior == "terminate":
			r.setStatus(spotClosed, "instance-terminated-no-capacity", now)
		default:
			r.setStatus(spotDisabled, "instance-stopped-no-capacity", now)
		}
	})
}

// terminatedByUser closes a one-time spot request whose instance the user
// terminated.
func terminatedByUser(tx store.Tx, inst *instance, now time.Time) error {
	if inst.Spot == nil {
		return nil
	}
	return updateSpotRequest(tx, inst, func(r *spotRequest) {
		if r.State == spotActive {
			state := spotClosed
			if r.Type == "persistent" {
				state = spotOpen
			}
			r.setStatus(state, "instance-terminated-by-user", now)
		}
	})
}

func updateSpotRequest(tx store.Tx, inst *instance, fn func(*spotRequest)) error {
	if inst.Spot == nil || inst.Spot.RequestId == "" {
		return nil
	}
	var r spotRequest
	meta, err := tx.Get(store.Key{Account: inst.OwnerId, Region: inst.Region, Kind: kindSpotRequest, ID: inst.Spot.RequestId}, &r)
	if err != nil {
		return ignoreGone(err)
	}
	fn(&r)
	_, err = tx.Put(r.key(), &r, meta.Version)
	return err
}

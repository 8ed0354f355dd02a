package ec2

import (
	"context"
	"strconv"
	"testing"
	"time"

	"github.com/nimbus-dev/nimbus/internal/store"
)

// bumpLaunchTime makes an instance launched a second later than recorded.
func bumpLaunchTime(tx store.Tx, id string) error {
	var inst instance
	key := store.Key{Account: testAccount, Region: "us-east-1", Kind: kindInstance, ID: id}
	meta, err := tx.Get(key, &inst)
	if err != nil {
		return err
	}
	inst.LaunchTime = inst.LaunchTime.Add(time.Second)
	_, err = tx.Put(key, &inst, meta.Version)
	return err
}

// smallRegion gives the harness room for two t3.small instances (2 vCPU,
// 2 GiB each) and a spot notice of 100 ms.
func smallRegion(h *instanceHarness) {
	h.capacity = Capacity{VCPUs: 4, MemoryMiB: 8192}
	h.spotWarning = 100 * time.Millisecond
}

func TestCapacityLimitsLaunches(t *testing.T) {
	h := newInstanceHarness(t, smallRegion)
	// MaxCount is cut down to what fits, as long as MinCount does.
	res := h.run(&runInstancesInput{InstanceType: "t3.small", MinCount: 1, MaxCount: 3})
	if len(res.Instances) != 2 {
		t.Fatalf("launched %d of 1..3 t3.small in 4 vCPU, want 2", len(res.Instances))
	}
	_, err := h.e.runInstances(h.ctx, &runInstancesInput{ImageId: h.amiID, InstanceType: "t3.small", MinCount: 1, MaxCount: 1})
	wantErr(t, err, "InsufficientInstanceCapacity")
	// Memory counts as well as vCPUs: r5.large has 2 vCPUs but 16 GiB.
	first := res.Instances[0].InstanceId
	h.waitState(first, "running")
	if _, err := h.e.stopInstances(h.ctx, &instanceIDsInput{InstanceIds: []string{first}}); err != nil {
		t.Fatal(err)
	}
	h.waitState(first, "stopped")
	_, err = h.e.runInstances(h.ctx, &runInstancesInput{ImageId: h.amiID, InstanceType: "r5.large", MinCount: 1, MaxCount: 1})
	wantErr(t, err, "InsufficientInstanceCapacity")
	// A stopped instance frees its room, and starting it takes it again.
	other := h.run(&runInstancesInput{InstanceType: "t3.micro"}).Instances[0].InstanceId
	_, err = h.e.startInstances(h.ctx, &instanceIDsInput{InstanceIds: []string{first}})
	wantErr(t, err, "InsufficientInstanceCapacity")
	if _, err := h.e.terminateInstances(h.ctx, &instanceIDsInput{InstanceIds: []string{other}}); err != nil {
		t.Fatal(err)
	}
	h.waitState(other, "terminated")
	if _, err := h.e.startInstances(h.ctx, &instanceIDsInput{InstanceIds: []string{first}}); err != nil {
		t.Errorf("start after room was freed: %v", err)
	}
	// GPU types need GPUs the region does not have.
	_, err = h.e.runInstances(h.ctx, &runInstancesInput{ImageId: h.amiID, InstanceType: "g5.xlarge", MinCount: 1, MaxCount: 1})
	wantErr(t, err, "InsufficientInstanceCapacity")
}

func TestSpotInstanceInterruptedForOnDemand(t *testing.T) {
	h := newInstanceHarness(t, smallRegion)
	spot := &instanceMarketOptionsRequest{MarketType: "spot"}
	res := h.run(&runInstancesInput{InstanceType: "t3.small", MinCount: 2, MaxCount: 2, InstanceMarketOptions: spot})
	older, newer := res.Instances[0].InstanceId, res.Instances[1].InstanceId
	for _, i := range res.Instances {
		if i.InstanceLifecycle != "spot" || i.SpotInstanceRequestId == "" {
			t.Errorf("spot instance view = lifecycle %q request %q", i.InstanceLifecycle, i.SpotInstanceRequestId)
		}
	}
	h.waitState(older, "running")
	h.waitState(newer, "running")
	// Make the second launched the newest, which is the one reclaimed.
	if err := h.st.Update(context.Background(), func(tx store.Tx) error { return bumpLaunchTime(tx, newer) }); err != nil {
		t.Fatal(err)
	}
	out, err := h.e.describeInstances(h.ctx, &describeInstancesInput{Filters: []Filter{{"instance-lifecycle", []string{"spot"}}}})
	if err != nil || len(out.Reservations) != 1 || len(out.Reservations[0].Instances) != 2 {
		t.Errorf("instance-lifecycle=spot: %+v, %v", out, err)
	}
	reqs, err := h.e.describeSpotInstanceRequests(h.ctx, &describeSpotInstanceRequestsInput{
		Filters: []Filter{{"instance-id", []string{newer}}}})
	if err != nil || len(reqs.SpotInstanceRequests) != 1 || reqs.SpotInstanceRequests[0].State != "active" ||
		reqs.SpotInstanceRequests[0].Status.Code != "fulfilled" || reqs.SpotInstanceRequests[0].Type != "one-time" {
		t.Fatalf("spot request of %s = %+v, %v", newer, reqs, err)
	}
	// A spot launch never reclaims another spot instance's room.
	_, err = h.e.runInstances(h.ctx, &runInstancesInput{ImageId: h.amiID, InstanceType: "t3.small", MinCount: 1, MaxCount: 1, InstanceMarketOptions: spot})
	wantErr(t, err, "InsufficientInstanceCapacity")

	onDemand := h.run(&runInstancesInput{InstanceType: "t3.small"}).Instances[0].InstanceId
	md, err := h.ctrl.InstanceForSandbox(context.Background(), newer)
	if err != nil || !md.Spot || md.SpotAction == nil || md.SpotAction.Action != "terminate" || md.SpotAction.Time.Before(time.Now().Add(-time.Second)) {
		t.Fatalf("metadata of the reclaimed instance = %+v, %v", md, err)
	}
	if md, _ := h.ctrl.InstanceForSandbox(context.Background(), older); md == nil || md.SpotAction != nil {
		t.Errorf("the older spot instance got a notice too: %+v", md)
	}
	v := h.waitState(newer, "terminated")
	if v.StateReason == nil || v.StateReason.Code != "Server.SpotInstanceTermination" ||
		v.StateReason.Message != "Server.SpotInstanceTermination: Spot instance termination" {
		t.Errorf("state reason = %+v", v.StateReason)
	}
	h.waitState(onDemand, "running")
	if got := h.describe(older).State.Name; got != "running" {
		t.Errorf("older spot instance is %s, want running", got)
	}
	reqs, err = h.e.describeSpotInstanceRequests(h.ctx, &describeSpotInstanceRequestsInput{
		SpotInstanceRequestIds: []string{reqs.SpotInstanceRequests[0].SpotInstanceRequestId}})
	if err != nil || reqs.SpotInstanceRequests[0].State != "closed" || reqs.SpotInstanceRequests[0].Status.Code != "instance-terminated-no-capacity" {
		t.Errorf("request after interruption = %+v, %v", reqs, err)
	}
}

func TestPersistentSpotStopsOnInterruption(t *testing.T) {
	h := newInstanceHarness(t, smallRegion)
	_, err := h.e.runInstances(h.ctx, &runInstancesInput{ImageId: h.amiID, MinCount: 1, MaxCount: 1,
		InstanceMarketOptions: &instanceMarketOptionsRequest{MarketType: "spot", SpotOptions: &spotMarketOptionsRequest{InstanceInterruptionBehavior: "stop"}}})
	wantErr(t, err, "InvalidParameterCombination") // stop needs a persistent request
	_, err = h.e.runInstances(h.ctx, &runInstancesInput{ImageId: h.amiID, MinCount: 1, MaxCount: 1,
		InstanceMarketOptions: &instanceMarketOptionsRequest{MarketType: "reserved"}})
	wantErr(t, err, "InvalidParameterValue")
	_, err = h.e.runInstances(h.ctx, &runInstancesInput{ImageId: h.amiID, MinCount: 1, MaxCount: 1,
		InstanceMarketOptions: &instanceMarketOptionsRequest{MarketType: "spot", SpotOptions: &spotMarketOptionsRequest{MaxPrice: "0.000001"}}})
	wantErr(t, err, "SpotMaxPriceTooLow")
	spot := h.run(&runInstancesInput{InstanceType: "t3.medium", InstanceMarketOptions: &instanceMarketOptionsRequest{MarketType: "spot",
		SpotOptions: &spotMarketOptionsRequest{SpotInstanceType: "persistent", InstanceInterruptionBehavior: "stop", MaxPrice: "1.0"}}}).Instances[0].InstanceId
	h.waitState(spot, "running")
	h.run(&runInstancesInput{InstanceType: "t3.medium", MinCount: 2, MaxCount: 2})
	md, err := h.ctrl.InstanceForSandbox(context.Background(), spot)
	if err != nil || md.SpotAction == nil || md.SpotAction.Action != "stop" {
		t.Errorf("notice = %+v, %v", md, err)
	}
	v := h.waitState(spot, "stopped")
	if v.StateReason == nil || v.StateReason.Code != "Server.SpotInstanceTermination" {
		t.Errorf("state reason = %+v", v.StateReason)
	}
	reqs, err := h.e.describeSpotInstanceRequests(h.ctx, &describeSpotInstanceRequestsInput{})
	if err != nil || len(reqs.SpotInstanceRequests) != 1 || reqs.SpotInstanceRequests[0].State != "disabled" ||
		reqs.SpotInstanceRequests[0].Status.Code != "instance-stopped-no-capacity" || reqs.SpotInstanceRequests[0].SpotPrice != "1.0" {
		t.Errorf("persistent request = %+v, %v", reqs, err)
	}
}

func TestRequestAndCancelSpotInstances(t *testing.T) {
	h := newInstanceHarness(t, smallRegion)
	out, err := h.e.requestSpotInstances(h.ctx, &requestSpotInstancesInput{InstanceCount: 3, SpotPrice: "0.5",
		LaunchSpecification: &requestSpotLaunchSpecification{ImageId: h.amiID, InstanceType: "t3.small"},
		TagSpecifications:   []TagSpecification{{ResourceType: "spot-instances-request", Tags: []Tag{{"job", "batch"}}}}})
	if err != nil {
		t.Fatal(err)
	}
	states := map[string]int{}
	var open, active string
	for _, r := range out.SpotInstanceRequests {
		states[r.State+"/"+r.Status.Code]++
		if r.State == "open" {
			open = r.SpotInstanceRequestId
		} else {
			active = r.SpotInstanceRequestId
			if r.InstanceId == "" || r.LaunchedAvailabilityZone != "us-east-1a" || r.LaunchSpecification.InstanceType != "t3.small" {
				t.Errorf("fulfilled request = %+v", r)
			}
		}
		if r.SpotPrice != "0.5" || len(r.Tags) != 1 {
			t.Errorf("request = %+v", r)
		}
	}
	if states["active/fulfilled"] != 2 || states["open/capacity-not-available"] != 1 {
		t.Fatalf("request states = %v", states)
	}
	low, err := h.e.requestSpotInstances(h.ctx, &requestSpotInstancesInput{SpotPrice: "0.0001",
		LaunchSpecification: &requestSpotLaunchSpecification{ImageId: h.amiID, InstanceType: "t3.nano"}})
	if err != nil || low.SpotInstanceRequests[0].State != "open" || low.SpotInstanceRequests[0].Status.Code != "price-too-low" {
		t.Errorf("low bid = %+v, %v", low, err)
	}
	filtered, err := h.e.describeSpotInstanceRequests(h.ctx, &describeSpotInstanceRequestsInput{Filters: []Filter{{"state", []string{"open"}}}})
	if err != nil || len(filtered.SpotInstanceRequests) != 2 {
		t.Errorf("open requests = %+v, %v", filtered, err)
	}
	cancelled, err := h.e.cancelSpotInstanceRequests(h.ctx, &cancelSpotInstanceRequestsInput{SpotInstanceRequestIds: []string{open, active}})
	if err != nil || len(cancelled.CancelledSpotInstanceRequests) != 2 || cancelled.CancelledSpotInstanceRequests[0].State != "cancelled" {
		t.Fatalf("CancelSpotInstanceRequests = %+v, %v", cancelled, err)
	}
	after, err := h.e.describeSpotInstanceRequests(h.ctx, &describeSpotInstanceRequestsInput{SpotInstanceRequestIds: []string{open, active}})
	if err != nil {
		t.Fatal(err)
	}
	codes := map[string]string{}
	for _, r := range after.SpotInstanceRequests {
		codes[r.SpotInstanceRequestId] = r.Status.Code
	}
	if codes[open] != "canceled-before-fulfillment" || codes[active] != "request-canceled-and-instance-running" {
		t.Errorf("status after cancel = %v", codes)
	}
	_, err = h.e.cancelSpotInstanceRequests(h.ctx, &cancelSpotInstanceRequestsInput{SpotInstanceRequestIds: []string{"sir-0123456789abcdef0"}})
	wantErr(t, err, "InvalidSpotInstanceRequestID.NotFound")
	_, err = h.e.describeSpotInstanceRequests(h.ctx, &describeSpotInstanceRequestsInput{SpotInstanceRequestIds: []string{"nope"}})
	wantErr(t, err, "InvalidSpotInstanceRequestID.Malformed")
	_, err = h.e.requestSpotInstances(h.ctx, &requestSpotInstancesInput{})
	wantErr(t, err, "MissingParameter")
}

func TestSpotPriceHistory(t *testing.T) {
	h := newAPIHarness(t)
	end := time.Date(2026, 11, 20, 12, 30, 0, 0, time.UTC)
	ask := &describeSpotPriceHistoryInput{InstanceTypes: []string{"m5.large"}, AvailabilityZone: "us-east-1a",
		StartTime: end.Add(-5 * time.Hour), EndTime: end}
	out, err := h.e.describeSpotPriceHistory(h.ctx, ask)
	if err != nil {
		t.Fatal(err)
	}
	hist := out.SpotPriceHistory
	if len(hist) != 6 { // the price in force at the start and five hourly changes
		t.Fatalf("%d prices, want 6: %+v", len(hist), hist)
	}
	onDemand := launchTypePrice("m5.large")
	distinct := map[string]bool{}
	for i, p := range hist {
		price, err := strconv.ParseFloat(p.SpotPrice, 64)
		if err != nil || price < 0.26*onDemand-1e-6 || price > 0.34*onDemand+1e-6 {
			t.Errorf("price %s is not 26-34%% of on-demand %v", p.SpotPrice, onDemand)
		}
		if p.InstanceType != "m5.large" || p.AvailabilityZone != "us-east-1a" || p.ProductDescription != "Linux/UNIX" {
			t.Errorf("price point = %+v", p)
		}
		if i > 0 && !p.Timestamp.Before(hist[i-1].Timestamp) {
			t.Errorf("history not newest first at %d", i)
		}
		distinct[p.SpotPrice] = true
	}
	if len(distinct) < 2 {
		t.Errorf("the price never varies: %v", distinct)
	}
	again, _ := h.e.describeSpotPriceHistory(h.ctx, ask)
	for i := range hist {
		if again.SpotPriceHistory[i] != hist[i] {
			t.Fatalf("history is not deterministic: %+v then %+v", hist[i], again.SpotPriceHistory[i])
		}
	}
	// Pages of two cover the same history.
	var paged []spotPriceView
	ask.MaxResults = 2
	for {
		page, err := h.e.describeSpotPriceHistory(h.ctx, ask)
		if err != nil {
			t.Fatal(err)
		}
		paged = append(paged, page.SpotPriceHistory...)
		if ask.NextToken = page.NextToken; ask.NextToken == "" {
			break
		}
	}
	if len(paged) != 6 || paged[5] != hist[5] {
		t.Errorf("paged history = %d prices", len(paged))
	}
	now, err := h.e.describeSpotPriceHistory(h.ctx, &describeSpotPriceHistoryInput{InstanceTypes: []string{"t3.micro", "c5.large"},
		Filters: []Filter{{"availability-zone", []string{"us-east-1b"}}}})
	if err != nil || len(now.SpotPriceHistory) != 2 {
		t.Errorf("current prices = %+v, %v", now, err)
	}
	_, err = h.e.describeSpotPriceHistory(h.ctx, &describeSpotPriceHistoryInput{InstanceTypes: []string{"x9.huge"}})
	wantErr(t, err, "InvalidParameterValue")
}

func TestUsageRecords(t *testing.T) {
	h := newInstanceHarness(t)
	start := time.Now().Add(-time.Minute)
	id := h.run(&runInstancesInput{InstanceType: "t3.micro"}).Instances[0].InstanceId
	spot := h.run(&runInstancesInput{InstanceType: "t3.nano", InstanceMarketOptions: &instanceMarketOptionsRequest{MarketType: "spot"}}).Instances[0].InstanceId
	h.waitState(id, "running")
	h.waitState(spot, "running")
	if _, err := h.e.stopInstances(h.ctx, &instanceIDsInput{InstanceIds: []string{id}}); err != nil {
		t.Fatal(err)
	}
	h.waitState(id, "stopped")
	if _, err := h.e.startInstances(h.ctx, &instanceIDsInput{InstanceIds: []string{id}}); err != nil {
		t.Fatal(err)
	}
	h.waitState(id, "running")
	recs, err := Usage(context.Background(), h.st, testAccount, start, time.Now().Add(time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	var closed, open, spotOpen int
	for _, r := range recs {
		switch {
		case r.InstanceID == id && !r.End.IsZero():
			closed++
			if r.Market != "on-demand" || r.InstanceType != "t3.micro" || r.AvailabilityZone == "" || r.Region != "us-east-1" ||
				r.End.Before(r.Start) || r.BilledSeconds(time.Now()) != MinimumBilledSeconds {
				t.Errorf("finished interval = %+v (billed %d s)", r, r.BilledSeconds(time.Now()))
			}
		case r.InstanceID == id:
			open++
		case r.InstanceID == spot && r.End.IsZero() && r.Market == "spot":
			spotOpen++
		}
	}
	if closed != 1 || open != 1 || spotOpen != 1 {
		t.Errorf("usage = %+v; want one finished and one open interval of %s and one open spot interval", recs, id)
	}
	// A window before the launches holds none of them.
	old, err := Usage(context.Background(), h.st, testAccount, start.Add(-time.Hour), start.Add(-30*time.Minute))
	if err != nil || len(old) != 0 {
		t.Errorf("usage an hour ago = %+v, %v", old, err)
	}
	long := UsageRecord{Start: time.Unix(1000, 0), End: time.Unix(1000, 0).Add(90*time.Second + time.Millisecond)}
	if got := long.BilledSeconds(time.Now()); got != 91 {
		t.Errorf("90.001 s billed as %d s, want 91", got)
	}
}

func TestOpenSpotRequestFulfilledWhenRoomFrees(t *testing.T) {
	h := newInstanceHarness(t, smallRegion)
	onDemand := h.run(&runInstancesInput{InstanceType: "t3.small"}).Instances[0].InstanceId
	out, err := h.e.requestSpotInstances(h.ctx, &requestSpotInstancesInput{InstanceCount: 2, Type: "persistent",
		LaunchSpecification: &requestSpotLaunchSpecification{ImageId: h.amiID, InstanceType: "t3.small"}})
	if err != nil {
		t.Fatal(err)
	}
	var openID string
	for _, r := range out.SpotInstanceRequests {
		if r.State == "open" {
			openID = r.SpotInstanceRequestId
		}
	}
	if openID == "" {
		t.Fatalf("requests = %+v; want one left open", out.SpotInstanceRequests)
	}
	request := func() spotInstanceRequestView {
		t.Helper()
		out, err := h.e.describeSpotInstanceRequests(h.ctx, &describeSpotInstanceRequestsInput{SpotInstanceRequestIds: []string{openID}})
		if err != nil {
			t.Fatal(err)
		}
		return out.SpotInstanceRequests[0]
	}
	h.waitState(onDemand, "running")
	if _, err := h.e.terminateInstances(h.ctx, &instanceIDsInput{InstanceIds: []string{onDemand}}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the open request to be fulfilled", func() bool { return request().State == "active" })
	first := request().InstanceId
	if v := h.waitState(first, "running"); v.InstanceLifecycle != "spot" || v.SpotInstanceRequestId != openID {
		t.Errorf("instance of the fulfilled request = %+v", v)
	}
	// A persistent request whose instance is terminated launches another.
	if _, err := h.e.terminateInstances(h.ctx, &instanceIDsInput{InstanceIds: []string{first}}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "a new instance for the persistent request", func() bool {
		r := request()
		return r.State == "active" && r.InstanceId != first
	})
}

func TestReclaimedRoomIsNotReclaimedTwice(t *testing.T) {
	h := newInstanceHarness(t, func(h *instanceHarness) {
		smallRegion(h)
		h.spotWarning = time.Hour // the notice period outlasts the test
	})
	spot := h.run(&runInstancesInput{InstanceType: "t3.small", MinCount: 2, MaxCount: 2,
		InstanceMarketOptions: &instanceMarketOptionsRequest{MarketType: "spot"}})
	// Each on-demand launch reclaims one spot instance; a third finds none
	// left to reclaim.
	h.run(&runInstancesInput{InstanceType: "t3.small"})
	h.run(&runInstancesInput{InstanceType: "t3.small"})
	_, err := h.e.runInstances(h.ctx, &runInstancesInput{ImageId: h.amiID, InstanceType: "t3.small", MinCount: 1, MaxCount: 1})
	wantErr(t, err, "InsufficientInstanceCapacity")
	for _, i := range spot.Instances {
		if r := h.record(i.InstanceId); r.Spot.InterruptAt.IsZero() {
			t.Errorf("spot instance %s was not scheduled for interruption", i.InstanceId)
		}
	}
}

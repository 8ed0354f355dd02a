package ec2

import (
	"context"
	"encoding/json"
	"fmt"
	"reflect"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nimbus-dev/nimbus/internal/identity"
	"github.com/nimbus-dev/nimbus/internal/region"
	"github.com/nimbus-dev/nimbus/internal/store"
	"github.com/nimbus-dev/nimbus/internal/store/sqlitestore"
)

// storedInstance is a running instance record as a launch leaves it, the
// i-th of its zone (its address is the i-th of the default subnet).
func storedInstance(reg, zone string, i int) *instance {
	subnet, cidr := defaultSubnet(testAccount, zone)
	now := time.Now().UTC().Truncate(time.Second)
	return &instance{Schema: instanceSchema, InstanceId: newID("i"), ReservationId: newID("r"), OwnerId: testAccount,
		Region: reg, ImageId: "ami-0123456789abcdef0", Image: "busybox:latest", Architecture: "x86_64",
		RootDevice: "/dev/xvda", InstanceType: "t3.micro", VCPUs: 2, CoreCount: 1, ThreadsPerCore: 2, MemoryMiB: 1024,
		SecurityGroups:   []groupIdentifier{{GroupId: "sg-0123456789abcdef0", GroupName: "default"}},
		AvailabilityZone: zone, SubnetId: subnet, SubnetCIDR: cidr, VpcId: defaultVPCID(testAccount, reg),
		PrivateIpAddress: subnetAddress(cidr, int64(i+1)), MacAddress: "0e:00:00:00:00:01", NetworkInterfaceId: newID("eni"),
		Tags: []Tag{{"Name", "bench"}}, ShutdownBehavior: "stop", DeleteOnTermination: true, HttpTokens: "optional",
		HttpEndpoint: "enabled", HttpPutHopLimit: 1, State: stateRunning, LaunchTime: now, CreatedAt: now}
}

// describeFixture is EC2's instance API alone over a store holding
// instance records written straight to it, as the controller writes them.
type describeFixture struct {
	t   *testing.T
	st  *sqlitestore.Store
	e   *EC2
	ctx context.Context
	ids []string // us-east-1's instances, in creation order
}

func newDescribeFixture(t *testing.T, n int, opts ...sqlitestore.Option) *describeFixture {
	t.Helper()
	f := &describeFixture{t: t, st: sqlitestore.OpenTemp(t, opts...)}
	regions, _ := region.NewCatalog(nil, false)
	f.e = &EC2{store: f.st, regions: regions}
	f.ctx = identity.With(context.Background(), &identity.Call{Region: "us-east-1",
		Principal: &identity.Principal{Type: identity.Root, Account: testAccount}})
	err := f.st.Update(context.Background(), func(tx store.Tx) error {
		for i := range n {
			inst := storedInstance("us-east-1", "us-east-1a", i)
			f.ids = append(f.ids, inst.InstanceId)
			if _, err := tx.Create(inst.key(), inst); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return f
}

// change rewrites one instance record in its own commit.
func (f *describeFixture) change(id string, edit func(*instance)) {
	f.t.Helper()
	err := f.st.Update(context.Background(), func(tx store.Tx) error {
		key := store.Key{Account: testAccount, Region: "us-east-1", Kind: kindInstance, ID: id}
		var inst instance
		meta, err := tx.Get(key, &inst)
		if err != nil {
			return err
		}
		edit(&inst)
		_, err = tx.Put(key, &inst, meta.Version)
		return err
	})
	if err != nil {
		f.t.Fatalf("change %s: %v", id, err)
	}
}

// describe answers in through f.e, whose cache is under test.
func (f *describeFixture) describe(in describeInstancesInput) *describeInstancesOutput {
	f.t.Helper()
	out, err := f.e.describeInstances(f.ctx, &in)
	if err != nil {
		f.t.Fatalf("DescribeInstances %+v: %v", in, err)
	}
	return out
}

// checkAgainstFresh compares f.e's answers with those of a read that
// decodes every record and pages and filters the result, as
// DescribeInstances did before it had a cache: pages of five followed to the
// end (first, so that they find the cache out of date after a write), every
// instance at once, filters, then the pages again.
func (f *describeFixture) checkAgainstFresh(step string) {
	f.t.Helper()
	f.checkPages(step)
	inputs := []describeInstancesInput{
		{},
		{Filters: []Filter{{"tag:Name", []string{"bench"}}}},
		{Filters: []Filter{{"instance-state-name", []string{"stopped", "terminated"}}}},
		// Named exactly: only the named instances are read.
		{Filters: []Filter{{"instance-id", []string{f.ids[0], f.ids[3], f.ids[6], f.ids[0], "i-00000000000000000"}}}},
		{Filters: []Filter{{"instance-state-name", []string{"stopped"}}, {"instance-id", f.ids[4:8]}}},
		{Filters: []Filter{{"instance-id", f.ids[:6]}, {"tag:Name", []string{"web"}}}, MaxResults: 5},
		// A wildcard: every instance is read.
		{Filters: []Filter{{"instance-id", []string{f.ids[1][:6] + "*", f.ids[2]}}}},
	}
	for _, in := range inputs {
		got, err := f.e.describeInstances(f.ctx, &in)
		if err != nil {
			f.t.Fatalf("%s: %+v: %v", step, in, err)
		}
		if want := f.uncached(in); !reflect.DeepEqual(got, want) {
			f.t.Errorf("%s: %+v: cached answer differs from a fresh read: %s", step, in, firstDifference(got, want))
		}
	}
	f.checkPages(step + ", pages again")
}

func (f *describeFixture) checkPages(step string) {
	f.t.Helper()
	token := ""
	for page := 0; ; page++ {
		in := describeInstancesInput{MaxResults: 5, NextToken: token}
		got, err := f.e.describeInstances(f.ctx, &in)
		if err != nil {
			f.t.Fatalf("%s: page %d: %v", step, page, err)
		}
		if want := f.uncached(in); !reflect.DeepEqual(got, want) {
			f.t.Errorf("%s: page %d differs from a fresh read: %s", step, page, firstDifference(got, want))
		}
		if token = got.NextToken; token == "" {
			break
		}
		if page > 100 {
			f.t.Fatalf("%s: pages of five do not end", step)
		}
	}
}

// uncached answers in by decoding every record of the partition.
func (f *describeFixture) uncached(in describeInstancesInput) *describeInstancesOutput {
	f.t.Helper()
	matched, err := matching(f.mustLoadAll(), in.Filters, func(i *instance) fields { return i.filterFields },
		func(i *instance) []Tag { return i.Tags })
	if err != nil {
		f.t.Fatal(err)
	}
	page, next, err := paginate(matched, in.MaxResults, in.NextToken, func(i *instance) string { return i.InstanceId })
	if err != nil {
		f.t.Fatal(err)
	}
	return &describeInstancesOutput{Reservations: reservationsOf(page), NextToken: next}
}

// TestDescribeInstancesInstanceIDFilterErrors checks that reading only the
// instances an instance-id filter names keeps DescribeInstances' answer to
// an unknown filter: refused once an instance reaches it, whichever
// instances are read.
func TestDescribeInstancesInstanceIDFilterErrors(t *testing.T) {
	f := newDescribeFixture(t, 3)
	cases := []struct {
		filters []Filter
		refused bool
	}{
		{[]Filter{{"instance-id", []string{f.ids[0]}}, {"colour", []string{"red"}}}, true},
		{[]Filter{{"colour", []string{"red"}}, {"instance-id", []string{"i-00000000000000000"}}}, true},
		{[]Filter{{"instance-id", []string{"i-00000000000000000"}}, {"colour", []string{"red"}}}, false},
		{[]Filter{{"instance-id", []string{f.ids[1]}}, {"instance-state-name", []string{"running"}}}, false},
	}
	for _, tc := range cases {
		_, err := f.e.describeInstances(f.ctx, &describeInstancesInput{Filters: tc.filters})
		_, uncachedErr := matching(f.mustLoadAll(), tc.filters, func(i *instance) fields { return i.filterFields },
			func(i *instance) []Tag { return i.Tags })
		if (err != nil) != tc.refused || (uncachedErr != nil) != tc.refused {
			t.Errorf("filters %v: refused %v (reading everything: %v), want %v", tc.filters, err, uncachedErr, tc.refused)
		}
	}
}

func (f *describeFixture) mustLoadAll() []*instance {
	f.t.Helper()
	all, err := f.e.loadInstances(f.ctx, testAccount, "us-east-1")
	if err != nil {
		f.t.Fatal(err)
	}
	return all
}

// firstDifference names the first instance in which two answers differ.
func firstDifference(got, want *describeInstancesOutput) string {
	flat := func(out *describeInstancesOutput) []instanceView {
		var all []instanceView
		for _, r := range out.Reservations {
			all = append(all, r.Instances...)
		}
		return all
	}
	g, w := flat(got), flat(want)
	for i := range min(len(g), len(w)) {
		switch {
		case g[i].InstanceId != w[i].InstanceId:
			return fmt.Sprintf("instance %d is %s, want %s", i, g[i].InstanceId, w[i].InstanceId)
		case !reflect.DeepEqual(g[i], w[i]):
			return fmt.Sprintf("instance %d (%s): got %+v, want %+v", i, g[i].InstanceId, g[i], w[i])
		}
	}
	if len(g) != len(w) {
		return fmt.Sprintf("%d instances, want %d", len(g), len(w))
	}
	return fmt.Sprintf("next token %q, want %q", got.NextToken, want.NextToken)
}

// TestDescribeInstancesShowsEveryWrite changes instances in every way the
// API and the controller do and checks that the very next DescribeInstances
// answers what a read without any cache answers, and that records nobody
// wrote were not decoded again.
func TestDescribeInstancesShowsEveryWrite(t *testing.T) {
	f := newDescribeFixture(t, 12)
	f.checkAgainstFresh("first read")
	untouched := f.cachedInstance(f.ids[11])
	if untouched == nil {
		t.Fatal("the first read cached nothing")
	}
	steps := []struct {
		name  string
		write func()
	}{
		{"tag", func() {
			if err := f.e.tagInstance(f.ctx, testAccount, "us-east-1", f.ids[0], []Tag{{"Name", "web"}}, nil); err != nil {
				t.Fatal(err)
			}
		}},
		{"stop", func() { f.change(f.ids[1], func(i *instance) { i.State = stateStopped }) }},
		{"terminate", func() {
			f.change(f.ids[2], func(i *instance) { i.State, i.TerminatedAt = stateTerminated, time.Now().UTC() })
		}},
		{"expire", func() {
			err := f.st.Update(context.Background(), func(tx store.Tx) error {
				return tx.Delete(store.Key{Account: testAccount, Region: "us-east-1", Kind: kindInstance, ID: f.ids[3]}, 0)
			})
			if err != nil {
				t.Fatal(err)
			}
		}},
		{"launch", func() {
			inst := storedInstance("us-east-1", "us-east-1b", 1)
			err := f.st.Update(context.Background(), func(tx store.Tx) error {
				_, err := tx.Create(inst.key(), inst)
				return err
			})
			if err != nil {
				t.Fatal(err)
			}
		}},
		{"two in one commit", func() {
			err := f.st.Update(context.Background(), func(tx store.Tx) error {
				for _, id := range f.ids[4:6] {
					key := store.Key{Account: testAccount, Region: "us-east-1", Kind: kindInstance, ID: id}
					var inst instance
					meta, err := tx.Get(key, &inst)
					if err != nil {
						return err
					}
					inst.State = stateStopped
					if _, err := tx.Put(key, &inst, meta.Version); err != nil {
						return err
					}
				}
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
		}},
		{"recreated at version 1", func() {
			// Same ID, same version as the record it replaces: only the
			// write's revision tells them apart.
			key := store.Key{Account: testAccount, Region: "us-east-1", Kind: kindInstance, ID: f.ids[6]}
			err := f.st.Update(context.Background(), func(tx store.Tx) error {
				var inst instance
				if _, err := tx.Get(key, &inst); err != nil {
					return err
				}
				if err := tx.Delete(key, 0); err != nil {
					return err
				}
				inst.InstanceType, inst.State = "m5.large", stateStopped
				_, err := tx.Create(key, &inst)
				return err
			})
			if err != nil {
				t.Fatal(err)
			}
		}},
		{"another kind", func() {
			err := f.st.Update(context.Background(), func(tx store.Tx) error {
				_, err := tx.Put(store.Key{Account: testAccount, Region: "us-east-1", Kind: kindConsole, ID: f.ids[7]},
					map[string]string{"Text": "boot log"}, 0)
				return err
			})
			if err != nil {
				t.Fatal(err)
			}
		}},
		{"another region", func() {
			inst := storedInstance("us-west-2", "us-west-2a", 0)
			err := f.st.Update(context.Background(), func(tx store.Tx) error {
				_, err := tx.Create(inst.key(), inst)
				return err
			})
			if err != nil {
				t.Fatal(err)
			}
		}},
	}
	for _, step := range steps {
		step.write()
		f.checkAgainstFresh(step.name)
		if got := f.cachedInstance(f.ids[11]); got != untouched {
			t.Errorf("after %s: an instance nobody wrote was decoded again", step.name)
		}
	}
}

// cachedInstance is the instance f.e's cache holds under id, nil for none.
func (f *describeFixture) cachedInstance(id string) *instance {
	c := &f.e.instanceCache
	c.mu.Lock()
	defer c.mu.Unlock()
	p := c.parts[partitionKey{testAccount, "us-east-1"}]
	if p == nil {
		return nil
	}
	return p.byID[id].inst
}

// TestDescribeInstancesDuringWrites reads while another goroutine retags an
// instance: every read must show at least the last tag written before it
// began.
func TestDescribeInstancesDuringWrites(t *testing.T) {
	f := newDescribeFixture(t, 50)
	target := f.ids[17]
	var done atomic.Int64 // the last round whose write returned
	stop := make(chan struct{})
	var writer sync.WaitGroup
	writer.Add(1)
	go func() {
		defer writer.Done()
		for n := int64(1); ; n++ {
			select {
			case <-stop:
				return
			default:
			}
			err := f.e.tagInstance(f.ctx, testAccount, "us-east-1", target, []Tag{{"Round", strconv.FormatInt(n, 10)}}, nil)
			if err != nil {
				t.Error(err)
				return
			}
			done.Store(n)
		}
	}()
	var readers sync.WaitGroup
	for r := range 3 {
		readers.Add(1)
		go func() {
			defer readers.Done()
			for range 40 {
				before := done.Load()
				out, err := f.e.describeInstances(f.ctx, &describeInstancesInput{
					Filters: []Filter{{"instance-id", []string{target}}}})
				if err != nil {
					t.Error(err)
					return
				}
				seen := int64(0)
				for _, tag := range out.Reservations[0].Instances[0].Tags {
					if tag.Key == "Round" {
						seen, _ = strconv.ParseInt(tag.Value, 10, 64)
					}
				}
				if seen < before {
					t.Errorf("reader %d: round %d shown after round %d was written", r, seen, before)
					return
				}
			}
		}()
	}
	readers.Wait()
	close(stop)
	writer.Wait()
	if done.Load() == 0 {
		t.Fatal("no write finished while the readers read")
	}
}

// TestInstanceCacheLimit checks that the cache holds no more record bytes
// than its limit, here about five records': the least recently read
// partition goes first, and a partition larger than the limit is answered
// without being kept.
func TestInstanceCacheLimit(t *testing.T) {
	f := newDescribeFixture(t, 2)
	record, err := json.Marshal(storedInstance("us-east-1", "us-east-1a", 0))
	if err != nil {
		t.Fatal(err)
	}
	// Half a record of slack: records differ by a few bytes (region names,
	// addresses).
	limit := 5*len(record) + len(record)/2
	f.e.instanceCache.limit = limit
	sizes := map[string]int{"us-east-1": 2, "us-west-2": 2, "eu-west-1": 2, "ap-south-1": 6}
	launch := func(reg string, n int) {
		t.Helper()
		err := f.st.Update(context.Background(), func(tx store.Tx) error {
			for i := range n {
				inst := storedInstance(reg, reg+"b", i)
				if _, err := tx.Create(inst.key(), inst); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	for reg, n := range sizes {
		if reg != "us-east-1" {
			launch(reg, n)
		}
	}
	read := func(reg string) {
		t.Helper()
		ctx := identity.With(context.Background(), &identity.Call{Region: reg,
			Principal: &identity.Principal{Type: identity.Root, Account: testAccount}})
		out, err := f.e.describeInstances(ctx, &describeInstancesInput{})
		if err != nil {
			t.Fatal(err)
		}
		if len(out.Reservations) != sizes[reg] {
			t.Errorf("%s: %d instances, want %d", reg, len(out.Reservations), sizes[reg])
		}
	}
	// held reports the cached regions, sorted, checking the count kept.
	held := func() []string {
		c := &f.e.instanceCache
		c.mu.Lock()
		defer c.mu.Unlock()
		var regions []string
		n := 0
		for k, p := range c.parts {
			regions = append(regions, k.region)
			n += p.size
		}
		if n != c.held || n > limit {
			t.Errorf("holding %d bytes (counted %d), limit %d", n, c.held, limit)
		}
		slices.Sort(regions)
		return regions
	}
	steps := []struct {
		read string
		want []string
	}{
		{"us-east-1", []string{"us-east-1"}},
		{"us-west-2", []string{"us-east-1", "us-west-2"}},
		{"us-east-1", []string{"us-east-1", "us-west-2"}},
		{"eu-west-1", []string{"eu-west-1", "us-east-1"}},  // us-west-2 was read least recently
		{"ap-south-1", []string{"eu-west-1", "us-east-1"}}, // over the limit alone: answered, not kept
		{"us-west-2", []string{"eu-west-1", "us-west-2"}},
	}
	for i, step := range steps {
		read(step.read)
		if got := held(); !slices.Equal(got, step.want) {
			t.Errorf("step %d, after reading %s: cached %v, want %v", i, step.read, got, step.want)
		}
	}
	// Launches that take a cached partition over the limit drop it.
	launch("us-west-2", 4)
	sizes["us-west-2"] += 4
	read("us-west-2")
	if got := held(); !slices.Equal(got, []string{"eu-west-1"}) {
		t.Errorf("after us-west-2 grew to 6: cached %v, want [eu-west-1]", got)
	}
}

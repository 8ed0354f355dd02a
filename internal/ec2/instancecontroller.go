package ec2

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/nimbus-dev/nimbus/internal/imds"
	"github.com/nimbus-dev/nimbus/internal/region"
	"github.com/nimbus-dev/nimbus/internal/sandbox"
	"github.com/nimbus-dev/nimbus/internal/store"
	"github.com/nimbus-dev/nimbus/internal/substrate"
)

// ownerKind is the substrate owner kind of instance sandboxes.
const ownerKind = "ec2-instance"

// labelBoot labels an instance's sandbox with the boot it belongs to.
const labelBoot = "nimbus.ec2.boot"

// InstanceControllerOptions configure NewInstanceController.
type InstanceControllerOptions struct {
	Store   store.Store
	Regions *region.Catalog
	Host    *substrate.Host // required
	// DataDir holds each instance's persistent root (its root volume) and
	// boot files under DataDir/ec2/instances/<id>. Required.
	DataDir string
	Logger  *slog.Logger
	// TerminatedRetention is how long terminated instances stay visible
	// (EC2: about an hour). Default one hour.
	TerminatedRetention time.Duration
	// StopGrace is how long a stop waits after SIGTERM before SIGKILL.
	// Default 10 s; a forced stop does not wait.
	StopGrace time.Duration
	// Workers is how many instances are acted on at once. Default 8.
	Workers int
	// Capacity is each region's capacity, for fulfilling open spot
	// requests; pass the service's Options.Capacity. Zero fields take
	// DefaultCapacity's.
	Capacity Capacity
	// InstanceProfiles is IAM, whose roles' credentials instances with an
	// instance profile get through IMDS; nil leaves iam/ out of their
	// metadata.
	InstanceProfiles InstanceProfiles
}

// InstanceController drives instances to the state their records ask for:
// it runs, stops, reboots and deletes their sandboxes, and records what
// happened. It also answers the metadata service (imds.Lookup).
type InstanceController struct {
	e         *EC2
	log       *slog.Logger
	dataDir   string
	retention time.Duration
	grace     time.Duration
	workers   int
	queue     *keyQueue
	driver    string // the substrate's driver, which decides the init command
	network   string // the network default-VPC instances join; "" without networking
	metadata  MetadataListener
	creds     credentialCache
	vpcLocks  sync.Map // VPC ID → *sync.RWMutex (vpcnetwork.go)

	mu      sync.Mutex
	waiting map[string]int // instance ID → the boot whose exit a goroutine awaits
	waiters sync.WaitGroup
}

// NewInstanceController builds the controller; Run starts it.
func NewInstanceController(opts InstanceControllerOptions) (*InstanceController, error) {
	if opts.Host == nil || opts.Store == nil || opts.DataDir == "" {
		return nil, errors.New("instance controller: Store, Host and DataDir are required")
	}
	c := &InstanceController{
		e:   &EC2{store: opts.Store, regions: opts.Regions, host: opts.Host, profiles: opts.InstanceProfiles},
		log: opts.Logger, dataDir: filepath.Join(opts.DataDir, "ec2", "instances"),
		retention: opts.TerminatedRetention, grace: opts.StopGrace, workers: opts.Workers,
		queue: newKeyQueue(), waiting: map[string]int{},
		creds: credentialCache{now: time.Now, entries: map[string]cachedCredentials{}},
	}
	c.e.groupMembers = c.e.instanceIPsInGroup
	c.e.onGroupChanged = c.e.reapplyFirewalls
	c.e.setCapacity(opts.Capacity, 0)
	info := opts.Host.Info()
	c.driver = info.Driver
	if info.Networking && len(info.Networks) > 0 {
		// The first network is the default one (nimbus0 unless configured
		// otherwise), the default VPC's; other VPCs have their own.
		c.network = info.Networks[0].Name
	}
	if c.log == nil {
		c.log = slog.Default()
	}
	if c.retention <= 0 {
		c.retention = time.Hour
	}
	if c.grace <= 0 {
		c.grace = 10 * time.Second
	}
	if c.workers <= 0 {
		c.workers = 8
	}
	return c, nil
}

// Run reconciles every stored instance with the host's sandboxes (the
// substrate has re-adopted those that outlived a restart), then follows
// changes to instance records until ctx ends. It returns once every
// goroutine it started has stopped.
func (c *InstanceController) Run(ctx context.Context) error {
	events, err := c.e.store.Watch(ctx, kindInstance, kindVolume, kindSnapshot, kindImage)
	if err != nil {
		return fmt.Errorf("instance controller: watch: %w", err)
	}
	var workers sync.WaitGroup
	defer func() {
		c.queue.close()
		workers.Wait()
		c.waiters.Wait()
	}()
	if err := c.enqueueAll(ctx); err != nil {
		return err
	}
	c.removeOrphans(ctx)
	c.removeOrphanVolumes(ctx)
	for i := 0; i < c.workers; i++ {
		workers.Add(1)
		go func() {
			defer workers.Done()
			c.work(ctx)
		}()
	}
	gc := time.NewTicker(min(time.Minute, c.retention/4+time.Second))
	defer gc.Stop()
	c.collectTerminated(ctx)
	for {
		select {
		case <-ctx.Done():
			return nil
		case ev, ok := <-events:
			if !ok {
				return nil
			}
			if ev.Type == store.EventResync {
				if err := c.enqueueAll(ctx); err != nil {
					c.log.Error("instance controller: resync", "err", err)
				}
				continue
			}
			c.queue.add(ev.Key)
		case <-gc.C:
			c.collectTerminated(ctx)
			c.fulfilSpotRequests(ctx)
		}
	}
}

func (c *InstanceController) enqueueAll(ctx context.Context) error {
	var keys []store.Key
	err := c.e.store.View(ctx, func(tx store.Tx) error {
		for _, kind := range []string{kindInstance, kindVolume, kindSnapshot, kindImage} {
			err := tx.List(store.Query{Kind: kind, AllAccounts: true, AllRegions: true}, func(o store.Object) error {
				keys = append(keys, o.Key)
				return nil
			})
			if err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("instance controller: list instances and volumes: %w", err)
	}
	for _, k := range keys {
		c.queue.add(k)
	}
	return nil
}

// removeOrphans deletes instance sandboxes whose instance record is gone
// (a reset or a lost store while nimbus was down).
func (c *InstanceController) removeOrphans(ctx context.Context) {
	sbs, err := c.e.host.List(ctx, map[string]string{substrate.LabelKind: ownerKind})
	if err != nil {
		c.log.Error("instance controller: list sandboxes", "err", err)
		return
	}
	for _, sb := range sbs {
		key := store.Key{Account: sb.Owner.Account, Region: sb.Owner.Region, Kind: kindInstance, ID: sb.Owner.ResourceID}
		err := c.e.store.View(ctx, func(tx store.Tx) error {
			_, err := tx.Get(key, nil)
			return err
		})
		if errors.Is(err, store.ErrNotFound) {
			c.log.Warn("instance controller: deleting the sandbox of an instance that no longer exists", "sandbox", sb.ID)
			if err := c.e.host.Delete(ctx, sb.ID); err != nil {
				c.log.Error("instance controller: delete orphan sandbox", "sandbox", sb.ID, "err", err)
			}
		}
	}
}

func (c *InstanceController) work(ctx context.Context) {
	for {
		key, ok := c.queue.get()
		if !ok {
			return
		}
		if err := c.reconcile(ctx, key); err != nil && ctx.Err() == nil {
			c.log.Error("instance controller: reconcile", "instance", key.ID, "err", err)
			// Retry later rather than spin: a failing host call is rarely
			// fixed by trying again at once.
			c.retryLater(ctx, key, 5*time.Second)
		}
		c.queue.done(key)
	}
}

func (c *InstanceController) retryLater(ctx context.Context, key store.Key, after time.Duration) {
	c.waiters.Add(1)
	go func() {
		defer c.waiters.Done()
		select {
		case <-ctx.Done():
		case <-time.After(after):
			c.queue.add(key)
		}
	}()
}

// reconcile moves one instance, volume, snapshot or image one step towards what
// its record asks.
func (c *InstanceController) reconcile(ctx context.Context, key store.Key) error {
	switch key.Kind {
	case kindVolume:
		return c.reconcileVolume(ctx, key)
	case kindSnapshot:
		return c.reconcileSnapshot(ctx, key)
	case kindImage:
		return c.reconcileImage(ctx, key)
	}
	var inst instance
	err := c.e.store.View(ctx, func(tx store.Tx) error {
		_, err := tx.Get(key, &inst)
		return err
	})
	if errors.Is(err, store.ErrNotFound) {
		return c.forget(ctx, key)
	}
	if err != nil {
		return fmt.Errorf("read instance: %w", err)
	}
	if inst.State == stateRunning && inst.Spot != nil && !inst.Spot.InterruptAt.IsZero() {
		if wait := time.Until(inst.Spot.InterruptAt); wait > 0 {
			c.retryLater(ctx, key, wait)
		} else {
			return c.interruptSpot(ctx, &inst)
		}
	}
	switch inst.State {
	case statePending:
		return c.launch(ctx, &inst)
	case stateRunning:
		return c.keepRunning(ctx, &inst)
	case stateStopping:
		return c.finish(ctx, &inst, stateStopped)
	case stateShuttingDown:
		return c.finish(ctx, &inst, stateTerminated)
	case stateStopped, stateTerminated:
		// Finish a stop or terminate that a crash interrupted after the
		// state was written (it is written last, so this is rare).
		if err := c.removeSandbox(ctx, &inst); err != nil {
			return err
		}
		if inst.State == stateTerminated && inst.DeleteOnTermination {
			return c.removeInstanceDir(inst.InstanceId)
		}
	}
	return nil
}

// forget cleans up after an instance whose record was deleted (reset or
// garbage collection).
func (c *InstanceController) forget(ctx context.Context, key store.Key) error {
	if _, err := c.e.host.Get(ctx, key.ID); err == nil {
		if err := c.e.host.Delete(ctx, key.ID); err != nil {
			return fmt.Errorf("delete sandbox of deleted instance: %w", err)
		}
	}
	return c.removeInstanceDir(key.ID)
}

func (c *InstanceController) instanceDir(id string) string { return filepath.Join(c.dataDir, id) }

func (c *InstanceController) removeInstanceDir(id string) error {
	if err := os.RemoveAll(c.instanceDir(id)); err != nil {
		return fmt.Errorf("remove root of %s: %w", id, err)
	}
	return nil
}

// update re-reads the instance inside a transaction and applies fn, which
// returns false to write nothing (the record moved on meanwhile). A change
// that ends a run interval writes its usage record in the same
// transaction, and a spot instance's end updates its request.
func (c *InstanceController) update(ctx context.Context, key store.Key, fn func(inst *instance) (bool, error)) (*instance, error) {
	var out instance
	err := c.e.store.Update(ctx, func(tx store.Tx) error {
		meta, err := tx.Get(key, &out)
		if err != nil {
			return err
		}
		prev := out.State
		write, err := fn(&out)
		if err != nil || !write {
			return err
		}
		now := time.Now().UTC().Truncate(time.Second)
		if err := recordUsage(tx, &out, prev, now); err != nil {
			return err
		}
		if out.Spot != nil && prev != out.State && (out.State == stateTerminated || out.State == stateStopped) {
			if out.StateReason != nil && out.StateReason.Code == reasonSpotTermination.Code {
				err = interruptionEnded(tx, &out, now)
			} else if out.State == stateTerminated {
				err = terminatedByUser(tx, &out, now)
			}
			if err != nil {
				return err
			}
		}
		_, err = tx.Put(key, &out, meta.Version)
		return err
	})
	if err != nil {
		return nil, err
	}
	return &out, nil
}

// launch runs the sandbox of a pending instance and records it running.
func (c *InstanceController) launch(ctx context.Context, inst *instance) error {
	boot := inst.Boots + 1
	sb, err := c.e.host.Get(ctx, inst.InstanceId)
	switch {
	case err == nil && sb.State != sandbox.StateExited && sb.Labels[labelBoot] == strconv.Itoa(boot):
		// Run returned before a restart could record it: this launch's
		// sandbox, adopted rather than run twice. Which volumes it mounts
		// went unrecorded, so count every attached one as mounted: a detach
		// then waits for the next boot rather than risk a volume mounted
		// twice.
		ids := make([]string, len(inst.Volumes))
		for i, v := range inst.Volumes {
			ids[i] = v.VolumeId
		}
		if err := c.markMounted(ctx, inst.key(), ids); err != nil {
			return err
		}
	case err == nil:
		if err := c.e.host.Delete(ctx, inst.InstanceId); err != nil {
			return fmt.Errorf("delete stale sandbox: %w", err)
		}
		sb = nil
	case errors.Is(err, substrate.ErrNotFound):
		sb = nil
	default:
		return fmt.Errorf("look up sandbox: %w", err)
	}
	runStart := time.Now()
	if sb == nil {
		if sb, err = c.runSandbox(ctx, inst, boot); err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			c.log.Error("instance controller: launch failed", "instance", inst.InstanceId, "err", err)
			return c.failLaunch(ctx, inst)
		}
	}
	if err := c.e.applyFirewall(ctx, inst); err != nil {
		c.log.Error("instance controller: firewall", "instance", inst.InstanceId, "err", err)
	}
	now := time.Now().UTC().Truncate(time.Second)
	updated, err := c.update(ctx, inst.key(), func(cur *instance) (bool, error) {
		if cur.State != statePending {
			return false, nil // stopped or terminated meanwhile: the next pass acts on it
		}
		cur.Boots = boot
		if sb.IP.IsValid() {
			cur.PrivateIpAddress = sb.IP.String()
		}
		return true, cur.moveTo(stateRunning, now)
	})
	if errors.Is(err, store.ErrNotFound) {
		return c.forget(ctx, inst.key())
	}
	if err != nil {
		return fmt.Errorf("record running: %w", err)
	}
	if updated.State == stateRunning {
		c.log.Info("instance running", "instance", inst.InstanceId, "ip", updated.PrivateIpAddress, "boot", boot,
			"launch_ms", time.Since(runStart).Milliseconds())
		c.watchExit(ctx, inst.key(), boot)
		c.e.reapplyFirewalls(ctx, inst.OwnerId, inst.Region, "")
	}
	return nil
}

// runSandbox runs boot number boot of the instance over its persistent root.
func (c *InstanceController) runSandbox(ctx context.Context, inst *instance, boot int) (*substrate.Sandbox, error) {
	dir := c.instanceDir(inst.InstanceId)
	rootDir := filepath.Join(dir, "root")
	if err := os.MkdirAll(rootDir, 0o700); err != nil {
		return nil, fmt.Errorf("root volume directory: %w", err)
	}
	userData, err := base64.StdEncoding.DecodeString(inst.UserData)
	if err != nil {
		return nil, fmt.Errorf("user data: %w", err)
	}
	ip, _ := netip.ParseAddr(inst.PrivateIpAddress)
	cfg := bootConfig{InstanceID: inst.InstanceId, Hostname: hostnameFor(inst, ip), AuthorizedKeys: inst.PublicKey,
		DefaultUser: defaultUserOf(inst.Image), UserData: userData}
	bootDir := filepath.Join(dir, "boot")
	if err := writeBootDir(bootDir, cfg); err != nil {
		return nil, err
	}
	volumeMounts, volumeIDs, err := c.bootVolumes(ctx, inst.key())
	if err != nil {
		return nil, err
	}
	rs := substrate.RunSpec{
		ID: inst.InstanceId,
		Owner: substrate.Owner{Kind: ownerKind, Account: inst.OwnerId, Region: inst.Region,
			ResourceID: inst.InstanceId},
		Labels:       map[string]string{labelBoot: strconv.Itoa(boot)},
		Image:        inst.Image,
		RootUpperDir: rootDir,
		Command:      initCommand(c.driver, cfg),
		Hostname:     cfg.Hostname,
		MilliCPU:     int64(inst.VCPUs) * 1000,
		MemoryBytes:  inst.MemoryMiB << 20,
		Mounts: append([]substrate.Mount{{Type: substrate.MountBind, Source: bootDir, Destination: bootMount, ReadOnly: true}},
			volumeMounts...),
		Init: true,
		// The image's users sudo, as on an EC2 instance.
		AllowPrivilegeGain: true,
	}
	if c.network != "" {
		var release func()
		if rs.Network, release, err = c.instanceNetwork(ctx, inst); err != nil {
			return nil, err
		}
		defer release()
		rs.IP = ip // an instance keeps its private IP across stop and start
	}
	sb, err := c.e.host.Run(ctx, rs)
	if err != nil && rs.IP.IsValid() && ctx.Err() == nil {
		// The old address went to another sandbox meanwhile: take a new one.
		c.log.Warn("instance controller: private IP no longer free; taking another", "instance", inst.InstanceId, "ip", ip, "err", err)
		rs.IP = netip.Addr{}
		sb, err = c.e.host.Run(ctx, rs)
	}
	if err != nil {
		return nil, fmt.Errorf("run sandbox: %w", err)
	}
	if err := c.markMounted(ctx, inst.key(), volumeIDs); err != nil {
		return nil, err
	}
	return sb, nil
}

// hostnameFor is the instance's hostname: EC2's ip-a-b-c-d name once its
// address is known, the instance ID before its first boot.
func hostnameFor(inst *instance, ip netip.Addr) string {
	if ip.IsValid() {
		return "ip-" + strings.ReplaceAll(ip.String(), ".", "-")
	}
	return inst.InstanceId
}

// defaultUserOf is the login user of well-known images besides root.
func defaultUserOf(image string) string {
	switch {
	case strings.Contains(image, "debian"):
		return "admin"
	case strings.Contains(image, "ubuntu"):
		return "ubuntu"
	}
	return ""
}

// failLaunch ends a launch that could not run: EC2 terminates the instance
// with Server.InternalError.
func (c *InstanceController) failLaunch(ctx context.Context, inst *instance) error {
	now := time.Now().UTC().Truncate(time.Second)
	_, err := c.update(ctx, inst.key(), func(cur *instance) (bool, error) {
		if cur.State != statePending {
			return false, nil
		}
		if err := cur.moveTo(stateTerminated, now); err != nil {
			return false, err
		}
		cur.StateReason = &reasonLaunchFailed
		cur.StateTransitionReason = "Server.InternalError"
		return true, nil
	})
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return fmt.Errorf("record failed launch: %w", err)
	}
	if err := c.releaseVolumes(ctx, inst.key(), true); err != nil {
		return err
	}
	if inst.DeleteOnTermination || inst.Boots == 0 {
		return c.removeInstanceDir(inst.InstanceId)
	}
	return nil
}

// keepRunning checks a running instance's sandbox: it carries out reboots,
// notices an instance that shut itself down or lost its sandbox, and after
// a restart resumes watching the sandbox.
func (c *InstanceController) keepRunning(ctx context.Context, inst *instance) error {
	sb, err := c.e.host.Get(ctx, inst.InstanceId)
	if err != nil && !errors.Is(err, substrate.ErrNotFound) {
		return fmt.Errorf("look up sandbox: %w", err)
	}
	now := time.Now().UTC().Truncate(time.Second)
	switch {
	case sb == nil || (sb.State == sandbox.StateExited && sb.ExitError != ""):
		// The host restarted under the instance (or its sandbox vanished):
		// it is stopped, its root volume kept.
		c.log.Warn("instance controller: running instance lost its sandbox; marking it stopped", "instance", inst.InstanceId)
		if err := c.e.saveConsole(ctx, inst); err != nil {
			c.log.Warn("instance controller: save console", "instance", inst.InstanceId, "err", err)
		}
		if sb != nil {
			if err := c.e.host.Delete(ctx, inst.InstanceId); err != nil {
				return fmt.Errorf("delete lost sandbox: %w", err)
			}
		}
		_, err := c.update(ctx, inst.key(), func(cur *instance) (bool, error) {
			if cur.State != stateRunning {
				return false, nil
			}
			cur.StateReason = &reasonHostLost
			cur.StateTransitionReason = "Server initiated (" + now.Format("2006-01-02 15:04:05") + " GMT)"
			return true, cur.moveTo(stateStopped, now)
		})
		return ignoreGone(err)
	case sb.State == sandbox.StateExited:
		// The instance shut itself down: EC2 stops or terminates it as its
		// InstanceInitiatedShutdownBehavior says.
		to := stateStopping
		if inst.ShutdownBehavior == "terminate" {
			to = stateShuttingDown
		}
		_, err := c.update(ctx, inst.key(), func(cur *instance) (bool, error) {
			if cur.State != stateRunning || cur.Boots != inst.Boots {
				return false, nil
			}
			cur.StateReason = &reasonGuestShutdown
			cur.StateTransitionReason = "Client.InstanceInitiatedShutdown: Instance initiated shutdown"
			return true, cur.moveTo(to, now)
		})
		return ignoreGone(err)
	}
	if sb.State != sandbox.StateRunning {
		// Still being created or deleted by someone else (a reset): look
		// again shortly.
		c.retryLater(ctx, inst.key(), time.Second)
		return nil
	}
	if inst.RebootsRequested > inst.RebootsDone {
		return c.reboot(ctx, inst)
	}
	if c.watchExit(ctx, inst.key(), inst.Boots) {
		// First look at this sandbox since nimbus started: its firewall
		// may predate group changes made while nimbus was down, and its
		// VPC's network (and metadata on it) is not defined yet.
		if err := c.e.applyFirewall(ctx, inst); err != nil {
			c.log.Error("instance controller: firewall", "instance", inst.InstanceId, "err", err)
		}
		c.readoptVPCNetwork(ctx, inst)
	}
	return nil
}

func ignoreGone(err error) error {
	if errors.Is(err, store.ErrNotFound) {
		return nil
	}
	return err
}

// reboot replaces the sandbox with a new boot over the same root and
// address; the instance stays running throughout, as on EC2.
func (c *InstanceController) reboot(ctx context.Context, inst *instance) error {
	if err := c.stopSandbox(ctx, inst, c.grace); err != nil {
		return err
	}
	boot := inst.Boots + 1
	sb, err := c.runSandbox(ctx, inst, boot)
	if err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		c.log.Error("instance controller: reboot failed; the instance is stopped", "instance", inst.InstanceId, "err", err)
		now := time.Now().UTC().Truncate(time.Second)
		_, uerr := c.update(ctx, inst.key(), func(cur *instance) (bool, error) {
			cur.RebootsDone = cur.RebootsRequested
			cur.StateReason = &reasonHostLost
			return cur.State == stateRunning, cur.moveTo(stateStopped, now)
		})
		return ignoreGone(uerr)
	}
	if err := c.e.applyFirewall(ctx, inst); err != nil {
		c.log.Error("instance controller: firewall", "instance", inst.InstanceId, "err", err)
	}
	_, err = c.update(ctx, inst.key(), func(cur *instance) (bool, error) {
		cur.Boots = boot
		cur.RebootsDone = inst.RebootsRequested
		if sb.IP.IsValid() {
			cur.PrivateIpAddress = sb.IP.String()
		}
		return true, nil
	})
	if err != nil {
		return ignoreGone(err)
	}
	c.log.Info("instance rebooted", "instance", inst.InstanceId, "boot", boot)
	c.watchExit(ctx, inst.key(), boot)
	return nil
}

// stopSandbox saves the console and deletes the sandbox, keeping the root.
func (c *InstanceController) stopSandbox(ctx context.Context, inst *instance, grace time.Duration) error {
	if _, err := c.e.host.Get(ctx, inst.InstanceId); errors.Is(err, substrate.ErrNotFound) {
		return nil
	}
	// Not running: it exited, or something else (a reset) is deleting it;
	// either way what is left is the delete below.
	err := c.e.host.Stop(ctx, inst.InstanceId, grace)
	if err != nil && !errors.Is(err, substrate.ErrNotFound) && !errors.Is(err, substrate.ErrNotRunning) {
		return fmt.Errorf("stop sandbox: %w", err)
	}
	if err := c.e.saveConsole(ctx, inst); err != nil {
		c.log.Warn("instance controller: save console", "instance", inst.InstanceId, "err", err)
	}
	return c.removeSandbox(ctx, inst)
}

func (c *InstanceController) removeSandbox(ctx context.Context, inst *instance) error {
	if err := c.e.host.Delete(ctx, inst.InstanceId); err != nil && !errors.Is(err, substrate.ErrNotFound) {
		return fmt.Errorf("delete sandbox: %w", err)
	}
	c.releaseVPCNetwork(ctx, inst)
	return nil
}

// finish completes a stop (to stopped) or a terminate (to terminated).
func (c *InstanceController) finish(ctx context.Context, inst *instance, to string) error {
	grace := c.grace
	if inst.Force || to == stateTerminated && inst.State == stateShuttingDown && inst.Boots == 0 {
		grace = 0
	}
	if err := c.stopSandbox(ctx, inst, grace); err != nil {
		return err
	}
	if err := c.releaseVolumes(ctx, inst.key(), to == stateTerminated); err != nil {
		return err
	}
	if to == stateTerminated {
		if inst.DeleteOnTermination {
			if err := c.removeInstanceDir(inst.InstanceId); err != nil {
				return err
			}
		} else if err := os.RemoveAll(filepath.Join(c.instanceDir(inst.InstanceId), "boot")); err != nil {
			return fmt.Errorf("remove boot files: %w", err)
		}
	}
	from := inst.State
	now := time.Now().UTC().Truncate(time.Second)
	_, err := c.update(ctx, inst.key(), func(cur *instance) (bool, error) {
		if cur.State != from {
			return false, nil
		}
		cur.Force = false
		return true, cur.moveTo(to, now)
	})
	if err != nil {
		return ignoreGone(err)
	}
	c.log.Info("instance "+to, "instance", inst.InstanceId)
	c.e.reapplyFirewalls(ctx, inst.OwnerId, inst.Region, "")
	// The instance's room is free: open spot requests may fit now.
	c.fulfilSpotRequests(ctx)
	return nil
}

// watchExit starts a goroutine that requeues the instance when boot's
// sandbox exits, unless one already watches it; it reports whether it
// started one.
func (c *InstanceController) watchExit(ctx context.Context, key store.Key, boot int) bool {
	c.mu.Lock()
	if c.waiting[key.ID] == boot {
		c.mu.Unlock()
		return false
	}
	c.waiting[key.ID] = boot
	c.mu.Unlock()
	c.waiters.Add(1)
	go func() {
		defer c.waiters.Done()
		_, err := c.e.host.Wait(ctx, key.ID)
		c.mu.Lock()
		if c.waiting[key.ID] == boot {
			delete(c.waiting, key.ID)
		}
		c.mu.Unlock()
		switch {
		case ctx.Err() != nil:
		case err == nil || errors.Is(err, substrate.ErrNotFound):
			c.queue.add(key)
		default:
			// The sandbox is in the middle of something (a reset deleting
			// it): look again shortly rather than spin.
			c.log.Debug("instance controller: wait", "instance", key.ID, "err", err)
			c.retryLater(ctx, key, time.Second)
		}
	}()
	return true
}

// collectTerminated deletes terminated instances older than the retention.
func (c *InstanceController) collectTerminated(ctx context.Context) {
	cutoff := time.Now().Add(-c.retention)
	var old []store.Key
	err := c.e.store.View(ctx, func(tx store.Tx) error {
		return tx.List(store.Query{Kind: kindInstance, AllAccounts: true, AllRegions: true}, func(o store.Object) error {
			var inst instance
			if err := o.Decode(&inst); err != nil {
				return err
			}
			if inst.State == stateTerminated && inst.TerminatedAt.Before(cutoff) {
				old = append(old, o.Key)
			}
			return nil
		})
	})
	if err != nil {
		if ctx.Err() == nil {
			c.log.Error("instance controller: list terminated instances", "err", err)
		}
		return
	}
	for _, key := range old {
		err := c.e.store.Update(ctx, func(tx store.Tx) error {
			if err := tx.Delete(key, 0); err != nil && !errors.Is(err, store.ErrNotFound) {
				return err
			}
			ck := key
			ck.Kind = kindConsole
			if err := tx.Delete(ck, 0); err != nil && !errors.Is(err, store.ErrNotFound) {
				return err
			}
			return nil
		})
		if err != nil {
			c.log.Error("instance controller: forget terminated instance", "instance", key.ID, "err", err)
		}
	}
}

// ---- firewalls ----

// applyFirewall sets the sandbox's firewall from the instance's groups.
func (e *EC2) applyFirewall(ctx context.Context, inst *instance) error {
	if e.host == nil {
		return nil
	}
	sb, err := e.host.Get(ctx, inst.InstanceId)
	if err != nil || sb.Network == "" {
		return nil // no sandbox or no network: nothing to filter
	}
	ids := make([]string, len(inst.SecurityGroups))
	for i, g := range inst.SecurityGroups {
		ids[i] = g.GroupId
	}
	ingress, egress, err := e.firewallRules(ctx, inst.OwnerId, inst.Region, ids)
	if err != nil {
		return fmt.Errorf("firewall rules of %s: %w", inst.InstanceId, err)
	}
	if err := e.host.SetFirewall(ctx, inst.InstanceId, ingress, egress); err != nil {
		return fmt.Errorf("set firewall of %s: %w", inst.InstanceId, err)
	}
	return nil
}

// reapplyFirewalls is e.onGroupChanged: after a group's rules or members
// change it re-applies the firewall of every running instance of the
// partition, since group references make any of them depend on the change.
func (e *EC2) reapplyFirewalls(ctx context.Context, account, reg, groupID string) {
	if e.host == nil || e.host.Network() == nil {
		return
	}
	all, err := e.loadInstances(ctx, account, reg)
	if err != nil {
		if ctx.Err() == nil {
			slog.Error("ec2: re-apply firewalls", "err", err)
		}
		return
	}
	for _, inst := range all {
		if inst.State != stateRunning {
			continue
		}
		if err := e.applyFirewall(ctx, inst); err != nil && ctx.Err() == nil {
			slog.Error("ec2: re-apply firewall", "instance", inst.InstanceId, "group", groupID, "err", err)
		}
	}
}

// ---- instance metadata ----

// InstanceForSandbox implements imds.Lookup: the sandbox ID is the
// instance ID, and the sandbox's owner names the partition.
func (c *InstanceController) InstanceForSandbox(ctx context.Context, sandboxID string) (*imds.Instance, error) {
	sb, err := c.e.host.Get(ctx, sandboxID)
	if err != nil || sb.Owner.Kind != ownerKind {
		return nil, imds.ErrNotFound
	}
	var inst instance
	key := store.Key{Account: sb.Owner.Account, Region: sb.Owner.Region, Kind: kindInstance, ID: sb.Owner.ResourceID}
	err = c.e.store.View(ctx, func(tx store.Tx) error {
		_, err := tx.Get(key, &inst)
		return err
	})
	if errors.Is(err, store.ErrNotFound) {
		return nil, imds.ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("instance %s: %w", sandboxID, err)
	}
	md := inst.metadata()
	if md.IAM, err = c.iamMetadata(ctx, &inst); err != nil {
		return nil, err
	}
	return md, nil
}

func (in *instance) metadata() *imds.Instance {
	md := &imds.Instance{
		AccountID: in.OwnerId, Region: in.Region, AvailabilityZone: in.AvailabilityZone,
		InstanceID: in.InstanceId, InstanceType: in.InstanceType, ImageID: in.ImageId, LaunchIndex: in.AmiLaunchIndex,
		ReservationID: in.ReservationId, Architecture: in.Architecture, PendingTime: in.LaunchTime,
		MAC: in.MacAddress, InterfaceID: in.NetworkInterfaceId, SubnetID: in.SubnetId, SubnetCIDR: in.SubnetCIDR,
		VPCID: in.VpcId, VPCCIDR: in.VpcCIDR, RootDeviceName: in.RootDevice,
		Options: imds.MetadataOptions{HTTPTokens: in.HttpTokens, HTTPPutResponseHopLimit: in.HttpPutHopLimit,
			HTTPEndpoint: in.HttpEndpoint, InstanceMetadataTags: in.MetadataTags},
	}
	for _, z := range region.Zones(in.Region) {
		if z.Name == in.AvailabilityZone {
			md.AvailabilityZoneID = z.ID
		}
	}
	if md.VPCCIDR == "" {
		md.VPCCIDR = defaultVPCCIDR // an instance from before VPCs of their own
	}
	if ip, err := netip.ParseAddr(in.PrivateIpAddress); err == nil {
		md.PrivateIP = ip
	}
	for _, g := range in.SecurityGroups {
		md.SecurityGroups = append(md.SecurityGroups, imds.SecurityGroup{ID: g.GroupId, Name: g.GroupName})
	}
	if in.PublicKey != "" {
		md.PublicKeys = []imds.PublicKey{{Name: in.KeyName, OpenSSH: in.PublicKey}}
	}
	if in.UserData != "" {
		md.UserData, _ = base64.StdEncoding.DecodeString(in.UserData)
	}
	if in.Spot != nil {
		md.Spot = true
		if !in.Spot.InterruptAt.IsZero() {
			md.SpotAction = &imds.SpotAction{Action: in.Spot.InterruptionBehavior, Time: in.Spot.InterruptAt}
		}
	}
	for i, v := range in.Volumes {
		if md.EBSDevices == nil {
			md.EBSDevices = map[string]string{}
		}
		md.EBSDevices["ebs"+strconv.Itoa(i+1)] = deviceBase(v.Device)
	}
	if len(in.Tags) > 0 {
		md.Tags = map[string]string{}
		for _, t := range in.Tags {
			md.Tags[t.Key] = t.Value
		}
	}
	return md
}

// ---- work queue ----

// keyQueue hands out instance keys to workers, each key to one worker at a
// time; a key added while it is being worked on is handed out again after.
type keyQueue struct {
	mu     sync.Mutex
	cond   *sync.Cond
	order  []store.Key
	queued map[store.Key]bool
	active map[store.Key]bool
	again  map[store.Key]bool
	closed bool
}

func newKeyQueue() *keyQueue {
	q := &keyQueue{queued: map[store.Key]bool{}, active: map[store.Key]bool{}, again: map[store.Key]bool{}}
	q.cond = sync.NewCond(&q.mu)
	return q
}

func (q *keyQueue) add(k store.Key) {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.addLocked(k)
}

func (q *keyQueue) addLocked(k store.Key) {
	switch {
	case q.closed || q.queued[k]:
	case q.active[k]:
		q.again[k] = true
	default:
		q.queued[k] = true
		q.order = append(q.order, k)
		q.cond.Signal()
	}
}

func (q *keyQueue) get() (store.Key, bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	for len(q.order) == 0 && !q.closed {
		q.cond.Wait()
	}
	if q.closed {
		return store.Key{}, false
	}
	k := q.order[0]
	q.order = q.order[1:]
	delete(q.queued, k)
	q.active[k] = true
	return k, true
}

func (q *keyQueue) done(k store.Key) {
	q.mu.Lock()
	defer q.mu.Unlock()
	delete(q.active, k)
	if q.again[k] {
		delete(q.again, k)
		q.addLocked(k)
	}
}

func (q *keyQueue) close() {
	q.mu.Lock()
	q.closed = true
	q.cond.Broadcast()
	q.mu.Unlock()
}

// interruptSpot carries out a scheduled spot interruption: the instance
// stops (stop or hibernate) or terminates with EC2's spot reason.
func (c *InstanceController) interruptSpot(ctx context.Context, inst *instance) error {
	now := time.Now().UTC().Truncate(time.Second)
	_, err := c.update(ctx, inst.key(), func(cur *instance) (bool, error) {
		if cur.State != stateRunning || cur.Spot == nil || cur.Spot.InterruptAt.IsZero() {
			return false, nil
		}
		to := stateShuttingDown
		if cur.Spot.InterruptionBehavior != "terminate" {
			to = stateStopping
		}
		if err := cur.moveTo(to, now); err != nil {
			return false, err
		}
		cur.StateReason = &reasonSpotTermination
		cur.StateTransitionReason = "Service initiated (" + now.Format("2006-01-02 15:04:05") + " GMT)"
		return true, nil
	})
	if err != nil {
		return ignoreGone(err)
	}
	c.log.Info("spot instance interrupted", "instance", inst.InstanceId, "behavior", inst.Spot.InterruptionBehavior)
	return nil
}

package batch

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"path"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/nimbus-dev/nimbus/internal/batch/scheduler"
	"github.com/nimbus-dev/nimbus/internal/image"
	"github.com/nimbus-dev/nimbus/internal/logs"
	"github.com/nimbus-dev/nimbus/internal/sandbox"
	"github.com/nimbus-dev/nimbus/internal/sandboxlog"
	"github.com/nimbus-dev/nimbus/internal/store"
	"github.com/nimbus-dev/nimbus/internal/substrate"
)

// Reasons Batch gives.
const (
	reasonExited   = "Essential container in task exited"
	reasonTimeout  = "Job attempt duration exceeded timeout"
	reasonLost     = "Host EC2 (instance nimbus) terminated." // nimbus lost the sandbox across a restart
	reasonPullFail = "CannotPullContainerError"
)

// attempt is one running attempt, owned by its goroutine.
type attempt struct {
	key       store.Key
	sandboxID string
	stopOnce  sync.Once
	stop      chan stopRequest
}

// stopRequest ends an attempt early: TerminateJob (the job fails), or the
// loss of the instance it ran on (the retry strategy decides).
type stopRequest struct {
	reason   string
	hostLost bool
}

func (at *attempt) terminate(reason string) {
	at.stopOnce.Do(func() { at.stop <- stopRequest{reason: reason} })
}

// hostLost ends the attempt because its instance is gone, as a spot
// interruption ends the attempts on the reclaimed instance.
func (at *attempt) hostLost(reason string) {
	at.stopOnce.Do(func() { at.stop <- stopRequest{reason: reason, hostLost: true} })
}

// reasonHostTerminated is Batch's status reason for an attempt whose
// instance went away under it.
func reasonHostTerminated(instanceID string) string {
	return "Host EC2 (instance " + instanceID + ") terminated."
}

// attemptResult is what an attempt's goroutine reports when it is over.
type attemptResult struct {
	key store.Key
	job *jobRecord // as written; nil when the controller shut down first
}

// outcome is how an attempt ended.
type attemptOutcome struct {
	exitCode     *int
	reason       string // the container's reason
	statusReason string // the attempt's
	terminated   bool
}

func newSandboxID() string {
	var b [16]byte
	rand.Read(b[:])
	return "batch-" + hex.EncodeToString(b[:])
}

// start runs a placed job: the intent (STARTING with the sandbox ID) is
// written before the sandbox is made, so a restart finds it.
func (c *controller) start(ctx context.Context, p scheduler.Placement) {
	k := keyOf(p.JobID)
	j := c.active[k]
	if j == nil || j.Status != scheduler.Runnable {
		c.sched.Remove(p.JobID)
		return
	}
	_, _, ceName := splitKey(p.ComputeEnv)
	sandboxID := newSandboxID()
	now := c.api.now()
	written, err := c.update(ctx, k, func(cur *jobRecord) error {
		if cur.Status != scheduler.Runnable {
			return errNotRunnable
		}
		cur.Status, cur.SandboxID, cur.ComputeEnv, cur.AttemptStart, cur.StatusReason = scheduler.Starting, sandboxID, ceName, millis(now), ""
		return nil
	})
	if err != nil {
		c.sched.Remove(p.JobID)
		if !errors.Is(err, errNotRunnable) {
			c.api.log.Error("batch: start job", "job", j.JobID, "err", err)
			c.sched.Add(c.schedJob(j))
		}
		return
	}
	c.active[k] = written
	at := &attempt{key: k, sandboxID: sandboxID, stop: make(chan stopRequest, 1)}
	c.attempts[k] = at
	c.wg.Add(1)
	go func() {
		defer c.wg.Done()
		c.report(ctx, at, c.runAttempt(ctx, at, written))
	}()
}

var errNotRunnable = errors.New("job is no longer runnable")

// keyOf is the store key of a scheduler job ID (account/region/job ID).
func keyOf(id string) store.Key {
	account, region, jobID := splitKey(id)
	return store.Key{Account: account, Region: region, Kind: kindJob, ID: jobID}
}

func splitKey(k string) (account, region, name string) {
	account, rest, _ := strings.Cut(k, "/")
	region, name, _ = strings.Cut(rest, "/")
	return account, region, name
}

// adopt takes over a STARTING or RUNNING job found at load: its sandbox is
// waited on again if it exists; a STARTING job whose sandbox never came to
// be is runnable again (it never ran), a RUNNING one's attempt is lost.
func (c *controller) adopt(ctx context.Context, j *jobRecord) {
	k := j.key()
	if _, ok := c.attempts[k]; ok {
		return
	}
	at := &attempt{key: k, sandboxID: j.SandboxID, stop: make(chan stopRequest, 1)}
	sb, err := c.api.host.Get(ctx, j.SandboxID)
	if err != nil || j.SandboxID == "" {
		c.attempts[k] = at
		c.wg.Add(1)
		go func() {
			defer c.wg.Done()
			if j.Status == scheduler.Starting {
				c.report(ctx, at, c.requeue(ctx, k))
				return
			}
			c.report(ctx, at, c.finishAttempt(ctx, at, j, attemptOutcome{reason: reasonLost, statusReason: reasonLost}))
		}()
		return
	}
	c.sched.AddRunning(c.schedJob(j), queueKey(k.Account, k.Region, j.ComputeEnv))
	c.attempts[k] = at
	c.wg.Add(1)
	go func() {
		defer c.wg.Done()
		if j.Status == scheduler.Starting {
			written, err := c.markRunning(ctx, k, sb.Started)
			if err != nil {
				c.report(ctx, at, nil)
				return
			}
			j = written
		}
		c.report(ctx, at, c.waitAttempt(ctx, at, j))
	}()
}

func (c *controller) report(ctx context.Context, at *attempt, j *jobRecord) {
	select {
	case c.done <- attemptResult{key: at.key, job: j}:
	case <-ctx.Done():
	}
}

// finishedAttempt takes an attempt's result into memory.
func (c *controller) finishedAttempt(r attemptResult) {
	delete(c.attempts, r.key)
	c.sched.Remove(sk(r.key))
	if r.job == nil {
		return
	}
	c.track(context.Background(), r.job)
}

// update applies fn to a job in one transaction and returns what it wrote.
func (c *controller) update(ctx context.Context, k store.Key, fn func(*jobRecord) error) (*jobRecord, error) {
	var out jobRecord
	err := c.api.store.Update(ctx, func(tx store.Tx) error {
		var cur jobRecord
		if _, err := tx.Get(k, &cur); err != nil {
			return err
		}
		before := cur.Status
		if err := fn(&cur); err != nil {
			return err
		}
		if cur.Status != before && !scheduler.CanTransition(before, cur.Status) {
			return fmt.Errorf("job %s: illegal transition %s -> %s", cur.JobID, before, cur.Status)
		}
		if _, err := tx.Put(k, &cur, 0); err != nil {
			return err
		}
		out = cur
		return nil
	})
	if err != nil {
		return nil, err
	}
	return &out, nil
}

func (c *controller) requeue(ctx context.Context, k store.Key) *jobRecord {
	j, err := c.update(ctx, k, func(cur *jobRecord) error {
		cur.Status, cur.SandboxID, cur.RunnableAt = scheduler.Runnable, "", millis(c.api.now())
		return nil
	})
	if err != nil {
		c.api.log.Error("batch: requeue job", "job", k.ID, "err", err)
		return nil
	}
	return j
}

func (c *controller) markRunning(ctx context.Context, k store.Key, started time.Time) (*jobRecord, error) {
	return c.update(ctx, k, func(cur *jobRecord) error {
		if cur.Status == scheduler.Running {
			return nil
		}
		cur.Status = scheduler.Running
		if cur.StartedAt == 0 {
			cur.StartedAt = millis(started)
		}
		return nil
	})
}

// runAttempt makes the attempt's sandbox and waits for it.
func (c *controller) runAttempt(ctx context.Context, at *attempt, j *jobRecord) *jobRecord {
	imageName, err := c.resolveImage(ctx, j.Container.Image)
	if err != nil {
		msg := fmt.Sprintf("%s: pull image manifest has been retried 1 time(s): failed to resolve ref %s: not found", reasonPullFail, j.Container.Image)
		return c.finishAttempt(ctx, at, j, attemptOutcome{reason: msg, statusReason: msg})
	}
	rs, err := c.runSpec(j, at.sandboxID, imageName)
	if err == nil {
		err = c.addRoleCredentials(ctx, j, &rs)
	}
	if err == nil {
		_, err = c.api.host.Run(ctx, rs)
	}
	if err != nil {
		if ctx.Err() != nil {
			return nil
		}
		msg := "CannotStartContainerError: " + err.Error()
		return c.finishAttempt(ctx, at, j, attemptOutcome{reason: msg, statusReason: msg})
	}
	written, err := c.markRunning(ctx, at.key, c.api.now())
	if err != nil {
		c.api.log.Error("batch: record running job", "job", j.JobID, "err", err)
		return nil
	}
	return c.waitAttempt(ctx, at, written)
}

// resolveImage finds a job's image in the store: busybox (under any
// registry path) is always there, as the host's busybox-static.
func (c *controller) resolveImage(ctx context.Context, ref string) (string, error) {
	imgs := c.api.host.Images()
	if imgs == nil {
		return "", errors.New("no image store")
	}
	if _, err := imgs.Get(ctx, ref); err == nil {
		return ref, nil
	}
	base := path.Base(ref)
	if name, _, _ := strings.Cut(base, ":"); name == "busybox" {
		if !c.busyboxReady.Load() {
			if _, err := imgs.EnsureBusybox(ctx); err != nil {
				return "", err
			}
			c.busyboxReady.Store(true)
		}
		return image.BusyboxName, nil
	}
	return "", fmt.Errorf("image %s: %w", ref, image.ErrNotFound)
}

// runSpec is the sandbox of an attempt.
func (c *controller) runSpec(j *jobRecord, sandboxID, imageName string) (substrate.RunSpec, error) {
	cp := &j.Container.containerProperties
	need, err := needOf(cp)
	if err != nil {
		return substrate.RunSpec{}, err
	}
	env := make([]string, 0, len(cp.Environment)+6)
	for _, kv := range cp.Environment {
		env = append(env, kv.Name+"="+kv.Value)
	}
	env = append(env, "AWS_BATCH_JOB_ID="+j.JobID, "AWS_BATCH_JQ_NAME="+j.QueueName, "AWS_BATCH_CE_NAME="+j.ComputeEnv,
		"AWS_BATCH_JOB_ATTEMPT="+strconv.Itoa(len(j.Attempts)+1))
	if j.ArrayProperties != nil && j.ArrayProperties.Index != nil {
		env = append(env, "AWS_BATCH_JOB_ARRAY_INDEX="+strconv.Itoa(*j.ArrayProperties.Index))
	}
	rs := substrate.RunSpec{
		ID: sandboxID, Network: c.api.network,
		Owner: substrate.Owner{Kind: OwnerKind, Account: j.Partition.Account, Region: j.Partition.Region, ResourceID: j.JobID},
		Image: imageName, Command: cp.Command, Env: env, User: cp.User,
		MilliCPU: need.MilliCPU, MemoryBytes: need.MemoryMiB << 20, GPUs: int(need.GPUs),
		ReadOnlyRoot: cp.ReadonlyRootFilesystem != nil && *cp.ReadonlyRootFilesystem,
	}
	for _, u := range cp.Ulimits {
		rs.Rlimits = append(rs.Rlimits, sandbox.Rlimit{Type: "RLIMIT_" + strings.ToUpper(u.Name), Soft: uint64(u.SoftLimit), Hard: uint64(u.HardLimit)})
	}
	vols := map[string]volume{}
	for _, v := range cp.Volumes {
		vols[v.Name] = v
	}
	for _, m := range cp.MountPoints {
		v := vols[m.SourceVolume]
		ro := m.ReadOnly != nil && *m.ReadOnly
		if v.Host != nil && v.Host.SourcePath != "" {
			rs.Mounts = append(rs.Mounts, substrate.Mount{Type: substrate.MountBind, Source: v.Host.SourcePath, Destination: m.ContainerPath, ReadOnly: ro})
		} else {
			// A volume without a host path is scratch space for the job.
			rs.Mounts = append(rs.Mounts, substrate.Mount{Type: substrate.MountTmpfs, Destination: m.ContainerPath, ReadOnly: ro})
		}
	}
	return rs, nil
}

// addRoleCredentials hands the job its role's credentials, minted per
// attempt as the ECS agent does for a task.
func (c *controller) addRoleCredentials(ctx context.Context, j *jobRecord, rs *substrate.RunSpec) error {
	role := j.Container.JobRoleArn
	if role == "" || c.api.roleCredentials == nil {
		return nil
	}
	creds, err := c.api.roleCredentials(ctx, role, "aws-batch-"+rs.ID)
	if err != nil {
		return fmt.Errorf("credentials of job role %s: %w", role, err)
	}
	if creds == nil {
		return nil
	}
	rs.Env = append(rs.Env, "AWS_ACCESS_KEY_ID="+creds.AccessKeyID, "AWS_SECRET_ACCESS_KEY="+creds.SecretAccessKey,
		"AWS_SESSION_TOKEN="+creds.SessionToken)
	return nil
}

// waitAttempt waits for the sandbox to exit, its timeout, or TerminateJob.
func (c *controller) waitAttempt(ctx context.Context, at *attempt, j *jobRecord) *jobRecord {
	host := c.api.host
	exited := make(chan struct{})
	var status *sandbox.ExitStatus
	var werr error
	waitCtx, cancelWait := context.WithCancel(ctx)
	defer cancelWait()
	go func() {
		defer close(exited)
		status, werr = host.Wait(waitCtx, at.sandboxID)
	}()
	var timeout <-chan time.Time
	if j.Timeout != nil && j.Timeout.AttemptDurationSeconds != nil {
		deadline := time.UnixMilli(j.AttemptStart).Add(time.Duration(*j.Timeout.AttemptDurationSeconds) * c.api.timeoutUnit)
		t := time.NewTimer(max(time.Until(deadline), 0))
		defer t.Stop()
		timeout = t.C
	}
	var out attemptOutcome
	stopWith := func(reason string) {
		out.statusReason = reason
		if err := host.Stop(ctx, at.sandboxID, c.api.grace); err != nil {
			c.api.log.Warn("batch: stop attempt", "job", j.JobID, "sandbox", at.sandboxID, "err", err)
		}
		<-exited
	}
	select {
	case <-exited:
	case req := <-at.stop:
		out.terminated = !req.hostLost
		stopWith(req.reason)
	case <-timeout:
		stopWith(reasonTimeout)
	case <-ctx.Done():
		return nil // shutting down: the sandbox runs on, the next Run adopts it
	}
	if ctx.Err() != nil {
		return nil
	}
	if j.StopReason != "" && !out.terminated {
		out.terminated, out.statusReason = true, j.StopReason
	}
	if werr != nil || status == nil {
		out.reason = "CannotInspectContainerError: " + fmt.Sprint(werr)
		if out.statusReason == "" {
			out.statusReason = out.reason
		}
	} else {
		code := status.ExitCode
		out.exitCode = &code
		if status.OOMKilled {
			out.reason = "OutOfMemoryError: Container killed due to memory usage"
		}
		if out.statusReason == "" {
			out.statusReason = reasonExited
		}
	}
	c.shipLogs(ctx, j, at.sandboxID)
	if err := host.Delete(ctx, at.sandboxID); err != nil {
		c.api.log.Warn("batch: delete attempt sandbox", "job", j.JobID, "sandbox", at.sandboxID, "err", err)
	}
	return c.finishAttempt(ctx, at, j, out)
}

// logStream is the attempt's CloudWatch Logs stream, as Batch names it.
func logStream(j *jobRecord, sandboxID string) string {
	return j.JobDefName + "/default/" + sandboxID
}

func (c *controller) shipLogs(ctx context.Context, j *jobRecord, sandboxID string) {
	if c.api.logs == nil {
		return
	}
	rc, err := c.api.host.Logs(sandboxID)
	if err != nil {
		c.api.log.Warn("batch: read job output", "job", j.JobID, "err", err)
		return
	}
	defer rc.Close()
	recs, err := sandboxlog.ReadAll(rc)
	if err != nil {
		c.api.log.Warn("batch: read job output", "job", j.JobID, "err", err)
	}
	events := make([]logs.Event, 0, len(recs))
	for _, r := range recs {
		events = append(events, logs.Event{Timestamp: r.Time, Message: strings.TrimRight(r.Content, "\n")})
	}
	if len(events) == 0 {
		return
	}
	if err := c.api.logs.Ingest(ctx, j.Partition.Account, j.Partition.Region, LogGroup, logStream(j, sandboxID), events); err != nil {
		c.api.log.Warn("batch: ship job output", "job", j.JobID, "err", err)
	}
}

// finishAttempt records an ended attempt and decides: retry (RUNNABLE),
// SUCCEEDED or FAILED.
func (c *controller) finishAttempt(ctx context.Context, at *attempt, j *jobRecord, out attemptOutcome) *jobRecord {
	now := millis(c.api.now())
	written, err := c.update(context.WithoutCancel(ctx), at.key, func(cur *jobRecord) error {
		a := attemptDetail{StartedAt: cur.AttemptStart, StoppedAt: now, StatusReason: out.statusReason,
			Container: attemptContainer{ExitCode: out.exitCode, Reason: out.reason, LogStreamName: logStream(cur, at.sandboxID),
				TaskArn: "arn:aws:ecs:" + cur.Partition.Region + ":" + cur.Partition.Account + ":task/" + at.sandboxID}}
		if a.StartedAt == 0 {
			a.StartedAt = now
		}
		cur.Attempts = append(cur.Attempts, a)
		cur.Container.ExitCode, cur.Container.Reason, cur.Container.LogStreamName = out.exitCode, out.reason, a.Container.LogStreamName
		cur.Container.TaskArn = a.Container.TaskArn
		cur.SandboxID, cur.StatusReason = "", out.statusReason
		if cur.StopReason != "" {
			out.terminated = true
			cur.StatusReason = cur.StopReason
		}
		succeeded := out.exitCode != nil && *out.exitCode == 0 && !out.terminated && out.statusReason == reasonExited
		switch {
		case succeeded:
			cur.Status, cur.StoppedAt = scheduler.Succeeded, now
		case !out.terminated && shouldRetry(cur.RetryStrategy, len(cur.Attempts), out):
			cur.Status, cur.RunnableAt = scheduler.Runnable, now
		default:
			cur.Status, cur.StoppedAt = scheduler.Failed, now
		}
		if cur.StartedAt == 0 && cur.Status.Done() {
			cur.StartedAt = a.StartedAt
		}
		return nil
	})
	if err != nil {
		c.api.log.Error("batch: record attempt", "job", j.JobID, "err", err)
		return nil
	}
	return written
}

// shouldRetry applies a retry strategy to a failed attempt: no retries
// past attempts; the first evaluateOnExit condition that matches decides;
// when none matches, the job is retried, as Batch does.
func shouldRetry(rs *retryStrategy, attemptsSoFar int, out attemptOutcome) bool {
	if rs == nil || rs.Attempts == nil || attemptsSoFar >= *rs.Attempts {
		return false
	}
	for _, e := range rs.EvaluateOnExit {
		if e.OnExitCode != "" {
			if out.exitCode == nil || !globMatch(e.OnExitCode, strconv.Itoa(*out.exitCode)) {
				continue
			}
		}
		if e.OnReason != "" && !globMatch(e.OnReason, out.reason) {
			continue
		}
		if e.OnStatusReason != "" && !globMatch(e.OnStatusReason, out.statusReason) {
			continue
		}
		return strings.EqualFold(e.Action, "RETRY")
	}
	return true
}

package substrate

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"time"

	"github.com/nimbus-dev/nimbus/internal/network"
	"github.com/nimbus-dev/nimbus/internal/sandbox"
	"github.com/nimbus-dev/nimbus/internal/store"
)

// MountType is the kind of a RunSpec mount.
type MountType string

const (
	MountBlockVolume MountType = "volume" // Source: a block volume ID, attached for the sandbox's life
	MountDirVolume   MountType = "dir"    // Source: a directory volume ID (created beforehand)
	MountBind        MountType = "bind"   // Source: a host path
	MountTmpfs       MountType = "tmpfs"  // SizeBytes limits it
)

// Mount is one filesystem a sandbox gets.
type Mount struct {
	Type        MountType
	Source      string
	Destination string
	ReadOnly    bool
	SizeBytes   int64 // tmpfs
}

// RunSpec is everything Run needs.
type RunSpec struct {
	// ID is the sandbox ID ([a-z0-9-], at most 64); generated when empty.
	ID     string
	Owner  Owner
	Labels map[string]string // more labels beside the owner's
	// Image names an image in the store; RootDir is an already unpacked root
	// used instead (one of the two is required).
	Image   string
	RootDir string
	// RootUpperDir is a persistent upper layer (an EC2 root volume that
	// survives stop/start); empty for a throwaway one.
	RootUpperDir string
	ReadOnlyRoot bool
	Command      []string // default: the image's entrypoint and cmd
	Env          []string // KEY=VALUE, over the image's
	WorkDir      string   // default: the image's
	User         string   // default: the image's
	Hostname     string
	MilliCPU     int64
	MemoryBytes  int64
	PidsLimit    int64
	GPUs         int
	Rlimits      []sandbox.Rlimit
	// Network is the network to join ("" none); IP asks for an address in it.
	Network string
	IP      netip.Addr
	Mounts  []Mount
	// Init runs a PID 1 reaper (long-lived EC2 instances).
	Init bool
	// AllowPrivilegeGain lets setuid programs such as sudo work inside
	// (sandbox.Spec.AllowPrivilegeGain).
	AllowPrivilegeGain bool
}

var idPattern = regexp.MustCompile(`^[a-z0-9][a-z0-9-]{0,63}$`)

// crashHook, when set by a test, is called after each step of Run so a test
// can kill the process there.
var crashHook func(step string)

func crashPoint(step string) {
	if crashHook != nil {
		crashHook(step)
	}
}

// Run creates the sandbox, attaches its volumes and network and starts it.
// On any failure everything done so far is undone.
func (h *Host) Run(ctx context.Context, rs RunSpec) (*Sandbox, error) {
	if rs.ID == "" {
		rs.ID = newID()
	}
	if !idPattern.MatchString(rs.ID) {
		return nil, fmt.Errorf("run sandbox: id %q must match %s: %w", rs.ID, idPattern, ErrInvalid)
	}
	spec, imageName, err := h.buildSpec(ctx, rs)
	if err != nil {
		return nil, fmt.Errorf("run sandbox %s: %w", rs.ID, err)
	}
	rec := &record{
		Schema: recordVersion, ID: rs.ID, Owner: rs.Owner, Labels: spec.Labels, Phase: phaseCreating,
		Network: rs.Network, LogPath: spec.Log.Path, Image: imageName, CreatedAt: time.Now().UTC(),
	}
	for _, m := range rs.Mounts {
		if m.Type == MountBlockVolume {
			rec.BlockVolumes = append(rec.BlockVolumes, m.Source)
		}
	}
	e := &entry{rec: rec}
	e.op.Lock()
	defer e.op.Unlock()
	h.mu.Lock()
	switch _, taken := h.entries[rs.ID]; {
	case h.closed:
		h.mu.Unlock()
		return nil, ErrClosed
	case taken:
		h.mu.Unlock()
		return nil, fmt.Errorf("run sandbox %s: %w", rs.ID, sandbox.ErrAlreadyExists)
	}
	h.entries[rs.ID] = e
	h.mu.Unlock()

	err = h.store.Update(ctx, func(tx store.Tx) error {
		_, err := tx.Create(rec.key(), rec)
		return err
	})
	if err != nil {
		h.mu.Lock()
		delete(h.entries, rs.ID)
		h.mu.Unlock()
		if errors.Is(err, store.ErrAlreadyExists) {
			err = sandbox.ErrAlreadyExists
		}
		return nil, fmt.Errorf("run sandbox %s: record: %w", rs.ID, err)
	}
	crashPoint("recorded")
	sb, err := h.runSteps(ctx, e, rs, spec)
	if err != nil {
		undoCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Minute)
		defer cancel()
		if uerr := h.teardown(undoCtx, h.current(e)); uerr != nil {
			h.log.Error("substrate: undo of failed run left something behind; the next start retries", "id", rs.ID, "err", uerr)
			return nil, fmt.Errorf("run sandbox %s: %w (and undoing it: %v)", rs.ID, err, uerr)
		}
		if ferr := h.forget(undoCtx, h.current(e)); ferr != nil {
			h.log.Error("substrate: remove record after failed run", "id", rs.ID, "err", ferr)
		}
		return nil, fmt.Errorf("run sandbox %s: %w", rs.ID, err)
	}
	return sb, nil
}

// runSteps makes the host changes of Run, recording each before it is made.
func (h *Host) runSteps(ctx context.Context, e *entry, rs RunSpec, spec sandbox.Spec) (*Sandbox, error) {
	mounts, err := h.attachMounts(ctx, rs.Mounts)
	if err != nil {
		return nil, err
	}
	spec.Mounts = mounts
	crashPoint("volumes")
	var ip netip.Addr
	if rs.Network != "" {
		if h.net == nil {
			return nil, fmt.Errorf("network %s: %w: %s", rs.Network, ErrNetworkUnavailable, h.netWhy)
		}
		att, err := h.net.Attach(ctx, rs.ID, rs.Network, network.AttachOptions{IP: rs.IP})
		if err != nil {
			return nil, fmt.Errorf("attach network %s: %w", rs.Network, err)
		}
		spec.Network = att
		// The address is recorded with the handle below: recovery detaches
		// by sandbox ID, so it needs no commit of its own.
		if ip, err = netip.ParseAddr(att.IP); err != nil {
			return nil, fmt.Errorf("network %s gave a bad address %q: %w", rs.Network, att.IP, err)
		}
		crashPoint("network")
	}
	handle, err := h.driver.Create(ctx, spec)
	if err != nil {
		return nil, fmt.Errorf("create: %w", err)
	}
	rec := h.current(e).clone()
	rec.Handle, rec.IP = handle, ip
	if err := h.save(ctx, e, rec); err != nil {
		// The handle is not recorded, but the sandbox carries LabelSandbox:
		// teardown finds it through the driver's List.
		return nil, err
	}
	crashPoint("created")
	if err := h.driver.Start(ctx, handle); err != nil {
		return nil, fmt.Errorf("start: %w", err)
	}
	crashPoint("started")
	rec = h.current(e).clone()
	rec.Phase = phaseRunning
	rec.StartedAt = time.Now().UTC()
	if err := h.save(ctx, e, rec); err != nil {
		return nil, err
	}
	h.watch(e)
	crashPoint("running")
	return rec.view(), nil
}

// buildSpec resolves the image and fills the driver's Spec. It changes
// nothing on the host.
func (h *Host) buildSpec(ctx context.Context, rs RunSpec) (sandbox.Spec, string, error) {
	spec := sandbox.Spec{
		ID:                 rs.ID,
		Labels:             ownerLabels(rs.ID, rs.Owner, rs.Labels),
		Command:            rs.Command,
		WorkDir:            rs.WorkDir,
		User:               rs.User,
		Hostname:           rs.Hostname,
		MilliCPU:           rs.MilliCPU,
		MemoryBytes:        rs.MemoryBytes,
		PidsLimit:          rs.PidsLimit,
		GPUs:               rs.GPUs,
		Rlimits:            rs.Rlimits,
		ReadOnly:           rs.ReadOnlyRoot,
		Init:               rs.Init,
		AllowPrivilegeGain: rs.AllowPrivilegeGain,
		Log:                sandbox.LogSink{Path: filepath.Join(h.logDir, rs.ID+".log")},
	}
	if rs.MilliCPU < 0 || rs.MemoryBytes < 0 || rs.PidsLimit < 0 || rs.GPUs < 0 {
		return spec, "", fmt.Errorf("negative resource limit: %w", ErrInvalid)
	}
	var imageName string
	var env []string
	switch {
	case rs.Image != "" && rs.RootDir != "":
		return spec, "", fmt.Errorf("give an image or a root directory, not both: %w", ErrInvalid)
	case rs.Image != "":
		img, err := h.images.Get(ctx, rs.Image)
		if err != nil {
			return spec, "", fmt.Errorf("image %s: %w", rs.Image, err)
		}
		imageName = rs.Image
		spec.RootFS.ImageDir = img.RootDir
		env = img.Config.Env
		if len(spec.Command) == 0 {
			spec.Command = img.Config.Argv()
		}
		if spec.WorkDir == "" {
			spec.WorkDir = img.Config.WorkingDir
		}
		if spec.User == "" {
			spec.User = img.Config.User
		}
	case rs.RootDir != "":
		if fi, err := os.Stat(rs.RootDir); err != nil || !fi.IsDir() {
			return spec, "", fmt.Errorf("root directory %s is not a directory: %w", rs.RootDir, ErrInvalid)
		}
		spec.RootFS.ImageDir = rs.RootDir
	default:
		return spec, "", fmt.Errorf("an image or a root directory is required: %w", ErrInvalid)
	}
	spec.RootFS.UpperDir = rs.RootUpperDir
	if len(spec.Command) == 0 {
		return spec, "", fmt.Errorf("no command given and the image has none: %w", ErrInvalid)
	}
	spec.Env = mergeEnv(env, rs.Env)
	for _, m := range rs.Mounts {
		switch m.Type {
		case MountBlockVolume, MountDirVolume, MountBind, MountTmpfs:
		default:
			return spec, "", fmt.Errorf("mount %s: unknown type %q: %w", m.Destination, m.Type, ErrInvalid)
		}
		if !strings.HasPrefix(m.Destination, "/") {
			return spec, "", fmt.Errorf("mount destination %q must be absolute: %w", m.Destination, ErrInvalid)
		}
	}
	return spec, imageName, nil
}

// attachMounts attaches block volumes and resolves every mount to a driver
// mount. The volumes are already in the record, so an undo detaches them.
func (h *Host) attachMounts(ctx context.Context, ms []Mount) ([]sandbox.Mount, error) {
	var out []sandbox.Mount
	for _, m := range ms {
		sm := sandbox.Mount{Type: sandbox.MountBind, Destination: m.Destination, ReadOnly: m.ReadOnly}
		switch m.Type {
		case MountBlockVolume:
			path, err := h.volumes.Attach(ctx, m.Source)
			if err != nil {
				return nil, fmt.Errorf("attach volume %s: %w", m.Source, err)
			}
			sm.Source = path
		case MountDirVolume:
			path := h.volumes.DirPath(m.Source)
			if fi, err := os.Stat(path); err != nil || !fi.IsDir() {
				return nil, fmt.Errorf("directory volume %s: %w", m.Source, ErrNotFound)
			}
			sm.Source = path
		case MountBind:
			sm.Source = m.Source
		case MountTmpfs:
			sm.Type, sm.SizeBytes = sandbox.MountTmpfs, m.SizeBytes
		}
		out = append(out, sm)
	}
	return out, nil
}

// mergeEnv returns base with each KEY=VALUE of over replacing base's KEY.
func mergeEnv(base, over []string) []string {
	out := append([]string(nil), base...)
	idx := map[string]int{}
	for i, kv := range out {
		k, _, _ := strings.Cut(kv, "=")
		idx[k] = i
	}
	for _, kv := range over {
		k, _, _ := strings.Cut(kv, "=")
		if i, ok := idx[k]; ok {
			out[i] = kv
			continue
		}
		idx[k] = len(out)
		out = append(out, kv)
	}
	return out
}

func newID() string {
	b := make([]byte, 8)
	rand.Read(b)
	return "sb-" + hex.EncodeToString(b)
}

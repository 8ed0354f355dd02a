package ec2

import (
	"context"
	"encoding/base64"
	"errors"
	"strings"
	"time"

	"github.com/nimbus-dev/nimbus/internal/awserr"
	"github.com/nimbus-dev/nimbus/internal/sandboxlog"
	"github.com/nimbus-dev/nimbus/internal/store"
	"github.com/nimbus-dev/nimbus/internal/substrate"
)

// maxConsole is how much console text EC2 keeps and returns: the last 64 KB.
const maxConsole = 64 * 1024

// savedConsole is the console text of an instance's earlier boots: a
// sandbox's log goes with the sandbox on stop, while EC2 still shows the
// output of a stopped instance.
type savedConsole struct {
	Text    string
	Updated time.Time
}

type getConsoleOutputInput struct {
	InstanceId string
	Latest     bool
	DryRun     bool
}

type getConsoleOutputOutput struct {
	InstanceId string
	Output     string `json:",omitempty"`
	Timestamp  time.Time
}

func (e *EC2) getConsoleOutput(ctx context.Context, in *getConsoleOutputInput) (*getConsoleOutputOutput, error) {
	if in.InstanceId == "" {
		return nil, awserr.Missing("InstanceId")
	}
	if err := validInstanceIDs([]string{in.InstanceId}); err != nil {
		return nil, err
	}
	if in.DryRun {
		return nil, dryRun()
	}
	account, reg := partition(ctx)
	var inst instance
	var saved savedConsole
	err := e.store.View(ctx, func(tx store.Tx) error {
		if _, err := tx.Get(store.Key{Account: account, Region: reg, Kind: kindInstance, ID: in.InstanceId}, &inst); err != nil {
			return err
		}
		_, err := tx.Get(store.Key{Account: account, Region: reg, Kind: kindConsole, ID: in.InstanceId}, &saved)
		if errors.Is(err, store.ErrNotFound) {
			return nil
		}
		return err
	})
	if errors.Is(err, store.ErrNotFound) {
		return nil, instancesNotFound([]string{in.InstanceId})
	}
	if err != nil {
		return nil, awserr.Internalf(err, "read console of %s", in.InstanceId)
	}
	text, stamp := saved.Text, saved.Updated
	if live, at, ok := e.liveConsole(in.InstanceId); ok {
		text += live
		stamp = at
	}
	if stamp.IsZero() {
		stamp = time.Now().UTC()
	}
	out := &getConsoleOutputOutput{InstanceId: in.InstanceId, Timestamp: stamp.UTC().Truncate(time.Second)}
	if text != "" {
		out.Output = base64.StdEncoding.EncodeToString([]byte(lastBytes(text, maxConsole)))
	}
	return out, nil
}

// liveConsole reads the console of the instance's current sandbox, if it has
// one.
func (e *EC2) liveConsole(id string) (text string, last time.Time, ok bool) {
	if e.host == nil {
		return "", time.Time{}, false
	}
	return consoleOf(e.host, id)
}

// consoleOf renders a sandbox's log as console text, both streams
// interleaved in the order they were written.
func consoleOf(host *substrate.Host, sandboxID string) (string, time.Time, bool) {
	r, err := host.Logs(sandboxID)
	if err != nil {
		return "", time.Time{}, false
	}
	defer r.Close()
	recs, err := sandboxlog.ReadAll(r)
	if err != nil && len(recs) == 0 {
		return "", time.Time{}, false
	}
	var b strings.Builder
	var last time.Time
	for _, rec := range recs {
		b.WriteString(rec.Content)
		if !rec.Partial {
			b.WriteByte('\n')
		}
		last = rec.Time
	}
	return b.String(), last, true
}

// lastBytes keeps the tail of s, starting at a line boundary where one is
// near.
func lastBytes(s string, n int) string {
	if len(s) <= n {
		return s
	}
	s = s[len(s)-n:]
	if i := strings.IndexByte(s, '\n'); i >= 0 && i < 1024 {
		s = s[i+1:]
	}
	return s
}

// saveConsole appends the current sandbox's console to the instance's saved
// console, before the controller deletes the sandbox.
func (e *EC2) saveConsole(ctx context.Context, inst *instance) error {
	live, at, ok := e.liveConsole(inst.InstanceId)
	if !ok || live == "" {
		return nil
	}
	key := store.Key{Account: inst.OwnerId, Region: inst.Region, Kind: kindConsole, ID: inst.InstanceId}
	return e.store.Update(ctx, func(tx store.Tx) error {
		var saved savedConsole
		if _, err := tx.Get(key, &saved); err != nil && !errors.Is(err, store.ErrNotFound) {
			return err
		}
		saved.Text = lastBytes(saved.Text+live, maxConsole)
		saved.Updated = at
		_, err := tx.Put(key, &saved, 0)
		return err
	})
}

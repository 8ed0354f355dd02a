package oci

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/nimbus-dev/nimbus/internal/sandbox"
)

// Files in a sandbox's state directory, shared by the driver and the shim.
const (
	shimConfigFile = "shim.json"    // ShimConfig, written by the driver
	shimPidFile    = "shim.pid"     // the shim's pid, written by the driver
	shimLogFile    = "shim.log"     // the shim's own stderr, for diagnosing it
	initPidFile    = "init.pid"     // the sandbox's first process, written by the runtime or shim
	startedFile    = "started.json" // when the command started
	exitFile       = "exit.json"    // how it ended, written once by the shim
)

// exitRecord is the exit status file. The shim writes it atomically when the
// sandbox's first process ends, so the status survives nimbus being down.
type exitRecord struct {
	ExitCode   int       `json:"exitCode"`
	Signal     int       `json:"signal,omitempty"`
	OOMKilled  bool      `json:"oomKilled,omitempty"`
	StartedAt  time.Time `json:"startedAt,omitzero"`
	FinishedAt time.Time `json:"finishedAt"`
	// Error is set when the command could not be run at all.
	Error string `json:"error,omitempty"`
}

func (r exitRecord) status() *sandbox.ExitStatus {
	return &sandbox.ExitStatus{
		ExitCode:   r.ExitCode,
		Signal:     r.Signal,
		OOMKilled:  r.OOMKilled,
		StartedAt:  r.StartedAt,
		FinishedAt: r.FinishedAt,
	}
}

type startedRecord struct {
	StartedAt time.Time `json:"startedAt"`
}

// writeJSONAtomic writes v to path through a temporary file and a rename, so a
// reader sees either nothing or the whole file. There is no fsync: these
// files must survive nimbus or the shim dying, which the page cache does;
// after a host crash the sandboxes they describe are gone anyway.
func writeJSONAtomic(path string, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("encode %s: %w", filepath.Base(path), err)
	}
	tmp := path + ".tmp"
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return fmt.Errorf("write %s: %w", filepath.Base(path), err)
	}
	if _, err := f.Write(b); err != nil {
		f.Close()
		return fmt.Errorf("write %s: %w", filepath.Base(path), err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("close %s: %w", filepath.Base(path), err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("rename %s: %w", filepath.Base(path), err)
	}
	return nil
}

// readJSON reads path into v; a missing file is reported with os.ErrNotExist.
func readJSON(path string, v any) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	if err := json.Unmarshal(b, v); err != nil {
		return fmt.Errorf("decode %s: %w", filepath.Base(path), err)
	}
	return nil
}

// ReadExitStatus returns the exit status the shim recorded in dir, or
// os.ErrNotExist while the sandbox has not exited.
func ReadExitStatus(dir string) (*sandbox.ExitStatus, error) {
	var rec exitRecord
	if err := readJSON(filepath.Join(dir, exitFile), &rec); err != nil {
		return nil, err
	}
	if rec.Error != "" {
		return rec.status(), fmt.Errorf("sandbox command did not run: %s", rec.Error)
	}
	return rec.status(), nil
}

func readStartedAt(dir string) time.Time {
	var rec startedRecord
	if err := readJSON(filepath.Join(dir, startedFile), &rec); err != nil {
		return time.Time{}
	}
	return rec.StartedAt
}

func fileExists(path string) bool {
	_, err := os.Stat(path)
	return !errors.Is(err, os.ErrNotExist)
}

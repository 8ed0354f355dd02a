package oci

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/nimbus-dev/nimbus/internal/sandbox"
	"github.com/nimbus-dev/nimbus/internal/sandboxlog"
)

// ShimCommand is the argument that makes the nimbus binary run as a shim:
// main calls ShimMain(os.Args[2:]) when os.Args[1] == ShimCommand.
const ShimCommand = "__shim"

// Shim modes.
const (
	ShimModeOCI     = "oci"     // runs `<runtime> create` and waits for the container
	ShimModeProcess = "process" // runs the command as a plain host process
)

// ShimConfig tells a shim what to run. The driver writes it as shim.json in
// the sandbox's state directory and passes that directory to the shim.
type ShimConfig struct {
	Mode    string `json:"mode"`
	ID      string `json:"id"`
	LogPath string `json:"logPath"`

	// oci mode
	Runtime      string `json:"runtime,omitempty"`     // runtime binary path
	RuntimeRoot  string `json:"runtimeRoot,omitempty"` // its --root
	Bundle       string `json:"bundle,omitempty"`
	MemoryCgroup string `json:"memoryCgroup,omitempty"` // where OOM kills are counted

	// process mode
	Command []string         `json:"command,omitempty"`
	Env     []string         `json:"env,omitempty"`
	WorkDir string           `json:"workDir,omitempty"`
	Rlimits []sandbox.Rlimit `json:"rlimits,omitempty"`
}

// shimReadyFD is the pipe on which a shim tells its launcher that the
// sandbox's first process exists (or why it does not): one JSON shimReady.
const shimReadyFD = 3

type shimReady struct {
	InitPid int    `json:"initPid,omitempty"`
	Error   string `json:"error,omitempty"`
}

// drainAfterExit bounds how long the shim keeps copying output after the
// first process exits: a process that escaped (process mode has no pid
// namespace) may hold the pipes open forever.
const drainAfterExit = 2 * time.Second

// ShimMain runs the shim: args is [stateDir]. It is meant to be the whole of
// a process started by the driver, in a session of its own, with the ready
// pipe on fd 3. It returns the process exit code.
//
// The shim becomes a child subreaper, starts the sandbox's first process with
// its stdout and stderr on pipes it holds (in oci mode through `runc create`,
// whose container process is then reparented to the shim), reports the pid on
// the ready pipe, copies output to the log as timestamped records, reaps the
// process and writes exit.json atomically. It outlives nimbus, so the exit
// status is known even if nimbus was down when the sandbox ended.
func ShimMain(args []string) int {
	if len(args) != 1 {
		fmt.Fprintln(os.Stderr, "usage: nimbus __shim STATE_DIR")
		return 2
	}
	dir := args[0]
	// The pipe must not leak into the sandbox's processes: the launcher
	// would see no EOF, and the sandbox would hold a stray fd.
	unix.CloseOnExec(shimReadyFD)
	ready := os.NewFile(shimReadyFD, "ready")
	if err := runShim(dir, ready); err != nil {
		fmt.Fprintf(os.Stderr, "nimbus shim %s: %v\n", dir, err)
		return 1
	}
	return 0
}

func runShim(dir string, ready *os.File) error {
	var cfg ShimConfig
	if err := readJSON(filepath.Join(dir, shimConfigFile), &cfg); err != nil {
		reportReady(ready, shimReady{Error: err.Error()})
		return err
	}
	if err := unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0); err != nil {
		err = fmt.Errorf("become subreaper: %w", err)
		reportReady(ready, shimReady{Error: err.Error()})
		return err
	}
	logFile, err := sandboxlog.OpenFile(cfg.LogPath)
	if err != nil {
		reportReady(ready, shimReady{Error: err.Error()})
		return err
	}
	defer logFile.Close()
	logw := sandboxlog.NewWriter(logFile, nil)

	outR, outW, err := os.Pipe()
	if err != nil {
		reportReady(ready, shimReady{Error: err.Error()})
		return fmt.Errorf("stdout pipe: %w", err)
	}
	errR, errW, err := os.Pipe()
	if err != nil {
		reportReady(ready, shimReady{Error: err.Error()})
		return fmt.Errorf("stderr pipe: %w", err)
	}
	var copiers sync.WaitGroup
	copiers.Add(2)
	go func() { defer copiers.Done(); logw.Copy(sandboxlog.Stdout, outR) }()
	go func() { defer copiers.Done(); logw.Copy(sandboxlog.Stderr, errR) }()

	var initPid int
	switch cfg.Mode {
	case ShimModeOCI:
		initPid, err = shimCreateContainer(dir, cfg, outW, errW)
	case ShimModeProcess:
		initPid, err = shimStartProcess(dir, cfg, outW, errW)
	default:
		err = fmt.Errorf("unknown shim mode %q", cfg.Mode)
	}
	// The first process holds its own copies; ours would keep the pipes open.
	outW.Close()
	errW.Close()
	if err != nil {
		reportReady(ready, shimReady{Error: err.Error()})
		outR.Close()
		errR.Close()
		return err
	}
	reportReady(ready, shimReady{InitPid: initPid})

	ws, err := reapUntil(initPid)
	finished := time.Now()
	rec := exitRecord{FinishedAt: finished, StartedAt: readStartedAt(dir)}
	if err != nil {
		rec.ExitCode = -1
		rec.Error = err.Error()
	} else {
		rec.ExitCode, rec.Signal = decodeWaitStatus(ws)
	}
	if cfg.MemoryCgroup != "" {
		rec.OOMKilled = oomKilled(cfg.MemoryCgroup)
	}
	waitOrClose(&copiers, drainAfterExit, outR, errR)
	if err := writeJSONAtomic(filepath.Join(dir, exitFile), rec); err != nil {
		return err
	}
	return nil
}

func reportReady(ready *os.File, msg shimReady) {
	if ready == nil {
		return
	}
	b, _ := json.Marshal(msg)
	ready.Write(b)
	ready.Close()
}

// shimCreateContainer runs `runtime create`, which leaves the container's
// init blocked on its exec fifo until `runtime start`; init inherits the
// pipes and, when the runtime exits, becomes our child because we are a
// subreaper.
func shimCreateContainer(dir string, cfg ShimConfig, stdout, stderr *os.File) (int, error) {
	pidPath := filepath.Join(dir, initPidFile)
	runtimeLog := filepath.Join(dir, "runtime.log")
	cmd := exec.Command(cfg.Runtime, "--root", cfg.RuntimeRoot, "--log", runtimeLog, "--log-format", "json",
		"create", "--bundle", cfg.Bundle, "--pid-file", pidPath, cfg.ID)
	cmd.Stdout = stdout
	cmd.Stderr = stderr
	if err := cmd.Run(); err != nil {
		return 0, fmt.Errorf("%s create: %w: %s", filepath.Base(cfg.Runtime), err, lastRuntimeError(runtimeLog))
	}
	b, err := os.ReadFile(pidPath)
	if err != nil {
		return 0, fmt.Errorf("read container pid: %w", err)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil {
		return 0, fmt.Errorf("parse container pid %q: %w", b, err)
	}
	return pid, nil
}

// lastRuntimeError returns the last error message in a runc/crun JSON log.
func lastRuntimeError(path string) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return "no runtime log"
	}
	msg := ""
	for _, line := range strings.Split(string(b), "\n") {
		var entry struct {
			Level string `json:"level"`
			Msg   string `json:"msg"`
		}
		if json.Unmarshal([]byte(line), &entry) == nil && (entry.Level == "error" || entry.Level == "fatal") {
			msg = entry.Msg
		}
	}
	if msg == "" {
		return "runtime gave no error message"
	}
	return msg
}

// shimStartProcess runs the command as a host process in a process group of
// its own (so the driver can signal all of it) with the requested rlimits,
// which it inherits from the shim.
func shimStartProcess(dir string, cfg ShimConfig, stdout, stderr *os.File) (int, error) {
	if len(cfg.Command) == 0 {
		return 0, errors.New("empty command")
	}
	for _, rl := range cfg.Rlimits {
		res, ok := rlimitResources[rl.Type]
		if !ok {
			return 0, fmt.Errorf("unknown rlimit %s", rl.Type)
		}
		if err := unix.Setrlimit(res, &unix.Rlimit{Cur: rl.Soft, Max: rl.Hard}); err != nil {
			return 0, fmt.Errorf("set %s to %d:%d: %w", rl.Type, rl.Soft, rl.Hard, err)
		}
	}
	cmd := exec.Command(cfg.Command[0], cfg.Command[1:]...)
	cmd.Env = cfg.Env
	cmd.Dir = cfg.WorkDir
	cmd.Stdout = stdout
	cmd.Stderr = stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		return 0, fmt.Errorf("start %s: %w", cfg.Command[0], err)
	}
	started := time.Now()
	pid := cmd.Process.Pid
	// Reaping is done by reapUntil with wait4(-1); os/exec's Wait is never called.
	cmd.Process.Release()
	if err := writeJSONAtomic(filepath.Join(dir, startedFile), startedRecord{StartedAt: started}); err != nil {
		return pid, err
	}
	if err := os.WriteFile(filepath.Join(dir, initPidFile), []byte(strconv.Itoa(pid)), 0o600); err != nil {
		return pid, fmt.Errorf("write pid file: %w", err)
	}
	return pid, nil
}

// reapUntil reaps every child (orphans reparented to us included) until pid
// ends, and returns pid's wait status.
func reapUntil(pid int) (unix.WaitStatus, error) {
	for {
		var ws unix.WaitStatus
		got, err := unix.Wait4(-1, &ws, 0, nil)
		if errors.Is(err, unix.EINTR) {
			continue
		}
		if err != nil {
			return 0, fmt.Errorf("wait for pid %d: %w", pid, err)
		}
		if got == pid {
			return ws, nil
		}
	}
}

// decodeWaitStatus gives the exit code and signal; a signalled process gets
// 128+signal as its code, as shells and AWS Batch report it.
func decodeWaitStatus(ws unix.WaitStatus) (code, signal int) {
	if ws.Signaled() {
		return 128 + int(ws.Signal()), int(ws.Signal())
	}
	return ws.ExitStatus(), 0
}

// waitOrClose waits for the copiers to reach EOF, closing the read ends
// after timeout so a leaked writer cannot keep the shim alive.
func waitOrClose(wg *sync.WaitGroup, timeout time.Duration, pipes ...*os.File) {
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(timeout):
		for _, p := range pipes {
			p.Close()
		}
		<-done
	}
}

var rlimitResources = map[string]int{
	"RLIMIT_AS":         unix.RLIMIT_AS,
	"RLIMIT_CORE":       unix.RLIMIT_CORE,
	"RLIMIT_CPU":        unix.RLIMIT_CPU,
	"RLIMIT_DATA":       unix.RLIMIT_DATA,
	"RLIMIT_FSIZE":      unix.RLIMIT_FSIZE,
	"RLIMIT_LOCKS":      unix.RLIMIT_LOCKS,
	"RLIMIT_MEMLOCK":    unix.RLIMIT_MEMLOCK,
	"RLIMIT_MSGQUEUE":   unix.RLIMIT_MSGQUEUE,
	"RLIMIT_NICE":       unix.RLIMIT_NICE,
	"RLIMIT_NOFILE":     unix.RLIMIT_NOFILE,
	"RLIMIT_NPROC":      unix.RLIMIT_NPROC,
	"RLIMIT_RSS":        unix.RLIMIT_RSS,
	"RLIMIT_RTPRIO":     unix.RLIMIT_RTPRIO,
	"RLIMIT_RTTIME":     unix.RLIMIT_RTTIME,
	"RLIMIT_SIGPENDING": unix.RLIMIT_SIGPENDING,
	"RLIMIT_STACK":      unix.RLIMIT_STACK,
}

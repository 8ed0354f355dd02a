package oci

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// Shim is a running shim as seen by the driver that launched it.
type Shim struct {
	Pid     int
	InitPid int
	// exited is closed when the shim process ends, if we launched it (nil
	// after a restart: then we watch its pid instead).
	exited <-chan struct{}
}

// LaunchShim writes cfg into dir and starts argv (normally the nimbus binary
// and ShimCommand) with dir appended, in a session of its own so it outlives
// us. It returns once the sandbox's first process exists, or with the
// shim's reason why it could not be made. The shim's own diagnostics go to
// shim.log in dir. The process driver uses it too.
func LaunchShim(ctx context.Context, argv []string, dir string, cfg ShimConfig) (*Shim, error) {
	if err := writeJSONAtomic(filepath.Join(dir, shimConfigFile), cfg); err != nil {
		return nil, err
	}
	shimLog, err := os.OpenFile(filepath.Join(dir, shimLogFile), os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
	if err != nil {
		return nil, fmt.Errorf("open shim log: %w", err)
	}
	defer shimLog.Close()
	readyR, readyW, err := os.Pipe()
	if err != nil {
		return nil, fmt.Errorf("shim ready pipe: %w", err)
	}
	defer readyR.Close()
	cmd := exec.Command(argv[0], append(append([]string(nil), argv[1:]...), dir)...)
	cmd.Stdout, cmd.Stderr = shimLog, shimLog
	cmd.ExtraFiles = []*os.File{readyW} // fd 3 = shimReadyFD
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	cmd.Dir = dir
	if err := cmd.Start(); err != nil {
		readyW.Close()
		return nil, fmt.Errorf("start shim: %w", err)
	}
	readyW.Close()
	// The reaper goroutine lives exactly as long as the shim, which Delete ends.
	exited := make(chan struct{})
	go func() {
		cmd.Wait()
		close(exited)
	}()
	if err := os.WriteFile(filepath.Join(dir, shimPidFile), []byte(strconv.Itoa(cmd.Process.Pid)), 0o600); err != nil {
		cmd.Process.Kill()
		return nil, fmt.Errorf("write shim pid: %w", err)
	}
	msg, err := readReady(ctx, readyR)
	if err != nil {
		cmd.Process.Kill()
		<-exited
		return nil, err
	}
	if msg.Error != "" {
		<-exited
		return nil, errors.New(msg.Error)
	}
	return &Shim{Pid: cmd.Process.Pid, InitPid: msg.InitPid, exited: exited}, nil
}

// shimReadyTimeout bounds the wait for a shim when ctx has no deadline, so
// a wedged runtime cannot hang Create for ever.
const shimReadyTimeout = time.Minute

func readReady(ctx context.Context, r *os.File) (shimReady, error) {
	deadline, ok := ctx.Deadline()
	if !ok {
		deadline = time.Now().Add(shimReadyTimeout)
	}
	r.SetReadDeadline(deadline)
	stop := context.AfterFunc(ctx, func() { r.SetReadDeadline(time.Now()) })
	defer stop()
	var msg shimReady
	if err := json.NewDecoder(r).Decode(&msg); err != nil {
		if errors.Is(err, io.EOF) {
			return shimReady{}, errors.New("shim exited without reporting (see its shim.log)")
		}
		return shimReady{}, fmt.Errorf("read shim report: %w", err)
	}
	return msg, nil
}

// readShimPid returns the pid of the shim for dir if that shim still runs.
// It checks the command line so a reused pid is never mistaken for it.
func readShimPid(dir string) (int, bool) {
	b, err := os.ReadFile(filepath.Join(dir, shimPidFile))
	if err != nil {
		return 0, false
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil || pid <= 0 {
		return 0, false
	}
	cmdline, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
	if err != nil {
		return pid, false
	}
	args := strings.Split(strings.TrimRight(string(cmdline), "\x00"), "\x00")
	if len(args) == 0 || args[len(args)-1] != dir {
		return pid, false
	}
	// A zombie (our child, not reaped yet) has finished.
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err == nil {
		if i := strings.LastIndexByte(string(stat), ')'); i > 0 && len(stat) > i+2 && stat[i+2] == 'Z' {
			return pid, false
		}
	}
	return pid, true
}

// waitPidExit blocks until pid ends or ctx is done. It uses a pidfd, which
// works for processes that are not our children (a shim adopted after a
// restart), through Go's poller so that ctx can interrupt it.
func waitPidExit(ctx context.Context, pid int) error {
	fd, err := unix.PidfdOpen(pid, unix.PIDFD_NONBLOCK)
	if errors.Is(err, unix.ESRCH) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("pidfd_open %d: %w", pid, err)
	}
	f := os.NewFile(uintptr(fd), "pidfd")
	defer f.Close()
	rc, err := f.SyscallConn()
	if err != nil {
		return fmt.Errorf("pidfd %d: %w", pid, err)
	}
	stop := context.AfterFunc(ctx, func() { f.SetReadDeadline(time.Now()) })
	defer stop()
	err = rc.Read(func(fd uintptr) bool {
		fds := []unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}}
		n, _ := unix.Poll(fds, 0)
		return n > 0
	})
	if err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return fmt.Errorf("wait for pid %d: %w", pid, err)
	}
	return nil
}

// WaitShimExit blocks until the shim of the sandbox in dir ends or ctx is
// done: through shim's reaper when this process launched it (shim may be
// nil), else through its pid.
func WaitShimExit(ctx context.Context, shim *Shim, dir string) error {
	if shim != nil && shim.exited != nil {
		select {
		case <-shim.exited:
			return nil
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	pid, alive := readShimPid(dir)
	if !alive {
		return nil
	}
	return waitPidExit(ctx, pid)
}

// ShimRunning reports the pid of the shim for dir and whether it still runs.
func ShimRunning(dir string) (int, bool) { return readShimPid(dir) }

// InitPid returns the pid of the sandbox's first process as its shim or
// runtime recorded it, or 0.
func InitPid(dir string) int {
	b, err := os.ReadFile(filepath.Join(dir, initPidFile))
	if err != nil {
		return 0
	}
	pid, _ := strconv.Atoi(strings.TrimSpace(string(b)))
	return pid
}

// Exited reports whether the shim for dir has recorded an exit status.
func Exited(dir string) bool { return fileExists(filepath.Join(dir, exitFile)) }

// WriteFileAtomic writes v as JSON to path via a temporary file and rename.
func WriteFileAtomic(path string, v any) error { return writeJSONAtomic(path, v) }

// ReadFileJSON reads JSON from path into v.
func ReadFileJSON(path string, v any) error { return readJSON(path, v) }

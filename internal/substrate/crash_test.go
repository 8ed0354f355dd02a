package substrate

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"syscall"
	"testing"
	"time"

	"github.com/nimbus-dev/nimbus/internal/store/sqlitestore"
)

// crashHelperEnv makes the test binary run crashHelperMain: a nimbus that
// opens a Host over a test's data directory, starts Run and SIGKILLs itself
// at a named step, as a crash at the worst moment would.
const crashHelperEnv = "NIMBUS_SUBSTRATE_CRASH_HELPER"

type crashConfig struct {
	Env  *ociEnv
	Step string // a crashPoint step; "running" is after Run has succeeded
	Spec RunSpec
}

func crashHelperMain(cfgJSON string) int {
	var cfg crashConfig
	if err := json.Unmarshal([]byte(cfgJSON), &cfg); err != nil {
		fmt.Fprintln(os.Stderr, "crash helper:", err)
		return 2
	}
	ctx := context.Background()
	st, err := sqlitestore.Open(ctx, cfg.Env.DBPath, sqlitestore.WithoutFsync())
	if err != nil {
		fmt.Fprintln(os.Stderr, "crash helper: store:", err)
		return 2
	}
	h, err := Open(ctx, cfg.Env.options(st))
	if err != nil {
		fmt.Fprintln(os.Stderr, "crash helper: open:", err)
		return 2
	}
	crashHook = func(step string) {
		if step == cfg.Step {
			syscall.Kill(os.Getpid(), syscall.SIGKILL)
			select {} // the signal is on its way
		}
	}
	if _, err := h.Run(ctx, cfg.Spec); err != nil {
		fmt.Fprintln(os.Stderr, "crash helper: run:", err)
		return 3
	}
	fmt.Fprintln(os.Stderr, "crash helper: step", cfg.Step, "never reached")
	return 4
}

// runCrashHelper runs the helper and checks it died of SIGKILL.
func runCrashHelper(t *testing.T, env *ociEnv, step string, spec RunSpec) {
	t.Helper()
	cfg, err := json.Marshal(crashConfig{Env: env, Step: step, Spec: spec})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, os.Args[0])
	cmd.Env = append(os.Environ(), crashHelperEnv+"="+string(cfg))
	out, err := cmd.CombinedOutput()
	var ee *exec.ExitError
	if !errors.As(err, &ee) {
		t.Fatalf("crash helper: %v: %s", err, out)
	}
	if ws, ok := ee.Sys().(syscall.WaitStatus); !ok || !ws.Signaled() || ws.Signal() != syscall.SIGKILL {
		t.Fatalf("crash helper did not die at step %s: %v: %s", step, err, out)
	}
}

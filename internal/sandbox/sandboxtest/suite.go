package sandboxtest

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/nimbus-dev/nimbus/internal/sandbox"
	"github.com/nimbus-dev/nimbus/internal/sandboxlog"
)

// Harness adapts a driver to the suite.
type Harness struct {
	// NewDriver returns a driver over the state in dir; called again with
	// the same dir it must act as nimbus after a restart.
	NewDriver func(t *testing.T, dir string) sandbox.Driver
	// Command renders a Program for this driver.
	Command func(Program) []string
	// RootFS returns the root the suite's sandboxes use.
	RootFS func(t *testing.T) sandbox.RootFS
	// RealProcesses is true when commands really run, so environment and
	// working directory can be observed through a shell.
	RealProcesses bool
	// CheckClean, if set, checks that nothing of sandbox id is left on the
	// host after Delete (mounts, cgroups, runtime state, shims).
	CheckClean func(t *testing.T, id string)
}

// Run runs the contract tests against h's driver.
func Run(t *testing.T, h Harness) {
	s := &suite{h: h}
	t.Run("ExitCode", s.testExitCode)
	t.Run("LogsCaptured", s.testLogsCaptured)
	t.Run("LogsReadableWhileRunning", s.testLogsWhileRunning)
	t.Run("KillReportsSignal", s.testKillReportsSignal)
	t.Run("StopEscalates", s.testStop)
	t.Run("DeleteIsIdempotent", s.testDeleteIdempotent)
	t.Run("DeleteRunning", s.testDeleteRunning)
	t.Run("DuplicateID", s.testDuplicate)
	t.Run("InvalidSpec", s.testInvalidSpec)
	t.Run("List", s.testList)
	t.Run("ExitWhileNimbusDown", s.testExitWhileDown)
	t.Run("AdoptRunning", s.testAdoptRunning)
	if h.RealProcesses {
		t.Run("EnvAndWorkDir", s.testEnvAndWorkDir)
	}
}

type suite struct{ h Harness }

type env struct {
	t   *testing.T
	dir string
	d   sandbox.Driver
	ctx context.Context
}

func (s *suite) setup(t *testing.T) *env {
	dir := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	return &env{t: t, dir: dir, d: s.h.NewDriver(t, dir), ctx: ctx}
}

var idCounter int

// spec returns a spec with a fresh id running p.
func (s *suite) spec(e *env, p Program) sandbox.Spec {
	idCounter++
	id := fmt.Sprintf("st-%d-%d", os.Getpid()%100000, idCounter)
	return sandbox.Spec{
		ID:      id,
		Labels:  map[string]string{"nimbus.kind": "test", "nimbus.id": id},
		RootFS:  s.h.RootFS(e.t),
		Command: s.h.Command(p),
		Log:     sandbox.LogSink{Path: filepath.Join(e.dir, "logs", id+".log")},
	}
}

// run creates and starts spec, registering a Delete (and the clean check).
func (s *suite) run(e *env, spec sandbox.Spec) *sandbox.Handle {
	e.t.Helper()
	h, err := e.d.Create(e.ctx, spec)
	if err != nil {
		e.t.Fatalf("Create: %v", err)
	}
	e.t.Cleanup(func() {
		if err := e.d.Delete(context.Background(), h); err != nil {
			e.t.Errorf("Delete: %v", err)
		}
		if s.h.CheckClean != nil {
			s.h.CheckClean(e.t, h.ID)
		}
	})
	if err := e.d.Start(e.ctx, h); err != nil {
		e.t.Fatalf("Start: %v", err)
	}
	return h
}

func (s *suite) wait(e *env, h *sandbox.Handle) *sandbox.ExitStatus {
	e.t.Helper()
	st, err := e.d.Wait(e.ctx, h)
	if err != nil {
		e.t.Fatalf("Wait: %v", err)
	}
	return st
}

func (s *suite) testExitCode(t *testing.T) {
	e := s.setup(t)
	for _, code := range []int{0, 3} {
		before := time.Now()
		h := s.run(e, s.spec(e, Program{ExitCode: code}))
		st := s.wait(e, h)
		if st.ExitCode != code || st.Signal != 0 || st.OOMKilled {
			t.Errorf("exit status %+v, want code %d", st, code)
		}
		if st.StartedAt.Before(before.Add(-time.Second)) || st.FinishedAt.Before(st.StartedAt) {
			t.Errorf("times wrong: started %v finished %v (test began %v)", st.StartedAt, st.FinishedAt, before)
		}
		// Waiting again gives the same answer.
		again := s.wait(e, h)
		if again.ExitCode != code {
			t.Errorf("second Wait: %+v", again)
		}
	}
}

func (s *suite) testLogsCaptured(t *testing.T) {
	e := s.setup(t)
	spec := s.spec(e, Program{Stdout: []string{"hello out", "second"}, Stderr: []string{"hello err"}})
	h := s.run(e, spec)
	s.wait(e, h)
	recs, err := sandboxlog.ReadFile(spec.Log.Path)
	if err != nil {
		t.Fatal(err)
	}
	if got := sandboxlog.Lines(recs, sandboxlog.Stdout); !slices.Equal(got, []string{"hello out", "second"}) {
		t.Errorf("stdout %q", got)
	}
	if got := sandboxlog.Lines(recs, sandboxlog.Stderr); !slices.Equal(got, []string{"hello err"}) {
		t.Errorf("stderr %q", got)
	}
	for _, r := range recs {
		if time.Since(r.Time) > time.Minute || r.Time.After(time.Now()) {
			t.Errorf("record time %v not now", r.Time)
		}
	}
}

func (s *suite) testLogsWhileRunning(t *testing.T) {
	e := s.setup(t)
	spec := s.spec(e, Program{Stdout: []string{"early"}, Sleep: 30 * time.Second})
	h := s.run(e, spec)
	deadline := time.Now().Add(10 * time.Second)
	for {
		recs, _ := sandboxlog.ReadFile(spec.Log.Path)
		if slices.Contains(sandboxlog.Lines(recs, sandboxlog.Stdout), "early") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("log never showed the line while running; records %+v", recs)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err := e.d.Kill(e.ctx, h, 9); err != nil {
		t.Fatal(err)
	}
	s.wait(e, h)
}

func (s *suite) testKillReportsSignal(t *testing.T) {
	e := s.setup(t)
	h := s.run(e, s.spec(e, Program{Sleep: 30 * time.Second}))
	if err := e.d.Kill(e.ctx, h, 9); err != nil {
		t.Fatalf("Kill: %v", err)
	}
	st := s.wait(e, h)
	if st.Signal != 9 || st.ExitCode != 137 {
		t.Errorf("exit status %+v, want SIGKILL (137)", st)
	}
	if err := e.d.Kill(e.ctx, h, 9); !errors.Is(err, sandbox.ErrNotRunning) {
		t.Errorf("Kill of an exited sandbox: %v, want ErrNotRunning", err)
	}
}

func (s *suite) testStop(t *testing.T) {
	e := s.setup(t)
	h := s.run(e, s.spec(e, Program{Sleep: 30 * time.Second}))
	start := time.Now()
	if err := e.d.Stop(e.ctx, h, 300*time.Millisecond); err != nil {
		t.Fatalf("Stop: %v", err)
	}
	if took := time.Since(start); took > 10*time.Second {
		t.Errorf("Stop took %v", took)
	}
	st := s.wait(e, h)
	if st.Signal == 0 {
		t.Errorf("stopped sandbox reports no signal: %+v", st)
	}
	if err := e.d.Stop(e.ctx, h, time.Second); err != nil {
		t.Errorf("Stop of a stopped sandbox: %v", err)
	}
}

func (s *suite) testDeleteIdempotent(t *testing.T) {
	e := s.setup(t)
	h, err := e.d.Create(e.ctx, s.spec(e, Program{}))
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 2; i++ {
		if err := e.d.Delete(e.ctx, h); err != nil {
			t.Fatalf("Delete #%d: %v", i+1, err)
		}
	}
	if s.h.CheckClean != nil {
		s.h.CheckClean(t, h.ID)
	}
	if _, err := e.d.Wait(e.ctx, h); !errors.Is(err, sandbox.ErrNotFound) {
		t.Errorf("Wait after Delete: %v, want ErrNotFound", err)
	}
}

func (s *suite) testDeleteRunning(t *testing.T) {
	e := s.setup(t)
	spec := s.spec(e, Program{Sleep: 30 * time.Second})
	h, err := e.d.Create(e.ctx, spec)
	if err != nil {
		t.Fatal(err)
	}
	if err := e.d.Start(e.ctx, h); err != nil {
		t.Fatal(err)
	}
	if err := e.d.Delete(e.ctx, h); err != nil {
		t.Fatalf("Delete: %v", err)
	}
	if s.h.CheckClean != nil {
		s.h.CheckClean(t, h.ID)
	}
	infos, err := e.d.List(e.ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, in := range infos {
		if in.Handle.ID == h.ID {
			t.Errorf("deleted sandbox still listed: %+v", in)
		}
	}
}

func (s *suite) testDuplicate(t *testing.T) {
	e := s.setup(t)
	spec := s.spec(e, Program{})
	s.run(e, spec)
	if _, err := e.d.Create(e.ctx, spec); !errors.Is(err, sandbox.ErrAlreadyExists) {
		t.Errorf("second Create: %v, want ErrAlreadyExists", err)
	}
}

func (s *suite) testInvalidSpec(t *testing.T) {
	e := s.setup(t)
	cases := map[string]func(*sandbox.Spec){
		"empty command": func(sp *sandbox.Spec) { sp.Command = nil },
		"bad id":        func(sp *sandbox.Spec) { sp.ID = "Has_Upper" },
		"no log":        func(sp *sandbox.Spec) { sp.Log.Path = "" },
	}
	for name, mutate := range cases {
		spec := s.spec(e, Program{})
		mutate(&spec)
		h, err := e.d.Create(e.ctx, spec)
		if !errors.Is(err, sandbox.ErrInvalidSpec) {
			t.Errorf("%s: Create gave %v, want ErrInvalidSpec", name, err)
			if h != nil {
				e.d.Delete(e.ctx, h)
			}
		}
	}
}

func (s *suite) testList(t *testing.T) {
	e := s.setup(t)
	spec := s.spec(e, Program{Sleep: 30 * time.Second})
	h, err := e.d.Create(e.ctx, spec)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.d.Delete(context.Background(), h) })
	find := func() sandbox.Info {
		infos, err := e.d.List(e.ctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, in := range infos {
			if in.Handle.ID == h.ID {
				return in
			}
		}
		t.Fatalf("List does not have %s: %+v", h.ID, infos)
		return sandbox.Info{}
	}
	if in := find(); in.State != sandbox.StateCreated || in.Labels["nimbus.id"] != spec.ID {
		t.Errorf("created sandbox listed as %+v", in)
	}
	if err := e.d.Start(e.ctx, h); err != nil {
		t.Fatal(err)
	}
	if in := find(); in.State != sandbox.StateRunning || in.Handle.Driver != h.Driver {
		t.Errorf("running sandbox listed as %+v", in)
	}
	// A restarted nimbus sees it too.
	d2 := s.h.NewDriver(t, e.dir)
	infos, err := d2.List(e.ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.ContainsFunc(infos, func(in sandbox.Info) bool { return in.Handle.ID == h.ID }) {
		t.Errorf("new driver's List lacks %s", h.ID)
	}
}

// testExitWhileDown: the sandbox ends while no driver watches it; a new
// driver adopts the handle and still learns the exit code.
func (s *suite) testExitWhileDown(t *testing.T) {
	e := s.setup(t)
	h := s.run(e, s.spec(e, Program{Sleep: 200 * time.Millisecond, ExitCode: 7, Stdout: []string{"bye"}}))
	time.Sleep(700 * time.Millisecond)
	d2 := s.h.NewDriver(t, e.dir)
	if err := d2.Adopt(e.ctx, h); err != nil {
		t.Fatalf("Adopt: %v", err)
	}
	st, err := d2.Wait(e.ctx, h)
	if err != nil {
		t.Fatalf("Wait after adopt: %v", err)
	}
	if st.ExitCode != 7 {
		t.Errorf("exit status %+v, want 7", st)
	}
}

func (s *suite) testAdoptRunning(t *testing.T) {
	e := s.setup(t)
	h := s.run(e, s.spec(e, Program{Sleep: 1500 * time.Millisecond, ExitCode: 4}))
	d2 := s.h.NewDriver(t, e.dir)
	if err := d2.Adopt(e.ctx, h); err != nil {
		t.Fatalf("Adopt: %v", err)
	}
	st, err := d2.Wait(e.ctx, h)
	if err != nil {
		t.Fatalf("Wait on adopted sandbox: %v", err)
	}
	if st.ExitCode != 4 {
		t.Errorf("exit status %+v, want 4", st)
	}
	bogus := *h
	bogus.ID = "never-made"
	if err := d2.Adopt(e.ctx, &bogus); !errors.Is(err, sandbox.ErrNotFound) {
		t.Errorf("Adopt of an unknown sandbox: %v, want ErrNotFound", err)
	}
}

func (s *suite) testEnvAndWorkDir(t *testing.T) {
	e := s.setup(t)
	spec := s.spec(e, Program{})
	spec.Command = []string{"sh", "-c", `echo "foo=$FOO"; pwd`}
	spec.Env = []string{"FOO=bar baz"}
	spec.WorkDir = "/tmp"
	h := s.run(e, spec)
	if st := s.wait(e, h); st.ExitCode != 0 {
		t.Fatalf("exit %+v", st)
	}
	recs, err := sandboxlog.ReadFile(spec.Log.Path)
	if err != nil {
		t.Fatal(err)
	}
	got := strings.Join(sandboxlog.Lines(recs, sandboxlog.Stdout), "|")
	if got != "foo=bar baz|/tmp" {
		t.Errorf("output %q", got)
	}
}

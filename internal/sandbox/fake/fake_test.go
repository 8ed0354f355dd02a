package fake

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/nimbus-dev/nimbus/internal/sandbox"
	"github.com/nimbus-dev/nimbus/internal/sandbox/sandboxtest"
)

func TestContract(t *testing.T) {
	hosts := map[string]*Host{}
	sandboxtest.Run(t, sandboxtest.Harness{
		NewDriver: func(t *testing.T, dir string) sandbox.Driver {
			if hosts[dir] == nil {
				hosts[dir] = NewHost()
			}
			return New(WithHost(hosts[dir]))
		},
		Command: func(p sandboxtest.Program) []string {
			return Command(Behavior{Stdout: p.Stdout, Stderr: p.Stderr, Duration: p.Sleep, ExitCode: p.ExitCode, IgnoreTERM: true})
		},
		RootFS: func(t *testing.T) sandbox.RootFS { return sandbox.RootFS{ImageDir: "/nonexistent"} },
	})
}

func TestScriptedBehaviour(t *testing.T) {
	d := New(WithScript(func(spec sandbox.Spec) Behavior {
		if spec.Labels["fail"] == "start" {
			return Behavior{StartError: errors.New("image pull failed")}
		}
		return Behavior{Duration: 10 * time.Millisecond, OOMKilled: true, Stats: sandbox.Stats{MemoryBytes: 42}}
	}))
	ctx := context.Background()
	spec := sandbox.Spec{ID: "a", Command: []string{"anything"}, Log: sandbox.LogSink{Path: t.TempDir() + "/a.log"}}
	h, err := d.Create(ctx, spec)
	if err != nil {
		t.Fatal(err)
	}
	if err := d.Start(ctx, h); err != nil {
		t.Fatal(err)
	}
	if st, err := d.Stats(ctx, h); err != nil || st.MemoryBytes != 42 {
		t.Errorf("Stats %+v %v", st, err)
	}
	st, err := d.Wait(ctx, h)
	if err != nil || !st.OOMKilled || st.ExitCode != 137 {
		t.Errorf("Wait %+v %v, want OOM kill", st, err)
	}
	spec.ID, spec.Labels = "b", map[string]string{"fail": "start"}
	h, _ = d.Create(ctx, spec)
	if err := d.Start(ctx, h); err == nil || err.Error() != "start sandbox b: image pull failed" {
		t.Errorf("scripted start failure: %v", err)
	}
}

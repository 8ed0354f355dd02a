package substrate

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/nimbus-dev/nimbus/internal/sandbox"
	"github.com/nimbus-dev/nimbus/internal/sandbox/fake"
)

func TestLabelSetsRemovesAndPersists(t *testing.T) {
	env := newFakeEnv(t)
	h := env.open(t)
	ctx := context.Background()
	rs := env.spec(fake.Behavior{Duration: fake.Forever})
	rs.Labels = map[string]string{"spare": "true"}
	sb, err := h.Run(ctx, rs)
	if err != nil {
		t.Fatal(err)
	}
	if err := h.Label(ctx, sb.ID, map[string]string{"fn": "a", "spare": ""}); err != nil {
		t.Fatalf("Label: %v", err)
	}
	got, err := h.List(ctx, map[string]string{"fn": "a"})
	if err != nil || len(got) != 1 || got[0].ID != sb.ID || got[0].Labels["spare"] != "" || got[0].Labels[LabelKind] != "batch-job" {
		t.Fatalf("List by the new label: %+v, %v", got, err)
	}
	if err := h.Label(ctx, sb.ID, map[string]string{LabelAccount: "999999999999"}); !errors.Is(err, ErrInvalid) {
		t.Errorf("Label of an owner label: %v; want ErrInvalid", err)
	}
	if err := h.Label(ctx, "sb-missing", map[string]string{"fn": "b"}); !errors.Is(err, ErrNotFound) {
		t.Errorf("Label of an unknown sandbox: %v; want ErrNotFound", err)
	}
	// The labels are in the record: a restarted Host has them.
	h.Close()
	h2 := env.open(t)
	if got, err := h2.List(ctx, map[string]string{"fn": "a"}); err != nil || len(got) != 1 {
		t.Errorf("after a restart: %+v, %v", got, err)
	}
	// And the exit watcher still records the exit of a labelled sandbox.
	if err := h2.Stop(ctx, sb.ID, time.Second); err != nil {
		t.Fatalf("Stop: %v", err)
	}
	if got, _ := h2.Get(ctx, sb.ID); got.Exit == nil || got.Labels["fn"] != "a" {
		t.Errorf("after Stop: %+v", got)
	}
	if err := h2.Delete(ctx, sb.ID); err != nil {
		t.Fatal(err)
	}
}

func TestInjectMountUnsupportedByFakeDriver(t *testing.T) {
	env := newFakeEnv(t)
	h := env.open(t)
	ctx := context.Background()
	sb, err := h.Run(ctx, env.spec(fake.Behavior{Duration: fake.Forever}))
	if err != nil {
		t.Fatal(err)
	}
	defer h.Delete(ctx, sb.ID)
	if err := h.InjectMount(ctx, sb.ID, t.TempDir(), "/data", sandbox.InjectOptions{ReadOnly: true}); !errors.Is(err, ErrUnsupported) {
		t.Errorf("InjectMount on the fake driver: %v; want ErrUnsupported", err)
	}
}

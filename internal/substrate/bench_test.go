package substrate

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/nimbus-dev/nimbus/internal/network"
	"github.com/nimbus-dev/nimbus/internal/sandbox"
	"github.com/nimbus-dev/nimbus/internal/sandbox/oci"
	"github.com/nimbus-dev/nimbus/internal/store/sqlitestore"
)

// BenchmarkRunTrue measures Run+Wait+Delete of /bin/true from the cached
// busybox image through the Host, next to the same work one layer down (the
// driver alone) and the runtime binary alone on an equivalent bundle, so
// nimbus's own overhead is visible. The store commits with fsync, as in
// production. crun is reported as skipped where it refuses this host's
// cgroup layout.
func BenchmarkRunTrue(b *testing.B) {
	for _, rt := range []string{"runc", "crun"} {
		b.Run(rt, func(b *testing.B) {
			if _, err := exec.LookPath(rt); err != nil {
				b.Skipf("%s is not installed", rt)
			}
			env := newOCIEnv(b)
			env.Runtime, env.Fsync = rt, true
			h := openForBench(b, env)
			img, err := h.Images().Get(context.Background(), "busybox")
			if err != nil {
				b.Fatal(err)
			}
			b.Run("bare-runtime", func(b *testing.B) { benchBareRuntime(b, rt, img.RootDir) })
			b.Run("driver", func(b *testing.B) { benchDriver(b, h.Driver(), h.logDir, img.RootDir) })
			b.Run("host", func(b *testing.B) { benchHost(b, h, "") })
			b.Run("host+network", func(b *testing.B) { benchHost(b, h, env.NetName) })
			b.Run("network-attach-detach", func(b *testing.B) { benchAttach(b, h.Network(), env.NetName) })
			b.StopTimer()
			env.requireNoLeaks(b)
		})
	}
}

func openForBench(b *testing.B, env *ociEnv) *Host {
	b.Helper()
	if err := oci.TryRuntime(context.Background(), env.Runtime); err != nil {
		b.Skipf("%s cannot run containers on this host: %v", env.Runtime, err)
	}
	h := env.open(b)
	ensureBusybox(b, h)
	return h
}

func benchHost(b *testing.B, h *Host, net string) {
	ctx := context.Background()
	rs := RunSpec{Owner: testOwner, Image: "busybox", Command: []string{"/bin/true"}, Network: net}
	for i := 0; b.Loop(); i++ {
		rs.ID = fmt.Sprintf("bench-%d", i)
		if _, err := h.Run(ctx, rs); err != nil {
			b.Fatal(err)
		}
		if st, err := h.Wait(ctx, rs.ID); err != nil || st.ExitCode != 0 {
			b.Fatalf("Wait: %+v, %v", st, err)
		}
		if err := h.Delete(ctx, rs.ID); err != nil {
			b.Fatal(err)
		}
	}
}

func benchDriver(b *testing.B, d sandbox.Driver, logDir, root string) {
	ctx := context.Background()
	for i := 0; b.Loop(); i++ {
		id := fmt.Sprintf("drv-%d", i)
		h, err := d.Create(ctx, sandbox.Spec{ID: id, RootFS: sandbox.RootFS{ImageDir: root}, Command: []string{"/bin/true"},
			Log: sandbox.LogSink{Path: filepath.Join(logDir, id+".log")}})
		if err != nil {
			b.Fatal(err)
		}
		if err := d.Start(ctx, h); err != nil {
			b.Fatal(err)
		}
		if _, err := d.Wait(ctx, h); err != nil {
			b.Fatal(err)
		}
		if err := d.Delete(ctx, h); err != nil {
			b.Fatal(err)
		}
		os.Remove(filepath.Join(logDir, id+".log"))
	}
}

func benchAttach(b *testing.B, m *network.Manager, net string) {
	ctx := context.Background()
	for i := 0; b.Loop(); i++ {
		id := fmt.Sprintf("att-%d", i)
		if _, err := m.Attach(ctx, id, net, network.AttachOptions{}); err != nil {
			b.Fatal(err)
		}
		if err := m.Detach(ctx, id); err != nil {
			b.Fatal(err)
		}
	}
}

// benchBareRuntime runs `<runtime> run` in the foreground on a bundle whose
// root is the image root itself, read-only: no overlay, no shim, no store,
// no log capture. That is the floor nimbus is compared against.
func benchBareRuntime(b *testing.B, rt, root string) {
	dir := b.TempDir()
	if out, err := exec.Command("runc", "spec", "--bundle", dir).CombinedOutput(); err != nil {
		b.Fatalf("runc spec: %v: %s", err, out)
	}
	var spec map[string]any
	cfgPath := filepath.Join(dir, "config.json")
	raw, err := os.ReadFile(cfgPath)
	if err != nil {
		b.Fatal(err)
	}
	if err := json.Unmarshal(raw, &spec); err != nil {
		b.Fatal(err)
	}
	spec["root"] = map[string]any{"path": root, "readonly": true}
	proc := spec["process"].(map[string]any)
	proc["args"], proc["terminal"] = []string{"/bin/true"}, false
	raw, _ = json.Marshal(spec)
	if err := os.WriteFile(cfgPath, raw, 0o644); err != nil {
		b.Fatal(err)
	}
	stateRoot := filepath.Join(dir, "state")
	for i := 0; b.Loop(); i++ {
		out, err := exec.Command(rt, "--root", stateRoot, "run", "--bundle", dir, fmt.Sprintf("bare-%d", i)).CombinedOutput()
		if err != nil {
			b.Fatalf("%s run: %v: %s", rt, err, out)
		}
	}
}

// BenchmarkHostBookkeeping is Run+Wait+Delete through the Host over the fake
// driver: the Host's own cost (four durable store commits, the log file,
// the exit watcher) without any sandbox work.
func BenchmarkHostBookkeeping(b *testing.B) {
	for _, fsync := range []bool{true, false} {
		b.Run(fmt.Sprintf("fsync=%v", fsync), func(b *testing.B) {
			var opts []sqlitestore.Option
			if !fsync {
				opts = append(opts, sqlitestore.WithoutFsync())
			}
			st, err := sqlitestore.Open(context.Background(), filepath.Join(b.TempDir(), "nimbus.db"), opts...)
			if err != nil {
				b.Fatal(err)
			}
			defer st.Close()
			h, err := Open(context.Background(), Options{DataDir: b.TempDir(), Store: st, Driver: DriverFake})
			if err != nil {
				b.Fatal(err)
			}
			defer h.Close()
			ctx := context.Background()
			rs := RunSpec{Owner: testOwner, RootDir: b.TempDir(), Command: []string{"/bin/true"}}
			for i := 0; b.Loop(); i++ {
				rs.ID = fmt.Sprintf("bench-%d", i)
				if _, err := h.Run(ctx, rs); err != nil {
					b.Fatal(err)
				}
				if _, err := h.Wait(ctx, rs.ID); err != nil {
					b.Fatal(err)
				}
				if err := h.Delete(ctx, rs.ID); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

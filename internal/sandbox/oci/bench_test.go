package oci

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	goruntime "runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/nimbus-dev/nimbus/internal/sandbox"
	"github.com/nimbus-dev/nimbus/internal/sandbox/sandboxtest"
)

// benchRuntimes are the runtimes benchmarked side by side; one that cannot
// run on this host is skipped with the probe's reason.
var benchRuntimes = []string{RuntimeRunc, RuntimeCrun}

func benchDriver(b *testing.B, name string) (*Driver, string) {
	requireRuntime(b, name)
	path, _ := exec.LookPath(name)
	if err := probeRuntime(context.Background(), runtime{name: name, path: path}, DetectCgroupMode()); err != nil {
		b.Skip(err)
	}
	dir := b.TempDir()
	return newTestDriver(b, dir, WithRuntime(name)), dir
}

// BenchmarkSandboxTrue: nimbus's Create+Start+Wait+Delete of /bin/true from
// a prepared root (overlay mount, shim, runtime create/start/delete).
func BenchmarkSandboxTrue(b *testing.B) {
	for _, name := range benchRuntimes {
		b.Run(name, func(b *testing.B) {
			d, dir := benchDriver(b, name)
			root := sandboxtest.BusyboxRoot(b)
			ctx := context.Background()
			i := 0
			for b.Loop() {
				i++
				id := fmt.Sprintf("bench-%d", i)
				h, err := d.Create(ctx, sandbox.Spec{
					ID: id, RootFS: sandbox.RootFS{ImageDir: root}, Command: []string{"/bin/true"},
					Log: sandbox.LogSink{Path: filepath.Join(dir, "logs", id)},
				})
				if err != nil {
					b.Fatal(err)
				}
				if err := d.Start(ctx, h); err != nil {
					b.Fatal(err)
				}
				if st, err := d.Wait(ctx, h); err != nil || st.ExitCode != 0 {
					b.Fatalf("wait: %+v %v", st, err)
				}
				if err := d.Delete(ctx, h); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// benchBundle writes the same config nimbus would, with the root used
// directly (the bare runtime has no overlay), and returns the bundle dir.
func benchBundle(b *testing.B, mode CgroupMode) string {
	root := sandboxtest.BusyboxRoot(b)
	bundle := b.TempDir()
	s, err := buildSpec(sandbox.Spec{ID: "bare", Command: []string{"/bin/true"}}, root, mode, nil)
	if err != nil {
		b.Fatal(err)
	}
	if err := writeJSONAtomic(filepath.Join(bundle, "config.json"), s); err != nil {
		b.Fatal(err)
	}
	return bundle
}

// BenchmarkBareRuntimeRun: `runc run` of the same bundle, the floor.
func BenchmarkBareRuntimeRun(b *testing.B) {
	for _, name := range benchRuntimes {
		b.Run(name, func(b *testing.B) {
			d, _ := benchDriver(b, name)
			bundle := benchBundle(b, d.mode)
			for b.Loop() {
				cmd := exec.Command(d.rt.path, "--root", d.rt.root, "run", "--bundle", bundle, "bare")
				if out, err := cmd.CombinedOutput(); err != nil {
					b.Fatalf("%s run: %v %s", name, err, out)
				}
			}
		})
	}
}

// BenchmarkBareRuntimeCreateStartDelete: the runtime's own create, start,
// wait and delete, i.e. the detached lifecycle nimbus needs, without nimbus.
func BenchmarkBareRuntimeCreateStartDelete(b *testing.B) {
	for _, name := range benchRuntimes {
		b.Run(name, func(b *testing.B) {
			d, _ := benchDriver(b, name)
			bundle := benchBundle(b, d.mode)
			pidFile := filepath.Join(bundle, "pid")
			devnull, _ := os.OpenFile(os.DevNull, os.O_RDWR, 0)
			defer devnull.Close()
			ctx := context.Background()
			for b.Loop() {
				cmd := exec.Command(d.rt.path, "--root", d.rt.root, "create", "--bundle", bundle, "--pid-file", pidFile, "bare")
				cmd.Stdin, cmd.Stdout, cmd.Stderr = devnull, devnull, devnull
				if err := cmd.Run(); err != nil {
					b.Fatalf("create: %v", err)
				}
				pb, _ := os.ReadFile(pidFile)
				pid, _ := strconv.Atoi(strings.TrimSpace(string(pb)))
				if err := d.rt.start(ctx, "bare"); err != nil {
					b.Fatal(err)
				}
				if err := waitPidExit(ctx, pid); err != nil {
					b.Fatal(err)
				}
				if err := d.rt.deleteForce(ctx, "bare"); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkIdleSandboxMemory starts 50 idle sandboxes and reports how much
// the resident memory of this (the nimbus) process grew per sandbox, and the
// average resident memory of a shim, which is a separate process.
func BenchmarkIdleSandboxMemory(b *testing.B) {
	const count = 50
	d, dir := benchDriver(b, RuntimeRunc)
	root := sandboxtest.BusyboxRoot(b)
	ctx := context.Background()
	for b.Loop() {
		before := settledRSS()
		handles := make([]*sandbox.Handle, 0, count)
		for i := 0; i < count; i++ {
			id := fmt.Sprintf("idle-%d", i)
			h, err := d.Create(ctx, sandbox.Spec{
				ID: id, RootFS: sandbox.RootFS{ImageDir: root}, Command: []string{"sleep", "600"},
				Log: sandbox.LogSink{Path: filepath.Join(dir, "logs", id)},
			})
			if err != nil {
				b.Fatal(err)
			}
			if err := d.Start(ctx, h); err != nil {
				b.Fatal(err)
			}
			handles = append(handles, h)
		}
		after := settledRSS()
		var shimRSS int64
		for _, h := range handles {
			pid, _ := readShimPid(d.sandboxDir(h.ID))
			shimRSS += rssOf(pid)
		}
		b.ReportMetric(float64(after-before)/count, "nimbus-RSS-B/sandbox")
		b.ReportMetric(float64(shimRSS)/count, "shim-RSS-B")
		b.StopTimer()
		for _, h := range handles {
			if err := d.Delete(ctx, h); err != nil {
				b.Fatal(err)
			}
		}
		b.StartTimer()
	}
}

func settledRSS() int64 {
	goruntime.GC()
	debug.FreeOSMemory()
	time.Sleep(50 * time.Millisecond)
	return rssOf(os.Getpid())
}

// rssOf reads VmRSS from /proc/pid/status, in bytes.
func rssOf(pid int) int64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			kb, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			return kb << 10
		}
	}
	return 0
}

// BenchmarkNimbusOverhead alternates, in each iteration, the bare runtime's
// create/start/wait/delete and nimbus's Create/Start/Wait/Delete of the same
// /bin/true, and reports both means and their difference, so that load on a
// shared machine weighs on both alike.
func BenchmarkNimbusOverhead(b *testing.B) {
	for _, name := range benchRuntimes {
		b.Run(name, func(b *testing.B) {
			d, dir := benchDriver(b, name)
			bundle := benchBundle(b, d.mode)
			root := sandboxtest.BusyboxRoot(b)
			pidFile := filepath.Join(bundle, "pid")
			devnull, _ := os.OpenFile(os.DevNull, os.O_RDWR, 0)
			defer devnull.Close()
			ctx := context.Background()
			var bare, nimbus time.Duration
			i := 0
			for b.Loop() {
				i++
				t0 := time.Now()
				cmd := exec.Command(d.rt.path, "--root", d.rt.root, "create", "--bundle", bundle, "--pid-file", pidFile, "bare")
				cmd.Stdin, cmd.Stdout, cmd.Stderr = devnull, devnull, devnull
				if err := cmd.Run(); err != nil {
					b.Fatalf("create: %v", err)
				}
				pb, _ := os.ReadFile(pidFile)
				pid, _ := strconv.Atoi(strings.TrimSpace(string(pb)))
				if err := d.rt.start(ctx, "bare"); err != nil {
					b.Fatal(err)
				}
				if err := waitPidExit(ctx, pid); err != nil {
					b.Fatal(err)
				}
				if err := d.rt.deleteForce(ctx, "bare"); err != nil {
					b.Fatal(err)
				}
				t1 := time.Now()
				id := fmt.Sprintf("ovh-%d", i)
				h, err := d.Create(ctx, sandbox.Spec{
					ID: id, RootFS: sandbox.RootFS{ImageDir: root}, Command: []string{"/bin/true"},
					Log: sandbox.LogSink{Path: filepath.Join(dir, "logs", id)},
				})
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
				bare += t1.Sub(t0)
				nimbus += time.Since(t1)
			}
			n := float64(b.N)
			b.ReportMetric(float64(bare.Milliseconds())/n, "bare-ms")
			b.ReportMetric(float64(nimbus.Milliseconds())/n, "nimbus-ms")
			b.ReportMetric(float64((nimbus-bare).Milliseconds())/n, "overhead-ms")
		})
	}
}

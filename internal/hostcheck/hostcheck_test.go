package hostcheck

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/nimbus-dev/nimbus/internal/sandbox/oci"
)

func TestChooseDriver(t *testing.T) {
	runc := Runtime{Name: "runc", Works: true}
	crun := Runtime{Name: "crun", Works: true}
	brokenCrun := Runtime{Name: "crun", Why: "refuses hybrid"}
	brokenRunc := Runtime{Name: "runc", Why: "not installed"}
	cases := []struct {
		name        string
		r           Report
		driver, rt  string
		reasonHints []string
	}{
		{"not root", Report{Root: false, Overlay: true, Runtimes: []Runtime{runc, crun}}, "process", "", []string{"not running as root"}},
		{"no overlay", Report{Root: true, Runtimes: []Runtime{runc}}, "process", "", []string{"overlayfs"}},
		{"crun preferred", Report{Root: true, Overlay: true, Runtimes: []Runtime{runc, crun}}, "oci", "crun", []string{"crun works"}},
		{"crun broken", Report{Root: true, Overlay: true, Runtimes: []Runtime{runc, brokenCrun}}, "oci", "runc", []string{"runc works", "refuses hybrid"}},
		{"nothing works", Report{Root: true, Overlay: true, Runtimes: []Runtime{brokenRunc, brokenCrun}}, "process", "", []string{"no working OCI runtime", "not installed"}},
	}
	for _, c := range cases {
		got := ChooseDriver(c.r)
		if got.Name != c.driver || got.Runtime != c.rt {
			t.Errorf("%s: got %s/%s, want %s/%s", c.name, got.Name, got.Runtime, c.driver, c.rt)
		}
		for _, h := range c.reasonHints {
			if !strings.Contains(got.Reason, h) {
				t.Errorf("%s: reason %q lacks %q", c.name, got.Reason, h)
			}
		}
	}
}

func TestProbeMatchesHost(t *testing.T) {
	r := Probe(context.Background())
	if r.Root != (os.Geteuid() == 0) {
		t.Errorf("Root = %v", r.Root)
	}
	if want := string(oci.DetectCgroupMode()); r.Cgroups.Mode != want {
		t.Errorf("cgroup mode %q, oci driver sees %q", r.Cgroups.Mode, want)
	}
	for _, rt := range r.Runtimes {
		_, err := exec.LookPath(rt.Name)
		if (err == nil) != (rt.Path != "") {
			t.Errorf("%s: path %q but LookPath err %v", rt.Name, rt.Path, err)
		}
		if rt.Path != "" && rt.Version == "" {
			t.Errorf("%s: no version", rt.Name)
		}
	}
	if _, err := os.Stat("/usr/lib/cni/bridge"); err == nil && r.CNI.Dir != "/usr/lib/cni" {
		t.Errorf("CNI dir %q though /usr/lib/cni/bridge exists", r.CNI.Dir)
	}
	var buf bytes.Buffer
	if err := r.Write(&buf); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"runc", "crun", "cgroups", "CNI plugins", "nftables", "overlayfs", "KVM", "GPUs", "debootstrap", "busybox-static", "sandbox driver: " + r.Driver.Name} {
		if !strings.Contains(buf.String(), want) {
			t.Errorf("report lacks %q:\n%s", want, buf.String())
		}
	}
	t.Logf("\n%s", buf.String())
}

// TestStaticRuntimeVerdictMatchesTrial: Probe's quick verdict on each
// runtime agrees with really creating a container.
func TestStaticRuntimeVerdictMatchesTrial(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to create containers")
	}
	quick := Probe(context.Background())
	deep := Probe(context.Background(), WithRuntimeTrial(oci.TryRuntime))
	for i, rt := range quick.Runtimes {
		if rt.Path == "" {
			continue
		}
		if rt.Works != deep.Runtimes[i].Works {
			t.Errorf("%s: quick verdict works=%v (%s), trial works=%v (%s)", rt.Name, rt.Works, rt.Why, deep.Runtimes[i].Works, deep.Runtimes[i].Why)
		}
	}
	if quick.Driver.Name != deep.Driver.Name || quick.Driver.Runtime != deep.Driver.Runtime {
		t.Errorf("driver choice differs: quick %+v, trial %+v", quick.Driver, deep.Driver)
	}
}

func BenchmarkProbe(b *testing.B) {
	for b.Loop() {
		Probe(context.Background())
	}
}

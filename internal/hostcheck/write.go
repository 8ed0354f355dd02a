package hostcheck

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
)

// Write prints the report for people, one check a line.
func (r Report) Write(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	line := func(name string, ok bool, detail string) {
		mark := "ok"
		if !ok {
			mark = "--"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\n", mark, name, detail)
	}
	line("root", r.Root, yesNo(r.Root, "running as root", "not root"))
	line("CAP_SYS_RESOURCE", r.CapSysResource, yesNo(r.CapSysResource, "rlimits can be raised", "rlimit hard limits can only be lowered"))
	for _, rt := range r.Runtimes {
		detail := rt.Why
		if rt.Path != "" {
			detail = fmt.Sprintf("%s %s at %s: %s", rt.Name, rt.Version, rt.Path, rt.Why)
		}
		line(rt.Name, rt.Works, detail)
	}
	cgDetail := fmt.Sprintf("%s; controllers %s", r.Cgroups.Mode, strings.Join(r.Cgroups.Controllers, ","))
	if r.Cgroups.Mode == "hybrid" {
		cgDetail += fmt.Sprintf("; cgroup2 mount offers [%s]", strings.Join(r.Cgroups.Unified, ","))
	}
	line("cgroups", len(r.Cgroups.Controllers) > 0, cgDetail)
	cniDetail := "no plugins in " + strings.Join(CNIDirs, " or ")
	if r.CNI.Dir != "" {
		cniDetail = fmt.Sprintf("%d plugins in %s", len(r.CNI.Plugins), r.CNI.Dir)
		if len(r.CNI.Missing) > 0 {
			cniDetail += "; missing " + strings.Join(r.CNI.Missing, ",")
		}
	}
	line("CNI plugins", r.CNI.Dir != "" && len(r.CNI.Missing) == 0, cniDetail)
	line("nftables", r.Nft.Usable, toolDetail("nft", r.Nft))
	line("overlayfs", r.Overlay, yesNo(r.Overlay, "supported", "not in /proc/filesystems"))
	line("loop devices", r.Loop.Control, fmt.Sprintf("loop-control %s, %d devices", yesNo(r.Loop.Control, "present", "absent"), r.Loop.Devices))
	kvmDetail := r.KVM.Why
	if r.KVM.APIVersion > 0 {
		kvmDetail = fmt.Sprintf("API %d; %s", r.KVM.APIVersion, r.KVM.Why)
	}
	if r.KVM.Nested {
		kvmDetail += " (this host is a guest)"
	}
	line("KVM", r.KVM.Usable, kvmDetail)
	gpus := "none: sandboxes that ask for GPUs cannot run here"
	if len(r.GPUs) > 0 {
		gpus = fmt.Sprintf("%d (%s)", len(r.GPUs), strings.Join(r.GPUs, " "))
	}
	line("GPUs", len(r.GPUs) > 0, gpus)
	line("debootstrap", r.Debootstrap.Usable, toolDetail("debootstrap", r.Debootstrap))
	line("busybox-static", r.BusyboxStatic.Usable, toolDetail("busybox", r.BusyboxStatic))
	driver := r.Driver.Name
	if r.Driver.Runtime != "" {
		driver += "/" + r.Driver.Runtime
	}
	fmt.Fprintf(tw, "\nsandbox driver: %s: %s\n", driver, r.Driver.Reason)
	fmt.Fprintf(tw, "probed in %s\n", r.Took.Round(1e6))
	return tw.Flush()
}

func toolDetail(name string, t Tool) string {
	if t.Path == "" {
		return t.Why
	}
	d := t.Path
	if t.Version != "" {
		d += " " + t.Version
	}
	if t.Why != "" {
		d += ": " + t.Why
	}
	return d
}

func yesNo(b bool, yes, no string) string {
	if b {
		return yes
	}
	return no
}

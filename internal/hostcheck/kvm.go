package hostcheck

import (
	"fmt"
	"os"
	"strings"

	"golang.org/x/sys/unix"
)

// kvmGetAPIVersion is KVM_GET_API_VERSION, _IO(KVMIO=0xAE, 0x00).
const kvmGetAPIVersion = 0xAE00

// kvmStableAPIVersion is the only KVM API version there has ever been.
const kvmStableAPIVersion = 12

// probeKVM opens /dev/kvm and asks its API version. A /dev/kvm on a guest
// whose CPU shows no vmx/svm flag is a software implementation (nested
// emulation such as PVM), too slow to be the default even when it answers.
func probeKVM() KVM {
	k := KVM{}
	flags := cpuFlags()
	k.Nested = flags["hypervisor"]
	hardware := flags["vmx"] || flags["svm"]
	f, err := os.OpenFile("/dev/kvm", os.O_RDWR|unix.O_CLOEXEC, 0)
	if err != nil {
		if os.IsNotExist(err) {
			k.Why = "no /dev/kvm"
		} else {
			k.Present = true
			k.Why = fmt.Sprintf("cannot open /dev/kvm: %v", err)
		}
		return k
	}
	defer f.Close()
	k.Present = true
	v, err := unix.IoctlRetInt(int(f.Fd()), kvmGetAPIVersion)
	if err != nil {
		k.Why = fmt.Sprintf("KVM_GET_API_VERSION: %v", err)
		return k
	}
	k.APIVersion = v
	switch {
	case v != kvmStableAPIVersion:
		k.Why = fmt.Sprintf("unexpected KVM API version %d", v)
	case !hardware:
		k.Why = "the CPU shows no vmx/svm: /dev/kvm is software (nested) virtualization, too slow to use"
	default:
		k.Usable = true
		if k.Nested {
			k.Why = "nested hardware virtualization"
		} else {
			k.Why = "hardware virtualization"
		}
	}
	return k
}

func cpuFlags() map[string]bool {
	b, err := os.ReadFile("/proc/cpuinfo")
	if err != nil {
		return nil
	}
	flags := map[string]bool{}
	for _, line := range strings.Split(string(b), "\n") {
		if key, val, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(key) == "flags" {
			for _, f := range strings.Fields(val) {
				flags[f] = true
			}
			break
		}
	}
	return flags
}

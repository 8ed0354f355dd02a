package volume

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// loFlagsAutoclear makes the kernel free a loop device when its last user
// (the mount) goes away; x/sys/unix does not name it.
const loFlagsAutoclear = 4

// attachLoop binds image to a free loop device with autoclear set and
// returns the device path and an open handle on it. LOOP_CONFIGURE does it
// in one ioctl; kernels before 5.8 get LOOP_SET_FD then LOOP_SET_STATUS64.
// Autoclear frees the device on its last close, so the caller keeps the
// handle open until the device is mounted and then closes it.
func attachLoop(image string) (string, *os.File, error) {
	backing, err := os.OpenFile(image, os.O_RDWR, 0)
	if err != nil {
		return "", nil, fmt.Errorf("open image %s: %w", image, err)
	}
	defer backing.Close()
	ctl, err := os.OpenFile("/dev/loop-control", os.O_RDWR, 0)
	if err != nil {
		return "", nil, fmt.Errorf("open loop-control: %w", err)
	}
	defer ctl.Close()

	// Another process may take the free device between GET_FREE and
	// configuring it (EBUSY); ask again.
	for attempt := 0; attempt < 10; attempt++ {
		n, err := unix.IoctlRetInt(int(ctl.Fd()), unix.LOOP_CTL_GET_FREE)
		if err != nil {
			return "", nil, fmt.Errorf("find a free loop device: %w", err)
		}
		dev := fmt.Sprintf("/dev/loop%d", n)
		if err := ensureLoopNode(dev, n); err != nil {
			return "", nil, err
		}
		lf, err := os.OpenFile(dev, os.O_RDWR, 0)
		if err != nil {
			return "", nil, fmt.Errorf("open %s: %w", dev, err)
		}
		err = configureLoop(lf, backing, image)
		if errors.Is(err, unix.EBUSY) {
			lf.Close()
			continue
		}
		if err != nil {
			lf.Close()
			return "", nil, err
		}
		return dev, lf, nil
	}
	return "", nil, fmt.Errorf("attach %s to a loop device: every free device was taken first: %w", image, ErrBusy)
}

// ensureLoopNode creates /dev/loopN when the device manager has not.
func ensureLoopNode(dev string, n int) error {
	if _, err := os.Stat(dev); err == nil {
		return nil
	}
	if err := unix.Mknod(dev, unix.S_IFBLK|0o660, int(unix.Mkdev(7, uint32(n)))); err != nil && !errors.Is(err, unix.EEXIST) {
		return fmt.Errorf("create %s: %w", dev, err)
	}
	return nil
}

func configureLoop(lf *os.File, backing *os.File, image string) error {
	dev := lf.Name()
	var info unix.LoopInfo64
	info.Flags = loFlagsAutoclear
	copy(info.File_name[:len(info.File_name)-1], image)
	err := unix.IoctlLoopConfigure(int(lf.Fd()), &unix.LoopConfig{Fd: uint32(backing.Fd()), Info: info})
	if err == nil {
		return nil
	}
	if !errors.Is(err, unix.EINVAL) && !errors.Is(err, unix.ENOTTY) {
		return fmt.Errorf("configure %s for %s: %w", dev, image, err)
	}
	if err := unix.IoctlSetInt(int(lf.Fd()), unix.LOOP_SET_FD, int(backing.Fd())); err != nil {
		return fmt.Errorf("set %s backing file %s: %w", dev, image, err)
	}
	if err := unix.IoctlLoopSetStatus64(int(lf.Fd()), &info); err != nil {
		unix.IoctlSetInt(int(lf.Fd()), unix.LOOP_CLR_FD, 0)
		return fmt.Errorf("set %s status: %w", dev, err)
	}
	return nil
}

// detachLoop frees a loop device; one already free is not an error.
func detachLoop(dev string) error {
	lf, err := os.OpenFile(dev, os.O_RDWR, 0)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil
		}
		return fmt.Errorf("open %s: %w", dev, err)
	}
	defer lf.Close()
	if err := unix.IoctlSetInt(int(lf.Fd()), unix.LOOP_CLR_FD, 0); err != nil && !errors.Is(err, unix.ENXIO) {
		return fmt.Errorf("free %s: %w", dev, err)
	}
	return nil
}

// loopDevicesOf lists the loop devices whose backing file is image.
func loopDevicesOf(image string) ([]string, error) {
	files, err := filepath.Glob("/sys/block/loop*/loop/backing_file")
	if err != nil {
		return nil, err
	}
	var out []string
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			continue // the device was freed meanwhile
		}
		if strings.TrimSuffix(strings.TrimSpace(string(b)), " (deleted)") == image {
			out = append(out, "/dev/"+filepath.Base(filepath.Dir(filepath.Dir(f))))
		}
	}
	return out, nil
}

// waitLoopsFreed waits up to patience for autoclear to release image's
// loop devices after an unmount (the kernel does it asynchronously) and
// frees any that stay.
func waitLoopsFreed(image string, patience time.Duration) error {
	deadline := time.Now().Add(patience)
	for {
		devs, err := loopDevicesOf(image)
		if err != nil {
			return fmt.Errorf("list loop devices: %w", err)
		}
		if len(devs) == 0 {
			return nil
		}
		if time.Now().After(deadline) {
			var errs []error
			for _, d := range devs {
				errs = append(errs, detachLoop(d))
			}
			return errors.Join(errs...)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

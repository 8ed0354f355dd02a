package volume

import (
	"os"
	"syscall"
)

// allocatedBytes is the disk space a (sparse) file really uses.
func allocatedBytes(st os.FileInfo) int64 {
	if sys, ok := st.Sys().(*syscall.Stat_t); ok {
		return sys.Blocks * 512
	}
	return st.Size()
}

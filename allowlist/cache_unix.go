//go:build unix

package allowlist

import (
	"fmt"
	"os"
	"syscall"
)

// openCache opens the cache file for reading without following a symbolic
// link and without blocking (a FIFO at the path must not hang the
// refresher), and checks that the process's user owns it.
func openCache(path string) (*os.File, error) {
	f, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NOFOLLOW|syscall.O_NONBLOCK|syscall.O_CLOEXEC, 0)
	if err != nil {
		return nil, err
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, err
	}
	if err := checkCacheMode(fi); err != nil {
		f.Close()
		return nil, err
	}
	if st, ok := fi.Sys().(*syscall.Stat_t); ok && int(st.Uid) != os.Geteuid() {
		f.Close()
		return nil, fmt.Errorf("owned by uid %d, not by this process's %d", st.Uid, os.Geteuid())
	}
	return f, nil
}

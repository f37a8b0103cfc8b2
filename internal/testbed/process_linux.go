package testbed

import "syscall"

// childAttr puts a child in its own process group and kills it with the
// thread that forked it (see startProcess).
func childAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL, Setpgid: true}
}

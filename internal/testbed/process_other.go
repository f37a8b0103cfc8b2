//go:build !linux

package testbed

import "syscall"

// childAttr puts a child in its own process group. Without Linux's
// Pdeathsig a child outlives a test binary that is killed outright; Main's
// interrupt handling still stops it on SIGINT and SIGTERM.
func childAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true}
}

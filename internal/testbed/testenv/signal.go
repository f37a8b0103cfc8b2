package testenv

import (
	"errors"
	"os"
	"os/signal"
	"syscall"
)

// OnInterrupt runs cleanup and exits with status 130 when the test binary is
// interrupted (SIGINT from ^C, SIGTERM), so namespaces and child processes
// do not outlive it. The returned function stops listening.
func OnInterrupt(cleanup func()) (stop func()) {
	ch := make(chan os.Signal, 1)
	signal.Notify(ch, os.Interrupt, syscall.SIGTERM)
	done := make(chan struct{})
	go func() {
		select {
		case sig := <-ch:
			cleanup()
			os.Stderr.WriteString("testbed: interrupted by " + sig.String() + "; cleaned up\n")
			os.Exit(130)
		case <-done:
		}
	}()
	return func() {
		signal.Stop(ch)
		close(done)
	}
}

// PIDAlive reports whether a process with this pid exists, so that a harness
// can sweep what a killed test binary left behind.
func PIDAlive(pid int) bool {
	if pid <= 0 {
		return false
	}
	err := syscall.Kill(pid, 0)
	return err == nil || errors.Is(err, syscall.EPERM)
}

package testbed

import (
	"errors"
	"os"
	"os/signal"
	"syscall"
)

// onInterrupt runs cleanup and exits when the test binary is interrupted
// (SIGINT from ^C, SIGTERM), so namespaces and child processes do not
// outlive it. The returned function stops listening.
func onInterrupt(cleanup func()) (stop func()) {
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

// pidAlive reports whether a process with this pid exists.
func pidAlive(pid int) bool {
	if pid <= 0 {
		return false
	}
	err := syscall.Kill(pid, 0)
	return err == nil || errors.Is(err, syscall.EPERM)
}

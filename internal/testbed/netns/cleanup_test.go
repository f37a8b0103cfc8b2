//go:build linux

package netns

import (
	"bufio"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/originguard/originguard/internal/testbed/testenv"
)

// cleanupChildEnv selects what TestCleanupChild does after making its
// namespace: "fail" or "wait" (to be signalled).
const cleanupChildEnv = "ORIGINGUARD_TESTBED_CLEANUP_CHILD"

// TestCleanupChild runs only as a child of TestNetnsCleanupOnFailureAndInterrupt.
func TestCleanupChild(t *testing.T) {
	mode := os.Getenv(cleanupChildEnv)
	if mode == "" {
		t.Skip("run by TestNetnsCleanupOnFailureAndInterrupt")
	}
	n := New(t, "child")
	os.Stdout.WriteString("NETNS " + n.Name + "\n")
	switch mode {
	case "fail":
		t.Fatal("failing on purpose")
	case "wait":
		time.Sleep(time.Minute)
		t.Fatal("no signal came")
	}
}

// startChild runs TestCleanupChild in a copy of this test binary and returns
// the name of the namespace it made.
func startChild(t *testing.T, mode string) (*exec.Cmd, string) {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestCleanupChild$", "-test.v", "-test.count=1")
	cmd.Env = append(os.Environ(), cleanupChildEnv+"="+mode)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = cmd.Stdout
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	sc := bufio.NewScanner(stdout)
	for sc.Scan() {
		if name, ok := strings.CutPrefix(sc.Text(), "NETNS "); ok {
			go io.Copy(io.Discard, stdout)
			return cmd, name
		}
	}
	cmd.Wait()
	t.Fatal("child made no namespace")
	return nil, ""
}

func netnsExists(name string) bool {
	_, err := os.Stat(filepath.Join(netnsDir, name))
	return !errors.Is(err, os.ErrNotExist)
}

func exitCode(err error) int {
	var exit *exec.ExitError
	if errors.As(err, &exit) {
		return exit.ExitCode()
	}
	if err == nil {
		return 0
	}
	return -1
}

// TestNetnsCleanupOnFailureAndInterrupt shows that a namespace goes away when
// its test fails, when the test binary is interrupted, and, when the binary
// is killed outright, at the next binary's sweep.
func TestNetnsCleanupOnFailureAndInterrupt(t *testing.T) {
	testenv.Require(t, testenv.NeedRoot, testenv.NeedIPRoute)

	t.Run("failed test", func(t *testing.T) {
		cmd, name := startChild(t, "fail")
		if code := exitCode(cmd.Wait()); code != 1 {
			t.Errorf("child exit code %d, want 1 (a failed test)", code)
		}
		if netnsExists(name) {
			t.Errorf("namespace %s left behind by a failed test", name)
		}
	})

	t.Run("interrupted binary", func(t *testing.T) {
		cmd, name := startChild(t, "wait")
		cmd.Process.Signal(os.Interrupt)
		if code := exitCode(cmd.Wait()); code != 130 {
			t.Errorf("child exit code %d, want 130 (interrupted, cleaned up)", code)
		}
		if netnsExists(name) {
			t.Errorf("namespace %s left behind by an interrupted binary", name)
		}
	})

	t.Run("killed binary, swept later", func(t *testing.T) {
		cmd, name := startChild(t, "wait")
		cmd.Process.Signal(syscall.SIGKILL)
		cmd.Wait()
		if !netnsExists(name) {
			t.Fatalf("namespace %s vanished without a sweep; the test proves nothing", name)
		}
		sweepStaleNetns()
		if netnsExists(name) {
			t.Errorf("namespace %s of a killed binary survived the sweep", name)
			runHost("ip", "netns", "delete", name)
		}
	})
}

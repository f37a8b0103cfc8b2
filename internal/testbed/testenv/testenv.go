// Package testenv is what this module's test harnesses share and nothing
// else: the prerequisites a real-component test states ([Require]), where
// the tools are found ([LookPath], [KubeBinaries]) and clean-up on
// interrupt ([OnInterrupt]). It imports only the standard library and builds
// on macOS as well as Linux, so that a harness using it (package netns for network
// namespaces, package testbed for a kube-apiserver) links nothing the other
// needs.
//
// A test states what it needs with [Require]: run by hand without it, the
// test skips with one line saying how to provision; under CI=true it fails,
// so CI never passes by skipping.
package testenv

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// Need is a prerequisite of a real-component test. It is a closed
// vocabulary: the constants below are all there is.
type Need string

// The prerequisites [Require] knows how to check.
const (
	NeedRoot          Need = "root"
	NeedIPTables      Need = "iptables"  // iptables, iptables-restore, iptables-save (legacy or nft flavour)
	NeedIP6Tables     Need = "ip6tables" // ip6tables, ip6tables-restore, ip6tables-save
	NeedIPSet         Need = "ipset"
	NeedNFT           Need = "nft"
	NeedConntrack     Need = "conntrack" // the conntrack tool (Debian package conntrack)
	NeedIPRoute       Need = "ip"
	NeedKubeAPIServer Need = "kube-apiserver" // kube-apiserver and etcd, built by hack/provision.sh
)

// ProvisionHint is what a skipped or failed test tells the user to do about
// a missing tool or binary.
const ProvisionHint = "provision with `sudo bash hack/provision.sh`"

// rootHint is what it says about running as a user other than root.
const rootHint = "run the tests as root"

// sbinDirs are searched after $PATH: a non-login root shell may lack them.
var sbinDirs = []string{"/usr/local/sbin", "/usr/sbin", "/sbin"}

// LookPath finds an executable in $PATH or the sbin directories.
func LookPath(name string) (string, error) {
	if p, err := exec.LookPath(name); err == nil {
		return p, nil
	}
	for _, d := range sbinDirs {
		p := filepath.Join(d, name)
		if fi, err := os.Stat(p); err == nil && fi.Mode().IsRegular() && fi.Mode().Perm()&0o111 != 0 {
			return p, nil
		}
	}
	return "", fmt.Errorf("%q not found in $PATH or %s", name, strings.Join(sbinDirs, ":"))
}

// check reports why need is not met, or nil when it is.
func check(need Need) error {
	var tools []string
	switch need {
	case NeedRoot:
		if os.Geteuid() != 0 {
			return fmt.Errorf("euid is %d", os.Geteuid())
		}
		return nil
	case NeedIPTables:
		tools = []string{"iptables", "iptables-restore", "iptables-save"}
	case NeedIP6Tables:
		tools = []string{"ip6tables", "ip6tables-restore", "ip6tables-save"}
	case NeedIPSet:
		tools = []string{"ipset"}
	case NeedNFT:
		tools = []string{"nft"}
	case NeedConntrack:
		tools = []string{"conntrack"}
	case NeedIPRoute:
		tools = []string{"ip"}
	case NeedKubeAPIServer:
		_, _, err := KubeBinaries()
		return err
	default:
		return fmt.Errorf("unknown need %q", string(need))
	}
	var errs []error
	for _, tool := range tools {
		if _, err := LookPath(tool); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// inCI reports whether $CI says this is a CI run, where a missing
// prerequisite is a failure.
func inCI() bool {
	ci, _ := strconv.ParseBool(os.Getenv("CI"))
	return ci
}

// Require skips the test with one line saying how to provision when a need is
// missing, or fails it when CI=true: under CI a real-component test must
// never pass by skipping.
func Require(t testing.TB, needs ...Need) {
	t.Helper()
	require(t, inCI(), check, needs...)
}

// require is [Require] with the CI switch and the checker injected, so that
// the switch itself can be tested.
func require(t testing.TB, ci bool, check func(Need) error, needs ...Need) {
	t.Helper()
	var missing, hints []string
	for _, n := range needs {
		if err := check(n); err != nil {
			missing = append(missing, fmt.Sprintf("%s (%v)", n, err))
			hint := ProvisionHint
			if n == NeedRoot {
				hint = rootHint
			}
			if !slices.Contains(hints, hint) {
				hints = append(hints, hint)
			}
		}
	}
	if len(missing) == 0 {
		return
	}
	msg := fmt.Sprintf("testbed: missing %s: %s", strings.Join(missing, ", "), strings.Join(hints, " and "))
	msg = strings.ReplaceAll(msg, "\n", "; ")
	if ci {
		t.Fatal(msg + " (CI=true: a missing prerequisite fails the test)")
		return
	}
	t.Skip(msg + " (under CI=true this fails)")
}

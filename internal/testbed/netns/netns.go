//go:build linux

package netns

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/originguard/originguard/internal/testbed/testenv"
)

// Namespace is a network namespace made by [New]. Its zero value is not
// usable. Methods are safe for concurrent use.
type Namespace struct {
	// Name is the namespace's name under /run/netns, unique per test binary
	// and carrying its pid.
	Name string

	mu     sync.Mutex
	nextIf int // index of the next veth made by Link in this namespace
}

// netnsDir is where `ip netns add` bind-mounts named namespaces.
const netnsDir = "/run/netns"

// netnsPrefix starts the name of every namespace this package makes:
// "og<pid>-<seq>-<label>". The pid lets a later run sweep namespaces left by
// a test binary that was killed before it could clean up.
const netnsPrefix = "og"

var (
	netnsSeq   int
	netnsLive  = map[string]bool{} // names made and not yet deleted
	netnsMu    sync.Mutex
	sweepOnce  sync.Once
	labelClean = regexp.MustCompile(`[^A-Za-z0-9_.-]+`)
	staleName  = regexp.MustCompile(`^` + netnsPrefix + `([0-9]+)-`)
)

// cmdTimeout bounds every command run by this package, so a wedged tool
// fails the test instead of hanging the suite.
const cmdTimeout = 60 * time.Second

// New makes a network namespace with loopback up and deletes it when the
// test ends, whether it passed or failed ([Main] also deletes leftovers on
// interrupt, and the first call in a binary sweeps namespaces left by
// binaries that were killed). label only makes the name readable.
// It skips or fails the test as [testenv.Require] does without root or ip.
func New(t testing.TB, label string) *Namespace {
	t.Helper()
	testenv.Require(t, testenv.NeedRoot, testenv.NeedIPRoute)
	sweepOnce.Do(sweepStaleNetns)

	netnsMu.Lock()
	netnsSeq++
	seq := netnsSeq
	netnsMu.Unlock()
	label = labelClean.ReplaceAllString(label, "_")
	name := fmt.Sprintf("%s%d-%d-%s", netnsPrefix, os.Getpid(), seq, label)
	if len(name) > 64 {
		name = name[:64]
	}
	if out, err := runHost("ip", "netns", "add", name); err != nil {
		t.Fatalf("testbed: ip netns add %s: %v\n%s", name, err, out)
	}
	netnsMu.Lock()
	netnsLive[name] = true
	netnsMu.Unlock()
	n := &Namespace{Name: name}
	t.Cleanup(func() {
		if err := deleteNetns(name); err != nil {
			t.Errorf("testbed: %v", err)
		}
	})
	n.MustRun(t, "ip", "link", "set", "lo", "up")
	return n
}

// deleteNetns deletes a namespace this binary made and forgets it.
func deleteNetns(name string) error {
	netnsMu.Lock()
	live := netnsLive[name]
	delete(netnsLive, name)
	netnsMu.Unlock()
	if !live {
		return nil
	}
	if out, err := runHost("ip", "netns", "delete", name); err != nil {
		return fmt.Errorf("ip netns delete %s: %v: %s", name, err, out)
	}
	return nil
}

// deleteAllNetns deletes every namespace this binary made that a test did
// not clean up (for instance because of an interrupt).
func deleteAllNetns() {
	netnsMu.Lock()
	names := make([]string, 0, len(netnsLive))
	for name := range netnsLive {
		names = append(names, name)
	}
	netnsMu.Unlock()
	for _, name := range names {
		_ = deleteNetns(name)
	}
}

// sweepStaleNetns deletes namespaces named by this package whose test
// binary is gone.
func sweepStaleNetns() {
	entries, err := os.ReadDir(netnsDir)
	if err != nil {
		return
	}
	for _, e := range entries {
		m := staleName.FindStringSubmatch(e.Name())
		if m == nil {
			continue
		}
		pid, err := strconv.Atoi(m[1])
		if err != nil || testenv.PIDAlive(pid) {
			continue
		}
		_, _ = runHost("ip", "netns", "delete", e.Name())
	}
}

// runHost runs a command in the test binary's own namespace.
func runHost(name string, args ...string) (string, error) {
	return runCmd("", name, args...)
}

func runCmd(stdin, name string, args ...string) (string, error) {
	path, err := testenv.LookPath(name)
	if err != nil {
		return "", err
	}
	ctx, cancel := context.WithTimeout(context.Background(), cmdTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, path, args...)
	if stdin != "" {
		cmd.Stdin = strings.NewReader(stdin)
	}
	out, err := cmd.CombinedOutput()
	if err != nil {
		return string(out), fmt.Errorf("%s %s: %w", name, strings.Join(args, " "), err)
	}
	return string(out), nil
}

// Run runs a command inside the namespace (through `ip netns exec`) and
// returns its combined output. The program is looked up in $PATH and the
// sbin directories.
func (n *Namespace) Run(name string, args ...string) (string, error) {
	return n.RunInput("", name, args...)
}

// RunInput is [Namespace.Run] with stdin, for iptables-restore, `nft -f -` and
// `ipset restore`.
func (n *Namespace) RunInput(stdin, name string, args ...string) (string, error) {
	path, err := testenv.LookPath(name)
	if err != nil {
		return "", err
	}
	out, err := runCmd(stdin, "ip", append([]string{"netns", "exec", n.Name, path}, args...)...)
	if err != nil {
		return out, fmt.Errorf("in netns %s: %w", n.Name, err)
	}
	return out, nil
}

// MustRun is [Namespace.Run] that fails the test, with the output, on error.
func (n *Namespace) MustRun(t testing.TB, name string, args ...string) string {
	t.Helper()
	out, err := n.Run(name, args...)
	if err != nil {
		t.Fatalf("testbed: %v\n%s", err, out)
	}
	return out
}

// Do runs f on an OS thread that has entered the namespace, and returns f's
// error. Sockets f makes belong to the namespace for their whole life, so
// they may be used after Do returns, from any goroutine. A panic in f is
// re-raised in the caller.
//
// The thread is locked while it is inside. Afterwards it goes back to its
// own namespace and is unlocked only when the way back is verified;
// otherwise it stays locked and the Go runtime ends it with the goroutine, so
// no other goroutine ever runs inside the namespace by accident.
func (n *Namespace) Do(f func() error) error {
	type result struct {
		err      error
		panicked bool
		value    any
	}
	ch := make(chan result, 1)
	go func() {
		runtime.LockOSThread()
		var r result
		defer func() {
			if v := recover(); v != nil {
				r = result{panicked: true, value: v}
			}
			ch <- r
		}()
		home, err := syscall.Open(threadNetns, syscall.O_RDONLY|syscall.O_CLOEXEC, 0)
		if err != nil {
			r.err = fmt.Errorf("open own netns: %w", err)
			return
		}
		defer syscall.Close(home)
		if err := setns(filepath.Join(netnsDir, n.Name)); err != nil {
			r.err = fmt.Errorf("enter netns %s: %w", n.Name, err)
			return
		}
		defer func() {
			if returnHome(home) {
				runtime.UnlockOSThread()
			}
		}()
		r.err = f()
	}()
	r := <-ch
	if r.panicked {
		panic(r.value)
	}
	return r.err
}

// threadNetns is the calling thread's network namespace.
const threadNetns = "/proc/thread-self/ns/net"

// setns moves the calling thread into the network namespace at path.
func setns(path string) error {
	fd, err := syscall.Open(path, syscall.O_RDONLY|syscall.O_CLOEXEC, 0)
	if err != nil {
		return err
	}
	defer syscall.Close(fd)
	if _, _, errno := syscall.RawSyscall(sysSetns, uintptr(fd), syscall.CLONE_NEWNET, 0); errno != 0 {
		return errno
	}
	return nil
}

// returnHome moves the calling thread back into the namespace open as home
// and reports whether it is verifiably there.
func returnHome(home int) bool {
	if _, _, errno := syscall.RawSyscall(sysSetns, uintptr(home), syscall.CLONE_NEWNET, 0); errno != 0 {
		return false
	}
	var want, got syscall.Stat_t
	if syscall.Fstat(home, &want) != nil || syscall.Stat(threadNetns, &got) != nil {
		return false
	}
	return want.Dev == got.Dev && want.Ino == got.Ino
}

// docPrefixes are the only addresses Link assigns and probes reach: the
// documentation ranges (RFC 5737, RFC 3849). Loopback is allowed for probes.
var docPrefixes = []netip.Prefix{
	netip.MustParsePrefix("192.0.2.0/24"),
	netip.MustParsePrefix("198.51.100.0/24"),
	netip.MustParsePrefix("203.0.113.0/24"),
	netip.MustParsePrefix("2001:db8::/32"),
}

// inDocRanges reports whether a lies in a documentation range.
func inDocRanges(a netip.Addr) bool {
	a = a.Unmap()
	return slices.ContainsFunc(docPrefixes, func(p netip.Prefix) bool { return p.Contains(a) })
}

// Link joins a and b with a veth pair, assigns the addresses (IPv4 and/or
// IPv6 interface prefixes such as 192.0.2.1/24, documentation ranges only),
// brings both ends up and returns the interface names in a and in b. IPv6
// addresses are added without duplicate address detection, so they are
// usable at once. The pair goes away with either namespace.
func Link(t testing.TB, a *Namespace, aAddrs []netip.Prefix, b *Namespace, bAddrs []netip.Prefix) (aIf, bIf string) {
	t.Helper()
	if a == b {
		t.Fatalf("testbed: Link: both ends in namespace %s", a.Name)
		return "", ""
	}
	for _, p := range slices.Concat(aAddrs, bAddrs) {
		if !p.IsValid() || p.Addr().Is4In6() || !inDocRanges(p.Addr()) {
			t.Fatalf("testbed: Link: address %s is not in a documentation range (192.0.2.0/24, 198.51.100.0/24, 203.0.113.0/24, 2001:db8::/32)", p)
			return "", ""
		}
	}
	aIf, bIf = a.newIfName(), b.newIfName()
	if out, err := runHost("ip", "link", "add", aIf, "netns", a.Name, "type", "veth", "peer", "name", bIf, "netns", b.Name); err != nil {
		t.Fatalf("testbed: veth %s/%s between %s and %s: %v\n%s", aIf, bIf, a.Name, b.Name, err, out)
	}
	for _, end := range []struct {
		ns    *Namespace
		ifc   string
		addrs []netip.Prefix
	}{{a, aIf, aAddrs}, {b, bIf, bAddrs}} {
		// No duplicate address detection: the addresses given are usable
		// the moment the link is up (nodad below), and link-local ones
		// soon after.
		// The kernel skips DAD only when both "all" and the interface say so.
		if err := end.ns.Do(func() error {
			for _, conf := range []string{"all", end.ifc} {
				dad := filepath.Join("/proc/sys/net/ipv6/conf", conf, "accept_dad")
				if _, err := os.Stat(dad); errors.Is(err, os.ErrNotExist) {
					return nil // kernel without IPv6
				}
				if err := os.WriteFile(dad, []byte("0"), 0o644); err != nil {
					return err
				}
			}
			return nil
		}); err != nil {
			t.Fatalf("testbed: disable DAD on %s in %s: %v", end.ifc, end.ns.Name, err)
		}
		for _, p := range end.addrs {
			args := []string{"addr", "add", p.String(), "dev", end.ifc}
			if p.Addr().Is6() {
				args = append(args, "nodad")
			}
			end.ns.MustRun(t, "ip", args...)
		}
		end.ns.MustRun(t, "ip", "link", "set", end.ifc, "up")
	}
	return aIf, bIf
}

// newIfName names the next veth end in n: "veth0", "veth1", ...
func (n *Namespace) newIfName() string {
	n.mu.Lock()
	defer n.mu.Unlock()
	name := fmt.Sprintf("veth%d", n.nextIf)
	n.nextIf++
	return name
}

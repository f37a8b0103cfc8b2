//go:build linux

package netns_test

import (
	"errors"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/originguard/originguard/internal/testbed/netns"
	"github.com/originguard/originguard/internal/testbed/testenv"
)

var (
	srvGood  = netip.MustParsePrefix("192.0.2.1/24")
	peerGood = netip.MustParsePrefix("192.0.2.2/24")
	srvBad   = netip.MustParsePrefix("198.51.100.1/24")
	peerBad  = netip.MustParsePrefix("198.51.100.2/24")
)

const (
	port     = 8080
	short    = 300 * time.Millisecond // long enough on loopback-speed veths, short enough that drops are cheap
	generous = 5 * time.Second        // for probes that must pass, so a loaded machine does not flake
)

// topology is a server namespace with two peers on their own links: "good"
// in 192.0.2.0/24 and "bad" in 198.51.100.0/24. The server answers TCP on
// both, and both peers reach it before any firewall is loaded.
func topology(t *testing.T) (srv, good, bad *netns.Namespace) {
	t.Helper()
	testenv.Require(t, testenv.NeedRoot, testenv.NeedIPRoute)
	srv, good, bad = netns.New(t, "srv"), netns.New(t, "good"), netns.New(t, "bad")
	netns.Link(t, srv, []netip.Prefix{srvGood}, good, []netip.Prefix{peerGood})
	netns.Link(t, srv, []netip.Prefix{srvBad}, bad, []netip.Prefix{peerBad})
	srv.ServeTCP(t, netip.AddrPortFrom(netip.IPv4Unspecified(), port))
	for _, p := range []struct {
		from *netns.Namespace
		to   netip.Prefix
	}{{good, srvGood}, {bad, srvBad}} {
		if err := p.from.ProbeTCP(netip.AddrPortFrom(p.to.Addr(), port), generous); err != nil {
			t.Fatalf("before any firewall, %s cannot reach %s: %v", p.from.Name, p.to.Addr(), err)
		}
	}
	return srv, good, bad
}

// assertFiltered checks that good still reaches the server and bad's SYN is
// dropped (a timeout, not a refusal).
func assertFiltered(t *testing.T, good, bad *netns.Namespace) {
	t.Helper()
	if err := good.ProbeTCP(netip.AddrPortFrom(srvGood.Addr(), port), generous); err != nil {
		t.Errorf("allowed peer blocked: %v", err)
	}
	err := bad.ProbeTCP(netip.AddrPortFrom(srvBad.Addr(), port), short)
	var ne net.Error
	if err == nil || !errors.As(err, &ne) || !ne.Timeout() {
		t.Errorf("other peer: ProbeTCP = %v, want a timeout (dropped)", err)
	}
}

func TestNFTSetAllowsOnePeer(t *testing.T) {
	testenv.Require(t, testenv.NeedRoot, testenv.NeedNFT)
	srv, good, bad := topology(t)
	srv.MustRun(t, "nft", "--version")
	const ruleset = `table inet originguard_smoke {
	set allowed {
		type ipv4_addr
		elements = { 192.0.2.2 }
	}
	chain input {
		type filter hook input priority filter; policy accept;
		tcp dport 8080 ip saddr != @allowed drop
	}
}
`
	if out, err := srv.RunInput(ruleset, "nft", "-f", "-"); err != nil {
		t.Fatalf("nft -f -: %v\n%s", err, out)
	}
	if out := srv.MustRun(t, "nft", "list", "set", "inet", "originguard_smoke", "allowed"); !strings.Contains(out, "192.0.2.2") {
		t.Fatalf("set not loaded:\n%s", out)
	}
	assertFiltered(t, good, bad)
}

func TestIPTablesRuleAllowsOnePeer(t *testing.T) {
	testenv.Require(t, testenv.NeedRoot, testenv.NeedIPTables)
	srv, good, bad := topology(t)
	const rules = `*filter
-A INPUT -p tcp --dport 8080 ! -s 192.0.2.2/32 -j DROP
COMMIT
`
	if out, err := srv.RunInput(rules, "iptables-restore"); err != nil {
		t.Fatalf("iptables-restore: %v\n%s", err, out)
	}
	if out := srv.MustRun(t, "iptables-save", "-t", "filter"); !strings.Contains(out, "192.0.2.2") {
		t.Fatalf("rule not loaded:\n%s", out)
	}
	assertFiltered(t, good, bad)
}

// TestFirewallStaysInItsNamespace shows that rules loaded in one namespace
// leave the test binary's own namespace untouched.
func TestFirewallStaysInItsNamespace(t *testing.T) {
	testenv.Require(t, testenv.NeedRoot, testenv.NeedNFT)
	n := netns.New(t, "scoped")
	n.MustRun(t, "nft", "add", "table", "inet", "originguard_scoped")
	if out := n.MustRun(t, "nft", "list", "tables"); !strings.Contains(out, "originguard_scoped") {
		t.Fatalf("table not in the namespace:\n%s", out)
	}
	out, err := exec.Command("nft", "list", "tables").CombinedOutput()
	if err != nil {
		t.Fatalf("nft list tables on the host: %v\n%s", err, out)
	}
	if strings.Contains(string(out), "originguard_scoped") {
		t.Errorf("table leaked into the host namespace:\n%s", out)
	}
}

func TestUDPAndIPv6(t *testing.T) {
	testenv.Require(t, testenv.NeedRoot, testenv.NeedIPRoute)
	if _, err := os.Stat("/proc/sys/net/ipv6"); err != nil {
		t.Skip("kernel without IPv6")
	}
	a, b := netns.New(t, "a6"), netns.New(t, "b6")
	aIf, bIf := netns.Link(t,
		a, []netip.Prefix{netip.MustParsePrefix("2001:db8::1/64"), netip.MustParsePrefix("203.0.113.1/24")},
		b, []netip.Prefix{netip.MustParsePrefix("2001:db8::2/64"), netip.MustParsePrefix("203.0.113.2/24")})
	if aIf == "" || bIf == "" {
		t.Fatalf("Link returned interface names %q, %q", aIf, bIf)
	}
	out := b.MustRun(t, "ip", "-6", "-o", "addr", "show", "dev", bIf, "to", "2001:db8::/32")
	if !strings.Contains(out, "2001:db8::2/64") || strings.Contains(out, "tentative") {
		t.Fatalf("IPv6 address missing or still tentative:\n%s", out)
	}
	for _, addr := range []string{"[2001:db8::1]:5353", "203.0.113.1:5353"} {
		ap := netip.MustParseAddrPort(addr)
		a.ServeUDP(t, ap)
		if err := b.ProbeUDP(ap, generous); err != nil {
			t.Errorf("ProbeUDP(%s) = %v, want the echo", ap, err)
		}
		noServer := netip.AddrPortFrom(ap.Addr(), 5354)
		if err := b.ProbeUDP(noServer, short); err == nil {
			t.Errorf("ProbeUDP(%s) with no server = nil, want an error", noServer)
		}
	}
	a.ServeTCP(t, netip.MustParseAddrPort("[2001:db8::1]:443"))
	if err := b.ProbeTCP(netip.MustParseAddrPort("[2001:db8::1]:443"), generous); err != nil {
		t.Errorf("ProbeTCP over IPv6 = %v", err)
	}
	err := b.ProbeTCP(netip.MustParseAddrPort("[2001:db8::1]:444"), generous)
	if !errors.Is(err, syscall.ECONNREFUSED) {
		t.Errorf("ProbeTCP to a closed port = %v, want connection refused", err)
	}
}

// TestDoEntersTheNamespace shows that Do runs inside the namespace and that
// the calling goroutine stays outside.
func TestDoEntersTheNamespace(t *testing.T) {
	testenv.Require(t, testenv.NeedRoot, testenv.NeedIPRoute)
	n := netns.New(t, "do")
	var inside []string
	if err := n.Do(func() error {
		ifs, err := net.Interfaces()
		for _, i := range ifs {
			inside = append(inside, i.Name)
		}
		return err
	}); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(inside, []string{"lo"}) {
		t.Errorf("interfaces inside a fresh namespace = %q, want only lo", inside)
	}
	outside, err := os.Readlink("/proc/thread-self/ns/net")
	if err != nil {
		t.Fatal(err)
	}
	var insideNS string
	n.Do(func() (err error) {
		insideNS, err = os.Readlink("/proc/thread-self/ns/net")
		return err
	})
	if insideNS == outside || insideNS == "" {
		t.Errorf("namespace inside Do %q, outside %q: want different", insideNS, outside)
	}
	// Whichever threads ran those goroutines, the main thread among them
	// perhaps, went back home.
	for range 100 {
		if err := n.Do(func() error { return nil }); err != nil {
			t.Fatal(err)
		}
	}
	host, _ := os.Readlink("/proc/self/ns/net")
	if outside != host {
		t.Errorf("caller's thread is in %q, the process in %q", outside, host)
	}

	want := errors.New("from f")
	if err := n.Do(func() error { return want }); err != want {
		t.Errorf("Do returned %v, want f's error", err)
	}
}

// TestNetnsDeletedAtCleanup shows a namespace goes away when its test ends.
func TestNetnsDeletedAtCleanup(t *testing.T) {
	testenv.Require(t, testenv.NeedRoot, testenv.NeedIPRoute)
	var name string
	t.Run("inner", func(t *testing.T) {
		n := netns.New(t, "cleanup")
		name = n.Name
		if _, err := os.Stat(filepath.Join("/run/netns", name)); err != nil {
			t.Fatalf("namespace %s not made: %v", name, err)
		}
		if !strings.Contains(name, "cleanup") {
			t.Errorf("name %q lacks the label", name)
		}
	})
	if _, err := os.Stat(filepath.Join("/run/netns", name)); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("namespace %s still there after its test: %v", name, err)
	}
}

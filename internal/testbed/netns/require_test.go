//go:build linux

package netns

import (
	"fmt"
	"net/netip"
	"strings"
	"testing"
)

// fakeTB records what Link does to a test instead of doing it. Unlike the
// real Fatal it returns, so callers must not go on.
type fakeTB struct {
	testing.TB
	failed []string
}

func (f *fakeTB) Helper() {}
func (f *fakeTB) Fatal(args ...any) {
	f.failed = append(f.failed, fmt.Sprint(args...))
}
func (f *fakeTB) Fatalf(format string, args ...any) {
	f.failed = append(f.failed, fmt.Sprintf(format, args...))
}

func TestLinkRejectsAddressesOutsideDocumentationRanges(t *testing.T) {
	a, b := &Namespace{Name: "a"}, &Namespace{Name: "b"}
	doc := []netip.Prefix{netip.MustParsePrefix("192.0.2.1/24")}
	for _, bad := range []string{"10.0.0.1/24", "1.1.1.1/32", "::ffff:192.0.2.1/120", "2001:db9::1/64", "127.0.0.1/8"} {
		f := &fakeTB{TB: t}
		aIf, bIf := Link(f, a, doc, b, []netip.Prefix{netip.MustParsePrefix(bad)})
		if len(f.failed) != 1 || !strings.Contains(f.failed[0], "documentation range") || aIf != "" || bIf != "" {
			t.Errorf("Link with %s: failed=%q, interfaces %q %q; want one failure and no link", bad, f.failed, aIf, bIf)
		}
	}
	f := &fakeTB{TB: t}
	Link(f, a, doc, a, doc)
	if len(f.failed) != 1 || !strings.Contains(f.failed[0], "both ends") {
		t.Errorf("Link of a namespace to itself: failed=%q, want one failure", f.failed)
	}
}

func TestProbesRefuseOtherAddresses(t *testing.T) {
	n := &Namespace{Name: "never-entered"}
	for _, to := range []string{"10.0.0.1:80", "1.1.1.1:443", "[2606:4700::1]:443", "0.0.0.0:80"} {
		ap := netip.MustParseAddrPort(to)
		if err := n.ProbeTCP(ap, 0); err == nil || !strings.Contains(err.Error(), "documentation range") {
			t.Errorf("ProbeTCP(%s) = %v, want a refusal before any packet", to, err)
		}
		if err := n.ProbeUDP(ap, 0); err == nil || !strings.Contains(err.Error(), "documentation range") {
			t.Errorf("ProbeUDP(%s) = %v, want a refusal before any packet", to, err)
		}
	}
}

package testbed

import (
	"fmt"
	"net/netip"
	"strings"
	"testing"
)

// fakeTB records what Require and Link do to a test instead of doing it.
// Unlike the real Skip and Fatal it returns, so callers must not go on.
type fakeTB struct {
	testing.TB
	skipped, failed []string
}

func (f *fakeTB) Helper() {}
func (f *fakeTB) Skip(args ...any) {
	f.skipped = append(f.skipped, fmt.Sprint(args...))
}
func (f *fakeTB) Fatal(args ...any) {
	f.failed = append(f.failed, fmt.Sprint(args...))
}
func (f *fakeTB) Fatalf(format string, args ...any) {
	f.failed = append(f.failed, fmt.Sprintf(format, args...))
}

func TestRequireSwitch(t *testing.T) {
	present := map[Need]bool{NeedIPRoute: true}
	check := func(n Need) error {
		if !present[n] {
			return fmt.Errorf("no %s here", n)
		}
		return nil
	}
	for _, tc := range []struct {
		name        string
		ci          bool
		needs       []Need
		skip, fatal bool
		words       []string // the message must say these
	}{
		{name: "all present, by hand", needs: []Need{NeedIPRoute}},
		{name: "all present, CI", ci: true, needs: []Need{NeedIPRoute}},
		{name: "tool missing, by hand: skip", needs: []Need{NeedIPRoute, NeedNFT}, skip: true,
			words: []string{"no nft here", "hack/provision.sh", "CI=true"}},
		{name: "tool missing, CI: fail", ci: true, needs: []Need{NeedIPRoute, NeedNFT}, fatal: true,
			words: []string{"no nft here", "hack/provision.sh", "CI=true"}},
		{name: "not root, by hand: skip", needs: []Need{NeedRoot}, skip: true,
			words: []string{"no root here", "as root"}},
		{name: "not root and binaries missing, CI: fail", ci: true, needs: []Need{NeedRoot, NeedKubeAPIServer}, fatal: true,
			words: []string{"no root here", "as root", "no kube-apiserver here", "hack/provision.sh"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := &fakeTB{TB: t}
			require(f, tc.ci, check, tc.needs...)
			if got := len(f.skipped) == 1; got != tc.skip || len(f.skipped) > 1 {
				t.Errorf("skipped = %q, want a skip: %v", f.skipped, tc.skip)
			}
			if got := len(f.failed) == 1; got != tc.fatal || len(f.failed) > 1 {
				t.Errorf("failed = %q, want a failure: %v", f.failed, tc.fatal)
			}
			for _, msg := range append(f.skipped, f.failed...) {
				if strings.Contains(msg, "\n") {
					t.Errorf("message is not one line: %q", msg)
				}
				for _, want := range tc.words {
					if !strings.Contains(msg, want) {
						t.Errorf("message %q does not say %q", msg, want)
					}
				}
				if strings.Contains(msg, string(NeedIPRoute)+" (") {
					t.Errorf("message %q names a need that is met", msg)
				}
			}
		})
	}
}

func TestCheckUnknownNeed(t *testing.T) {
	if err := check(Need("telepathy")); err == nil || !strings.Contains(err.Error(), "telepathy") {
		t.Errorf("check(unknown) = %v, want an error naming it", err)
	}
}

func TestLinkRejectsAddressesOutsideDocumentationRanges(t *testing.T) {
	a, b := &Netns{Name: "a"}, &Netns{Name: "b"}
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
	n := &Netns{Name: "never-entered"}
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

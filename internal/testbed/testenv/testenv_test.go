package testenv

import (
	"fmt"
	"strings"
	"testing"
)

// fakeTB records what Require does to a test instead of doing it.
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

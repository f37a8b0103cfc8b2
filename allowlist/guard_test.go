package allowlist

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"testing"
)

// withExtra returns the embedded list plus extra lines.
func withExtra(extra ...string) Set {
	return MustParse(Cloudflare().String() + strings.Join(extra, "\n"))
}

// TestGuardTotals: lists that only a per-prefix breadth bound let through.
func TestGuardTotals(t *testing.T) {
	var slash8s, slash16s []string
	for i := 1; len(slash8s) < 104; i += 2 { // non-adjacent /8s, none special
		if p := pfx(fmt.Sprintf("%d.0.0.0/8", i)); !Cloudflare().Contains(p.Addr()) {
			if _, bad := overlap(special(), p); !bad {
				slash8s = append(slash8s, p.String())
			}
		}
	}
	for i := range 4096 {
		slash16s = append(slash16s, fmt.Sprintf("%x::/16", 0x2000+2*i))
	}
	loose := Guard{Broadest4: 8, Broadest6: 16} // the old defaults
	tests := []struct {
		name string
		g    Guard
		next Set
		want string
	}{
		{"104 /8s", loose, withExtra(slash8s...), "IPv4 covers"},
		{"104 /8s, default breadth", Guard{}, withExtra(slash8s...), "is broader than /13"},
		{"4096 IPv6 /16s", loose, withExtra(slash16s[:4096]...), "IPv6 covers"},
		{"one more /13", Guard{}, withExtra("45.0.0.0/13"), "IPv4 grows too much"},
		{"a /12", Guard{}, withExtra("45.0.0.0/12"), "broader than /13"},
		{"a /28 of IPv6", Guard{}, withExtra("2a00::/28"), "broader than /29"},
	}
	for _, s := range []string{"2002::/16", "2001::/32", "64:ff9b::/96", "64:ff9b:1::/48", "2001::/23", "3fff::/20",
		"5f00::/16", "2001:db8::/32", "100::/64", "2620:4f:8000::/48", "2001:2::/48", "fec0::/10", "4000::/16",
		"192.88.99.0/24", "192.31.196.0/24", "192.52.193.0/24", "192.175.48.0/24", "255.255.255.255/32", "240.0.0.0/13"} {
		tests = append(tests, struct {
			name string
			g    Guard
			next Set
			want string
		}{"special " + s, loose, withExtra(s), "special-purpose range"})
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.g.Check(tt.next)
			if !errors.Is(err, ErrRejected) || !strings.Contains(err.Error(), tt.want) {
				if !(strings.HasPrefix(tt.name, "special") && err != nil && strings.Contains(err.Error(), "outside global unicast")) {
					t.Errorf("Check = %v, want a rejection saying %q", err, tt.want)
				}
			}
		})
	}
	if err := (Guard{}).Check(Cloudflare()); err != nil {
		t.Errorf("the embedded list is rejected: %v", err)
	}
	if err := (Guard{}).Check(withExtra("45.0.0.0/16", "2a10::/32")); err != nil {
		t.Errorf("a plausible addition is rejected: %v", err)
	}
	// An explicit override lets a bigger list through.
	big := Guard{Broadest4: 8, MaxAddrs4: 1 << 32, MaxGrowth: 1000}
	if err := big.Check(withExtra("45.0.0.0/8")); err != nil {
		t.Errorf("override: %v", err)
	}
}

// TestGuardShrinkByPrefixes: losing many small prefixes is a shrink even
// when few addresses go.
func TestGuardShrinkByPrefixes(t *testing.T) {
	var keep []netip.Prefix
	for i, p := range Embedded().IPv4 {
		if p.Bits() < 22 || i%3 != 0 { // drop some /22s: a third of the /22s
			keep = append(keep, p)
		}
	}
	small := MustSetFrom(append(keep, Embedded().IPv6...)...)
	var keep4 []netip.Prefix
	for _, p := range Embedded().IPv4 {
		if p.Bits() <= 18 {
			keep4 = append(keep4, p)
		}
	}
	fewer := MustSetFrom(append(keep4, Embedded().IPv6...)...) // 9 of 15: 40% of prefixes, 1% of addresses
	err := Guard{}.Check(fewer)
	if !errors.Is(err, ErrShrink) || !strings.Contains(err.Error(), "prefixes would lose addresses") {
		t.Errorf("losing %d of 15 IPv4 prefixes: %v", 15-fewer.Len4(), err)
	}
	if err := (Guard{}).Check(small); err != nil && !strings.Contains(err.Error(), "prefixes") {
		t.Errorf("small: %v", err)
	}
	if err := (Guard{AllowShrink: true}).Check(fewer); err != nil {
		t.Errorf("AllowShrink: %v", err)
	}
}

// TestGuardShrinkIsCumulative: two steps of 15% each add up to 30%, more
// than the limit, although each step alone is within it.
func TestGuardShrinkIsCumulative(t *testing.T) {
	api := newFakeAPI(t)
	r := &Refresher{Fetcher: api.fetcher(), Guard: Guard{MaxShrink: 0.25}}
	_, v6 := goodLists()
	// Cloudflare lists 1,524,736 IPv4 addresses. Each step below loses
	// less than 25% of the list before it, but the third brings the loss
	// from the reference to 30%.
	cf := texts(Embedded().IPv4)
	step1 := replace(cf, "104.16.0.0/13", "104.16.0.0/14")      // -262144: 17.2%
	step2 := replace(step1, "162.158.0.0/15", "162.158.0.0/16") // -65536: 21.5% in all
	step3 := replace(step2, "104.24.0.0/14", "104.24.0.0/15")   // -131072: 30.1% in all
	steps := []struct {
		v4     []string
		accept bool
	}{{step1, true}, {step2, true}, {step3, false}}
	for i, s := range steps {
		api.answer(200, okBody(fmt.Sprint("e", i), s.v4, v6))
		err := r.Refresh(context.Background())
		if (err == nil) != s.accept {
			t.Fatalf("step %d: %v, want accepted %v", i, err, s.accept)
		}
	}
}

// TestGuardNoLockIn: an over-wide list that a lenient guard once accepted
// does not make the real list look like a shrink.
func TestGuardNoLockIn(t *testing.T) {
	api := newFakeAPI(t)
	v4, v6 := texts(Embedded().IPv4), texts(Embedded().IPv6)
	r := &Refresher{Fetcher: api.fetcher(), Guard: Guard{Broadest4: 8, MaxAddrs4: 1 << 30, MaxGrowth: 1000}}
	api.answer(200, okBody("wide", append(v4, "45.0.0.0/8", "46.0.0.0/8"), v6))
	if err := r.Refresh(context.Background()); err != nil {
		t.Fatal(err)
	}
	api.answer(200, okBody("real", v4, v6))
	if err := r.Refresh(context.Background()); err != nil {
		t.Fatalf("the real list is locked out: %v", err)
	}
	if !r.Set().Equal(Cloudflare()) {
		t.Error("the real list is not in use")
	}
}

// TestForceMovesTheReference: after an operator forces a smaller list,
// the next small change is judged against it.
func TestForceMovesTheReference(t *testing.T) {
	api := newFakeAPI(t)
	_, v6 := goodLists()
	small := []string{"173.245.48.0/20", "104.16.0.0/13", "172.64.0.0/13"}
	api.answer(200, okBody("small", small, v6))
	r := &Refresher{Fetcher: api.fetcher()}
	if err := r.Refresh(context.Background()); !errors.Is(err, ErrShrink) {
		t.Fatalf("shrink not refused: %v", err)
	}
	if err := r.Force(context.Background()); err != nil {
		t.Fatal(err)
	}
	api.answer(200, okBody("small2", append(small, "45.0.0.0/16"), v6))
	if err := r.Refresh(context.Background()); err != nil {
		t.Errorf("a small change after a forced list: %v", err)
	}
}

func replace(list []string, old, new string) []string {
	out := make([]string, len(list))
	for i, s := range list {
		if s == old {
			s = new
		}
		out[i] = s
	}
	return out
}

func texts(prefixes []netip.Prefix) []string {
	out := make([]string, len(prefixes))
	for i, p := range prefixes {
		out[i] = p.String()
	}
	return out
}

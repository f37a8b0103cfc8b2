package allowlist

import (
	"errors"
	"math"
	"testing"
)

// TestGuardNaNIsTheDefault: a bound that is NaN (flag.Float64 and YAML
// both parse "NaN") compares false with everything, so "total > NaN"
// never rejects: a Guard configured that way would accept anything. NaN
// means the default, like zero.
func TestGuardNaNIsTheDefault(t *testing.T) {
	nan := math.NaN()
	wide := withExtra("45.0.0.0/13", "46.0.0.0/13", "47.0.0.0/13")
	for _, g := range []Guard{
		{MaxAddrs4: nan, MaxGrowth: nan},
		{MaxGrowth: nan},
		{MaxAddrs4: nan, MaxAddrs6: nan, MaxGrowth: nan, MaxShrink: nan},
	} {
		if err := g.Check(wide); !errors.Is(err, ErrRejected) {
			t.Errorf("%+v: a list three /13s wider passes: %v", g, err)
		}
	}
	shrunk := MustParse("173.245.48.0/20\n2400:cb00::/32\n")
	if err := (Guard{MaxShrink: nan}).Check(shrunk); !errors.Is(err, ErrShrink) {
		t.Errorf("MaxShrink NaN: a list of two prefixes passes: %v", err)
	}
}

// TestGuardMappedPrefixes: a list that spells IPv4 space as IPv4-mapped
// IPv6 is judged as the IPv4 it maps (::ffff:0:0/96 is 0.0.0.0/0).
func TestGuardMappedPrefixes(t *testing.T) {
	for _, s := range []string{"::ffff:0:0/96", "::ffff:45.0.0.0/100", "::ffff:10.0.0.0/104"} {
		if err := (Guard{}).Check(withExtra(s)); !errors.Is(err, ErrRejected) {
			t.Errorf("%s: %v", s, err)
		}
	}
}

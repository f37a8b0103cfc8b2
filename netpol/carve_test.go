package netpol_test

import (
	"math/rand/v2"
	"net/netip"
	"strings"
	"testing"

	networkingv1 "k8s.io/api/networking/v1"

	"github.com/originguard/originguard/netpol"
)

// randPrefix draws a prefix of 192.0.2.0/24 or 2001:db8::/120 so that
// random prefixes nest and overlap often.
func randPrefix(r *rand.Rand) netip.Prefix {
	if r.IntN(3) == 0 {
		a := netip.AddrFrom16([16]byte{0x20, 0x01, 0x0d, 0xb8, 15: byte(r.IntN(256))})
		return netip.PrefixFrom(a, 120+r.IntN(9)).Masked()
	}
	a := netip.AddrFrom4([4]byte{192, 0, 2, byte(r.IntN(256))})
	return netip.PrefixFrom(a, 24+r.IntN(9)).Masked()
}

func inAny(a netip.Addr, ps []netip.Prefix) bool {
	for _, p := range ps {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// allowed is what an egress rule's ipBlocks admit, as the NetworkPolicy
// API defines it: in some cidr and in none of that block's excepts.
func allowed(a netip.Addr, peers []networkingv1.NetworkPolicyPeer) bool {
	if len(peers) == 0 {
		return true // no "to": every destination
	}
	for _, p := range peers {
		c := netip.MustParsePrefix(p.IPBlock.CIDR)
		if !c.Contains(a) {
			continue
		}
		excluded := false
		for _, e := range p.IPBlock.Except {
			excluded = excluded || netip.MustParsePrefix(e).Contains(a)
		}
		if !excluded {
			return true
		}
	}
	return false
}

// TestCarveMatchesSetDifference: for random To and Except, the generated
// ipBlocks admit exactly the addresses in To and not in Except, and pass
// the API server's rule that each except lies strictly inside its cidr
// (checked by Objects.Validate, which the real API server test confirms).
func TestCarveMatchesSetDifference(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for i := range 2000 {
		var to, except []netip.Prefix
		for range 1 + r.IntN(4) {
			to = append(to, randPrefix(r))
		}
		for range r.IntN(5) {
			e := randPrefix(r)
			if inAny(e.Addr(), to) || func() bool {
				for _, c := range to {
					if e.Contains(c.Addr()) {
						return true
					}
				}
				return false
			}() {
				except = append(except, e)
			}
		}
		spec := netpol.Spec{EgressAllow: []netpol.EgressAllow{{Namespace: "ns", To: to, Except: except}}}
		o, err := spec.Generate()
		nothingLeft := true
		for _, c := range to {
			nothingLeft = nothingLeft && inAny(c.Addr(), except) && func() bool {
				for _, e := range except {
					if e.Bits() <= c.Bits() && e.Contains(c.Addr()) {
						return true
					}
				}
				return false
			}()
		}
		if nothingLeft {
			// An egress rule without peers allows every destination.
			if err == nil || !strings.Contains(err.Error(), "EgressAllow[0].Except: covers every To prefix") {
				t.Fatalf("case %d: to %v except %v: err = %v, want a refusal", i, to, except, err)
			}
			continue
		}
		if err != nil {
			t.Fatalf("case %d: to %v except %v: %v", i, to, except, err)
		}
		if err := o.Validate(); err != nil {
			t.Fatalf("case %d: to %v except %v: %v", i, to, except, err)
		}
		peers := o.NetworkPolicies[0].Spec.Egress[0].To
		for a := range 256 {
			for _, addr := range []netip.Addr{
				netip.AddrFrom4([4]byte{192, 0, 2, byte(a)}),
				netip.AddrFrom16([16]byte{0x20, 0x01, 0x0d, 0xb8, 15: byte(a)}),
			} {
				want := inAny(addr, to) && !inAny(addr, except)
				if got := allowed(addr, peers); got != want {
					t.Fatalf("case %d: to %v except %v: %s allowed %v, want %v (blocks %v)", i, to, except, addr, got, want, peers)
				}
			}
		}
	}
}

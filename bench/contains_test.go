package bench

import (
	"net"
	"net/netip"
	"testing"

	"github.com/gaissmai/bart"
	"github.com/originguard/originguard/allowlist"
	"github.com/yl2chen/cidranger"
	"go4.org/netipx"
)

// sink keeps the results of timed loops alive.
var sink int

// The loops below look up n probes, cycling through them, and count the
// hits. There is one per structure, each calling its method directly as a
// user would, so that no indirect call of the harness is timed.

func loopSet(s allowlist.Set, probes []netip.Addr, n int) (hits int) {
	for i := range n {
		if s.Contains(probes[i&(numProbes-1)]) {
			hits++
		}
	}
	return hits
}

func loopLite(t *bart.Lite, probes []netip.Addr, n int) (hits int) {
	for i := range n {
		if t.Contains(probes[i&(numProbes-1)]) {
			hits++
		}
	}
	return hits
}

func loopFast(t *bart.Fast[struct{}], probes []netip.Addr, n int) (hits int) {
	for i := range n {
		if t.Contains(probes[i&(numProbes-1)]) {
			hits++
		}
	}
	return hits
}

func loopTable(t *bart.Table[struct{}], probes []netip.Addr, n int) (hits int) {
	for i := range n {
		if t.Contains(probes[i&(numProbes-1)]) {
			hits++
		}
	}
	return hits
}

func loopIPSet(s *netipx.IPSet, probes []netip.Addr, n int) (hits int) {
	for i := range n {
		if s.Contains(probes[i&(numProbes-1)]) {
			hits++
		}
	}
	return hits
}

func loopLinear(prefixes []netip.Prefix, probes []netip.Addr, n int) (hits int) {
	for i := range n {
		if linearContains(prefixes, probes[i&(numProbes-1)]) {
			hits++
		}
	}
	return hits
}

func linearContains(prefixes []netip.Prefix, ip netip.Addr) bool {
	for _, p := range prefixes {
		if p.Contains(ip) {
			return true
		}
	}
	return false
}

func loopRanger(r cidranger.Ranger, probes []net.IP, n int) (hits int) {
	for i := range n {
		if ok, err := r.Contains(probes[i&(numProbes-1)]); err != nil {
			panic(err)
		} else if ok {
			hits++
		}
	}
	return hits
}

// impl is one structure under comparison: loop looks up n probes of d.
type impl struct {
	name string
	loop func(d *dataset, n int) int
}

var (
	implSet   = impl{"Set", func(d *dataset, n int) int { return loopSet(d.set, d.probes, n) }}
	implLite  = impl{"bart.Lite", func(d *dataset, n int) int { return loopLite(d.lite, d.probes, n) }}
	implFast  = impl{"bart.Fast", func(d *dataset, n int) int { return loopFast(d.fast, d.probes, n) }}
	implTable = impl{"bart.Table", func(d *dataset, n int) int { return loopTable(d.table, d.probes, n) }}
	impls     = []impl{
		implSet, implLite, implFast, implTable,
		{"netipx.IPSet", func(d *dataset, n int) int { return loopIPSet(d.ipset, d.probes, n) }},
		{"linear", func(d *dataset, n int) int { return loopLinear(d.prefixes, d.probes, n) }},
		{"cidranger", func(d *dataset, n int) int { return loopRanger(d.ranger, d.netProbes, n) }},
	}
)

// BenchmarkContains looks up one address per operation in every structure
// and data set.
func BenchmarkContains(b *testing.B) {
	for _, d := range datasets() {
		for _, im := range impls {
			b.Run("data="+d.name+"/impl="+im.name, func(b *testing.B) {
				if im.name == "linear" && len(d.prefixes) > linearMax {
					b.Skipf("linear scan of %d prefixes: milliseconds per lookup, skipped above %d", len(d.prefixes), linearMax)
				}
				b.ReportAllocs()
				b.ResetTimer()
				sink += im.loop(d, b.N)
			})
		}
	}
}

// TestImplsAgree checks that every structure gives the same answer for
// every probe, so that the benchmarks compare equal work; and that the
// probes are a real mix of hits and misses.
func TestImplsAgree(t *testing.T) {
	for _, d := range datasets() {
		t.Run(d.name, func(t *testing.T) {
			hits := 0
			for i, ip := range d.probes {
				want := d.set.Contains(ip)
				if want {
					hits++
				}
				got := map[string]bool{
					"bart.Lite":    d.lite.Contains(ip),
					"bart.Fast":    d.fast.Contains(ip),
					"bart.Table":   d.table.Contains(ip),
					"netipx.IPSet": d.ipset.Contains(ip),
				}
				if ok, err := d.ranger.Contains(d.netProbes[i]); err != nil {
					t.Fatalf("cidranger.Contains(%s): %v", ip, err)
				} else {
					got["cidranger"] = ok
				}
				if d.nets != nil {
					got["linear"] = linearContains(d.prefixes, ip)
				}
				for name, g := range got {
					if g != want {
						t.Errorf("%s.Contains(%s) = %v, Set.Contains = %v", name, ip, g, want)
					}
				}
			}
			// Half the probes are drawn inside the set; the random half
			// adds a few hits on the larger sets.
			if lo, hi := numProbes/2, numProbes*3/4; hits < lo || hits > hi {
				t.Errorf("%d of %d probes hit, want %d to %d", hits, numProbes, lo, hi)
			}
			if d.name == "bgp1M" && len(d.prefixes) != 1_000_000 {
				t.Errorf("bgp1M holds %d prefixes, want 1000000", len(d.prefixes))
			}
			t.Logf("%d prefixes given, %d after aggregation; %d of %d probes hit", d.raw, len(d.prefixes), hits, numProbes)
		})
	}
}

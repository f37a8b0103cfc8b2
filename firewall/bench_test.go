package firewall_test

import (
	"net/netip"
	"testing"

	"github.com/originguard/originguard/firewall"
)

// prefixes returns n distinct disjoint prefixes, half IPv4 /32s in
// 10.0.0.0/8, half IPv6 /64s in 2001:db8::/32, shuffled by a fixed stride
// so that canonicalisation has real sorting to do. Data only: nothing is
// sent to them.
func prefixes(n int) []netip.Prefix {
	ps := make([]netip.Prefix, 0, n)
	for i := range n {
		j := (i * 7919) % n // a permutation when n is not a multiple of 7919
		if j%2 == 0 {
			ps = append(ps, netip.PrefixFrom(netip.AddrFrom4([4]byte{10, byte(j >> 16), byte(j >> 8), byte(j)}), 32))
		} else {
			var a [16]byte
			a[0], a[1], a[2], a[3] = 0x20, 0x01, 0x0d, 0xb8
			a[4], a[5], a[6], a[7] = byte(j>>24), byte(j>>16), byte(j>>8), byte(j)
			ps = append(ps, netip.PrefixFrom(netip.AddrFrom16(a), 64))
		}
	}
	return ps
}

// BenchmarkRender1M renders a rule set whose NodePort rule takes its
// sources from a set of one million prefixes, for each backend. The plain
// iptables backend writes one rule per prefix; the others one set element.
func BenchmarkRender1M(b *testing.B) {
	spec := firewall.Spec{
		Sets: []firewall.Set{{Name: "edge", Prefixes: prefixes(1_000_000)}},
		Rules: []firewall.Rule{{Comment: "NodePorts: the edge only", Stage: firewall.PreDNAT, Protocol: firewall.TCP,
			Ports: firewall.Ports(30000, 32767), From: "edge", Verdict: firewall.Accept}},
		Interfaces:   []string{"eth0"},
		AllowLockout: true, // a benchmark, not a node
	}
	for _, backend := range firewall.Backends() {
		b.Run(string(backend), func(b *testing.B) {
			b.ReportAllocs()
			var size int
			for b.Loop() {
				s, err := spec.Render(backend)
				if err != nil {
					b.Fatal(err)
				}
				size = len(s.IPSet) + len(s.IPv4) + len(s.IPv6) + len(s.NFT)
			}
			b.ReportMetric(float64(size)/1e6, "MB")
		})
	}
}

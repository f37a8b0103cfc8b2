package oracle

import (
	"fmt"
	"testing"

	"github.com/mattfenwick/cyclonus/pkg/matcher"
)

// BenchmarkOneFlow judges one flow at a time against the same
// NetworkPolicies with each implementation: netpol's evaluator (Allowed,
// and Explain with the deciding path), the
// reference implementation's engine (kube-network-policies, as its
// dataplane calls it per packet, policies from informer caches), and
// cyclonus' matcher (policies compiled once). The world is newWorld's: 300
// pods in three namespaces, policies drawn from seed 1.
func BenchmarkOneFlow(b *testing.B) {
	for _, n := range []int{100, 1_000} {
		w := newWorld(1, 300, n)
		flows := w.flows(1, 1024)
		b.Run(fmt.Sprintf("policies=%d/impl=netpol", n), func(b *testing.B) {
			ev := ours(b, w)
			b.ReportAllocs()
			for i := 0; b.Loop(); i++ {
				ev.Allowed(flows[i%len(flows)].ours)
			}
		})
		b.Run(fmt.Sprintf("policies=%d/impl=netpol-explain", n), func(b *testing.B) {
			ev := ours(b, w)
			b.ReportAllocs()
			for i := 0; b.Loop(); i++ {
				if _, err := ev.Explain(flows[i%len(flows)].ours); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(fmt.Sprintf("policies=%d/impl=kube-network-policies", n), func(b *testing.B) {
			ref := newReference(b, w)
			b.ReportAllocs()
			for i := 0; b.Loop(); i++ {
				ref.allowed(b, &flows[i%len(flows)])
			}
		})
		b.Run(fmt.Sprintf("policies=%d/impl=cyclonus", n), func(b *testing.B) {
			cyc := matcher.BuildNetworkPolicies(false, w.policies)
			b.ReportAllocs()
			for i := 0; b.Loop(); i++ {
				cyc.IsTrafficAllowed(flows[i%len(flows)].cyclonus)
			}
		})
	}
}

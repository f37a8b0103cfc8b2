package netpol

import (
	"fmt"
	"math/rand/v2"
	"net/netip"
	"testing"
	"time"

	calicov3 "github.com/projectcalico/api/pkg/apis/projectcalico/v3"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// scaleWorld is n policies over namespaces namespaces, each selecting one
// of 50 apps of its namespace and allowing ingress from two other apps of
// any namespace labelled like it, on a port; plus a default deny per
// namespace.
func scaleWorld(n, namespaces int) ([]networkingv1.NetworkPolicy, func(i int) Endpoint) {
	r := rand.New(rand.NewPCG(1, 2))
	var nps []networkingv1.NetworkPolicy
	for i := range namespaces {
		nps = append(nps, knp(fmt.Sprintf("ns-%d", i), "default-deny", sel(), ingress, egress))
	}
	for i := len(nps); i < n; i++ {
		ns := fmt.Sprintf("ns-%d", r.IntN(namespaces))
		np := withIngress(knp(ns, fmt.Sprintf("p-%d", i), sel("app", fmt.Sprintf("app-%d", r.IntN(50))), ingress),
			[]networkingv1.NetworkPolicyPeer{
				{NamespaceSelector: sel("team", fmt.Sprintf("t-%d", r.IntN(10))), PodSelector: sel("app", fmt.Sprintf("app-%d", r.IntN(50)))},
				{PodSelector: &metav1.LabelSelector{MatchExpressions: []metav1.LabelSelectorRequirement{{Key: "app", Operator: metav1.LabelSelectorOpIn, Values: []string{fmt.Sprintf("app-%d", r.IntN(50))}}}}},
			}, kport("TCP", 8000+r.IntN(10)))
		np = withEgress(np, []networkingv1.NetworkPolicyPeer{peerNS(sel())}, kport("TCP", 8000+r.IntN(10)))
		np.Spec.PolicyTypes = append(np.Spec.PolicyTypes, egress)
		nps = append(nps, np)
	}
	podAt := func(i int) Endpoint {
		ns := i % namespaces
		return Endpoint{
			Addr:            netip.AddrFrom4([4]byte{10, byte(i >> 16), byte(i >> 8), byte(i)}),
			Namespace:       fmt.Sprintf("ns-%d", ns),
			NamespaceLabels: map[string]string{"team": fmt.Sprintf("t-%d", ns%10), NamespaceNameLabel: fmt.Sprintf("ns-%d", ns)},
			Labels:          map[string]string{"app": fmt.Sprintf("app-%d", i%50), "pod-template-hash": fmt.Sprintf("h%d", i)},
			Node:            fmt.Sprintf("node-%d", i%100),
		}
	}
	return nps, podAt
}

// BenchmarkAllowed is one flow against 10,000 policies (100 namespaces),
// under Kubernetes semantics and under Calico's, where the same
// NetworkPolicies sit in the default tier.
func BenchmarkAllowed(b *testing.B) {
	for _, sem := range []Semantics{Kubernetes, Calico, "calico-converted"} {
		for _, n := range []int{1_000, 10_000} {
			name := fmt.Sprintf("policies=%d", n)
			if sem != Kubernetes {
				name = string(sem) + "/" + name
			}
			b.Run(name, func(b *testing.B) { benchAllowed(b, sem, n) })
		}
	}
}

// scaleNetwork is scaleWorld's policies under sem, or under Calico as the
// Calico NetworkPolicies Calico converts them to for "calico-converted".
func scaleNetwork(n int, sem Semantics) (Network, func(i int) Endpoint) {
	nps, podAt := scaleWorld(n, 100)
	if sem != "calico-converted" {
		return Network{Objects: Objects{NetworkPolicies: nps}, Semantics: sem}, podAt
	}
	var cnps []calicov3.NetworkPolicy
	for _, np := range nps {
		cnps = append(cnps, toCalico(np))
	}
	return Network{Objects: Objects{CalicoNetworkPolicies: cnps}, Semantics: Calico}, podAt
}

func benchAllowed(b *testing.B, sem Semantics, n int) {
	{
		{
			net, podAt := scaleNetwork(n, sem)
			ev, err := NewEvaluator(net)
			if err != nil {
				b.Fatal(err)
			}
			flows := make([]Flow, 1024)
			for i := range flows {
				flows[i] = Flow{From: podAt(i * 7), To: podAt(i*13 + 1), Protocol: TCP, Port: uint16(8000 + i%10)}
			}
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; b.Loop(); i++ {
				ev.Allowed(flows[i%len(flows)])
			}
		}
	}
}

// TestAllowedSpeed holds one flow against 10,000 policies to 10 µs, under
// Kubernetes semantics and under Calico's, and
// the pod-to-pod matrix of 1,000 pods under 1,000 policies to 2 s (both
// with a margin for a loaded or race-instrumented machine, where it only
// logs).
func TestAllowedSpeed(t *testing.T) {
	if testing.Short() {
		t.Skip("timing")
	}
	for _, sem := range []Semantics{Kubernetes, Calico, "calico-converted"} {
		net, podAt := scaleNetwork(10_000, sem)
		ev, err := NewEvaluator(net)
		if err != nil {
			t.Fatal(err)
		}
		flows := make([]Flow, 20_000)
		for i := range flows {
			flows[i] = Flow{From: podAt(i * 7), To: podAt(i*13 + 1), Protocol: TCP, Port: uint16(8000 + i%10)}
		}
		best := time.Duration(1 << 62)
		for range 5 {
			start := time.Now()
			for _, f := range flows {
				ev.Allowed(f)
			}
			best = min(best, time.Since(start)/time.Duration(len(flows)))
		}
		t.Logf("%s: one flow against 10,000 policies: %v", sem, best)
		if best > 10*time.Microsecond && !raceEnabled {
			t.Errorf("%s: one flow against 10,000 policies took %v, want at most 10µs", sem, best)
		}
	}

	nps, podAt := scaleWorld(1_000, 100)
	ev, err := NewEvaluator(Network{Objects: Objects{NetworkPolicies: nps}})
	if err != nil {
		t.Fatal(err)
	}
	pods := make([]Endpoint, 1000)
	for i := range pods {
		pods[i] = podAt(i)
	}
	start := time.Now()
	allowed := 0
	for _, a := range pods {
		for _, b := range pods {
			if ev.Allowed(Flow{From: a, To: b, Protocol: TCP, Port: 8003}) {
				allowed++
			}
		}
	}
	took := time.Since(start)
	t.Logf("1,000 x 1,000 pod matrix under 1,000 policies: %v (%d allowed)", took, allowed)
	if took > 2*time.Second && !raceEnabled {
		t.Errorf("matrix took %v, want at most 2s", took)
	}
}

// Allowed under Kubernetes semantics allocates at most the closure that
// walks the index.
func TestAllowedAllocs(t *testing.T) {
	nps, podAt := scaleWorld(1_000, 100)
	ev, err := NewEvaluator(Network{Objects: Objects{NetworkPolicies: nps}})
	if err != nil {
		t.Fatal(err)
	}
	f := Flow{From: podAt(7), To: podAt(13), Protocol: TCP, Port: 8003}
	if n := testing.AllocsPerRun(100, func() { ev.Allowed(f) }); n > 2 {
		t.Errorf("Allowed: %v allocs, want at most 2", n)
	}
}

// An Evaluator is safe for concurrent use: every goroutine gets the
// verdicts one goroutine gets.
func TestEvaluatorConcurrent(t *testing.T) {
	nps, podAt := scaleWorld(500, 20)
	for _, sem := range []Semantics{Kubernetes, Calico} {
		ev, err := NewEvaluator(Network{Objects: Objects{NetworkPolicies: nps}, Semantics: sem})
		if err != nil {
			t.Fatal(err)
		}
		flows := make([]Flow, 200)
		want := make([]bool, len(flows))
		for i := range flows {
			flows[i] = Flow{From: podAt(i * 3), To: podAt(i*5 + 1), Protocol: TCP, Port: uint16(8000 + i%10)}
			want[i] = ev.Allowed(flows[i])
		}
		done := make(chan error)
		for g := range 8 {
			go func() {
				for i := range flows {
					j := (i + g*17) % len(flows)
					v, err := ev.Explain(flows[j])
					if err != nil || v.Allowed != want[j] || ev.Allowed(flows[j]) != want[j] {
						done <- fmt.Errorf("%s: flow %d: %v %v", sem, j, v.Allowed, err)
						return
					}
				}
				done <- nil
			}()
		}
		for range 8 {
			if err := <-done; err != nil {
				t.Error(err)
			}
		}
	}
}

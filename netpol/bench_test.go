package netpol_test

import (
	"fmt"
	"net/netip"
	"syscall"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/originguard/originguard/netpol"
)

// clusterSpec is the full set for a cluster of namespaces namespaces (each
// locked down with DNS, its web pods open to the ingress controller, and
// the metadata endpoints blocked) and nodes nodes (host policy, NodePorts
// from the edge, a HostEndpoint each), plus the controller's edge policy.
func clusterSpec(namespaces, nodes int) netpol.Spec {
	ctrlNS, ctrlPods := ingressNginx()
	specs := make([]netpol.Spec, 0, namespaces+2)
	for i := range namespaces {
		ns := fmt.Sprintf("team-%04d", i)
		s := netpol.Namespace{Name: ns, NodeLocalDNS: []netip.Addr{netpol.NodeLocalDNS}}.Spec()
		s.FromIngressController = []netpol.FromIngressController{{
			Namespace: ns, Pods: metav1.LabelSelector{MatchLabels: map[string]string{"app": "web"}},
			ControllerNamespace: ctrlNS, ControllerPods: ctrlPods, Ports: []netpol.Port{{Name: "http"}},
		}}
		s.BlockMetadata = []netpol.BlockMetadata{{Namespace: ns}}
		specs = append(specs, s)
	}
	h := hosts()
	h.Nodes = make([]corev1.Node, nodes)
	for i := range nodes {
		h.Nodes[i] = node(fmt.Sprintf("node-%05d", i), fmt.Sprintf("10.0.%d.%d", i/250, i%250+1))
	}
	specs = append(specs, h.Spec(), netpol.Spec{FromEdge: []netpol.FromEdge{{
		Namespace: "ingress-nginx", Controller: ctrlPods, Edge: edge,
		Ports: []netpol.Port{netpol.TCPPort(443), netpol.TCPPort(80)},
	}}})
	return netpol.Join(specs...)
}

// BenchmarkClusterRender generates and renders (YAML, projectcalico.org/v3)
// everything for 1,000 namespaces and 5,000 nodes: 4,001 NetworkPolicies,
// 6 GlobalNetworkPolicies, 1 GlobalNetworkSet, 5,000 HostEndpoints.
func BenchmarkClusterRender(b *testing.B) {
	spec := clusterSpec(1000, 5000)
	b.ReportAllocs()
	var size int
	cpu0 := cpuTime()
	for b.Loop() {
		out, err := spec.Render(netpol.CalicoAPI)
		if err != nil {
			b.Fatal(err)
		}
		size = len(out)
	}
	// CPU time (both cores' worth) tells the cost apart from the wait on a
	// machine other work shares.
	b.ReportMetric(float64(cpuTime()-cpu0)/float64(b.N)/1e6, "cpu-ms/op")
	b.ReportMetric(float64(size), "bytes/render")
}

// cpuTime is the process's user and system CPU time.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkClusterGenerate is the same without YAML: Validate and the
// typed objects.
func BenchmarkClusterGenerate(b *testing.B) {
	spec := clusterSpec(1000, 5000)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := spec.Generate(); err != nil {
			b.Fatal(err)
		}
	}
}

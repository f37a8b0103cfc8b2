package netpol

import (
	"net/netip"
	"slices"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Namespace is the lock-down of one namespace; [Namespace.Spec] turns it
// into a [DefaultDeny] of ingress and egress and a [DNS] egress allow, so
// that pods resolve names and nothing else moves until another policy
// allows it. The zero value is invalid (no name); Namespace is a plain
// value, safe for concurrent reads.
type Namespace struct {
	Name string
	// DNSNamespace and DNSPods select the cluster DNS (see [DNS]); nil
	// means kube-system's k8s-app=kube-dns pods.
	DNSNamespace, DNSPods *metav1.LabelSelector
	// NodeLocalDNS are node-local-dns's addresses (see [DNS.NodeLocal]),
	// usually [NodeLocalDNS]; empty when it does not run.
	NodeLocalDNS []netip.Addr
}

// Spec returns the namespace's policies: "default-deny" (ingress and
// egress, every pod) and "allow-dns" (egress to the DNS pods on 53/udp and
// 53/tcp, and to node-local-dns).
func (n Namespace) Spec() Spec {
	return Spec{
		DefaultDeny: []DefaultDeny{{Namespace: n.Name, Ingress: true, Egress: true}},
		DNS: []DNS{{
			Namespace:       n.Name,
			ServerNamespace: n.DNSNamespace,
			ServerPods:      n.DNSPods,
			NodeLocal:       slices.Clone(n.NodeLocalDNS),
		}},
	}
}

// DefaultHostSelector selects host endpoints by the label every node
// carries (and that Calico's automatic host endpoints copy from it).
// Pods must not carry it, or the host policy would select them too.
const DefaultHostSelector = "has(kubernetes.io/hostname)"

// Hosts describes the nodes of a Calico cluster behind an edge;
// [Hosts.Spec] turns it into the host-policy set: the edge
// GlobalNetworkSet, the pre-DNAT NodePort policy, the host policies and,
// for clusters without automatic host endpoints, HostEndpoints for Nodes.
// The zero value is invalid (no cluster, control plane or edge); Hosts is
// a plain value, safe for concurrent reads.
type Hosts struct {
	// Selector selects the host endpoints; zero means DefaultHostSelector.
	Selector string
	// Cluster are the nodes' and pods' networks, allowed everything.
	Cluster []netip.Prefix
	// ControlPlane are the API servers' addresses, allowed to the kubelet.
	ControlPlane []netip.Prefix
	// Edge may reach the NodePorts: Cloudflare's published ranges, or the
	// load balancer in front of the nodes.
	Edge []netip.Prefix
	// WireGuard and VXLAN open Calico's ports for them from the cluster.
	WireGuard, VXLAN bool
	// KubeProxyHealth opens 10256/tcp from the cluster (see
	// [KubeProxyHealth]).
	KubeProxyHealth bool
	// NodePorts is the API server's --service-node-port-range; zero means
	// 30000-32767.
	NodePorts Port
	// Nodes, when not empty, get HostEndpoints on Interface (zero means
	// "*", all interfaces).
	Nodes     []corev1.Node
	Interface string
	// Log logs what the host policy denies before denying it.
	Log bool
}

// Spec returns the host-policy set:
//
//   - GlobalNetworkSet "originguard-edge" of [Hosts.Edge], labelled
//     originguard.io/set=edge;
//   - "originguard-nodeports" (order 10, pre-DNAT): TCP and UDP NodePorts
//     from the edge set, then Deny for everyone else;
//   - "originguard-host-failsafe" (order 100): [FelixFailsafeInbound];
//   - "originguard-host-node" (110): [Kubelet] from the control plane,
//     [WireGuard], [VXLAN] and [KubeProxyHealth] when enabled, and ICMPv6
//     router and neighbour discovery;
//   - "originguard-host-cluster" (120): everything from the cluster;
//   - "originguard-host-deny" (130): Log (when enabled), then Deny;
//   - "originguard-host-egress" (140): the node's own egress stays open;
//   - HostEndpoints for [Hosts.Nodes].
//
// Call [Spec.Validate] on the result (or let Generate and Render do it).
func (h Hosts) Spec() Spec {
	sel := h.Selector
	if sel == "" {
		sel = DefaultHostSelector
	}
	needed := []HostPort{Kubelet}
	if h.WireGuard {
		needed = append(needed, WireGuard...)
	}
	if h.VXLAN {
		needed = append(needed, VXLAN)
	}
	if h.KubeProxyHealth {
		needed = append(needed, KubeProxyHealth)
	}
	s := Spec{
		NetworkSets: []NetworkSet{{Name: "edge", Prefixes: slices.Clone(h.Edge)}},
		NodePorts:   []NodePorts{{Order: 10, Selector: sel, Ports: h.NodePorts, EdgeSet: "edge"}},
		HostPolicies: []HostPolicy{{
			Order:        100,
			Selector:     sel,
			Failsafe:     slices.Clone(FelixFailsafeInbound),
			Needed:       needed,
			Cluster:      slices.Clone(h.Cluster),
			ControlPlane: slices.Clone(h.ControlPlane),
			EdgeSet:      "edge",
			Log:          h.Log,
		}},
	}
	if len(h.Nodes) > 0 {
		iface := h.Interface
		if iface == "" {
			iface = "*"
		}
		s.HostEndpoints = []HostEndpoints{{Nodes: h.Nodes, Interface: iface}}
	}
	return s
}

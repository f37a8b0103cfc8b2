package firewall

import "net/netip"

// Node describes a Kubernetes node behind Cloudflare; [Node.Spec] turns it
// into the rule set such a node needs. The zero value is invalid (no
// interfaces); Node is a plain value, safe for concurrent reads.
type Node struct {
	// Interfaces are the node's outward-facing interfaces (see
	// [Spec.Interfaces]). Pods' veths and overlay tunnels are never listed.
	Interfaces []string
	// Cluster is the cluster's private network: the addresses of the other
	// nodes and of the control plane (set "cluster").
	Cluster []netip.Prefix
	// Edge is where NodePort traffic may come from: Cloudflare's published
	// ranges, or a load balancer in front of the nodes (set "edge").
	Edge []netip.Prefix
	// Admin is where operators come from, for SSH and the API server (set
	// "admin").
	Admin []netip.Prefix

	// BGP opens 179/tcp from the cluster: Calico's BIRD peers with the other
	// nodes (or route reflectors) over BGP, which runs on TCP, not UDP.
	BGP bool
	// WireGuard opens 51820/udp (IPv4) and 51821/udp (IPv6) from the
	// cluster: Calico's node-to-node WireGuard encryption listens there.
	WireGuard bool
	// VXLAN opens 4789/udp from the cluster: Calico's VXLAN overlay carries
	// pod traffic between nodes there (flannel uses 8472: add a Rule).
	VXLAN bool
	// IPIP lets IP-in-IP packets (IP protocol 4, no port) in from the
	// cluster: Calico's IPIP overlay carries pod traffic between nodes in
	// them. Without it a default drop cuts pods on different nodes apart.
	IPIP bool
	// Typha opens 5473/tcp from the cluster: calico-node agents on every
	// node connect to Typha, which runs with host networking.
	Typha bool

	// NodePorts is the API server's --service-node-port-range; the zero
	// value means its default, 30000-32767.
	NodePorts PortRange

	// Default is the verdict for everything else: Drop (the zero value) or
	// Reject.
	Default Verdict
	// Log is passed through to [Spec.Log].
	Log Log
}

// Spec returns the rule set for n:
//
//   - 10250/tcp from cluster: the kubelet API; the API server connects to it
//     for exec, logs, port-forward and metrics.
//   - 6443/tcp from cluster and admin: the API server, for kubelets and
//     controllers on the other nodes (control-plane nodes) and for kubectl.
//   - 22/tcp from admin: SSH.
//   - 179/tcp, 51820/udp, 51821/udp, 4789/udp, IP-in-IP, 5473/tcp from
//     cluster, each when enabled (see the fields of [Node]).
//   - NodePorts ([Node.NodePorts]), TCP and UDP, from edge only, at [PreDNAT]:
//     everyone else's NodePort packets are dropped before kube-proxy's DNAT.
//
// Established and related traffic, ICMP errors, IPv6 neighbour discovery and
// loopback pass as for every [Spec]. Call [Spec.Validate] on the result.
func (n Node) Spec() Spec {
	s := Spec{
		Sets: []Set{
			{Name: "cluster", Prefixes: n.Cluster},
			{Name: "edge", Prefixes: n.Edge},
			{Name: "admin", Prefixes: n.Admin},
		},
		Interfaces: n.Interfaces,
		Default:    n.Default,
		Log:        n.Log,
	}
	add := func(comment string, p Protocol, ports PortRange, from string) {
		s.Rules = append(s.Rules, Rule{Comment: comment, Stage: Local, Protocol: p, Ports: ports, From: from, Verdict: Accept})
	}
	add("kubelet API: the API server calls it for exec and logs", TCP, Port(10250), "cluster")
	add("API server: kubelets and controllers on other nodes", TCP, Port(6443), "cluster")
	add("API server: kubectl from admins", TCP, Port(6443), "admin")
	add("SSH from admins", TCP, Port(22), "admin")
	if n.BGP {
		add("Calico BGP peering (TCP)", TCP, Port(179), "cluster")
	}
	if n.WireGuard {
		add("Calico WireGuard, IPv4 tunnel", UDP, Port(51820), "cluster")
		add("Calico WireGuard, IPv6 tunnel", UDP, Port(51821), "cluster")
	}
	if n.VXLAN {
		add("Calico VXLAN overlay", UDP, Port(4789), "cluster")
	}
	if n.IPIP {
		s.Rules = append(s.Rules, Rule{Comment: "Calico IP-in-IP overlay", Stage: Local, Protocol: IPIP, From: "cluster", Verdict: Accept})
	}
	if n.Typha {
		add("Calico Typha: calico-node agents connect", TCP, Port(5473), "cluster")
	}
	nodePorts := n.NodePorts
	if nodePorts == (PortRange{}) {
		nodePorts = Ports(30000, 32767)
	}
	for _, p := range []Protocol{TCP, UDP} {
		s.Rules = append(s.Rules,
			Rule{Comment: "NodePorts: the edge only", Stage: PreDNAT, Protocol: p, Ports: nodePorts, From: "edge", Verdict: Accept},
			Rule{Comment: "NodePorts: nobody else", Stage: PreDNAT, Protocol: p, Ports: nodePorts, Verdict: Drop},
		)
	}
	return s
}

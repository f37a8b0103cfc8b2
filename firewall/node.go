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
	// ranges when Cloudflare connects to the nodes (set "edge").
	Edge []netip.Prefix
	// Balancer is where a load balancer in front of the nodes connects
	// from, for traffic and for health checks (set "balancer"): NodePorts,
	// a Service's healthCheckNodePort (a NodePort too) and kube-proxy's
	// healthz, 10256/tcp. On LKE, NodeBalancers use 192.168.255.0/24.
	Balancer []netip.Prefix
	// Admin is where operators come from, for SSH and the API server (set
	// "admin").
	Admin []netip.Prefix

	// HostPorts opens ports on the node itself, before DNAT, to one of
	// the sets above: an ingress controller on hostNetwork, or a pod's
	// hostPort, serving 80 and 443 to the edge, say. Without an entry here
	// a hostPort, a Docker -p port, a Service's externalIP or a
	// load-balancer IP routed to the node is closed on the guarded
	// interfaces.
	HostPorts []HostPort

	// BGP opens 179/tcp from the cluster: Calico's BIRD peers with the other
	// nodes (or route reflectors) over BGP, which runs on TCP, not UDP.
	BGP bool
	// WireGuard opens 51820/udp (IPv4) and 51821/udp (IPv6) from the
	// cluster: Calico's node-to-node WireGuard encryption listens there,
	// and on LKE the control plane reaches each node through a WireGuard
	// tunnel on 51820/udp that carries kubectl exec, logs, port-forward
	// and proxy: without it those commands hang.
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
	// AllowLockout is passed through to [Spec.AllowLockout]: without it,
	// a Node with neither Cluster nor Admin prefixes (SSH, the kubelet and
	// the API server closed to everyone) fails [Spec.Validate].
	AllowLockout bool
}

// HostPort is a port range on the node opened to one of [Node]'s sets, at
// [PreDNAT] (so that it works whether the node answers it itself or
// DNATs it to a pod).
type HostPort struct {
	Protocol Protocol // TCP, UDP or SCTP
	Ports    PortRange
	// From is "edge", "balancer", "cluster" or "admin".
	From string
}

// Spec returns the rule set for n:
//
//   - 10250/tcp from cluster: the kubelet API; the API server connects to it
//     for exec, logs, port-forward and metrics.
//   - 6443/tcp from cluster and admin: the API server, for kubelets and
//     controllers on the other nodes (control-plane nodes) and for kubectl.
//   - 10256/tcp from cluster and balancer: kube-proxy's healthz, which
//     load balancers probe (and, for externalTrafficPolicy: Local, the
//     Service's healthCheckNodePort, covered by the NodePort rules).
//   - 22/tcp from admin: SSH.
//   - 179/tcp, 51820/udp, 51821/udp, 4789/udp, IP-in-IP, 5473/tcp from
//     cluster, each when enabled (see the fields of [Node]).
//   - [Node.HostPorts], at [PreDNAT], each from its set.
//   - NodePorts ([Node.NodePorts]), TCP, UDP and SCTP, from edge and
//     balancer only, at [PreDNAT]: everyone else's NodePort packets are
//     dropped before kube-proxy's DNAT. What PreDNAT accepted passes the
//     Local stage too, so NodePorts answered on the node (kube-proxy's
//     IPVS mode, healthCheckNodePort) work. The NodePort drop judges every
//     new flow in that port range on the guarded interfaces, whatever its
//     destination: a pod reached by plain routing (no overlay) on a port
//     in the range is judged as a NodePort too.
//
// Established and related traffic, ICMP errors, the ICMPv6 a host needs
// and loopback pass as for every [Spec]. Call [Spec.Validate] on the
// result.
func (n Node) Spec() Spec {
	s := Spec{
		Sets: []Set{
			{Name: "cluster", Prefixes: n.Cluster},
			{Name: "edge", Prefixes: n.Edge},
			{Name: "balancer", Prefixes: n.Balancer},
			{Name: "admin", Prefixes: n.Admin},
		},
		Interfaces:   n.Interfaces,
		Default:      n.Default,
		Log:          n.Log,
		AllowLockout: n.AllowLockout,
	}
	add := func(comment string, p Protocol, ports PortRange, from string) {
		s.Rules = append(s.Rules, Rule{Comment: comment, Stage: Local, Protocol: p, Ports: ports, From: from, Verdict: Accept})
	}
	add("kubelet API: the API server calls it for exec and logs", TCP, Port(10250), "cluster")
	add("API server: kubelets and controllers on other nodes", TCP, Port(6443), "cluster")
	add("API server: kubectl from admins", TCP, Port(6443), "admin")
	add("kube-proxy healthz: other nodes", TCP, Port(10256), "cluster")
	add("kube-proxy healthz: load-balancer health checks", TCP, Port(10256), "balancer")
	add("SSH from admins", TCP, Port(22), "admin")
	if n.BGP {
		add("Calico BGP peering (TCP)", TCP, Port(179), "cluster")
	}
	if n.WireGuard {
		add("WireGuard: Calico, and the LKE control-plane tunnel (kubectl exec, logs)", UDP, Port(51820), "cluster")
		add("WireGuard: Calico, IPv6 tunnel", UDP, Port(51821), "cluster")
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
	for _, h := range n.HostPorts {
		s.Rules = append(s.Rules, Rule{Comment: "host port " + h.Ports.String() + "/" + string(h.Protocol) + " from " + h.From, Stage: PreDNAT, Protocol: h.Protocol, Ports: h.Ports, From: h.From, Verdict: Accept})
	}
	nodePorts := n.NodePorts
	if nodePorts == (PortRange{}) {
		nodePorts = Ports(30000, 32767)
	}
	for _, p := range []Protocol{TCP, UDP, SCTP} {
		s.Rules = append(s.Rules,
			Rule{Comment: "NodePorts: the edge", Stage: PreDNAT, Protocol: p, Ports: nodePorts, From: "edge", Verdict: Accept},
			Rule{Comment: "NodePorts: the load balancer", Stage: PreDNAT, Protocol: p, Ports: nodePorts, From: "balancer", Verdict: Accept},
			Rule{Comment: "NodePorts: nobody else", Stage: PreDNAT, Protocol: p, Ports: nodePorts, Verdict: Drop},
		)
	}
	return s
}

package netpol

import (
	"fmt"
	"net/netip"
	"slices"
	"strings"

	calicov3 "github.com/projectcalico/api/pkg/apis/projectcalico/v3"
	"github.com/projectcalico/api/pkg/lib/numorstring"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Labels and annotations this package writes.
const (
	// LabelSet names a [NetworkSet]: its GlobalNetworkSet carries
	// LabelSet=<name>, and rules select it by that label.
	LabelSet = "originguard.io/set"
	// AnnotationWhy on a Calico rule's metadata says why the rule exists.
	AnnotationWhy = "originguard.io/why"
)

// NetworkSet is a Calico GlobalNetworkSet: named prefixes that rules
// select by label ([LabelSet]=Name). IPv4 and IPv6 may be mixed.
type NetworkSet struct {
	// Name is the set's name and its label value: a DNS label (1 to 63 of
	// a-z, 0-9 and '-'). The object is named "originguard-" + Name.
	Name     string
	Prefixes []netip.Prefix // canonicalised
}

// setSelector is the rule source that selects the set name: by label, and
// only among non-namespaced resources (namespaceSelector global()), so
// that a pod labelled like the set is not taken for it.
func setSelector(name string) calicov3.EntityRule {
	return calicov3.EntityRule{Selector: fmt.Sprintf("%s == %q", LabelSet, name), NamespaceSelector: "global()"}
}

func (n NetworkSet) generate() calicov3.GlobalNetworkSet {
	ps := canonical(n.Prefixes)
	nets := make([]string, len(ps))
	for i, p := range ps {
		nets[i] = p.String()
	}
	return calicov3.GlobalNetworkSet{
		TypeMeta:   metav1.TypeMeta{APIVersion: string(CalicoAPI), Kind: calicov3.KindGlobalNetworkSet},
		ObjectMeta: metav1.ObjectMeta{Name: "originguard-" + n.Name, Labels: map[string]string{LabelSet: n.Name}},
		Spec:       calicov3.GlobalNetworkSetSpec{Nets: nets},
	}
}

// Peer says where a [HostPort] may be reached from. It is a closed
// vocabulary: use the constants.
type Peer string

const (
	// Anywhere is any source address.
	Anywhere Peer = "anywhere"
	// Cluster is [HostPolicy.Cluster]: the nodes' and pods' networks.
	Cluster Peer = "cluster"
	// ControlPlane is [HostPolicy.ControlPlane]: the API servers.
	ControlPlane Peer = "control-plane"
	// Edge is the GlobalNetworkSet [HostPolicy.EdgeSet] names.
	Edge Peer = "edge"
)

// HostPort is one inbound port a node needs, and from where.
type HostPort struct {
	Why  string // carried into the rule's metadata (AnnotationWhy)
	Port Port
	From Peer
}

// FelixFailsafeInbound are Felix's default FailsafeInboundHostPorts: Felix
// lets them in to every host endpoint, from anywhere, before any policy,
// so that a policy mistake cannot cut a node off its SSH, BGP, etcd,
// Typha, API server and DHCP. They are mirrored as explicit rules so the
// policy states them and holds when the failsafes are narrowed.
//
// The kubelet's 10250/tcp is not among them: a host deny without an
// allow for it from the control plane breaks kubectl exec, logs,
// port-forward and metrics. Nor is WireGuard's 51820/udp (51821/udp for
// IPv6); Felix allows those only while its WireGuard is on.
var FelixFailsafeInbound = []HostPort{
	{Why: "Felix failsafe: SSH", Port: TCPPort(22), From: Anywhere},
	{Why: "Felix failsafe: DHCP client", Port: UDPPort(68), From: Anywhere},
	{Why: "Felix failsafe: BGP", Port: TCPPort(179), From: Anywhere},
	{Why: "Felix failsafe: etcd clients", Port: TCPPort(2379), From: Anywhere},
	{Why: "Felix failsafe: etcd peers", Port: TCPPort(2380), From: Anywhere},
	{Why: "Felix failsafe: Typha", Port: TCPPort(5473), From: Anywhere},
	{Why: "Felix failsafe: Kubernetes API server", Port: TCPPort(6443), From: Anywhere},
	{Why: "Felix failsafe: etcd (legacy port)", Port: TCPPort(6666), From: Anywhere},
	{Why: "Felix failsafe: etcd (legacy port)", Port: TCPPort(6667), From: Anywhere},
}

// Ports a node needs that Felix's failsafes miss.
var (
	// Kubelet is the kubelet API: the API server calls it for exec, logs,
	// port-forward and metrics.
	Kubelet = HostPort{Why: "kubelet API: the API server calls it for exec, logs and port-forward", Port: TCPPort(10250), From: ControlPlane}
	// WireGuard are Calico's node-to-node WireGuard ports, IPv4 and IPv6.
	WireGuard = []HostPort{
		{Why: "Calico WireGuard (IPv4)", Port: UDPPort(51820), From: Cluster},
		{Why: "Calico WireGuard (IPv6)", Port: UDPPort(51821), From: Cluster},
	}
	// VXLAN is Calico's VXLAN overlay.
	VXLAN = HostPort{Why: "Calico VXLAN overlay", Port: UDPPort(4789), From: Cluster}
	// KubeProxyHealth is kube-proxy's healthz, which load balancers probe
	// for Services with externalTrafficPolicy: Cluster.
	KubeProxyHealth = HostPort{Why: "kube-proxy healthz", Port: TCPPort(10256), From: Cluster}
)

// HostPolicy is the inbound policy of the nodes' host endpoints, as
// GlobalNetworkPolicies applied to the endpoints Selector selects, in this
// order (Order, Order+10, ...):
//
//  1. "<name>-failsafe": allow [HostPolicy.Failsafe];
//  2. "<name>-node": allow [HostPolicy.Needed], and ICMPv6 router and
//     neighbour discovery (types 133 to 136), without which an IPv6 node
//     loses its neighbours;
//  3. "<name>-cluster": allow everything from [HostPolicy.Cluster];
//  4. "<name>-deny": Log (when [HostPolicy.Log]) then Deny;
//  5. "<name>-egress": allow all egress. A host endpoint with no egress
//     policy denies the host's own outbound traffic (image pulls, API
//     calls) except Felix's outbound failsafes; this keeps egress open.
//
// None applies to forwarded traffic (applyOnForward is false): pods
// behind the node are NetworkPolicy's business. Every policy has its
// types set, because Felix treats empty types as Ingress and Egress and
// the crd.projectcalico.org/v1 CRDs do not default them.
type HostPolicy struct {
	Name     string  // prefix of the policies' names; zero means "originguard-host"
	Order    float64 // order of the first policy; the others follow by 10
	Selector string  // Calico selector of the host endpoints; required
	Failsafe []HostPort
	Needed   []HostPort
	// Cluster are the nodes' and pods' networks. Include the pod network:
	// an all-interfaces ("*") host endpoint also sees pods on the node.
	Cluster []netip.Prefix
	// ControlPlane are the API servers' addresses: the kubelet's port
	// must be open to them (Validate checks it is).
	ControlPlane []netip.Prefix
	// EdgeSet names the NetworkSet that [Edge] peers select.
	EdgeSet string
	// Log puts a Log rule before the Deny: Felix logs every packet that
	// reaches it to the kernel log, without a rate limit, so expect
	// volume on a node the Internet can reach.
	Log bool
}

func (h HostPolicy) name() string { return name(h.Name, "originguard-host") }

// policyNames are the names of the policies h generates, in order.
func (h HostPolicy) policyNames() []string {
	n := h.name()
	return []string{n + "-failsafe", n + "-node", n + "-cluster", n + "-deny", n + "-egress"}
}

// NodePorts is the pre-DNAT policy that lets only the edge reach the
// nodes' NodePorts: a GlobalNetworkPolicy with preDNAT: true (it sees the
// port the client sent, before kube-proxy's DNAT hands the packet to a
// pod through the forward path, where ordinary host policy never sees
// it), applyOnForward: true (Calico requires it for preDNAT), ingress only
// (Calico refuses egress in preDNAT policy), allowing TCP and UDP to
// [NodePorts.Ports] from the edge set, then denying them from everyone
// else. A pre-DNAT policy has no implicit deny at its end, so the Deny
// rules are explicit, and traffic to other ports goes on to the ordinary
// host policy.
type NodePorts struct {
	Name     string  // zero means "originguard-nodeports"
	Order    float64 // must differ from every other policy's
	Selector string  // Calico selector of the host endpoints; required
	// Ports is the API server's --service-node-port-range; zero means
	// 30000-32767. Its protocol is ignored: TCP and UDP are both covered.
	// Validate refuses a range that covers a port a HostPolicy of the
	// Spec opens (the kubelet's 10250 in a range from 10000, say): the
	// preDNAT Deny would close it to all but the edge first.
	Ports   Port
	EdgeSet string // the NetworkSet allowed in; required
}

func (n NodePorts) name() string { return name(n.Name, "originguard-nodeports") }

func (n NodePorts) ports() Port {
	if n.Ports.Number == 0 && n.Ports.Name == "" {
		return Port{Number: 30000, End: 32767}
	}
	return n.Ports
}

// HostEndpoints are Calico HostEndpoints for nodes, for clusters where
// Calico does not create them automatically. Each is named
// "<node>-<interface>" ("<node>-all" for "*"), carries the node's labels
// (so policies select it as they would the node), and expects the node's
// InternalIP and ExternalIP addresses.
//
// A HostEndpoint without a profile denies all host traffic through its
// interface ("*": through all of them), both ways, from the moment it
// exists until a policy allows it (only Felix's failsafe ports pass):
// apply the policies first. [Spec.Render] and
// [Objects.Apply] put HostEndpoints last for that reason. Generate them in
// the same Spec as the [HostPolicy] that selects them ([Join]):
// [Spec.Validate] refuses host endpoints (without Profiles) in a Spec
// without a HostPolicy, and, for a HostPolicy selector of the form
// has(key), nodes without that label.
type HostEndpoints struct {
	Nodes []corev1.Node
	// Interface is "*" (all the host's interfaces, including traffic from
	// its own pods) or one interface name, such as "eth0". Required.
	Interface string
	// Profiles are passed on; automatic host endpoints use
	// "projectcalico-default-allow", which allows what no policy decides.
	Profiles []string
}

func hostEndpointName(node, iface string) string {
	if iface == "*" {
		return node + "-all"
	}
	return node + "-" + iface
}

func (h HostEndpoints) generate() []calicov3.HostEndpoint {
	out := make([]calicov3.HostEndpoint, 0, len(h.Nodes))
	for i := range h.Nodes {
		node := &h.Nodes[i]
		var ips []netip.Addr
		for _, a := range node.Status.Addresses {
			if a.Type != corev1.NodeInternalIP && a.Type != corev1.NodeExternalIP {
				continue
			}
			if ip, err := netip.ParseAddr(a.Address); err == nil {
				ips = append(ips, ip.Unmap())
			}
		}
		slices.SortFunc(ips, netip.Addr.Compare)
		ips = slices.Compact(ips)
		var expected []string
		for _, ip := range ips {
			expected = append(expected, ip.String())
		}
		var labels map[string]string
		if len(node.Labels) > 0 {
			labels = make(map[string]string, len(node.Labels))
			for k, v := range node.Labels {
				labels[k] = v
			}
		}
		out = append(out, calicov3.HostEndpoint{
			TypeMeta:   metav1.TypeMeta{APIVersion: string(CalicoAPI), Kind: calicov3.KindHostEndpoint},
			ObjectMeta: metav1.ObjectMeta{Name: hostEndpointName(node.Name, h.Interface), Labels: labels},
			Spec: calicov3.HostEndpointSpec{
				Node:          node.Name,
				InterfaceName: h.Interface,
				ExpectedIPs:   expected,
				Profiles:      slices.Clone(h.Profiles),
			},
		})
	}
	return out
}

func newGNP(name string, order float64, selector string, types ...calicov3.PolicyType) calicov3.GlobalNetworkPolicy {
	return calicov3.GlobalNetworkPolicy{
		TypeMeta:   metav1.TypeMeta{APIVersion: string(CalicoAPI), Kind: calicov3.KindGlobalNetworkPolicy},
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec:       calicov3.GlobalNetworkPolicySpec{Order: &order, Selector: selector, Types: types},
	}
}

func why(s string) *calicov3.RuleMetadata {
	if s == "" {
		return nil
	}
	return &calicov3.RuleMetadata{Annotations: map[string]string{AnnotationWhy: s}}
}

func calicoProtocol(p Protocol) *numorstring.Protocol {
	proto := numorstring.ProtocolFromString(string(p.orTCP()))
	return &proto
}

func calicoPort(p Port) numorstring.Port {
	if p.Name != "" {
		return numorstring.NamedPort(p.Name)
	}
	return numorstring.Port{MinPort: p.Number, MaxPort: p.last()}
}

func nets(ps []netip.Prefix) []string {
	c := canonical(ps)
	out := make([]string, len(c))
	for i, p := range c {
		out[i] = p.String()
	}
	return out
}

func (h HostPolicy) source(from Peer) calicov3.EntityRule {
	switch from {
	case Cluster:
		return calicov3.EntityRule{Nets: nets(h.Cluster)}
	case ControlPlane:
		return calicov3.EntityRule{Nets: nets(h.ControlPlane)}
	case Edge:
		return setSelector(h.EdgeSet)
	}
	return calicov3.EntityRule{}
}

func (h HostPolicy) allow(hp HostPort) calicov3.Rule {
	return calicov3.Rule{
		Action:      calicov3.Allow,
		Protocol:    calicoProtocol(hp.Port.Protocol),
		Source:      h.source(hp.From),
		Destination: calicov3.EntityRule{Ports: []numorstring.Port{calicoPort(hp.Port)}},
		Metadata:    why(hp.Why),
	}
}

func (h HostPolicy) generate() []calicov3.GlobalNetworkPolicy {
	names := h.policyNames()
	ingress := calicov3.PolicyTypeIngress
	failsafe := newGNP(names[0], h.Order, h.Selector, ingress)
	for _, hp := range h.Failsafe {
		failsafe.Spec.Ingress = append(failsafe.Spec.Ingress, h.allow(hp))
	}
	node := newGNP(names[1], h.Order+10, h.Selector, ingress)
	for _, hp := range h.Needed {
		node.Spec.Ingress = append(node.Spec.Ingress, h.allow(hp))
	}
	icmp6 := numorstring.ProtocolFromString(numorstring.ProtocolICMPv6)
	for _, nd := range []struct {
		typ  int
		what string
	}{{133, "router solicitation"}, {134, "router advertisement"}, {135, "neighbour solicitation"}, {136, "neighbour advertisement"}} {
		typ := nd.typ
		node.Spec.Ingress = append(node.Spec.Ingress, calicov3.Rule{
			Action:   calicov3.Allow,
			Protocol: &icmp6,
			ICMP:     &calicov3.ICMPFields{Type: &typ},
			Metadata: why("IPv6 " + nd.what),
		})
	}
	cluster := newGNP(names[2], h.Order+20, h.Selector, ingress)
	cluster.Spec.Ingress = []calicov3.Rule{{
		Action:   calicov3.Allow,
		Source:   calicov3.EntityRule{Nets: nets(h.Cluster)},
		Metadata: why("the cluster's own nodes and pods"),
	}}
	deny := newGNP(names[3], h.Order+30, h.Selector, ingress)
	if h.Log {
		deny.Spec.Ingress = append(deny.Spec.Ingress, calicov3.Rule{Action: calicov3.Log, Metadata: why("log what the host policy denies")})
	}
	deny.Spec.Ingress = append(deny.Spec.Ingress, calicov3.Rule{Action: calicov3.Deny, Metadata: why("everything else")})
	egress := newGNP(names[4], h.Order+40, h.Selector, calicov3.PolicyTypeEgress)
	egress.Spec.Egress = []calicov3.Rule{{Action: calicov3.Allow, Metadata: why("host endpoints would otherwise deny the node's own outbound traffic")}}
	return []calicov3.GlobalNetworkPolicy{failsafe, node, cluster, deny, egress}
}

func (n NodePorts) generate() calicov3.GlobalNetworkPolicy {
	p := newGNP(n.name(), n.Order, n.Selector, calicov3.PolicyTypeIngress)
	p.Spec.PreDNAT = true
	p.Spec.ApplyOnForward = true
	ports := n.ports()
	rng := []numorstring.Port{{MinPort: ports.Number, MaxPort: ports.last()}}
	for _, proto := range []Protocol{TCP, UDP} {
		p.Spec.Ingress = append(p.Spec.Ingress, calicov3.Rule{
			Action:      calicov3.Allow,
			Protocol:    calicoProtocol(proto),
			Source:      setSelector(n.EdgeSet),
			Destination: calicov3.EntityRule{Ports: slices.Clone(rng)},
			Metadata:    why("NodePorts: the edge"),
		})
	}
	for _, proto := range []Protocol{TCP, UDP} {
		p.Spec.Ingress = append(p.Spec.Ingress, calicov3.Rule{
			Action:      calicov3.Deny,
			Protocol:    calicoProtocol(proto),
			Destination: calicov3.EntityRule{Ports: slices.Clone(rng)},
			Metadata:    why("NodePorts: nobody else (pre-DNAT policy has no implicit deny)"),
		})
	}
	return p
}

// validDNSLabel reports whether s is 1 to 63 of a-z, 0-9 and '-', starting
// and ending alphanumeric.
func validDNSLabel(s string) bool {
	if len(s) == 0 || len(s) > 63 || s[0] == '-' || s[len(s)-1] == '-' {
		return false
	}
	return strings.IndexFunc(s, func(r rune) bool { return !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '-') }) < 0
}

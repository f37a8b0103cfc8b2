package netpol

import (
	"net/netip"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
)

// Default names of the NetworkPolicies, used when a Name field is empty.
const (
	DefaultDenyName    = "default-deny"
	DNSName            = "allow-dns"
	BlockMetadataName  = "block-cloud-metadata"
	FromEdgeName       = "allow-edge-to-ingress-controller"
	FromIngressName    = "allow-from-ingress-controller"
	EgressAllowName    = "allow-egress"
	defaultDNSNSLabel  = "kubernetes.io/metadata.name"
	defaultDNSNSValue  = "kube-system"
	defaultDNSPodLabel = "k8s-app"
	defaultDNSPodValue = "kube-dns"
)

// NodeLocalDNS is the link-local address node-local-dns (NodeLocal
// DNSCache) listens on in its documented configuration.
var NodeLocalDNS = netip.MustParseAddr("169.254.20.10")

// DefaultMetadataEndpoints are the cloud instance-metadata addresses
// [BlockMetadata] blocks when given none: AWS, GCP, Azure, OpenStack and
// DigitalOcean's 169.254.169.254, AWS's IPv6 fd00:ec2::254, and Alibaba
// Cloud's 100.100.100.200.
var DefaultMetadataEndpoints = []netip.Addr{
	netip.MustParseAddr("169.254.169.254"),
	netip.MustParseAddr("fd00:ec2::254"),
	netip.MustParseAddr("100.100.100.200"),
}

// DefaultDeny isolates every pod of a namespace for the directions it
// names: with no rules, nothing is allowed in (Ingress) or out (Egress)
// except what other NetworkPolicies selecting the pods allow.
type DefaultDeny struct {
	Namespace string
	Name      string // zero means DefaultDenyName
	Ingress   bool
	Egress    bool
}

// DNS lets pods resolve names: egress to the cluster DNS pods on UDP and
// TCP 53, selected by namespace and pod labels in one peer (both must
// match), and to node-local-dns when it runs.
type DNS struct {
	Namespace string
	Name      string               // zero means DNSName
	Pods      metav1.LabelSelector // the pods allowed to resolve; empty means all in Namespace
	// ServerNamespace selects the DNS server's namespace; nil means
	// kubernetes.io/metadata.name=kube-system. It may not be empty.
	ServerNamespace *metav1.LabelSelector
	// ServerPods selects the DNS server's pods; nil means k8s-app=kube-dns
	// (CoreDNS keeps that label). It may not be empty.
	ServerPods *metav1.LabelSelector
	// NodeLocal are the addresses node-local-dns listens on, allowed as
	// ipBlocks: [NodeLocalDNS], and also the kube-dns Service's ClusterIP
	// when node-local-dns binds it too (kube-proxy iptables mode), because
	// then that traffic is answered on the node and never reaches a DNS
	// pod. Empty when node-local-dns does not run.
	NodeLocal []netip.Addr
}

// FromIngressController lets the ingress controller's pods reach a
// workload on the given ports: one peer with the controller's
// namespaceSelector and podSelector, which must both match.
type FromIngressController struct {
	Namespace string
	Name      string               // zero means FromIngressName
	Pods      metav1.LabelSelector // the workload's pods; empty means all in Namespace
	// ControllerNamespace and ControllerPods select the controller; both
	// are required and may not be empty (an empty one matches every
	// namespace or every pod).
	ControllerNamespace metav1.LabelSelector
	ControllerPods      metav1.LabelSelector
	Ports               []Port // required; named ports resolve against the workload's pods
}

// FromEdge lets the edge (Cloudflare's ranges, a load balancer) reach the
// ingress controller's pods on the given ports, as ipBlocks.
//
// An ipBlock sees the packet's source address as it arrives at the pod.
// A Service with externalTrafficPolicy: Cluster SNATs traffic that a node
// forwards to a pod on another node, so the pod sees a node address and
// this policy would refuse it; keep the client address with
// externalTrafficPolicy: Local (or hostNetwork / a load balancer that
// routes to pod IPs directly).
type FromEdge struct {
	Namespace  string
	Name       string               // zero means FromEdgeName
	Controller metav1.LabelSelector // required, not empty
	Edge       []netip.Prefix       // required; canonicalised
	Ports      []Port               // required
}

// EgressAllow lets pods reach prefixes, on the given ports or on all.
// Except carves addresses out of To: an except inside a To prefix becomes
// that ipBlock's except, and a To prefix that an except covers is dropped
// (the API server refuses an except that is not strictly inside its cidr).
type EgressAllow struct {
	Namespace string
	Name      string               // zero means EgressAllowName
	Pods      metav1.LabelSelector // empty means all in Namespace
	To        []netip.Prefix       // required
	Except    []netip.Prefix       // each must lie inside or cover a To prefix
	Ports     []Port               // empty means every port and protocol
}

// BlockMetadata lets pods reach everything except the cloud
// instance-metadata endpoints: egress to 0.0.0.0/0 and ::/0 with the
// endpoints as except. NetworkPolicies only add allows, so this blocks
// the endpoints only for pods no other policy lets reach them; in a
// namespace with an egress default deny it opens every other destination.
// Pods with hostNetwork are not covered (NetworkPolicy does not apply to
// them).
type BlockMetadata struct {
	Namespace string
	Name      string               // zero means BlockMetadataName
	Pods      metav1.LabelSelector // empty means all in Namespace
	Endpoints []netip.Addr         // empty means DefaultMetadataEndpoints
}

func name(n, def string) string {
	if n == "" {
		return def
	}
	return n
}

func newNetworkPolicy(ns, name string, pods metav1.LabelSelector, types ...networkingv1.PolicyType) networkingv1.NetworkPolicy {
	return networkingv1.NetworkPolicy{
		TypeMeta:   metav1.TypeMeta{APIVersion: "networking.k8s.io/v1", Kind: "NetworkPolicy"},
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
		Spec:       networkingv1.NetworkPolicySpec{PodSelector: *pods.DeepCopy(), PolicyTypes: types},
	}
}

func (d DefaultDeny) generate() networkingv1.NetworkPolicy {
	var types []networkingv1.PolicyType
	if d.Ingress {
		types = append(types, networkingv1.PolicyTypeIngress)
	}
	if d.Egress {
		types = append(types, networkingv1.PolicyTypeEgress)
	}
	return newNetworkPolicy(d.Namespace, name(d.Name, DefaultDenyName), metav1.LabelSelector{}, types...)
}

func (d DNS) serverNamespace() metav1.LabelSelector {
	if d.ServerNamespace != nil {
		return *d.ServerNamespace.DeepCopy()
	}
	return metav1.LabelSelector{MatchLabels: map[string]string{defaultDNSNSLabel: defaultDNSNSValue}}
}

func (d DNS) serverPods() metav1.LabelSelector {
	if d.ServerPods != nil {
		return *d.ServerPods.DeepCopy()
	}
	return metav1.LabelSelector{MatchLabels: map[string]string{defaultDNSPodLabel: defaultDNSPodValue}}
}

func (d DNS) generate() networkingv1.NetworkPolicy {
	np := newNetworkPolicy(d.Namespace, name(d.Name, DNSName), d.Pods, networkingv1.PolicyTypeEgress)
	ports := kubePorts([]Port{UDPPort(53), TCPPort(53)})
	ns, pods := d.serverNamespace(), d.serverPods()
	np.Spec.Egress = []networkingv1.NetworkPolicyEgressRule{{
		To:    []networkingv1.NetworkPolicyPeer{{NamespaceSelector: &ns, PodSelector: &pods}},
		Ports: ports,
	}}
	if len(d.NodeLocal) > 0 {
		var peers []networkingv1.NetworkPolicyPeer
		for _, p := range canonical(hostPrefixes(d.NodeLocal)) {
			peers = append(peers, networkingv1.NetworkPolicyPeer{IPBlock: &networkingv1.IPBlock{CIDR: p.String()}})
		}
		np.Spec.Egress = append(np.Spec.Egress, networkingv1.NetworkPolicyEgressRule{To: peers, Ports: kubePorts([]Port{UDPPort(53), TCPPort(53)})})
	}
	return np
}

func (f FromIngressController) generate() networkingv1.NetworkPolicy {
	np := newNetworkPolicy(f.Namespace, name(f.Name, FromIngressName), f.Pods, networkingv1.PolicyTypeIngress)
	ns, pods := *f.ControllerNamespace.DeepCopy(), *f.ControllerPods.DeepCopy()
	np.Spec.Ingress = []networkingv1.NetworkPolicyIngressRule{{
		From:  []networkingv1.NetworkPolicyPeer{{NamespaceSelector: &ns, PodSelector: &pods}},
		Ports: kubePorts(f.Ports),
	}}
	return np
}

func (f FromEdge) generate() networkingv1.NetworkPolicy {
	np := newNetworkPolicy(f.Namespace, name(f.Name, FromEdgeName), f.Controller, networkingv1.PolicyTypeIngress)
	var peers []networkingv1.NetworkPolicyPeer
	for _, p := range canonical(f.Edge) {
		peers = append(peers, networkingv1.NetworkPolicyPeer{IPBlock: &networkingv1.IPBlock{CIDR: p.String()}})
	}
	np.Spec.Ingress = []networkingv1.NetworkPolicyIngressRule{{From: peers, Ports: kubePorts(f.Ports)}}
	return np
}

func (e EgressAllow) generate() networkingv1.NetworkPolicy {
	np := newNetworkPolicy(e.Namespace, name(e.Name, EgressAllowName), e.Pods, networkingv1.PolicyTypeEgress)
	var peers []networkingv1.NetworkPolicyPeer
	for _, b := range carve(canonical(e.To), canonical(e.Except)) {
		peers = append(peers, networkingv1.NetworkPolicyPeer{IPBlock: b})
	}
	np.Spec.Egress = []networkingv1.NetworkPolicyEgressRule{{To: peers, Ports: kubePorts(e.Ports)}}
	return np
}

func (b BlockMetadata) endpoints() []netip.Addr {
	if len(b.Endpoints) == 0 {
		return DefaultMetadataEndpoints
	}
	return b.Endpoints
}

func (b BlockMetadata) generate() networkingv1.NetworkPolicy {
	np := newNetworkPolicy(b.Namespace, name(b.Name, BlockMetadataName), b.Pods, networkingv1.PolicyTypeEgress)
	all := []netip.Prefix{netip.MustParsePrefix("0.0.0.0/0"), netip.MustParsePrefix("::/0")}
	var peers []networkingv1.NetworkPolicyPeer
	for _, blk := range carve(all, canonical(hostPrefixes(b.endpoints()))) {
		peers = append(peers, networkingv1.NetworkPolicyPeer{IPBlock: blk})
	}
	np.Spec.Egress = []networkingv1.NetworkPolicyEgressRule{{To: peers}}
	return np
}

func hostPrefixes(as []netip.Addr) []netip.Prefix {
	ps := make([]netip.Prefix, len(as))
	for i, a := range as {
		ps[i] = hostPrefix(a)
	}
	return ps
}

// carve turns canonical prefixes to and except into ipBlocks: each except
// strictly inside a to prefix becomes its except; a to prefix equal to or
// inside an except is dropped, since nothing of it is left and the API
// server refuses an except that is not strictly inside its cidr.
func carve(to, except []netip.Prefix) []*networkingv1.IPBlock {
	var out []*networkingv1.IPBlock
	for _, c := range to {
		blk := &networkingv1.IPBlock{CIDR: c.String()}
		dropped := false
		for _, e := range except {
			switch {
			case e.Bits() <= c.Bits() && e.Contains(c.Addr()):
				dropped = true
			case e.Bits() > c.Bits() && c.Contains(e.Addr()):
				blk.Except = append(blk.Except, e.String())
			}
		}
		if !dropped {
			out = append(out, blk)
		}
	}
	return out
}

// kubePorts renders ports for a NetworkPolicy, protocol always explicit so
// that what is applied reads back equal (the API server defaults it to TCP).
func kubePorts(ports []Port) []networkingv1.NetworkPolicyPort {
	if len(ports) == 0 {
		return nil
	}
	out := make([]networkingv1.NetworkPolicyPort, len(ports))
	for i, p := range ports {
		proto := corev1.Protocol(p.Protocol.orTCP())
		out[i].Protocol = &proto
		var v intstr.IntOrString
		if p.Name != "" {
			v = intstr.FromString(p.Name)
		} else {
			v = intstr.FromInt32(int32(p.Number))
			if p.End != 0 && p.End != p.Number {
				end := int32(p.End)
				out[i].EndPort = &end
			}
		}
		out[i].Port = &v
	}
	return out
}

package netpol_test

import (
	"net/netip"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/originguard/originguard/netpol"
)

// Documentation and private addresses only; the edge ranges stand in for
// Cloudflare's.
var (
	edge         = []netip.Prefix{netip.MustParsePrefix("198.51.100.0/24"), netip.MustParsePrefix("203.0.113.0/24"), netip.MustParsePrefix("2001:db8:cf::/48")}
	cluster      = []netip.Prefix{netip.MustParsePrefix("10.0.0.0/16"), netip.MustParsePrefix("10.244.0.0/16"), netip.MustParsePrefix("fd00:10::/56")}
	controlPlane = []netip.Prefix{netip.MustParsePrefix("10.0.0.0/24")}
)

func node(name string, addrs ...string) corev1.Node {
	n := corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{
		"kubernetes.io/hostname": name,
		"kubernetes.io/os":       "linux",
	}}}
	for i, a := range addrs {
		typ := corev1.NodeInternalIP
		if i == len(addrs)-1 && len(addrs) > 1 {
			typ = corev1.NodeExternalIP
		}
		n.Status.Addresses = append(n.Status.Addresses, corev1.NodeAddress{Type: typ, Address: a})
	}
	n.Status.Addresses = append(n.Status.Addresses, corev1.NodeAddress{Type: corev1.NodeHostName, Address: name})
	return n
}

func ingressNginx() (metav1.LabelSelector, metav1.LabelSelector) {
	return metav1.LabelSelector{MatchLabels: map[string]string{"kubernetes.io/metadata.name": "ingress-nginx"}},
		metav1.LabelSelector{MatchLabels: map[string]string{"app.kubernetes.io/name": "ingress-nginx"}}
}

// generators is one Spec per generator, by golden file stem. Together they
// use every generator and option.
func generators() map[string]netpol.Spec {
	ctrlNS, ctrlPods := ingressNginx()
	return map[string]netpol.Spec{
		"default-deny": {DefaultDeny: []netpol.DefaultDeny{
			{Namespace: "shop", Ingress: true, Egress: true},
			{Namespace: "blog", Name: "deny-ingress", Ingress: true},
			{Namespace: "batch", Name: "deny-egress", Egress: true},
		}},
		"dns": {DNS: []netpol.DNS{
			{Namespace: "shop"},
			{
				Namespace:       "blog",
				Pods:            metav1.LabelSelector{MatchLabels: map[string]string{"app": "blog"}},
				ServerNamespace: &metav1.LabelSelector{MatchLabels: map[string]string{"kubernetes.io/metadata.name": "dns"}},
				ServerPods:      &metav1.LabelSelector{MatchExpressions: []metav1.LabelSelectorRequirement{{Key: "app", Operator: metav1.LabelSelectorOpIn, Values: []string{"coredns", "unbound"}}}},
				NodeLocal:       []netip.Addr{netpol.NodeLocalDNS, netip.MustParseAddr("10.96.0.10")},
			},
		}},
		"from-ingress-controller": {FromIngressController: []netpol.FromIngressController{{
			Namespace:           "shop",
			Pods:                metav1.LabelSelector{MatchLabels: map[string]string{"app": "web"}},
			ControllerNamespace: ctrlNS,
			ControllerPods:      ctrlPods,
			Ports:               []netpol.Port{netpol.TCPPort(8080), {Name: "metrics"}, {Protocol: netpol.UDP, Name: "quic"}},
		}}},
		"from-edge": {FromEdge: []netpol.FromEdge{{
			Namespace:  "ingress-nginx",
			Controller: ctrlPods,
			Edge:       append([]netip.Prefix{netip.MustParsePrefix("198.51.100.7/24")}, edge...),
			Ports:      []netpol.Port{netpol.TCPPort(443), netpol.TCPPort(80), netpol.UDPPort(443)},
		}}},
		"egress-allow": {EgressAllow: []netpol.EgressAllow{{
			Namespace: "shop",
			Name:      "allow-payments",
			Pods:      metav1.LabelSelector{MatchLabels: map[string]string{"app": "checkout"}},
			To: []netip.Prefix{
				netip.MustParsePrefix("192.0.2.0/24"),
				netip.MustParsePrefix("192.0.2.128/25"), // inside the first: dropped
				netip.MustParsePrefix("198.51.100.10/32"),
				netip.MustParsePrefix("2001:db8::/32"),
			},
			Except: []netip.Prefix{
				netip.MustParsePrefix("192.0.2.64/26"),     // carved out of 192.0.2.0/24
				netip.MustParsePrefix("198.51.100.0/24"),   // covers 198.51.100.10/32: that one goes
				netip.MustParsePrefix("2001:db8:bad::/48"), // carved out of the IPv6 one
			},
			Ports: []netpol.Port{netpol.TCPPort(443), netpol.PortRange(netpol.TCP, 8000, 8080), {Protocol: netpol.SCTP, Number: 9}},
		}}},
		"block-metadata": {BlockMetadata: []netpol.BlockMetadata{
			{Namespace: "shop"},
			{Namespace: "blog", Name: "no-aws-metadata", Endpoints: []netip.Addr{netip.MustParseAddr("169.254.169.254")}},
		}},
		"network-set": {NetworkSets: []netpol.NetworkSet{{Name: "edge", Prefixes: append([]netip.Prefix{netip.MustParsePrefix("203.0.113.9/24")}, edge...)}}},
		"host-policy": {
			NetworkSets: []netpol.NetworkSet{{Name: "edge", Prefixes: edge}},
			HostPolicies: []netpol.HostPolicy{{
				Order:        100,
				Selector:     netpol.DefaultHostSelector,
				Failsafe:     netpol.FelixFailsafeInbound,
				Needed:       append([]netpol.HostPort{netpol.Kubelet, netpol.VXLAN, netpol.KubeProxyHealth, {Why: "metrics from the edge", Port: netpol.TCPPort(9100), From: netpol.Edge}}, netpol.WireGuard...),
				Cluster:      cluster,
				ControlPlane: controlPlane,
				EdgeSet:      "edge",
				Log:          true,
			}},
		},
		"nodeports": {
			NetworkSets: []netpol.NetworkSet{{Name: "edge", Prefixes: edge}},
			NodePorts:   []netpol.NodePorts{{Order: 10, Selector: netpol.DefaultHostSelector, EdgeSet: "edge", Ports: netpol.PortRange(netpol.TCP, 30000, 30999)}},
		},
		"host-endpoints": {HostPolicies: []netpol.HostPolicy{{
			Name:         "hosts",
			Order:        300,
			Selector:     netpol.DefaultHostSelector,
			Needed:       []netpol.HostPort{netpol.Kubelet},
			Cluster:      cluster,
			ControlPlane: controlPlane,
		}}, HostEndpoints: []netpol.HostEndpoints{
			{Interface: "eth0", Nodes: []corev1.Node{node("node-b", "10.0.1.12", "fd00:10::12", "192.0.2.12"), node("node-a", "10.0.1.11")}},
			{Interface: "*", Profiles: []string{"projectcalico-default-allow"}, Nodes: []corev1.Node{node("node-c", "::ffff:10.0.1.13")}},
		}},
	}
}

// hosts is the host-policy preset as the examples and tests use it.
func hosts() netpol.Hosts {
	return netpol.Hosts{
		Cluster:      cluster,
		ControlPlane: controlPlane,
		Edge:         edge,
		WireGuard:    true,
		Nodes:        []corev1.Node{node("node-a", "10.0.1.11"), node("node-b", "10.0.1.12", "fd00:10::12")},
	}
}

package netpol_test

import (
	"fmt"
	"net/netip"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/originguard/originguard/netpol"
)

// A namespace where nothing moves but DNS: default deny both ways, and
// egress to CoreDNS and to node-local-dns.
func ExampleNamespace_Spec() {
	spec := netpol.Namespace{Name: "shop", NodeLocalDNS: []netip.Addr{netpol.NodeLocalDNS}}.Spec()
	out, err := spec.Render(netpol.CalicoAPI)
	if err != nil {
		panic(err)
	}
	fmt.Print(string(out))
	// Output:
	// ---
	// apiVersion: networking.k8s.io/v1
	// kind: NetworkPolicy
	// metadata:
	//   name: default-deny
	//   namespace: shop
	// spec:
	//   podSelector: {}
	//   policyTypes:
	//   - Ingress
	//   - Egress
	// ---
	// apiVersion: networking.k8s.io/v1
	// kind: NetworkPolicy
	// metadata:
	//   name: allow-dns
	//   namespace: shop
	// spec:
	//   egress:
	//   - ports:
	//     - port: 53
	//       protocol: UDP
	//     - port: 53
	//       protocol: TCP
	//     to:
	//     - namespaceSelector:
	//         matchLabels:
	//           kubernetes.io/metadata.name: kube-system
	//       podSelector:
	//         matchLabels:
	//           k8s-app: kube-dns
	//   - ports:
	//     - port: 53
	//       protocol: UDP
	//     - port: 53
	//       protocol: TCP
	//     to:
	//     - ipBlock:
	//         cidr: 169.254.20.10/32
	//   podSelector: {}
	//   policyTypes:
	//   - Egress
}

// The ingress controller answers only the edge (here two documentation
// ranges standing in for Cloudflare's), and the shop's web pods answer
// only the controller, on a named port.
func ExampleFromEdge() {
	controllerNS := metav1.LabelSelector{MatchLabels: map[string]string{"kubernetes.io/metadata.name": "ingress-nginx"}}
	controller := metav1.LabelSelector{MatchLabels: map[string]string{"app.kubernetes.io/name": "ingress-nginx"}}
	spec := netpol.Spec{
		FromEdge: []netpol.FromEdge{{
			Namespace:  "ingress-nginx",
			Controller: controller,
			Edge:       []netip.Prefix{netip.MustParsePrefix("198.51.100.0/24"), netip.MustParsePrefix("2001:db8:cf::/48")},
			Ports:      []netpol.Port{netpol.TCPPort(443)},
		}},
		FromIngressController: []netpol.FromIngressController{{
			Namespace:           "shop",
			Pods:                metav1.LabelSelector{MatchLabels: map[string]string{"app": "web"}},
			ControllerNamespace: controllerNS,
			ControllerPods:      controller,
			Ports:               []netpol.Port{{Name: "http"}},
		}},
	}
	out, err := spec.Render(netpol.CalicoAPI)
	if err != nil {
		panic(err)
	}
	fmt.Print(string(out))
	// Output:
	// ---
	// apiVersion: networking.k8s.io/v1
	// kind: NetworkPolicy
	// metadata:
	//   name: allow-from-ingress-controller
	//   namespace: shop
	// spec:
	//   ingress:
	//   - from:
	//     - namespaceSelector:
	//         matchLabels:
	//           kubernetes.io/metadata.name: ingress-nginx
	//       podSelector:
	//         matchLabels:
	//           app.kubernetes.io/name: ingress-nginx
	//     ports:
	//     - port: http
	//       protocol: TCP
	//   podSelector:
	//     matchLabels:
	//       app: web
	//   policyTypes:
	//   - Ingress
	// ---
	// apiVersion: networking.k8s.io/v1
	// kind: NetworkPolicy
	// metadata:
	//   name: allow-edge-to-ingress-controller
	//   namespace: ingress-nginx
	// spec:
	//   ingress:
	//   - from:
	//     - ipBlock:
	//         cidr: 198.51.100.0/24
	//     - ipBlock:
	//         cidr: 2001:db8:cf::/48
	//     ports:
	//     - port: 443
	//       protocol: TCP
	//   podSelector:
	//     matchLabels:
	//       app.kubernetes.io/name: ingress-nginx
	//   policyTypes:
	//   - Ingress
}

// exampleHosts is one worker behind an edge, with WireGuard on.
func exampleHosts() netpol.Hosts {
	return netpol.Hosts{
		Cluster:      []netip.Prefix{netip.MustParsePrefix("10.0.0.0/16"), netip.MustParsePrefix("10.244.0.0/16")},
		ControlPlane: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/24")},
		Edge:         []netip.Prefix{netip.MustParsePrefix("198.51.100.0/24"), netip.MustParsePrefix("2001:db8:cf::/48")},
		WireGuard:    true,
		Log:          true,
		Nodes: []corev1.Node{{
			ObjectMeta: metav1.ObjectMeta{Name: "worker-1", Labels: map[string]string{"kubernetes.io/hostname": "worker-1"}},
			Status:     corev1.NodeStatus{Addresses: []corev1.NodeAddress{{Type: corev1.NodeInternalIP, Address: "10.0.1.21"}}},
		}},
		Interface: "eth0",
	}
}

// The node host-policy set for a cluster that serves Calico's API
// (calicoctl or the Calico API server): the edge set, NodePorts from the
// edge only (pre-DNAT), Felix's failsafes mirrored, the kubelet from the
// control plane, WireGuard, the cluster, Log and Deny, host egress, and
// the HostEndpoint last.
func ExampleHosts_Spec() {
	out, err := exampleHosts().Spec().Render(netpol.CalicoAPI)
	if err != nil {
		panic(err)
	}
	fmt.Print(string(out))
	// Output:
	// ---
	// apiVersion: projectcalico.org/v3
	// kind: GlobalNetworkSet
	// metadata:
	//   labels:
	//     originguard.io/set: edge
	//   name: originguard-edge
	// spec:
	//   nets:
	//   - 198.51.100.0/24
	//   - 2001:db8:cf::/48
	// ---
	// apiVersion: projectcalico.org/v3
	// kind: GlobalNetworkPolicy
	// metadata:
	//   name: originguard-nodeports
	// spec:
	//   applyOnForward: true
	//   ingress:
	//   - action: Allow
	//     destination:
	//       ports:
	//       - 30000:32767
	//     metadata:
	//       annotations:
	//         originguard.io/why: 'NodePorts: the edge'
	//     protocol: TCP
	//     source:
	//       namespaceSelector: global()
	//       selector: originguard.io/set == "edge"
	//   - action: Allow
	//     destination:
	//       ports:
	//       - 30000:32767
	//     metadata:
	//       annotations:
	//         originguard.io/why: 'NodePorts: the edge'
	//     protocol: UDP
	//     source:
	//       namespaceSelector: global()
	//       selector: originguard.io/set == "edge"
	//   - action: Deny
	//     destination:
	//       ports:
	//       - 30000:32767
	//     metadata:
	//       annotations:
	//         originguard.io/why: 'NodePorts: nobody else (pre-DNAT policy has no implicit
	//           deny)'
	//     protocol: TCP
	//     source: {}
	//   - action: Deny
	//     destination:
	//       ports:
	//       - 30000:32767
	//     metadata:
	//       annotations:
	//         originguard.io/why: 'NodePorts: nobody else (pre-DNAT policy has no implicit
	//           deny)'
	//     protocol: UDP
	//     source: {}
	//   order: 10
	//   preDNAT: true
	//   selector: has(kubernetes.io/hostname)
	//   types:
	//   - Ingress
	// ---
	// apiVersion: projectcalico.org/v3
	// kind: GlobalNetworkPolicy
	// metadata:
	//   name: originguard-host-failsafe
	// spec:
	//   ingress:
	//   - action: Allow
	//     destination:
	//       ports:
	//       - 22
	//     metadata:
	//       annotations:
	//         originguard.io/why: 'Felix failsafe: SSH'
	//     protocol: TCP
	//     source: {}
	//   - action: Allow
	//     destination:
	//       ports:
	//       - 68
	//     metadata:
	//       annotations:
	//         originguard.io/why: 'Felix failsafe: DHCP client'
	//     protocol: UDP
	//     source: {}
	//   - action: Allow
	//     destination:
	//       ports:
	//       - 179
	//     metadata:
	//       annotations:
	//         originguard.io/why: 'Felix failsafe: BGP'
	//     protocol: TCP
	//     source: {}
	//   - action: Allow
	//     destination:
	//       ports:
	//       - 2379
	//     metadata:
	//       annotations:
	//         originguard.io/why: 'Felix failsafe: etcd clients'
	//     protocol: TCP
	//     source: {}
	//   - action: Allow
	//     destination:
	//       ports:
	//       - 2380
	//     metadata:
	//       annotations:
	//         originguard.io/why: 'Felix failsafe: etcd peers'
	//     protocol: TCP
	//     source: {}
	//   - action: Allow
	//     destination:
	//       ports:
	//       - 5473
	//     metadata:
	//       annotations:
	//         originguard.io/why: 'Felix failsafe: Typha'
	//     protocol: TCP
	//     source: {}
	//   - action: Allow
	//     destination:
	//       ports:
	//       - 6443
	//     metadata:
	//       annotations:
	//         originguard.io/why: 'Felix failsafe: Kubernetes API server'
	//     protocol: TCP
	//     source: {}
	//   - action: Allow
	//     destination:
	//       ports:
	//       - 6666
	//     metadata:
	//       annotations:
	//         originguard.io/why: 'Felix failsafe: etcd (legacy port)'
	//     protocol: TCP
	//     source: {}
	//   - action: Allow
	//     destination:
	//       ports:
	//       - 6667
	//     metadata:
	//       annotations:
	//         originguard.io/why: 'Felix failsafe: etcd (legacy port)'
	//     protocol: TCP
	//     source: {}
	//   order: 100
	//   selector: has(kubernetes.io/hostname)
	//   types:
	//   - Ingress
	// ---
	// apiVersion: projectcalico.org/v3
	// kind: GlobalNetworkPolicy
	// metadata:
	//   name: originguard-host-node
	// spec:
	//   ingress:
	//   - action: Allow
	//     destination:
	//       ports:
	//       - 10250
	//     metadata:
	//       annotations:
	//         originguard.io/why: 'kubelet API: the API server calls it for exec, logs and
	//           port-forward'
	//     protocol: TCP
	//     source:
	//       nets:
	//       - 10.0.0.0/24
	//   - action: Allow
	//     destination:
	//       ports:
	//       - 51820
	//     metadata:
	//       annotations:
	//         originguard.io/why: Calico WireGuard (IPv4)
	//     protocol: UDP
	//     source:
	//       nets:
	//       - 10.0.0.0/16
	//       - 10.244.0.0/16
	//   - action: Allow
	//     destination:
	//       ports:
	//       - 51821
	//     metadata:
	//       annotations:
	//         originguard.io/why: Calico WireGuard (IPv6)
	//     protocol: UDP
	//     source:
	//       nets:
	//       - 10.0.0.0/16
	//       - 10.244.0.0/16
	//   - action: Allow
	//     destination: {}
	//     icmp:
	//       type: 133
	//     metadata:
	//       annotations:
	//         originguard.io/why: IPv6 router solicitation
	//     protocol: ICMPv6
	//     source: {}
	//   - action: Allow
	//     destination: {}
	//     icmp:
	//       type: 134
	//     metadata:
	//       annotations:
	//         originguard.io/why: IPv6 router advertisement
	//     protocol: ICMPv6
	//     source: {}
	//   - action: Allow
	//     destination: {}
	//     icmp:
	//       type: 135
	//     metadata:
	//       annotations:
	//         originguard.io/why: IPv6 neighbour solicitation
	//     protocol: ICMPv6
	//     source: {}
	//   - action: Allow
	//     destination: {}
	//     icmp:
	//       type: 136
	//     metadata:
	//       annotations:
	//         originguard.io/why: IPv6 neighbour advertisement
	//     protocol: ICMPv6
	//     source: {}
	//   order: 110
	//   selector: has(kubernetes.io/hostname)
	//   types:
	//   - Ingress
	// ---
	// apiVersion: projectcalico.org/v3
	// kind: GlobalNetworkPolicy
	// metadata:
	//   name: originguard-host-cluster
	// spec:
	//   ingress:
	//   - action: Allow
	//     destination: {}
	//     metadata:
	//       annotations:
	//         originguard.io/why: the cluster's own nodes and pods
	//     source:
	//       nets:
	//       - 10.0.0.0/16
	//       - 10.244.0.0/16
	//   order: 120
	//   selector: has(kubernetes.io/hostname)
	//   types:
	//   - Ingress
	// ---
	// apiVersion: projectcalico.org/v3
	// kind: GlobalNetworkPolicy
	// metadata:
	//   name: originguard-host-deny
	// spec:
	//   ingress:
	//   - action: Log
	//     destination: {}
	//     metadata:
	//       annotations:
	//         originguard.io/why: log what the host policy denies
	//     source: {}
	//   - action: Deny
	//     destination: {}
	//     metadata:
	//       annotations:
	//         originguard.io/why: everything else
	//     source: {}
	//   order: 130
	//   selector: has(kubernetes.io/hostname)
	//   types:
	//   - Ingress
	// ---
	// apiVersion: projectcalico.org/v3
	// kind: GlobalNetworkPolicy
	// metadata:
	//   name: originguard-host-egress
	// spec:
	//   egress:
	//   - action: Allow
	//     destination: {}
	//     metadata:
	//       annotations:
	//         originguard.io/why: host endpoints would otherwise deny the node's own outbound
	//           traffic
	//     source: {}
	//   order: 140
	//   selector: has(kubernetes.io/hostname)
	//   types:
	//   - Egress
	// ---
	// apiVersion: projectcalico.org/v3
	// kind: HostEndpoint
	// metadata:
	//   labels:
	//     kubernetes.io/hostname: worker-1
	//   name: worker-1-eth0
	// spec:
	//   expectedIPs:
	//   - 10.0.1.21
	//   interfaceName: eth0
	//   node: worker-1
}

// The same set for an operator-installed cluster that serves only the
// crd.projectcalico.org/v1 CRDs: the same kinds and spec, under the CRD
// group.
func ExampleHosts_Spec_crdForm() {
	out, err := exampleHosts().Spec().Render(netpol.CalicoCRD)
	if err != nil {
		panic(err)
	}
	fmt.Print(string(out))
	// Output:
	// ---
	// apiVersion: crd.projectcalico.org/v1
	// kind: GlobalNetworkSet
	// metadata:
	//   labels:
	//     originguard.io/set: edge
	//   name: originguard-edge
	// spec:
	//   nets:
	//   - 198.51.100.0/24
	//   - 2001:db8:cf::/48
	// ---
	// apiVersion: crd.projectcalico.org/v1
	// kind: GlobalNetworkPolicy
	// metadata:
	//   name: originguard-nodeports
	// spec:
	//   applyOnForward: true
	//   ingress:
	//   - action: Allow
	//     destination:
	//       ports:
	//       - 30000:32767
	//     metadata:
	//       annotations:
	//         originguard.io/why: 'NodePorts: the edge'
	//     protocol: TCP
	//     source:
	//       namespaceSelector: global()
	//       selector: originguard.io/set == "edge"
	//   - action: Allow
	//     destination:
	//       ports:
	//       - 30000:32767
	//     metadata:
	//       annotations:
	//         originguard.io/why: 'NodePorts: the edge'
	//     protocol: UDP
	//     source:
	//       namespaceSelector: global()
	//       selector: originguard.io/set == "edge"
	//   - action: Deny
	//     destination:
	//       ports:
	//       - 30000:32767
	//     metadata:
	//       annotations:
	//         originguard.io/why: 'NodePorts: nobody else (pre-DNAT policy has no implicit
	//           deny)'
	//     protocol: TCP
	//     source: {}
	//   - action: Deny
	//     destination:
	//       ports:
	//       - 30000:32767
	//     metadata:
	//       annotations:
	//         originguard.io/why: 'NodePorts: nobody else (pre-DNAT policy has no implicit
	//           deny)'
	//     protocol: UDP
	//     source: {}
	//   order: 10
	//   preDNAT: true
	//   selector: has(kubernetes.io/hostname)
	//   types:
	//   - Ingress
	// ---
	// apiVersion: crd.projectcalico.org/v1
	// kind: GlobalNetworkPolicy
	// metadata:
	//   name: originguard-host-failsafe
	// spec:
	//   ingress:
	//   - action: Allow
	//     destination:
	//       ports:
	//       - 22
	//     metadata:
	//       annotations:
	//         originguard.io/why: 'Felix failsafe: SSH'
	//     protocol: TCP
	//     source: {}
	//   - action: Allow
	//     destination:
	//       ports:
	//       - 68
	//     metadata:
	//       annotations:
	//         originguard.io/why: 'Felix failsafe: DHCP client'
	//     protocol: UDP
	//     source: {}
	//   - action: Allow
	//     destination:
	//       ports:
	//       - 179
	//     metadata:
	//       annotations:
	//         originguard.io/why: 'Felix failsafe: BGP'
	//     protocol: TCP
	//     source: {}
	//   - action: Allow
	//     destination:
	//       ports:
	//       - 2379
	//     metadata:
	//       annotations:
	//         originguard.io/why: 'Felix failsafe: etcd clients'
	//     protocol: TCP
	//     source: {}
	//   - action: Allow
	//     destination:
	//       ports:
	//       - 2380
	//     metadata:
	//       annotations:
	//         originguard.io/why: 'Felix failsafe: etcd peers'
	//     protocol: TCP
	//     source: {}
	//   - action: Allow
	//     destination:
	//       ports:
	//       - 5473
	//     metadata:
	//       annotations:
	//         originguard.io/why: 'Felix failsafe: Typha'
	//     protocol: TCP
	//     source: {}
	//   - action: Allow
	//     destination:
	//       ports:
	//       - 6443
	//     metadata:
	//       annotations:
	//         originguard.io/why: 'Felix failsafe: Kubernetes API server'
	//     protocol: TCP
	//     source: {}
	//   - action: Allow
	//     destination:
	//       ports:
	//       - 6666
	//     metadata:
	//       annotations:
	//         originguard.io/why: 'Felix failsafe: etcd (legacy port)'
	//     protocol: TCP
	//     source: {}
	//   - action: Allow
	//     destination:
	//       ports:
	//       - 6667
	//     metadata:
	//       annotations:
	//         originguard.io/why: 'Felix failsafe: etcd (legacy port)'
	//     protocol: TCP
	//     source: {}
	//   order: 100
	//   selector: has(kubernetes.io/hostname)
	//   types:
	//   - Ingress
	// ---
	// apiVersion: crd.projectcalico.org/v1
	// kind: GlobalNetworkPolicy
	// metadata:
	//   name: originguard-host-node
	// spec:
	//   ingress:
	//   - action: Allow
	//     destination:
	//       ports:
	//       - 10250
	//     metadata:
	//       annotations:
	//         originguard.io/why: 'kubelet API: the API server calls it for exec, logs and
	//           port-forward'
	//     protocol: TCP
	//     source:
	//       nets:
	//       - 10.0.0.0/24
	//   - action: Allow
	//     destination:
	//       ports:
	//       - 51820
	//     metadata:
	//       annotations:
	//         originguard.io/why: Calico WireGuard (IPv4)
	//     protocol: UDP
	//     source:
	//       nets:
	//       - 10.0.0.0/16
	//       - 10.244.0.0/16
	//   - action: Allow
	//     destination:
	//       ports:
	//       - 51821
	//     metadata:
	//       annotations:
	//         originguard.io/why: Calico WireGuard (IPv6)
	//     protocol: UDP
	//     source:
	//       nets:
	//       - 10.0.0.0/16
	//       - 10.244.0.0/16
	//   - action: Allow
	//     destination: {}
	//     icmp:
	//       type: 133
	//     metadata:
	//       annotations:
	//         originguard.io/why: IPv6 router solicitation
	//     protocol: ICMPv6
	//     source: {}
	//   - action: Allow
	//     destination: {}
	//     icmp:
	//       type: 134
	//     metadata:
	//       annotations:
	//         originguard.io/why: IPv6 router advertisement
	//     protocol: ICMPv6
	//     source: {}
	//   - action: Allow
	//     destination: {}
	//     icmp:
	//       type: 135
	//     metadata:
	//       annotations:
	//         originguard.io/why: IPv6 neighbour solicitation
	//     protocol: ICMPv6
	//     source: {}
	//   - action: Allow
	//     destination: {}
	//     icmp:
	//       type: 136
	//     metadata:
	//       annotations:
	//         originguard.io/why: IPv6 neighbour advertisement
	//     protocol: ICMPv6
	//     source: {}
	//   order: 110
	//   selector: has(kubernetes.io/hostname)
	//   types:
	//   - Ingress
	// ---
	// apiVersion: crd.projectcalico.org/v1
	// kind: GlobalNetworkPolicy
	// metadata:
	//   name: originguard-host-cluster
	// spec:
	//   ingress:
	//   - action: Allow
	//     destination: {}
	//     metadata:
	//       annotations:
	//         originguard.io/why: the cluster's own nodes and pods
	//     source:
	//       nets:
	//       - 10.0.0.0/16
	//       - 10.244.0.0/16
	//   order: 120
	//   selector: has(kubernetes.io/hostname)
	//   types:
	//   - Ingress
	// ---
	// apiVersion: crd.projectcalico.org/v1
	// kind: GlobalNetworkPolicy
	// metadata:
	//   name: originguard-host-deny
	// spec:
	//   ingress:
	//   - action: Log
	//     destination: {}
	//     metadata:
	//       annotations:
	//         originguard.io/why: log what the host policy denies
	//     source: {}
	//   - action: Deny
	//     destination: {}
	//     metadata:
	//       annotations:
	//         originguard.io/why: everything else
	//     source: {}
	//   order: 130
	//   selector: has(kubernetes.io/hostname)
	//   types:
	//   - Ingress
	// ---
	// apiVersion: crd.projectcalico.org/v1
	// kind: GlobalNetworkPolicy
	// metadata:
	//   name: originguard-host-egress
	// spec:
	//   egress:
	//   - action: Allow
	//     destination: {}
	//     metadata:
	//       annotations:
	//         originguard.io/why: host endpoints would otherwise deny the node's own outbound
	//           traffic
	//     source: {}
	//   order: 140
	//   selector: has(kubernetes.io/hostname)
	//   types:
	//   - Egress
	// ---
	// apiVersion: crd.projectcalico.org/v1
	// kind: HostEndpoint
	// metadata:
	//   labels:
	//     kubernetes.io/hostname: worker-1
	//   name: worker-1-eth0
	// spec:
	//   expectedIPs:
	//   - 10.0.1.21
	//   interfaceName: eth0
	//   node: worker-1
}

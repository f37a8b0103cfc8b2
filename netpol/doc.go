// Package netpol builds the cluster's network policy for Kubernetes behind
// Cloudflare: Kubernetes NetworkPolicies that lock a namespace down (default
// deny, DNS, the ingress controller reachable only from the edge, egress
// allowlists, cloud metadata endpoints blocked) and Calico objects that
// protect the nodes themselves (an edge GlobalNetworkSet, host-endpoint
// GlobalNetworkPolicies that keep the ports a node needs open, NodePorts
// reachable only from the edge, HostEndpoints) — without locking the
// operators out. It also judges policy, generated or the user's own: which
// rule lets a flow pass or stops it, what locks the operators out, and
// what the cluster exposes (see "Explaining flows" below).
//
// It is not a packet filter (it judges flows before they happen and
// enforces nothing), not a controller (nothing watches the cluster), and
// not for the node's own firewall outside Calico
// (see package firewall). It takes [net/netip.Prefix] and standard
// Kubernetes types, imports k8s.io and github.com/projectcalico/api only,
// and never another originguard package.
//
// # Spec, Validate, Generate, Render, Apply
//
// A [Spec] lists what to generate, one typed value per object: [DefaultDeny],
// [DNS], [FromIngressController], [FromEdge], [EgressAllow] and
// [BlockMetadata] for NetworkPolicies; [NetworkSet], [HostPolicy],
// [NodePorts] and [HostEndpoints] for Calico. Presets build the usual
// ones: [Namespace.Spec] locks a namespace down with DNS, [Hosts.Spec] is
// the nodes' host-policy set; [Join] combines specs. [Spec.Validate]
// reports every problem at once, each naming its field; [Spec.Generate]
// returns typed objects ([Objects]: networking.k8s.io/v1 and
// projectcalico.org/v3 types, TypeMeta set) and [Spec.Render] YAML for
// kubectl apply -f; neither fails on a valid Spec, and neither talks to a
// cluster. [Objects.Apply] writes objects with server-side apply.
//
//	spec := netpol.Join(
//		netpol.Namespace{Name: "shop", NodeLocalDNS: []netip.Addr{netpol.NodeLocalDNS}}.Spec(),
//		netpol.Hosts{Cluster: nodesAndPods, ControlPlane: apiServers, Edge: cloudflare, Nodes: nodes}.Spec(),
//	)
//	yaml, err := spec.Render(netpol.CalicoCRD) // or CalicoAPI
//
// [Objects.Validate] checks objects from anywhere — generated, listed from
// a cluster, decoded from a user's YAML — for the mistakes Calico and the
// API server let through or refuse late: a preDNAT policy with egress or
// without applyOnForward, empty types, equal orders, an except outside its
// cidr.
//
// # Two forms of Calico's API
//
// Clusters serve Calico's kinds in one of two ways, and [Form] picks the
// apiVersion: [CalicoAPI] (projectcalico.org/v3) through calicoctl or the
// Calico API server, which validates and defaults; or only the
// [CalicoCRD] (crd.projectcalico.org/v1) CustomResourceDefinitions that
// Calico stores its data in, which operator-installed clusters often have
// alone and where a typed v3 client fails. The kinds and specs are the
// same; through the CRDs nothing defaults or validates, so every policy
// here sets its types (Felix reads empty types as Ingress and Egress) and
// an explicit, distinct order (equal orders tie-break by name, differently
// across Calico versions). Calico's API server stores default-tier
// policies in the CRDs as "default.<name>"; objects written straight to
// the CRDs keep the name given, and policy names here never contain a dot,
// which Calico reads as a tier.
//
// # Host endpoints and the lockout
//
// Felix lets a short list of inbound ports through to every host endpoint
// whatever the policy says, its failsafes ([FelixFailsafeInbound]: SSH,
// BGP, etcd, Typha, the API server, DHCP). The kubelet's 10250/tcp is not
// among them: a deny-all host policy breaks kubectl exec, logs and
// port-forward, because the API server can no longer reach the kubelet.
// Nor is WireGuard's 51820/udp. [HostPolicy] allows the failsafes
// explicitly, then what they miss ([Kubelet] from the control plane,
// [WireGuard], [VXLAN], [KubeProxyHealth]), then the cluster's own
// networks, then Logs and Denies; [Spec.Validate] refuses a host policy
// that leaves 10250 closed to the control plane.
//
// A HostEndpoint denies its host's traffic, both ways, as soon as it
// exists and before any policy selects it (only the failsafes pass): a
// named one through its interface, a "*" one through all of them. Only a
// profile changes that: the host endpoints Calico creates automatically
// carry projectcalico-default-allow. Rendering and applying therefore put
// GlobalNetworkSets first, then the policies, then the HostEndpoints;
// Validate refuses host endpoints that no host policy of the Spec could
// select; and the host-policy set keeps the node's own egress open, since
// a host endpoint with no egress policy would deny it.
//
// # NodePorts before DNAT
//
// kube-proxy rewrites a NodePort packet's destination to a pod before the
// host's ordinary policy runs, and the packet then takes the forward path:
// an ordinary host policy never sees the NodePort. [NodePorts] is a
// preDNAT policy, which sees the port the client sent: preDNAT: true,
// applyOnForward: true (Calico requires it), ingress only (Calico refuses
// egress rules there). A preDNAT policy does not end in an implicit deny
// (unmatched traffic goes on to the ordinary policy), so after allowing
// the edge set the Deny for the NodePort range is explicit. It judges any
// packet arriving on a host endpoint with a destination port in the range,
// so keep pods' own ports out of the NodePort range when nodes route pod
// traffic without encapsulation.
//
// # What ipBlock sees
//
// A NetworkPolicy ipBlock matches the source address as it reaches the
// pod. A Service with externalTrafficPolicy: Cluster SNATs traffic that a
// node forwards to a pod elsewhere, so [FromEdge] would see a node address
// and refuse it: give the ingress controller's Service
// externalTrafficPolicy: Local. NetworkPolicy does not apply to pods with
// hostNetwork; Calico host policy does. An ipBlock's except must lie
// strictly inside its cidr or the API server refuses the object:
// [EgressAllow] carves excepts into the prefixes that hold them and drops a
// prefix an except covers, and Validate refuses an except that lies in
// none (wrong family, or outside every cidr) or that would leave the rule
// without peers, which NetworkPolicy reads as every destination.
//
// # Explaining flows
//
// [NewEvaluator] takes a [Network] (Objects, and whose rules apply:
// [Kubernetes] NetworkPolicy alone, or everything as [Calico]'s Felix
// applies it) and answers for a [Flow] (pod, node or outside address at
// each end, protocol, port, and the NodePort path with or without SNAT)
// whether it passes and which rule decided: [Evaluator.Explain] returns a
// [Verdict] with every enforcement point the flow crosses, each a [Step]
// naming the policy, the rule's index and a rendering of it, or the
// default that decided (isolation, end of tier, profile, host endpoint,
// failsafe). Calico selectors are parsed ([ParseSelector]) in Calico's
// documented grammar; what the evaluator cannot judge (HTTP or Service
// matches, a selector outside the grammar) is refused, never guessed.
//
//	ev, err := netpol.NewEvaluator(netpol.Network{Objects: objs, Semantics: netpol.Calico})
//	v, err := ev.Explain(netpol.Flow{From: apiServer, To: node, Port: 10250})
//	fmt.Println(v) // ... deny (rule: tier default, GlobalNetworkPolicy deny-all-hosts rule 0: Deny)
//
// [Evaluator.Lint] probes what a cluster cannot live without (the API
// server to every kubelet on 10250, DNS, BGP, VXLAN and WireGuard between
// nodes) and what must stay closed (NodePorts, hostPorts and the ingress
// controller beyond the edge), and reports equal Calico orders and
// Log-only policies that end in a drop. [Load] reads what kubectl get -o
// yaml prints, and [Evaluator.Exposure] lists every port reachable from
// outside the cluster with the source regions that may reach it and the
// rule that lets them, and the namespaces without a default deny.
//
// Under Kubernetes semantics the evaluator follows the API's
// documentation, and agrees with its reference implementation,
// kube-network-policies, on random policies (module hack/oracle). Traffic
// between a pod and its own node always passes there, as documented; so a
// NodePort with externalTrafficPolicy: Cluster, SNATed to the node that
// hosts the pod, passes every ipBlock. Under Calico semantics a node
// reaches its own pods whatever their policy, but NodePort traffic it
// SNATs is forwarded and judged by the pod's policy; a pod reaching its
// own node meets [Network.EndpointToHost].
package netpol

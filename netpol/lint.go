package netpol

import (
	"fmt"
	"net/netip"
	"slices"
	"strings"

	calicov3 "github.com/projectcalico/api/pkg/apis/projectcalico/v3"
)

// Check names what a [Finding] is about. It is a closed vocabulary: use
// the constants.
type Check string

const (
	// CheckKubelet: an API server cannot reach a kubelet on 10250/tcp, so
	// kubectl exec, logs, port-forward and metrics break.
	CheckKubelet Check = "kubelet"
	// CheckDNS: a pod cannot reach the cluster DNS on 53/udp or 53/tcp.
	CheckDNS Check = "dns"
	// CheckNodeToNode: BGP (179/tcp), VXLAN (4789/udp) or WireGuard
	// (51820/udp) between two nodes is cut.
	CheckNodeToNode Check = "node-to-node"
	// CheckNodePortOpen: a NodePort answers an address outside the edge,
	// standing for 0.0.0.0/0 or ::/0.
	CheckNodePortOpen Check = "nodeport-open"
	// CheckHostPortOpen: a pod's hostPort answers an address outside the
	// edge.
	CheckHostPortOpen Check = "hostport-open"
	// CheckIngressOpen: the ingress controller answers an address outside
	// the edge.
	CheckIngressOpen Check = "ingress-open"
	// CheckIngressClosed: the ingress controller does not answer the edge.
	CheckIngressClosed Check = "ingress-closed"
	// CheckEqualOrder: two Calico policies of a tier share an order, and
	// their precedence depends on their names and the Calico version.
	CheckEqualOrder Check = "equal-order"
	// CheckLogThenDrop: a Calico policy only logs, and nothing after it
	// in its tier decides, so what it logs is dropped at the end of the
	// tier.
	CheckLogThenDrop Check = "log-then-drop"
)

// Finding is one problem the linter found: the check, what it means, and
// for the checks that probe a flow, the flow and its [Verdict] (whose
// [Verdict.Decider] is the rule responsible).
type Finding struct {
	Check   Check
	Message string
	Flow    *Flow
	Verdict *Verdict
}

// String renders f for a person: the check, the message and, for a
// probed flow, the flow and the step that decided it.
func (f Finding) String() string {
	s := fmt.Sprintf("%s: %s", f.Check, f.Message)
	if f.Verdict != nil {
		d := f.Verdict.Decider()
		s += fmt.Sprintf("\n  flow %s\n  decided at %s", f.Flow, d)
	}
	return s
}

// HostPortBinding is a pod's hostPort: traffic to its node on HostPort is
// DNATed to the pod's ContainerPort.
type HostPortBinding struct {
	Pod           Endpoint
	Protocol      Protocol // zero means TCP
	HostPort      uint16
	ContainerPort uint16
}

// Topology is what the linter probes: the cluster's parts whose
// connectivity matters. Every field may be empty, which skips the checks
// that need it. A Topology is a plain value, safe for concurrent reads.
type Topology struct {
	// Nodes are the cluster's nodes (Host set).
	Nodes []Endpoint
	// APIServers are where the API server calls kubelets from: a node
	// (Host set) for a self-hosted control plane, or an outside address
	// for a managed one.
	APIServers []Endpoint
	// DNS are the cluster DNS pods; Clients the pods that must resolve
	// names (one per namespace is enough).
	DNS, Clients []Endpoint
	// BGP, VXLAN and WireGuard say which node-to-node traffic must pass.
	BGP, VXLAN, WireGuard bool
	// Edge are the addresses allowed to reach the ingress controller and
	// the NodePorts (Cloudflare's ranges, a load balancer).
	Edge []netip.Prefix
	// Outside are addresses outside Edge to probe from, standing for
	// 0.0.0.0/0 and ::/0; zero means documentation addresses that lie in
	// no Edge prefix.
	Outside []netip.Addr
	// IngressController are the ingress controller's pods, answering on
	// IngressPorts (zero means 80 and 443).
	IngressController []Endpoint
	IngressPorts      []uint16
	// NodePorts is the Service NodePort range (zero means 30000-32767),
	// probed at its ends on every node, DNATed to port 8080 of
	// NodePortBackend (zero means a pod without labels in namespace
	// "default" on the node, standing at the node's address).
	NodePorts       Port
	NodePortBackend *Endpoint
	// HostPorts are the pods' hostPorts.
	HostPorts []HostPortBinding
}

var defaultOutside = []netip.Addr{
	netip.MustParseAddr("192.0.2.254"), netip.MustParseAddr("198.51.100.254"), netip.MustParseAddr("203.0.113.254"),
	netip.MustParseAddr("100.64.0.1"), netip.MustParseAddr("2001:db8:ffff::1"),
}

// outside returns the probe addresses in no edge prefix, one per family.
func (t Topology) outside() []netip.Addr {
	cands := t.Outside
	if len(cands) == 0 {
		cands = defaultOutside
	}
	var out []netip.Addr
	seen := map[bool]bool{}
	for _, a := range cands {
		if seen[a.Is4()] || slices.ContainsFunc(t.Edge, func(p netip.Prefix) bool { return p.Contains(a) }) {
			continue
		}
		seen[a.Is4()] = true
		out = append(out, a)
	}
	return out
}

// Lint probes t's essential flows and reports each that fails, and each
// one that should fail and passes; under [Calico] semantics it also
// reports equal orders and Log-only policies that end in a drop. Findings
// come in the order of the checks above, then of t's fields. It fails
// only for a Topology that makes an impossible flow (an endpoint without
// an address).
func (e *Evaluator) Lint(t Topology) ([]Finding, error) {
	var out []Finding
	var firstErr error
	probe := func(c Check, f Flow, wantAllowed bool, msg string) {
		v, err := e.Explain(f)
		if err != nil {
			if firstErr == nil {
				firstErr = err
			}
			return
		}
		if v.Allowed != wantAllowed {
			out = append(out, Finding{Check: c, Message: msg, Flow: &f, Verdict: &v})
		}
	}
	for _, api := range t.APIServers {
		for _, n := range t.Nodes {
			if api.Host && api.Node == n.Node {
				continue // the local kubelet over loopback
			}
			probe(CheckKubelet, Flow{From: api, To: n, Protocol: TCP, Port: 10250}, true,
				fmt.Sprintf("the API server at %s cannot reach the kubelet on %s (10250/tcp): kubectl exec, logs and port-forward break", api.Addr, n.Node))
		}
	}
	for _, c := range t.Clients {
		for _, d := range t.DNS {
			for _, p := range []Protocol{UDP, TCP} {
				probe(CheckDNS, Flow{From: c, To: d, Protocol: p, Port: 53}, true,
					fmt.Sprintf("%s cannot reach the DNS pod %s on %s/53", c, d.Addr, p))
			}
		}
	}
	type need struct {
		on    bool
		proto Protocol
		port  uint16
		what  string
	}
	for _, nd := range []need{{t.BGP, TCP, 179, "BGP"}, {t.VXLAN, UDP, 4789, "VXLAN"}, {t.WireGuard, UDP, 51820, "WireGuard"}} {
		if !nd.on {
			continue
		}
		for _, a := range t.Nodes {
			for _, b := range t.Nodes {
				if a.Node == b.Node || a.Addr.Is4() != b.Addr.Is4() {
					continue
				}
				probe(CheckNodeToNode, Flow{From: a, To: b, Protocol: nd.proto, Port: nd.port}, true,
					fmt.Sprintf("%s from %s to %s (%s/%d) is cut", nd.what, a.Node, b.Node, nd.proto, nd.port))
			}
		}
	}
	outside := t.outside()
	ports := t.NodePorts
	if ports.Number == 0 {
		ports = Port{Number: 30000, End: 32767}
	}
	for _, n := range t.Nodes {
		backend := Endpoint{Namespace: "default", Node: n.Node, Addr: n.Addr}
		if t.NodePortBackend != nil {
			backend = *t.NodePortBackend
		}
		for _, o := range outside {
			if o.Is4() != n.Addr.Is4() || o.Is4() != backend.Addr.Is4() {
				continue
			}
			for _, proto := range []Protocol{TCP, UDP} {
				for _, np := range slices.Compact([]uint16{ports.Number, ports.last()}) {
					probe(CheckNodePortOpen, Flow{From: Endpoint{Addr: o}, To: backend, Protocol: proto, Port: 8080, NodePort: np, Via: n}, false,
						fmt.Sprintf("NodePort %s/%d on %s answers %s, outside the edge (%s)", proto, np, n.Node, o, anyPrefix(o)))
				}
			}
		}
	}
	for _, hp := range t.HostPorts {
		node := hostOf(t.Nodes, hp.Pod.Node)
		for _, o := range outside {
			if node == nil || o.Is4() != node.Addr.Is4() || o.Is4() != hp.Pod.Addr.Is4() {
				continue
			}
			probe(CheckHostPortOpen, Flow{From: Endpoint{Addr: o}, To: hp.Pod, Protocol: hp.Protocol.orTCP(), Port: hp.ContainerPort, NodePort: hp.HostPort, Via: *node}, false,
				fmt.Sprintf("hostPort %s/%d of %s on %s answers %s, outside the edge (%s)", hp.Protocol.orTCP(), hp.HostPort, hp.Pod, hp.Pod.Node, o, anyPrefix(o)))
		}
	}
	ingressPorts := t.IngressPorts
	if len(ingressPorts) == 0 {
		ingressPorts = []uint16{80, 443}
	}
	for _, ic := range t.IngressController {
		for _, port := range ingressPorts {
			for _, o := range outside {
				if o.Is4() != ic.Addr.Is4() {
					continue
				}
				probe(CheckIngressOpen, Flow{From: Endpoint{Addr: o}, To: ic, Protocol: TCP, Port: port}, false,
					fmt.Sprintf("the ingress controller %s answers %s on %d, outside the edge", ic, o, port))
			}
			for _, p := range t.Edge {
				if p.Addr().Is4() != ic.Addr.Is4() {
					continue
				}
				probe(CheckIngressClosed, Flow{From: Endpoint{Addr: p.Addr()}, To: ic, Protocol: TCP, Port: port}, true,
					fmt.Sprintf("the ingress controller %s does not answer the edge %s on %d", ic, p, port))
			}
		}
	}
	if e.cal != nil {
		out = append(out, e.cal.lintStatic()...)
	}
	return out, firstErr
}

func anyPrefix(a netip.Addr) string {
	if a.Is4() {
		return "0.0.0.0/0"
	}
	return "::/0"
}

func hostOf(nodes []Endpoint, name string) *Endpoint {
	for i := range nodes {
		if nodes[i].Node == name {
			return &nodes[i]
		}
	}
	return nil
}

// lintStatic finds equal orders and Log-only policies that end in a drop.
func (m *calicoModel) lintStatic() []Finding {
	var out []Finding
	for _, t := range m.tiers {
		for i := 1; i < len(t.policies); i++ {
			a, b := t.policies[i-1], t.policies[i]
			if a.order != nil && b.order != nil && *a.order == *b.order && !(a.kube != nil && b.kube != nil) {
				out = append(out, Finding{Check: CheckEqualOrder, Message: fmt.Sprintf(
					"%s and %s share order %v in tier %s: which runs first depends on their names and the Calico version", a.display, b.display, *a.order, t.name)})
			}
		}
		for i, p := range t.policies {
			if p.kube != nil {
				continue
			}
			for _, dir := range []struct {
				on    bool
				rules []crule
				name  string
			}{{p.ingress, p.in, "ingress"}, {p.egress, p.out, "egress"}} {
				if !dir.on || len(dir.rules) == 0 || slices.ContainsFunc(dir.rules, func(r crule) bool { return r.action != calicov3.Log }) {
					continue
				}
				later := slices.ContainsFunc(t.policies[i+1:], func(q *cpolicy) bool {
					if q.kube != nil {
						return dir.name == "ingress" && q.ingress || dir.name == "egress" && q.egress
					}
					rules := q.out
					if dir.name == "ingress" {
						rules = q.in
					}
					return slices.ContainsFunc(rules, func(r crule) bool { return r.action != calicov3.Log })
				})
				if !later && !t.pass && !p.preDNAT && !p.untracked {
					out = append(out, Finding{Check: CheckLogThenDrop, Message: fmt.Sprintf(
						"%s only logs %s, and no later policy of tier %s decides: what it logs is dropped at the end of the tier", p.display, dir.name, t.name)})
				}
			}
		}
	}
	return out
}

// FindingsString renders findings one after another, for a person.
func FindingsString(fs []Finding) string {
	var b strings.Builder
	for _, f := range fs {
		b.WriteString(f.String())
		b.WriteString("\n")
	}
	return b.String()
}

package netpol

import (
	"fmt"
	"net/netip"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/intstr"
)

// ExposureKind says how a port is reachable from outside the cluster. It
// is a closed vocabulary: use the constants.
type ExposureKind string

const (
	// ByNodePort: a Service's NodePort, on every node (the nodes with a
	// backend for externalTrafficPolicy: Local).
	ByNodePort ExposureKind = "NodePort"
	// ByLoadBalancer: a LoadBalancer Service's ingress address.
	ByLoadBalancer ExposureKind = "LoadBalancer"
	// ByExternalIP: a Service's externalIPs.
	ByExternalIP ExposureKind = "externalIPs"
	// ByHostNetwork: a container port of a pod with hostNetwork.
	ByHostNetwork ExposureKind = "hostNetwork"
	// ByHostPort: a container's hostPort.
	ByHostPort ExposureKind = "hostPort"
)

// Reach is a region of source addresses that may reach an exposed port:
// From without the Except prefixes inside it. Every address of the
// region meets every policy the same way (the regions are cut along
// every prefix the policies name), so Verdict, for one of its addresses,
// holds for all of them and names the rules that let them in.
type Reach struct {
	From    netip.Prefix
	Except  []netip.Prefix
	Verdict Verdict
}

// String renders r as "203.0.113.0/24 except 203.0.113.0/28".
func (r Reach) String() string {
	if len(r.Except) == 0 {
		return r.From.String()
	}
	ex := make([]string, len(r.Except))
	for i, e := range r.Except {
		ex[i] = e.String()
	}
	return fmt.Sprintf("%s except %s", r.From, strings.Join(ex, ","))
}

// Exposure is one port reachable from outside the cluster, and who may
// reach it.
type Exposure struct {
	Kind ExposureKind
	// Object is "Service ns/name" or "Pod ns/name".
	Object   string
	Node     string     // the node the traffic arrives at, when known
	Address  netip.Addr // the address reached: a node's, a load balancer's, an external IP
	Protocol Protocol
	Port     uint16
	// Backend and BackendPort are where the traffic ends: a pod, or the
	// node itself for hostNetwork.
	Backend     Endpoint
	BackendPort uint16
	// Reach are the regions of source addresses that may reach it; empty
	// means nobody outside the cluster may.
	Reach []Reach
}

// String renders x on one line: how, where, and who may reach it.
func (x Exposure) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s/%d on %s (%s", x.Kind, x.Protocol, x.Port, x.Address, x.Object)
	if x.Node != "" {
		fmt.Fprintf(&b, ", node %s", x.Node)
	}
	b.WriteString("): ")
	if len(x.Reach) == 0 {
		b.WriteString("closed")
	}
	for i, r := range x.Reach {
		if i > 0 {
			b.WriteString("; ")
		}
		b.WriteString(r.String())
	}
	return b.String()
}

// NamespaceGap is a namespace without a default deny for a direction: no
// policy selects all of its pods for it.
type NamespaceGap struct {
	Namespace       string
	Ingress, Egress bool // true: this direction lacks a default deny
}

// ExposureMap is the cluster's exposure surface: every port reachable
// from outside, and the namespaces without a default deny.
type ExposureMap struct {
	Exposures     []Exposure
	NoDefaultDeny []NamespaceGap
	// Notes are what could not be mapped: a Service without running
	// backends, a named targetPort no backend declares.
	Notes []string
}

// String renders m one exposure, gap or note a line.
func (m ExposureMap) String() string {
	var b strings.Builder
	for _, x := range m.Exposures {
		fmt.Fprintf(&b, "%s\n", x)
	}
	for _, g := range m.NoDefaultDeny {
		var dirs []string
		if g.Ingress {
			dirs = append(dirs, "ingress")
		}
		if g.Egress {
			dirs = append(dirs, "egress")
		}
		fmt.Fprintf(&b, "namespace %s: no default deny for %s\n", g.Namespace, strings.Join(dirs, " and "))
	}
	for _, n := range m.Notes {
		fmt.Fprintf(&b, "note: %s\n", n)
	}
	return b.String()
}

// Exposure maps what inv exposes outside the cluster: NodePorts on every
// node (only the nodes with a backend for externalTrafficPolicy: Local),
// LoadBalancer ingress addresses, externalIPs, hostNetwork pods' ports and
// hostPorts, each with the source regions the policies let in and the
// rules that do; and the namespaces that lack a default deny. A source
// region reaches a Service's port when it reaches any backend the traffic
// may land on: every running backend, or with externalTrafficPolicy:
// Local those on the node it arrives at (a load balancer or external IP is
// taken to arrive at the first backend's node). inv's policy objects are
// ignored: e judges with those it was built from.
func (e *Evaluator) Exposure(inv Inventory) (ExposureMap, error) {
	var m ExposureMap
	nsByName := map[string]*corev1.Namespace{}
	for i := range inv.Namespaces {
		nsByName[inv.Namespaces[i].Name] = &inv.Namespaces[i]
	}
	pods := slices.Clone(inv.Pods)
	slices.SortFunc(pods, func(a, b corev1.Pod) int {
		return strings.Compare(a.Namespace+"/"+a.Name, b.Namespace+"/"+b.Name)
	})
	nodes := slices.Clone(inv.Nodes)
	slices.SortFunc(nodes, func(a, b corev1.Node) int { return strings.Compare(a.Name, b.Name) })
	regions := map[bool][]region{true: e.regions(true), false: e.regions(false)}

	var firstErr error
	// judge records x with the regions that reach it through any of fs
	// (one per backend the traffic may land on).
	judge := func(x Exposure, fs ...func(src netip.Addr) Flow) {
		for _, r := range regions[x.Address.Is4()] {
			for _, f := range fs {
				v, err := e.Explain(f(r.rep))
				if err != nil {
					if firstErr == nil {
						firstErr = err
					}
					return
				}
				if v.Allowed {
					x.Reach = append(x.Reach, Reach{From: r.prefix, Except: r.except, Verdict: v})
					break
				}
			}
		}
		m.Exposures = append(m.Exposures, x)
	}
	nodeEP := func(name string, v4 bool) (Endpoint, bool) {
		for i := range nodes {
			if nodes[i].Name == name {
				return NodeEndpoint(&nodes[i], v4)
			}
		}
		return Endpoint{}, false
	}

	svcs := slices.Clone(inv.Services)
	slices.SortFunc(svcs, func(a, b corev1.Service) int {
		return strings.Compare(a.Namespace+"/"+a.Name, b.Namespace+"/"+b.Name)
	})
	for i := range svcs {
		svc := &svcs[i]
		obj := fmt.Sprintf("Service %s/%s", svc.Namespace, svc.Name)
		exposed := svc.Spec.Type == corev1.ServiceTypeNodePort || svc.Spec.Type == corev1.ServiceTypeLoadBalancer || len(svc.Spec.ExternalIPs) > 0
		if !exposed {
			continue
		}
		var backends []*corev1.Pod
		if len(svc.Spec.Selector) > 0 {
			sel := labels.SelectorFromSet(svc.Spec.Selector)
			for j := range pods {
				p := &pods[j]
				if p.Namespace == svc.Namespace && p.Status.Phase == corev1.PodRunning && sel.Matches(labels.Set(p.Labels)) {
					backends = append(backends, p)
				}
			}
		}
		if len(backends) == 0 {
			m.Notes = append(m.Notes, fmt.Sprintf("%s: no running backend pod", obj))
			continue
		}
		local := svc.Spec.ExternalTrafficPolicy == corev1.ServiceExternalTrafficPolicyLocal
		for _, v4 := range []bool{true, false} {
			for _, sp := range svc.Spec.Ports {
				proto := Protocol(sp.Protocol).orTCP()
				if !validPort(sp.Port) || sp.NodePort != 0 && !validPort(sp.NodePort) {
					m.Notes = append(m.Notes, fmt.Sprintf("%s: port %d, nodePort %d: out of range", obj, sp.Port, sp.NodePort))
					continue
				}
				// The backends traffic may land on: all, or with node set
				// those on node (externalTrafficPolicy: Local).
				type target struct {
					be   Endpoint
					port uint16
				}
				var all []target
				for _, b := range backends {
					be, ok := PodEndpoint(b, nsByName[b.Namespace], v4)
					if !ok {
						continue
					}
					port, ok := targetPort(sp, be)
					if !ok {
						m.Notes = append(m.Notes, fmt.Sprintf("%s: port %d: targetPort %q is not a port of %s/%s", obj, sp.Port, sp.TargetPort.String(), b.Namespace, b.Name))
						continue
					}
					all = append(all, target{be, port})
				}
				if len(all) == 0 {
					continue
				}
				on := func(node string) []target {
					if !local {
						return all
					}
					var out []target
					for _, t := range all {
						if t.be.Node == node {
							out = append(out, t)
						}
					}
					return out
				}
				flows := func(ts []target, via *Endpoint, nodePort uint16) []func(netip.Addr) Flow {
					var fs []func(netip.Addr) Flow
					for _, t := range ts {
						fs = append(fs, func(src netip.Addr) Flow {
							f := Flow{From: Endpoint{Addr: src}, To: t.be, Protocol: proto, Port: t.port}
							if via != nil {
								f.NodePort, f.Via, f.SNAT = nodePort, *via, !local
							}
							return f
						})
					}
					return fs
				}
				if sp.NodePort != 0 {
					for j := range nodes {
						n, ok := NodeEndpoint(&nodes[j], v4)
						ts := on(n.Node)
						if !ok || len(ts) == 0 {
							continue
						}
						judge(Exposure{Kind: ByNodePort, Object: obj, Node: n.Node, Address: n.Addr, Protocol: proto, Port: uint16(sp.NodePort), Backend: ts[0].be, BackendPort: ts[0].port},
							flows(ts, &n, uint16(sp.NodePort))...)
					}
				}
				// A load balancer or an external IP reaches a node that
				// hosts the first backend.
				via, viaOK := nodeEP(all[0].be.Node, v4)
				ts := on(all[0].be.Node)
				addrs := map[ExposureKind][]string{ByExternalIP: svc.Spec.ExternalIPs}
				if svc.Spec.Type == corev1.ServiceTypeLoadBalancer {
					for _, in := range svc.Status.LoadBalancer.Ingress {
						addrs[ByLoadBalancer] = append(addrs[ByLoadBalancer], in.IP)
					}
				}
				for _, kind := range []ExposureKind{ByLoadBalancer, ByExternalIP} {
					for _, a := range addrs[kind] {
						addr, err := netip.ParseAddr(a)
						if err != nil || addr.Unmap().Is4() != v4 {
							continue
						}
						addr = addr.Unmap()
						x := Exposure{Kind: kind, Object: obj, Address: addr, Protocol: proto, Port: uint16(sp.Port), Backend: ts[0].be, BackendPort: ts[0].port}
						switch {
						case kind == ByLoadBalancer && sp.NodePort != 0 && viaOK:
							// The load balancer forwards to a node's NodePort.
							x.Node = via.Node
							judge(x, flows(ts, &via, uint16(sp.NodePort))...)
						case kind == ByExternalIP && viaOK:
							// A node that receives the address DNATs it.
							x.Node = via.Node
							at := via
							at.Addr = addr
							judge(x, flows(ts, &at, uint16(sp.Port))...)
						default:
							// Routed to the pods directly.
							x.Backend, x.BackendPort = all[0].be, all[0].port
							judge(x, flows(all, nil, 0)...)
						}
					}
				}
			}
		}
	}
	for j := range pods {
		p := &pods[j]
		if p.Status.Phase != corev1.PodRunning {
			continue
		}
		obj := fmt.Sprintf("Pod %s/%s", p.Namespace, p.Name)
		for _, v4 := range []bool{true, false} {
			n, ok := nodeEP(p.Spec.NodeName, v4)
			if !ok {
				continue
			}
			be, ok := PodEndpoint(p, nsByName[p.Namespace], v4)
			if !ok && !p.Spec.HostNetwork {
				continue
			}
			for _, c := range p.Spec.Containers {
				for _, cp := range c.Ports {
					proto := Protocol(cp.Protocol).orTCP()
					if !validPort(cp.ContainerPort) || cp.HostPort != 0 && !validPort(cp.HostPort) {
						m.Notes = append(m.Notes, fmt.Sprintf("%s: containerPort %d, hostPort %d: out of range", obj, cp.ContainerPort, cp.HostPort))
						continue
					}
					port := uint16(cp.ContainerPort)
					switch {
					case p.Spec.HostNetwork:
						judge(Exposure{Kind: ByHostNetwork, Object: obj, Node: n.Node, Address: n.Addr, Protocol: proto, Port: port, Backend: n, BackendPort: port},
							func(src netip.Addr) Flow { return Flow{From: Endpoint{Addr: src}, To: n, Protocol: proto, Port: port} })
					case cp.HostPort != 0:
						hp := uint16(cp.HostPort)
						judge(Exposure{Kind: ByHostPort, Object: obj, Node: n.Node, Address: n.Addr, Protocol: proto, Port: hp, Backend: be, BackendPort: port},
							func(src netip.Addr) Flow {
								return Flow{From: Endpoint{Addr: src}, To: be, Protocol: proto, Port: port, NodePort: hp, Via: n}
							})
					}
				}
			}
		}
	}
	m.NoDefaultDeny = e.namespaceGaps(inv, nsByName)
	return m, firstErr
}

func targetPort(sp corev1.ServicePort, be Endpoint) (uint16, bool) {
	switch {
	case sp.TargetPort.Type == intstr.String && sp.TargetPort.StrVal != "":
		return be.namedPort(sp.TargetPort.StrVal, Protocol(sp.Protocol))
	case validPort(sp.TargetPort.IntVal):
		return uint16(sp.TargetPort.IntVal), true
	case sp.TargetPort.IntVal != 0:
		return 0, false
	}
	return uint16(sp.Port), validPort(sp.Port) // targetPort defaults to port
}

func validPort(p int32) bool { return p > 0 && p < 65536 }

// namespaceGaps lists the namespaces (named by inv's namespaces and pods)
// that lack a default deny for a direction: no NetworkPolicy with an
// empty podSelector, and under Calico no Calico policy selecting all()
// in it, for that direction.
func (e *Evaluator) namespaceGaps(inv Inventory, nsByName map[string]*corev1.Namespace) []NamespaceGap {
	names := map[string]bool{}
	for _, n := range inv.Namespaces {
		names[n.Name] = true
	}
	for _, p := range inv.Pods {
		names[p.Namespace] = true
	}
	sorted := make([]string, 0, len(names))
	for n := range names {
		sorted = append(sorted, n)
	}
	slices.Sort(sorted)
	var out []NamespaceGap
	for _, ns := range sorted {
		var in, eg bool
		for _, p := range e.kube[ns] {
			if len(p.np.Spec.PodSelector.MatchLabels) == 0 && len(p.np.Spec.PodSelector.MatchExpressions) == 0 {
				in, eg = in || p.ingress, eg || p.egress
			}
		}
		if e.cal != nil {
			ep := Endpoint{Namespace: ns}
			if n := nsByName[ns]; n != nil {
				ep.NamespaceLabels = n.Labels
			}
			nsl := calicoNSLabels(ep)
			for _, t := range e.cal.tiers {
				for _, p := range t.policies {
					if p.kube != nil || p.preDNAT || p.untracked || !p.sel.all() {
						continue
					}
					if p.namespace != "" && p.namespace != ns || p.namespace == "" && p.nsSel != nil && !p.nsSel.match(nsl, false) {
						continue
					}
					in, eg = in || p.ingress, eg || p.egress
				}
			}
		}
		if !in || !eg {
			out = append(out, NamespaceGap{Namespace: ns, Ingress: !in, Egress: !eg})
		}
	}
	return out
}

// region is a prefix without the prefixes the policies name inside it,
// and one address of it.
type region struct {
	prefix netip.Prefix
	except []netip.Prefix
	rep    netip.Addr
}

// sourcePrefixes are every prefix e's policies judge a source address by.
func (e *Evaluator) sourcePrefixes() []netip.Prefix {
	var ps []netip.Prefix
	for _, nps := range e.kube {
		for _, p := range nps {
			for _, rs := range [][]kubeRule{p.in, p.out} {
				for _, r := range rs {
					for _, pr := range r.peers {
						if pr.cidr.IsValid() {
							ps = append(ps, pr.cidr)
							ps = append(ps, pr.except...)
						}
					}
				}
			}
		}
	}
	if m := e.cal; m != nil {
		addRules := func(rs []crule) {
			for _, r := range rs {
				for _, en := range []centity{r.src, r.dst} {
					ps = append(ps, en.nets...)
					ps = append(ps, en.notNets...)
				}
			}
		}
		for _, t := range m.tiers {
			for _, p := range t.policies {
				addRules(p.in)
				addRules(p.out)
			}
		}
		for _, p := range m.profiles {
			addRules(p.in)
			addRules(p.out)
		}
		for _, s := range m.sets {
			ps = append(ps, s.nets...)
		}
		for _, fs := range [][]Failsafe{m.failIn, m.failOut, m.overlay} {
			for _, f := range fs {
				if f.Net.IsValid() {
					ps = append(ps, f.Net.Masked())
				}
			}
		}
	}
	return ps
}

// regions cuts the address space of one family along every prefix e's
// policies name.
func (e *Evaluator) regions(v4 bool) []region {
	all := netip.MustParsePrefix("::/0")
	if v4 {
		all = netip.MustParsePrefix("0.0.0.0/0")
	}
	ps := []netip.Prefix{all}
	for _, p := range e.sourcePrefixes() {
		if p.Addr().Is4() == v4 {
			ps = append(ps, p.Masked())
		}
	}
	slices.SortFunc(ps, func(a, b netip.Prefix) int {
		if c := a.Addr().Compare(b.Addr()); c != 0 {
			return c
		}
		return a.Bits() - b.Bits()
	})
	ps = slices.Compact(ps)
	var out []region
	for i, p := range ps {
		// The maximal prefixes strictly inside p follow it in sorted order.
		var kids []netip.Prefix
		for _, q := range ps[i+1:] {
			if !p.Contains(q.Addr()) {
				break
			}
			if q.Bits() <= p.Bits() {
				continue
			}
			if n := len(kids); n > 0 && kids[n-1].Contains(q.Addr()) {
				continue
			}
			kids = append(kids, q)
		}
		cur, ok := p.Addr(), true
		for _, k := range kids {
			if k.Addr().Compare(cur) > 0 {
				break
			}
			cur = lastAddr(k).Next()
			if !cur.IsValid() || !p.Contains(cur) {
				ok = false
				break
			}
		}
		if ok {
			out = append(out, region{prefix: p, except: kids, rep: cur})
		}
	}
	return out
}

// lastAddr is the last address of p.
func lastAddr(p netip.Prefix) netip.Addr {
	b := p.Masked().Addr().AsSlice()
	for i := range b {
		for j := 0; j < 8; j++ {
			if i*8+j >= p.Bits() {
				b[i] |= 0x80 >> j
			}
		}
	}
	a, _ := netip.AddrFromSlice(b)
	return a
}

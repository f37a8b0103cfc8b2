package netpol

import (
	"fmt"
	"net/netip"
	"strconv"
	"strings"
)

// Protocols a [Flow] may carry besides TCP, UDP and SCTP. A Flow's
// protocol may also be any IP protocol number in decimal, such as "47".
const (
	ICMP    Protocol = "ICMP"
	ICMPv6  Protocol = "ICMPv6"
	UDPLite Protocol = "UDPLite"
)

// number returns p's IP protocol number.
func (p Protocol) number() (uint8, bool) {
	switch strings.ToUpper(string(p.orTCP())) {
	case "TCP":
		return 6, true
	case "UDP":
		return 17, true
	case "SCTP":
		return 132, true
	case "ICMP":
		return 1, true
	case "ICMPV6":
		return 58, true
	case "UDPLITE":
		return 136, true
	}
	n, err := strconv.ParseUint(string(p), 10, 8)
	return uint8(n), err == nil
}

// hasPorts reports whether p carries port numbers.
func (p Protocol) hasPorts() bool {
	n, _ := p.number()
	return n == 6 || n == 17 || n == 132 || n == 136
}

// NamedPort is a port a pod (a container's ports[].name) or a host
// endpoint (spec.ports) declares by name; policies that name it resolve
// it here.
type NamedPort struct {
	Name     string
	Protocol Protocol // zero means TCP
	Port     uint16
}

// Endpoint is one end of a [Flow]:
//
//   - a pod, when Namespace is set and Host is false;
//   - a node itself (its host network namespace: the kubelet, a
//     hostNetwork pod, a NodePort as it arrives), when Host is true;
//   - otherwise an address outside the cluster.
//
// Endpoint is a plain value; the zero value is an invalid external
// address.
type Endpoint struct {
	Addr netip.Addr
	// Namespace, NamespaceLabels and Labels are a pod's; Labels are a
	// node's (and its host endpoints') when Host is set.
	Namespace       string
	NamespaceLabels map[string]string
	Labels          map[string]string
	ServiceAccount  string
	// Node is the node the pod runs on, or the node itself when Host is
	// set.
	Node string
	Host bool
	// Interface is the host interface a Host endpoint's traffic uses; zero
	// means the one whose host endpoint expects Addr, or the all-interfaces
	// one.
	Interface string
	// Ports are the endpoint's named ports, against which a destination's
	// named ports resolve.
	Ports []NamedPort
}

// IsPod reports whether e is a pod.
func (e Endpoint) IsPod() bool { return e.Namespace != "" && !e.Host }

// String describes e for a person: "pod in shop (10.1.0.5)", "host n1
// (192.0.2.1)" or the address.
func (e Endpoint) String() string {
	switch {
	case e.Host:
		return fmt.Sprintf("host %s (%s)", e.Node, e.Addr)
	case e.IsPod():
		return fmt.Sprintf("pod in %s (%s)", e.Namespace, e.Addr)
	}
	return e.Addr.String()
}

// namedPort resolves name on proto against e's ports.
func (e Endpoint) namedPort(name string, proto Protocol) (uint16, bool) {
	for _, p := range e.Ports {
		if p.Name == name && p.Protocol.orTCP() == proto.orTCP() {
			return p.Port, true
		}
	}
	return 0, false
}

// Flow is one connection, as its first packet would take it: from From to
// To on Protocol and Port (the destination port as To sees it, after any
// DNAT).
//
// When NodePort is set, the packet arrives at Via (a node: Host set) on
// that port and kube-proxy DNATs it to To:Port; with SNAT
// (externalTrafficPolicy: Cluster sending it on to another node) To sees
// Via's address as the source instead of From's. Without NodePort the
// packet goes straight from From to To: pod to pod (forwarded through the
// nodes' interfaces when they are on different nodes), pod or address to
// a node, node to pod.
type Flow struct {
	From, To Endpoint
	Protocol Protocol // zero means TCP
	Port     uint16
	// ICMPType and ICMPCode are the ICMP message's, for ICMP and ICMPv6.
	ICMPType, ICMPCode uint8
	NodePort           uint16
	Via                Endpoint
	SNAT               bool
}

// String describes f for a person: both ends, protocol and port, and
// the NodePort path.
func (f Flow) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s -> %s %s", f.From, f.To, f.Protocol.orTCP())
	if f.Protocol.hasPorts() {
		fmt.Fprintf(&b, "/%d", f.Port)
	}
	if f.NodePort != 0 {
		fmt.Fprintf(&b, " via NodePort %d on %s", f.NodePort, f.Via.Node)
		if f.SNAT {
			b.WriteString(" (SNAT)")
		}
	}
	return b.String()
}

// check reports what makes f impossible to evaluate.
func (f Flow) check() error {
	var p problems
	for _, e := range []struct {
		at string
		ep Endpoint
	}{{"From", f.From}, {"To", f.To}} {
		if !e.ep.Addr.IsValid() {
			p.add("flow %s: %s.Addr: not set", f, e.at)
		}
		if e.ep.Host && e.ep.Node == "" {
			p.add("flow %s: %s: a host without a Node", f, e.at)
		}
	}
	if f.From.Addr.IsValid() && f.To.Addr.IsValid() && f.From.Addr.Unmap().Is4() != f.To.Addr.Unmap().Is4() {
		p.add("flow %s: From and To are of different address families", f)
	}
	if f.NodePort != 0 && f.Via.Addr.IsValid() && f.To.Addr.IsValid() && f.Via.Addr.Unmap().Is4() != f.To.Addr.Unmap().Is4() {
		p.add("flow %s: Via and To are of different address families", f)
	}
	if _, ok := f.Protocol.number(); !ok {
		p.add("flow %s: Protocol %q: want TCP, UDP, SCTP, UDPLite, ICMP, ICMPv6 or a number 0-255", f, f.Protocol)
	}
	if f.Protocol.hasPorts() && f.Port == 0 {
		p.add("flow %s: Port: 0", f)
	}
	if f.NodePort != 0 && (!f.Via.Host || f.Via.Node == "" || !f.Via.Addr.IsValid()) {
		p.add("flow %s: Via: a NodePort flow needs the node it arrives at (Host, Node and Addr set)", f)
	}
	if f.SNAT && f.NodePort == 0 {
		p.add("flow %s: SNAT without NodePort", f)
	}
	return p.err()
}

// source is the flow's source as To sees it.
func (f Flow) source() Endpoint {
	if f.NodePort != 0 && f.SNAT {
		return f.Via
	}
	return f.From
}

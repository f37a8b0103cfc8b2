package netpol

import (
	"fmt"
	"net/netip"
	"slices"

	"k8s.io/apimachinery/pkg/util/validation"
)

// Protocol is a transport protocol a [Port] is on. It is a closed
// vocabulary: use the constants. The zero value means [TCP].
type Protocol string

// The protocols, spelled as Kubernetes and Calico spell them.
const (
	TCP  Protocol = "TCP"  // the zero value's meaning
	UDP  Protocol = "UDP"  // DNS, QUIC, WireGuard, VXLAN
	SCTP Protocol = "SCTP" // needs SCTP support in the network plugin
)

func (p Protocol) orTCP() Protocol {
	if p == "" {
		return TCP
	}
	return p
}

// Port is a destination port, a range of them, or a named port, on one
// protocol. Exactly one of Number and Name is set.
//
// A named port is resolved by the destination: a NetworkPolicy's against
// the selected pod's containerPort names, a Calico rule's against the
// endpoint's named ports.
type Port struct {
	Protocol Protocol // zero means TCP
	// Number is the port, or the first of the range up to End.
	Number uint16
	// End, when not zero, makes the range Number..End inclusive
	// (NetworkPolicy endPort, a Calico "first:last" port).
	End uint16
	// Name is a named port: 1 to 15 of a-z, 0-9 and '-', with a letter,
	// no leading, trailing or double '-' (an IANA service name).
	Name string
}

// TCPPort is the single TCP port n.
func TCPPort(n uint16) Port { return Port{Protocol: TCP, Number: n} }

// UDPPort is the single UDP port n.
func UDPPort(n uint16) Port { return Port{Protocol: UDP, Number: n} }

// PortRange is the TCP or UDP range first..last.
func PortRange(p Protocol, first, last uint16) Port {
	return Port{Protocol: p, Number: first, End: last}
}

// String formats p as "TCP/443", "UDP/30000-32767" or "TCP/http".
func (p Port) String() string {
	switch {
	case p.Name != "":
		return fmt.Sprintf("%s/%s", p.Protocol.orTCP(), p.Name)
	case p.End != 0 && p.End != p.Number:
		return fmt.Sprintf("%s/%d-%d", p.Protocol.orTCP(), p.Number, p.End)
	default:
		return fmt.Sprintf("%s/%d", p.Protocol.orTCP(), p.Number)
	}
}

func (p Port) last() uint16 {
	if p.End == 0 {
		return p.Number
	}
	return p.End
}

// covers reports whether p, a numbered port or range, includes port n on
// protocol proto.
func (p Port) covers(proto Protocol, n uint16) bool {
	return p.Name == "" && p.Protocol.orTCP() == proto && p.Number <= n && n <= p.last()
}

// check reports every problem with p, each prefixed by where.
func (p Port) check(where string, bad func(string, ...any)) {
	switch p.Protocol {
	case "", TCP, UDP, SCTP:
	default:
		bad("%s: protocol %q: want TCP, UDP or SCTP", where, p.Protocol)
	}
	switch {
	case p.Name != "" && (p.Number != 0 || p.End != 0):
		bad("%s: %q has both a name and a number", where, p)
	case p.Name != "":
		if errs := validation.IsValidPortName(p.Name); len(errs) > 0 {
			bad("%s: name %q: %s", where, p.Name, errs[0])
		}
	case p.Number == 0:
		bad("%s: port 0: ports start at 1 (set Number or Name)", where)
	case p.End != 0 && p.End < p.Number:
		bad("%s: range %d-%d: end before start", where, p.Number, p.End)
	}
}

// checkPrefixes reports invalid, zoned and IPv4-mapped prefixes.
func checkPrefixes(where string, ps []netip.Prefix, bad func(string, ...any)) {
	for i, p := range ps {
		switch {
		case !p.IsValid():
			bad("%s[%d]: invalid prefix %q", where, i, p)
		case p.Addr().Zone() != "":
			bad("%s[%d]: prefix %s has a zone", where, i, p)
		case p.Addr().Is4In6():
			bad("%s[%d]: %s is an IPv4-mapped IPv6 prefix, which matches no IPv4 packet; use the IPv4 form", where, i, p)
		}
	}
}

// checkAddrs reports invalid, zoned and IPv4-mapped addresses.
func checkAddrs(where string, as []netip.Addr, bad func(string, ...any)) {
	for i, a := range as {
		switch {
		case !a.IsValid():
			bad("%s[%d]: invalid address", where, i)
		case a.Zone() != "":
			bad("%s[%d]: address %s has a zone", where, i, a)
		case a.Is4In6():
			bad("%s[%d]: %s is an IPv4-mapped IPv6 address, which matches no IPv4 packet; use the IPv4 form", where, i, a)
		}
	}
}

// canonical masks, sorts and de-duplicates ps and drops every prefix that
// another one covers. IPv4 sorts before IPv6.
func canonical(ps []netip.Prefix) []netip.Prefix {
	out := make([]netip.Prefix, 0, len(ps))
	for _, p := range ps {
		out = append(out, p.Masked())
	}
	slices.SortFunc(out, func(a, b netip.Prefix) int {
		if c := a.Addr().Compare(b.Addr()); c != 0 {
			return c
		}
		return a.Bits() - b.Bits()
	})
	keep := out[:0]
	for _, p := range out {
		if n := len(keep); n > 0 && keep[n-1].Overlaps(p) {
			// Sorted by address then length: an overlapping later prefix
			// lies inside the kept one.
			continue
		}
		keep = append(keep, p)
	}
	return keep
}

// hostPrefix is the prefix holding only a.
func hostPrefix(a netip.Addr) netip.Prefix {
	return netip.PrefixFrom(a, a.BitLen())
}

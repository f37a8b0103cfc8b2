package firewall

import (
	"cmp"
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"strings"
)

// Protocol is a transport protocol a [Rule] matches. It is a closed
// vocabulary: use the constants.
type Protocol string

const (
	// TCP is matched with its ports.
	TCP Protocol = "tcp"
	// UDP is matched with its ports.
	UDP Protocol = "udp"
	// IPIP is IPv4-in-IPv4 (IP protocol 4), Calico's default overlay. It
	// has no ports (leave [Rule.Ports] zero) and is matched on IPv4 only.
	IPIP Protocol = "ipip"
)

// Verdict is what happens to a packet that matches a [Rule], or to one that
// reaches the end of the rule set ([Spec.Default]). It is a closed
// vocabulary: use the constants.
//
// Accept means "this rule set lets the packet pass"; it does not bypass rules
// that others (kube-proxy, Calico, the distribution) keep elsewhere: the
// iptables backends RETURN to the caller's chain, and an nftables accept ends
// only this package's table. Only Drop and Reject end a packet's path.
type Verdict string

const (
	// Accept lets the packet pass this rule set (see above).
	Accept Verdict = "accept"
	// Drop discards the packet silently.
	Drop Verdict = "drop"
	// Reject answers with a TCP reset (TCP) or an ICMP port-unreachable
	// (anything else). It is not valid at [PreDNAT]: iptables allows REJECT
	// only in the filter table, after routing.
	Reject Verdict = "reject"
)

// Backend is the packet filter a rule set is rendered for. It is a closed
// vocabulary: use the constants.
type Backend string

const (
	// IPTables renders iptables-restore and ip6tables-restore input with one
	// rule per prefix: simple, and the per-packet cost grows with the number
	// of prefixes.
	IPTables Backend = "iptables"
	// IPSet renders an `ipset restore` script with hash:net sets plus
	// iptables-restore and ip6tables-restore input whose rules match the
	// sets: the per-packet cost does not grow with the number of prefixes.
	IPSet Backend = "ipset"
	// NFTables renders an `nft -f` script: one inet table with interval sets.
	NFTables Backend = "nftables"
)

// Backends returns every [Backend], in a stable order, in a new slice that
// the caller may change.
func Backends() []Backend { return []Backend{IPTables, IPSet, NFTables} }

// Stage is where in the packet's path a [Rule] is evaluated. It is a closed
// vocabulary: use the constants; the zero value means [Local].
type Stage string

const (
	// Local rules see packets addressed to the node's own sockets (kubelet,
	// BGP, SSH), after any DNAT: iptables filter INPUT, nft hook input.
	Local Stage = "local"
	// PreDNAT rules see packets addressed to one of the node's own addresses
	// with the destination port the client sent, before kube-proxy rewrites
	// it. NodePorts must be filtered here: kube-proxy DNATs a NodePort
	// packet in nat PREROUTING and it then goes through FORWARD to the pod,
	// so an INPUT rule on the NodePort never sees it. Rendered as mangle
	// PREROUTING (iptables, after conntrack, before nat) and an nft
	// prerouting chain at priority mangle (-150), ahead of dstnat (-100).
	// A packet no PreDNAT rule matches goes on unfiltered by this stage.
	PreDNAT Stage = "prednat"
)

// PortRange is an inclusive range of destination ports. Last == 0 means the
// single port First.
type PortRange struct {
	First, Last uint16
}

// Port is the range holding the single port p.
func Port(p uint16) PortRange { return PortRange{First: p, Last: p} }

// Ports is the range first..last, inclusive.
func Ports(first, last uint16) PortRange { return PortRange{First: first, Last: last} }

func (r PortRange) last() uint16 {
	if r.Last == 0 {
		return r.First
	}
	return r.Last
}

// String formats r as "80" or "30000-32767".
func (r PortRange) String() string {
	if r.last() == r.First {
		return fmt.Sprint(r.First)
	}
	return fmt.Sprintf("%d-%d", r.First, r.last())
}

// Set is a named set of prefixes that rules match as a source. IPv4 and IPv6
// prefixes may be mixed; each backend splits them by family.
type Set struct {
	// Name is 1 to 16 characters of a-z, 0-9 and '_', starting with a
	// letter. It names the set in the rendered text (nft set "<name>_v4",
	// ipset "og-<name>-v4").
	Name string
	// Prefixes are canonicalised (masked, sorted, covered prefixes dropped)
	// when rendered.
	Prefixes []netip.Prefix
}

// Rule matches one protocol and a destination port range (none for
// [IPIP]) from a source set and gives a verdict. Rules are evaluated in
// order within their [Stage]; the first match wins. The zero Rule is
// invalid.
type Rule struct {
	// Comment says why the rule exists; it is carried into the rendered
	// text. Up to 128 printable ASCII characters, without quotes or
	// backslashes.
	Comment  string
	Stage    Stage
	Protocol Protocol
	Ports    PortRange
	// From names a [Set]; empty means from any source.
	From    string
	Verdict Verdict
}

// Log asks for a rate-limited kernel log line for each packet that meets
// the default verdict. The zero value logs nothing.
type Log struct {
	// PerMinute is the sustained rate; 0 disables logging.
	PerMinute int
	// Burst is how many lines may be logged at once; 0 means 5.
	Burst int
	// Prefix starts every line; empty means "originguard: ". Up to 28
	// printable ASCII characters, without quotes or backslashes.
	Prefix string
}

// Spec is a node firewall rule set. Build one by hand or with [Node.Spec],
// check it with [Spec.Validate], and turn it into text with [Spec.Render].
//
// What every rendered rule set does, in order, for a packet arriving on one
// of [Spec.Interfaces]:
//
//   - PreDNAT stage (packets to a node address, port as sent): established
//     and related packets pass, then the PreDNAT rules, first match wins;
//     no match passes.
//   - Local stage (packets to the node's own sockets): established and
//     related packets pass; packets kube-proxy already DNATed (vetted at
//     PreDNAT) pass; ICMP errors (destination unreachable, including the
//     "fragmentation needed" of path-MTU discovery, time exceeded, parameter
//     problem) and for IPv6 also packet-too-big, neighbour/router
//     discovery and DHCPv6 replies (from link-local addresses to port 546,
//     which conntrack cannot match to the multicast request) pass; then the Local rules, first match wins; then the
//     optional log line; then [Spec.Default].
//
// Packets on loopback and on interfaces not listed (pods' veths, tunnels)
// are not filtered. Forwarded traffic (to pods) is not filtered except at
// the PreDNAT stage.
//
// A Spec is a plain value: the zero value is invalid (no interfaces), and a
// Spec is safe for concurrent reads.
type Spec struct {
	Sets  []Set
	Rules []Rule
	// Interfaces are the node's outward-facing interfaces, where the rule
	// set applies, e.g. "eth0" or "ens+" (a trailing '+' matches any
	// suffix). "lo" is not allowed.
	Interfaces []string
	// Default is the verdict for packets that no Local rule matched: Drop
	// (the zero value) or Reject.
	Default Verdict
	Log     Log
}

// maxSetSize bounds a set (per family); ipset sets are created with this
// maxelem so that re-creating them with -exist always agrees.
const maxSetSize = 1 << 24

// Validate reports every problem in s, joined with [errors.Join]; nil means
// every renderer accepts s and cannot fail.
func (s Spec) Validate() error {
	var errs []error
	bad := func(format string, a ...any) { errs = append(errs, fmt.Errorf("firewall: "+format, a...)) }

	sets := map[string]bool{}
	for i, set := range s.Sets {
		if !validName(set.Name) {
			bad("set %d: name %q: want 1 to 16 of a-z, 0-9, '_', starting with a letter", i, set.Name)
		}
		if sets[set.Name] {
			bad("set %q: defined twice", set.Name)
		}
		sets[set.Name] = true
		var n4, n6 int
		for _, p := range set.Prefixes {
			switch {
			case !p.IsValid():
				bad("set %q: invalid prefix %q", set.Name, p)
			case p.Addr().Is4In6():
				bad("set %q: prefix %s is an IPv4-mapped IPv6 prefix; use the IPv4 form", set.Name, p)
			case p.Addr().Zone() != "":
				bad("set %q: prefix %s has a zone", set.Name, p)
			case p.Addr().Is4():
				n4++
			default:
				n6++
			}
		}
		if n4 > maxSetSize || n6 > maxSetSize {
			bad("set %q: more than %d prefixes of one family", set.Name, maxSetSize)
		}
	}

	for i, r := range s.Rules {
		where := fmt.Sprintf("rule %d (%q)", i, r.Comment)
		if err := checkText(r.Comment, 128); err != nil {
			bad("%s: comment: %v", where, err)
		}
		switch r.Stage {
		case "", Local, PreDNAT:
		default:
			bad("%s: unknown stage %q", where, r.Stage)
		}
		switch r.Protocol {
		case TCP, UDP:
		case IPIP:
			if r.Ports != (PortRange{}) {
				bad("%s: protocol ipip has no ports, got %s", where, r.Ports)
			}
		default:
			bad("%s: unknown protocol %q (want tcp, udp or ipip)", where, r.Protocol)
		}
		if r.Protocol == IPIP {
			// no ports to check
		} else if r.Ports.First == 0 {
			bad("%s: port range %s: ports start at 1", where, r.Ports)
		} else if r.Ports.Last != 0 && r.Ports.Last < r.Ports.First {
			bad("%s: port range %d-%d: last before first", where, r.Ports.First, r.Ports.Last)
		}
		if r.From != "" && !sets[r.From] {
			bad("%s: from unknown set %q", where, r.From)
		}
		switch r.Verdict {
		case Accept, Drop:
		case Reject:
			if r.Protocol == IPIP {
				bad("%s: reject is not possible for ipip; use drop", where)
			}
			if r.Stage == PreDNAT {
				bad("%s: reject is not possible before DNAT (iptables allows REJECT only in the filter table); use drop", where)
			}
		default:
			bad("%s: unknown verdict %q (want accept, drop or reject)", where, r.Verdict)
		}
	}

	if len(s.Interfaces) == 0 {
		bad("no interfaces: name the outward-facing ones, e.g. eth0")
	}
	seen := map[string]bool{}
	for _, name := range s.Interfaces {
		if !validInterface(name) {
			bad("interface %q: want 1 to 15 of A-Z a-z 0-9 . _ - with an optional trailing '+'", name)
		}
		if stem, wild := strings.CutSuffix(name, "+"); name == "lo" || wild && strings.HasPrefix("lo", stem) {
			bad("interface %q: matches loopback, which is always accepted", name)
		}
		if seen[name] {
			bad("interface %q: listed twice", name)
		}
		seen[name] = true
	}

	switch s.Default {
	case "", Drop, Reject:
	default:
		bad("default verdict %q: want drop or reject", s.Default)
	}

	if s.Log.PerMinute < 0 || s.Log.Burst < 0 {
		bad("log: negative rate %d/minute or burst %d", s.Log.PerMinute, s.Log.Burst)
	}
	if err := checkText(s.Log.Prefix, 28); err != nil {
		bad("log prefix: %v", err)
	}
	return errors.Join(errs...)
}

func validName(s string) bool {
	if len(s) == 0 || len(s) > 16 || s[0] < 'a' || s[0] > 'z' {
		return false
	}
	for _, c := range []byte(s) {
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '_') {
			return false
		}
	}
	return true
}

func validInterface(s string) bool {
	s, _ = strings.CutSuffix(s, "+")
	if len(s) == 0 || len(s) > 15 {
		return false
	}
	for _, c := range []byte(s) {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '_' || c == '-') {
			return false
		}
	}
	return true
}

func checkText(s string, max int) error {
	if len(s) > max {
		return fmt.Errorf("%q is longer than %d characters", s, max)
	}
	for _, c := range []byte(s) {
		if c < ' ' || c > '~' || c == '"' || c == '\'' || c == '\\' {
			return fmt.Errorf("%q: want printable ASCII without quotes or backslashes", s)
		}
	}
	return nil
}

// normalized is a validated Spec with defaults filled in and prefixes
// canonicalised per family.
type normalized struct {
	Spec
	v4, v6 map[string][]netip.Prefix
}

func normalize(s Spec) normalized {
	n := normalized{Spec: s, v4: map[string][]netip.Prefix{}, v6: map[string][]netip.Prefix{}}
	n.Rules = slices.Clone(s.Rules)
	for i := range n.Rules {
		if n.Rules[i].Stage == "" {
			n.Rules[i].Stage = Local
		}
		n.Rules[i].Ports.Last = n.Rules[i].Ports.last()
	}
	if n.Default == "" {
		n.Default = Drop
	}
	if n.Log.Burst == 0 {
		n.Log.Burst = 5
	}
	if n.Log.Prefix == "" {
		n.Log.Prefix = "originguard: "
	}
	for _, set := range s.Sets {
		n4 := 0
		for _, p := range set.Prefixes {
			if p.Addr().Is4() {
				n4++
			}
		}
		p4 := make([]netip.Prefix, 0, n4)
		p6 := make([]netip.Prefix, 0, len(set.Prefixes)-n4)
		for _, p := range set.Prefixes {
			if p.Addr().Is4() {
				p4 = append(p4, p.Masked())
			} else {
				p6 = append(p6, p.Masked())
			}
		}
		n.v4[set.Name] = canonical(p4)
		n.v6[set.Name] = canonical(p6)
	}
	return n
}

// canonical sorts masked prefixes of one family and drops every prefix that
// another covers, so that the result is disjoint: nft interval sets reject
// overlapping elements. Sorting compares integer keys rather than
// netip.Addr values: a million prefixes must render in well under a second.
func canonical(ps []netip.Prefix) []netip.Prefix {
	if len(ps) == 0 {
		return ps
	}
	if ps[0].Addr().Is4() {
		keys := make([]uint64, len(ps))
		for i, p := range ps {
			a := p.Addr().As4()
			keys[i] = uint64(a[0])<<40 | uint64(a[1])<<32 | uint64(a[2])<<24 | uint64(a[3])<<16 | uint64(p.Bits())
		}
		slices.Sort(keys)
		for i, k := range keys {
			ps[i] = netip.PrefixFrom(netip.AddrFrom4([4]byte{byte(k >> 40), byte(k >> 32), byte(k >> 24), byte(k >> 16)}), int(k&0xff))
		}
	} else {
		type key struct {
			hi, lo uint64
			bits   int
		}
		keys := make([]key, len(ps))
		for i, p := range ps {
			a := p.Addr().As16()
			keys[i] = key{binary.BigEndian.Uint64(a[:8]), binary.BigEndian.Uint64(a[8:]), p.Bits()}
		}
		slices.SortFunc(keys, func(x, y key) int {
			if c := cmp.Compare(x.hi, y.hi); c != 0 {
				return c
			}
			if c := cmp.Compare(x.lo, y.lo); c != 0 {
				return c
			}
			return cmp.Compare(x.bits, y.bits)
		})
		for i, k := range keys {
			var a [16]byte
			binary.BigEndian.PutUint64(a[:8], k.hi)
			binary.BigEndian.PutUint64(a[8:], k.lo)
			ps[i] = netip.PrefixFrom(netip.AddrFrom16(a), k.bits)
		}
	}
	out := ps[:0]
	for _, p := range ps {
		// Sorted by address then length, a covering prefix comes first, and
		// the kept prefixes are disjoint, so only the last kept can cover p.
		if len(out) > 0 {
			last := out[len(out)-1]
			if last.Bits() <= p.Bits() && last.Contains(p.Addr()) {
				continue
			}
		}
		out = append(out, p)
	}
	return out
}

package firewall

import (
	"cmp"
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"strconv"
	"strings"
)

// Protocol is the IP protocol a [Rule] matches. The names below are
// matched with their destination ports; any other IP protocol is matched
// by its IANA number, without ports (see [ProtocolNumber]).
type Protocol string

const (
	// TCP is matched with its ports.
	TCP Protocol = "tcp"
	// UDP is matched with its ports.
	UDP Protocol = "udp"
	// SCTP is matched with its ports (Kubernetes Services may use SCTP,
	// NodePorts included).
	SCTP Protocol = "sctp"
	// IPIP is IPv4-in-IPv4 (IP protocol 4), Calico's default overlay. It
	// has no ports (leave [Rule.Ports] zero) and is matched on IPv4 only.
	IPIP Protocol = "ipip"

	// GRE is IP protocol 47 (GRE tunnels), matched without ports.
	GRE Protocol = "47"
	// ESP is IP protocol 50 (IPsec's encrypted payload), matched without
	// ports.
	ESP Protocol = "50"
	// VRRP is IP protocol 112, which keepalived uses to move a virtual IP
	// (a control-plane VIP, say) between nodes; matched without ports.
	VRRP Protocol = "112"
)

// ProtocolNumber is the Protocol that matches IP protocol n (IANA's
// "Assigned Internet Protocol Numbers") without ports, e.g.
// ProtocolNumber(112) for VRRP. [Spec.Validate] refuses the numbers that
// have a name above (use [TCP], [UDP], [SCTP], [IPIP]), 0 and 255, and the
// IPv6 extension headers 43, 44, 51, 59 and 60, which ip6tables and nft
// skip and so never match. 1 (ICMP) is matched on IPv4 only, 58 (ICMPv6)
// on IPv6 only.
func ProtocolNumber(n uint8) Protocol { return Protocol(strconv.Itoa(int(n))) }

// hasPorts reports whether p is matched with destination ports.
func (p Protocol) hasPorts() bool { return p == TCP || p == UDP || p == SCTP }

// number returns p's IP protocol number, and false for the named
// protocols and anything that is not a decimal number.
func (p Protocol) number() (int, bool) {
	if p == "" || len(p) > 3 || p[0] == '0' && len(p) > 1 {
		return 0, false
	}
	n, err := strconv.Atoi(string(p))
	if err != nil || n < 0 || n > 255 || strconv.Itoa(n) != string(p) {
		return 0, false
	}
	return n, true
}

// inFamily reports whether p can be matched in address family fam.
func (p Protocol) inFamily(fam int) bool {
	switch n, _ := p.number(); {
	case p == IPIP || n == 1:
		return fam == 4
	case n == 58:
		return fam == 6
	}
	return true
}

// checkProtocol says why p cannot be used in a Rule, or returns nil.
func checkProtocol(p Protocol) error {
	switch p {
	case TCP, UDP, SCTP, IPIP:
		return nil
	}
	n, ok := p.number()
	if !ok {
		return fmt.Errorf("unknown protocol %q (want tcp, udp, sctp, ipip or an IP protocol number 1-254)", p)
	}
	switch n {
	case 0, 255:
		return fmt.Errorf("protocol %d: not a protocol a packet carries (iptables reads 0 as \"all\")", n)
	case 4:
		return fmt.Errorf("protocol 4: use %q", IPIP)
	case 6, 17, 132:
		return fmt.Errorf("protocol %d: use %q, with ports", n, map[int]Protocol{6: TCP, 17: UDP, 132: SCTP}[n])
	case 43, 44, 51, 59, 60:
		return fmt.Errorf("protocol %d: an IPv6 extension header, which ip6tables and nft skip, so a rule for it never matches", n)
	}
	return nil
}

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
	// BGP, SSH), after any DNAT, with the port the socket listens on:
	// iptables filter INPUT, nft hook input. Flows a PreDNAT rule accepted
	// pass the Local stage without meeting its rules.
	Local Stage = "local"
	// PreDNAT rules judge every new flow that arrives on a guarded
	// interface, whatever its destination (a node address, a load-balancer
	// or external IP, a pod), with the destination port the client sent,
	// before kube-proxy, a CNI's hostPort or Docker rewrites it. NodePorts
	// and host ports must be filtered here. Rendered as mangle PREROUTING
	// (iptables, after conntrack, before nat) and an nft prerouting chain
	// at priority mangle (-150), ahead of dstnat (-100).
	//
	// A flow a PreDNAT rule accepts is marked (conntrack mark
	// [Spec.ConnMark]); only marked flows pass the Local stage unjudged,
	// and a new flow from a guarded interface that was DNATed without the
	// mark is dropped in the forward hook. A flow no PreDNAT rule matches
	// goes on unmarked: to the Local rules if it is for the node, dropped
	// if it was DNATed elsewhere, and unfiltered if it is merely routed.
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

// Rule matches one protocol and a destination port range (ports only for
// [TCP], [UDP] and [SCTP]) from a source set and gives a verdict. Rules are
// evaluated in order within their [Stage]; the first match wins. The zero
// Rule is invalid.
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
	// PerMinute is the sustained rate, at most 600000 (iptables' limit);
	// 0 disables logging.
	PerMinute int
	// Burst is how many lines may be logged at once, at most 10000
	// (iptables' limit); 0 means 5.
	Burst int
	// Prefix starts every line; empty means "originguard: ". Up to 28
	// printable ASCII characters, without quotes, backslashes or '$'.
	Prefix string
}

// DefaultConnMark is the conntrack mark bit that flows accepted at
// [PreDNAT] carry when [Spec.ConnMark] is zero.
const DefaultConnMark uint32 = 0x08000000

// Spec is a node firewall rule set. Build one by hand or with [Node.Spec],
// check it with [Spec.Validate], and turn it into text with [Spec.Render].
//
// What every rendered rule set does, in order, for a packet arriving on one
// of [Spec.Interfaces]:
//
//   - PreDNAT stage (every packet, whatever its destination, port as
//     sent): established and related packets pass; then the PreDNAT rules,
//     first match wins: an accept marks the flow ([Spec.ConnMark]), a drop
//     ends it; no match passes unmarked.
//   - Forward (packets routed on, to pods or containers): a new flow that
//     was DNATed (NodePort, hostPort, Docker -p, externalIP, load-balancer
//     IP) without the mark is dropped. Everything else is left to others.
//   - Local stage (packets to the node's own sockets): established and
//     related packets pass; marked flows pass (what PreDNAT accepted: with
//     kube-proxy's IPVS mode and a Service's healthCheckNodePort, the
//     NodePort is answered on the node, without DNAT); the ICMP errors
//     (destination unreachable, including the "fragmentation needed" of
//     path-MTU discovery, time exceeded, parameter problem) and, for IPv6,
//     the messages RFC 4890 says a host must not drop (packet too big,
//     echo request, neighbour and router discovery with hop limit 255,
//     multicast listener discovery from link-local addresses) pass, as do
//     DHCPv6 replies (from link-local addresses to port 546, which
//     conntrack cannot match to the multicast request); packets conntrack
//     finds INVALID (out of window, say) are dropped, never rejected, so
//     that a reset cannot kill the peer's real connection; then the Local
//     rules, first match wins; then the optional log line; then
//     [Spec.Default].
//
// Packets on loopback and on interfaces not listed (pods' veths, tunnels)
// are not filtered, nor are packets the node sends.
//
// A Spec is a plain value: the zero value is invalid (no interfaces), and a
// Spec is safe for concurrent reads.
type Spec struct {
	Sets  []Set
	Rules []Rule
	// Interfaces are the node's outward-facing interfaces, where the rule
	// set applies, e.g. "eth0" or "ens+" (a trailing '+' matches any
	// suffix); at most 15 bytes each, the '+' included. "lo" is not
	// allowed.
	Interfaces []string
	// Default is the verdict for packets that no Local rule matched: Drop
	// (the zero value) or Reject.
	Default Verdict
	Log     Log
	// ConnMark is the conntrack mark bit (exactly one bit) set on flows a
	// PreDNAT rule accepted; zero means [DefaultConnMark]. Only that bit of
	// the mark is set or tested. Change it if another component on the
	// node uses the same bit of the conntrack mark.
	ConnMark uint32
	// AllowLockout lets a Spec validate whose Local rules accept nothing
	// from anyone (every Local accept names an empty set, or there is
	// none): such a rule set closes SSH, the kubelet and the API server to
	// everyone, which is refused unless asked for.
	AllowLockout bool
}

// iptables' limit match refuses faster rates ("Rate too fast") and larger
// bursts.
const (
	maxLogRate  = 600000 // per minute
	maxLogBurst = 10000
)

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

	nonEmpty := map[string]bool{}
	for _, set := range s.Sets {
		nonEmpty[set.Name] = len(set.Prefixes) > 0
	}
	lockout := true
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
		protoErr := checkProtocol(r.Protocol)
		if protoErr != nil {
			bad("%s: %v", where, protoErr)
		}
		switch {
		case protoErr == nil && !r.Protocol.hasPorts():
			if r.Ports != (PortRange{}) {
				bad("%s: protocol %s has no ports, got %s", where, r.Protocol, r.Ports)
			}
		case protoErr == nil && r.Ports.First == 0:
			bad("%s: port range %s: ports start at 1", where, r.Ports)
		case r.Ports.Last != 0 && r.Ports.Last < r.Ports.First:
			bad("%s: port range %d-%d: last before first", where, r.Ports.First, r.Ports.Last)
		}
		if r.From != "" && !sets[r.From] {
			bad("%s: from unknown set %q", where, r.From)
		}
		switch r.Verdict {
		case Accept:
			if r.Stage != PreDNAT && (r.From == "" || nonEmpty[r.From]) {
				lockout = false
			}
		case Drop:
		case Reject:
			if !r.Protocol.hasPorts() {
				bad("%s: reject is only for tcp, udp and sctp; use drop for %s", where, r.Protocol)
			}
			if r.Stage == PreDNAT {
				bad("%s: reject is not possible before DNAT (iptables allows REJECT only in the filter table); use drop", where)
			}
		default:
			bad("%s: unknown verdict %q (want accept, drop or reject)", where, r.Verdict)
		}
	}
	if lockout && !s.AllowLockout {
		bad("no Local rule accepts anything from anyone: SSH, the kubelet and the API server would be closed to everyone (give the sets prefixes, or set AllowLockout)")
	}

	if len(s.Interfaces) == 0 {
		bad("no interfaces: name the outward-facing ones, e.g. eth0")
	}
	seen := map[string]bool{}
	for _, name := range s.Interfaces {
		if !validInterface(name) {
			bad("interface %q: want 1 to 15 bytes of A-Z a-z 0-9 . _ - (the optional trailing '+' included), not \".\" or \"..\"", name)
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

	if s.Log.PerMinute < 0 || s.Log.PerMinute > maxLogRate {
		bad("log: rate %d/minute: want 0 to %d (iptables' limit)", s.Log.PerMinute, maxLogRate)
	}
	if s.Log.Burst < 0 || s.Log.Burst > maxLogBurst {
		bad("log: burst %d: want 0 to %d (iptables' limit)", s.Log.Burst, maxLogBurst)
	}
	if err := checkText(s.Log.Prefix, 28); err != nil {
		bad("log prefix: %v", err)
	} else if strings.Contains(s.Log.Prefix, "$") {
		bad("log prefix %q: nft reads '$' in a log prefix as a variable", s.Log.Prefix)
	}
	if m := s.ConnMark; m&(m-1) != 0 {
		bad("conntrack mark %#x: want exactly one bit (or 0 for %#x)", m, DefaultConnMark)
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

// validInterface reports whether s is an interface name the tools accept
// and that can name a real interface: at most 15 bytes (IFNAMSIZ less the
// terminating NUL; iptables counts the wildcard '+'), not "." or "..", and
// characters that need no quoting anywhere.
func validInterface(s string) bool {
	if len(s) > 15 {
		return false
	}
	s, _ = strings.CutSuffix(s, "+")
	if len(s) == 0 || s == "." || s == ".." {
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
	if n.ConnMark == 0 {
		n.ConnMark = DefaultConnMark
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
			switch {
			case p.Bits() == 0 && p.Addr().Is4():
				// ipset's hash:net refuses a /0: the two halves cover
				// the same addresses.
				p4 = append(p4, netip.MustParsePrefix("0.0.0.0/1"), netip.MustParsePrefix("128.0.0.0/1"))
			case p.Bits() == 0:
				p6 = append(p6, netip.MustParsePrefix("::/1"), netip.MustParsePrefix("8000::/1"))
			case p.Addr().Is4():
				p4 = append(p4, p.Masked())
			default:
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

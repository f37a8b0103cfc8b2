package firewall

import (
	"context"
	"fmt"
	"net/netip"
	"slices"
	"strconv"
	"strings"
)

// A rule set judges new flows; conntrack lets packets of a flow it already
// tracks through ("established"). So a flow opened before Apply — a
// stranger's UDP "connection" to a NodePort, a TCP session to a port that
// is closed now, a peer whose prefix left the edge set — would keep flowing
// under the new rules. After a successful Apply the Applier therefore
// deletes the conntrack entries of flows the new rules would not admit;
// the next packet of such a flow is new to conntrack and is judged (and
// dropped) like any other.
//
// It uses the conntrack tool (Debian package conntrack) rather than talking
// netlink itself: the Applier touches the node only through programs its
// [Runner] runs, which is what lets tests run it inside a network namespace
// and what keeps this package free of a hand-written ctnetlink codec.
//
// Which entries go: TCP, UDP and SCTP flows addressed to one of the node's
// own addresses (the original destination, before any DNAT) or DNATed (to
// a pod behind a load-balancer or external IP, a host port), from a source
// that is not the node's and that the node routes through a guarded
// interface, for which no accept rule of the new Spec (at any stage)
// matches the protocol, original destination port and source. The judgement
// leans to keeping: a flow some accept rule could admit stays even if an
// earlier drop would have stopped it, and flows the rules never judge
// (loopback, pods' interfaces, the node's own outbound connections) are
// never touched.

// flow is one conntrack entry's original direction, and the source of its
// reply direction (not the original destination when the flow was DNATed).
type flow struct {
	proto    string
	src, dst netip.Addr
	sport    uint16
	dport    uint16
	replySrc netip.Addr
}

// parseFlows reads `conntrack -L` output (default format): the first
// src=, dst=, sport=, dport= of a line are the original direction.
func parseFlows(out string) []flow {
	var flows []flow
	for line := range strings.Lines(out) {
		f := strings.Fields(line)
		if len(f) < 2 {
			continue
		}
		fl := flow{proto: f[0]}
		var haveSrc, haveDst, haveSport, haveDport bool
		for _, kv := range f[1:] {
			k, v, ok := strings.Cut(kv, "=")
			if !ok {
				continue
			}
			switch {
			case k == "src" && !haveSrc:
				fl.src, _ = netip.ParseAddr(v)
				haveSrc = true
			case k == "src" && !fl.replySrc.IsValid():
				fl.replySrc, _ = netip.ParseAddr(v)
			case k == "dst" && !haveDst:
				fl.dst, _ = netip.ParseAddr(v)
				haveDst = true
			case k == "sport" && !haveSport:
				p, _ := strconv.ParseUint(v, 10, 16)
				fl.sport, haveSport = uint16(p), true
			case k == "dport" && !haveDport:
				p, _ := strconv.ParseUint(v, 10, 16)
				fl.dport, haveDport = uint16(p), true
			}
		}
		if fl.src.IsValid() && fl.dst.IsValid() && haveSport && haveDport {
			flows = append(flows, fl)
		}
	}
	return flows
}

// protoNumbers are the protocols whose flows have ports, by conntrack's name.
var protoNumbers = map[string]int{"tcp": 6, "udp": 17, "sctp": 132}

// matchesProtocol reports whether rule protocol p matches a flow of
// conntrack protocol name (tcp, udp, sctp), also when p is given by number.
func matchesProtocol(p Protocol, name string) bool {
	if string(p) == name {
		return true
	}
	num, err := strconv.Atoi(string(p))
	return err == nil && num == protoNumbers[name]
}

// admits reports whether some accept rule of n matches the flow.
func (n normalized) admits(fl flow) bool {
	fam := 4
	if fl.src.Is6() {
		fam = 6
	}
	for _, r := range n.Rules {
		if r.Verdict != Accept || !matchesProtocol(r.Protocol, fl.proto) {
			continue
		}
		if r.Ports.First != 0 && (fl.dport < r.Ports.First || fl.dport > r.Ports.Last) {
			continue
		}
		if r.From != "" && !containsAddr(n.prefixes(r.From, fam), fl.src) {
			continue
		}
		return true
	}
	return false
}

// containsAddr reports whether a sorted, disjoint prefix list (as
// canonical makes it) holds a.
func containsAddr(ps []netip.Prefix, a netip.Addr) bool {
	// The last prefix starting at or before a is the only one that can
	// hold it.
	i, found := slices.BinarySearchFunc(ps, a, func(p netip.Prefix, a netip.Addr) int { return p.Addr().Compare(a) })
	if found {
		return true
	}
	return i > 0 && ps[i-1].Contains(a)
}

// localAddrs parses `ip -o addr show`: the node's own addresses.
func localAddrs(out string) map[netip.Addr]bool {
	local := map[netip.Addr]bool{}
	for line := range strings.Lines(out) {
		f := strings.Fields(line)
		for i := 0; i+1 < len(f); i++ {
			if f[i] == "inet" || f[i] == "inet6" {
				if p, err := netip.ParsePrefix(f[i+1]); err == nil {
					local[p.Addr()] = true
				}
			}
		}
	}
	return local
}

// routeDevs parses the output of `ip -o route get` batches: per queried
// address (each line starts with it), the device it is routed through.
func routeDevs(out string) map[netip.Addr]string {
	devs := map[netip.Addr]string{}
	for line := range strings.Lines(out) {
		f := strings.Fields(line)
		if len(f) == 0 {
			continue
		}
		a, err := netip.ParseAddr(f[0])
		if err != nil {
			continue
		}
		if i := slices.Index(f, "dev"); i >= 0 && i+1 < len(f) {
			devs[a] = f[i+1]
		}
	}
	return devs
}

// dropStaleFlows deletes the conntrack entries of flows the rules of n
// would not admit (see above).
func (a *Applier) dropStaleFlows(ctx context.Context, nd node, n normalized) error {
	addrs, err := a.exec(ctx, "", "ip", "-o", "addr", "show")
	if err != nil {
		return err
	}
	local := localAddrs(addrs)
	var stale []flow
	for _, family := range []string{"ipv4", "ipv6"} {
		out, err := a.exec(ctx, "", "conntrack", "-L", "-f", family)
		if err != nil {
			return err
		}
		for _, fl := range parseFlows(out) {
			dnat := fl.replySrc.IsValid() && fl.replySrc != fl.dst
			if _, ok := protoNumbers[fl.proto]; !ok || !local[fl.dst] && !dnat || local[fl.src] || n.admits(fl) {
				continue
			}
			stale = append(stale, fl)
		}
	}
	if len(stale) == 0 {
		return nil
	}
	// Only flows that came in through a guarded interface were judged by
	// the rules; ask the kernel which way each source is routed.
	var query strings.Builder
	seen := map[netip.Addr]bool{}
	for _, fl := range stale {
		if !seen[fl.src] {
			seen[fl.src] = true
			query.WriteString("route get " + fl.src.String() + "\n")
		}
	}
	routes, err := a.exec(ctx, query.String(), "ip", "-o", "-force", "-batch", "-")
	if err != nil && len(routes) == 0 {
		return err
	}
	devs := routeDevs(routes)
	for _, fl := range stale {
		if !slices.Contains(nd.guarded, devs[fl.src]) {
			continue
		}
		family := "ipv4"
		if fl.src.Is6() {
			family = "ipv6"
		}
		out, err := a.exec(ctx, "", "conntrack", "-D", "-f", family, "-p", fl.proto,
			"--orig-src", fl.src.String(), "--orig-dst", fl.dst.String(),
			"--sport", strconv.Itoa(int(fl.sport)), "--dport", strconv.Itoa(int(fl.dport)))
		// conntrack exits 1 when nothing matched: the flow ended (a UDP
		// timeout) between the listing and now, which is as good.
		if err != nil && !strings.Contains(out+err.Error(), "0 flow entries have been deleted") {
			return fmt.Errorf("delete flow %s %s:%d → %s:%d: %w", fl.proto, fl.src, fl.sport, fl.dst, fl.dport, err)
		}
	}
	return nil
}

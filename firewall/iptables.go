package firewall

import (
	"net/netip"
	"strconv"
)

// icmpRule is one group of ICMP types the Local stage always lets in.
// Errors that belong to a tracked connection are RELATED anyway; these
// rules keep them for flows conntrack does not know, and let in the
// messages conntrack does not track at all (neighbour discovery, MLD).
type icmpRule struct {
	types    []int
	names    []string // nft's names, same order
	linkSrc  bool     // only from link-local sources (fe80::/10)
	hopLimit int      // only with this hop limit; 0: any
	why      string
}

// icmpRules are the ICMP types the Local stage accepts, per family. For
// IPv6 they are what RFC 4890 (section 4.4.1) says a host must not drop.
var icmpRules = map[int][]icmpRule{
	4: {
		{types: []int{3, 11, 12}, names: []string{"destination-unreachable", "time-exceeded", "parameter-problem"},
			why: "ICMP errors, incl. path-MTU fragmentation needed"},
	},
	6: {
		{types: []int{1, 2, 3, 4}, names: []string{"destination-unreachable", "packet-too-big", "time-exceeded", "parameter-problem"},
			why: "RFC 4890: ICMPv6 errors, incl. packet too big (path MTU)"},
		{types: []int{128}, names: []string{"echo-request"},
			why: "RFC 4890: echo request"},
		{types: []int{133, 134, 135, 136, 141, 142, 148, 149},
			names:    []string{"nd-router-solicit", "nd-router-advert", "nd-neighbor-solicit", "nd-neighbor-advert", "ind-neighbor-solicit", "ind-neighbor-advert", "148", "149"},
			hopLimit: 255, why: "RFC 4890: neighbour and router discovery, hop limit 255"},
		{types: []int{130, 131, 132, 143}, names: []string{"mld-listener-query", "mld-listener-report", "mld-listener-done", "mld2-listener-report"},
			linkSrc: true, why: "RFC 4890: multicast listener discovery from link-local"},
		{types: []int{151, 152, 153}, names: []string{"151", "152", "153"},
			linkSrc: true, hopLimit: 1, why: "RFC 4890: multicast router discovery from link-local"},
	},
}

// ipsetName is the name of set's family-fam ipset.
func ipsetName(set string, fam int) string {
	return setTag + set + "-v" + strconv.Itoa(fam)
}

// iptables renders restore input for family fam (4 or 6); withSets selects
// the ipset backend (one rule per Rule, matching a set) over the plain one
// (one rule per Rule and source prefix).
func (n normalized) iptables(fam int, withSets bool) string {
	size := 4096
	if !withSets {
		for _, r := range n.Rules {
			if r.From != "" {
				size += 160 * len(n.prefixes(r.From, fam))
			}
		}
	}
	b := make([]byte, 0, size)
	for _, table := range []string{"mangle", "filter"} {
		b = append(b, '*')
		b = append(b, table...)
		b = append(b, '\n')
		for _, c := range ownChains[table] {
			b = append(b, ':')
			b = append(b, c...)
			b = append(b, " - [0:0]\n"...)
		}
		switch table {
		case "mangle":
			b = n.dispatch(b, chainPrerouting, chainPreDNAT)
			b = line(b, chainPreDNAT, "-m conntrack --ctstate RELATED,ESTABLISHED", "replies and related", "RETURN")
			b = n.rules(b, fam, withSets, PreDNAT, chainPreDNAT)
			// An accept at PreDNAT goes (-g) here: the flow is marked
			// and the packet returns to the built-in chain.
			b = line(b, chainMark, "", "accepted before DNAT", "CONNMARK "+n.setMark())
			for _, i := range n.Interfaces {
				b = line(b, chainForward, "-i "+i+" -m conntrack --ctstate NEW -m conntrack --ctstate DNAT -m connmark ! --mark "+n.markMask(),
					"DNATed but not accepted before DNAT", "DROP")
			}
		case "filter":
			b = n.dispatch(b, chainInput, chainLocal)
			b = line(b, chainLocal, "-m conntrack --ctstate RELATED,ESTABLISHED", "replies and related", "RETURN")
			b = line(b, chainLocal, "-m connmark --mark "+n.markMask(), "accepted before DNAT", "RETURN")
			for _, e := range icmpRules[fam] {
				for _, typ := range e.types {
					match := "-p icmp -m icmp --icmp-type " + strconv.Itoa(typ)
					if fam == 6 {
						match = "-p ipv6-icmp -m icmp6 --icmpv6-type " + strconv.Itoa(typ)
						if e.linkSrc {
							match = "-s fe80::/10 " + match
						}
						if e.hopLimit > 0 {
							match += " -m hl --hl-eq " + strconv.Itoa(e.hopLimit)
						}
					}
					b = line(b, chainLocal, match, e.why, "RETURN")
				}
			}
			if fam == 6 {
				b = line(b, chainLocal, "-s fe80::/10 -p udp -m udp --dport 546", "DHCPv6 replies to this node", "RETURN")
			}
			b = line(b, chainLocal, "-m conntrack --ctstate INVALID", "invalid: drop, never reset", "DROP")
			b = n.rules(b, fam, withSets, Local, chainLocal)
			if n.Log.PerMinute > 0 {
				b = line(b, chainLocal, "-m limit --limit "+strconv.Itoa(n.Log.PerMinute)+"/min --limit-burst "+strconv.Itoa(n.Log.Burst), "",
					`LOG --log-prefix "`+n.Log.Prefix+`"`)
			}
			if n.Default == Reject {
				b = line(b, chainLocal, "-p tcp", "default verdict", "REJECT --reject-with tcp-reset")
				b = line(b, chainLocal, "", "default verdict", rejectICMP(fam))
			} else {
				b = line(b, chainLocal, "", "default verdict", "DROP")
			}
		}
		b = append(b, "COMMIT\n"...)
	}
	return string(b)
}

func rejectICMP(fam int) string {
	if fam == 6 {
		return "REJECT --reject-with icmp6-port-unreachable"
	}
	return "REJECT --reject-with icmp-port-unreachable"
}

// markMask is the connmark match for the mark bit: "0x8000000/0x8000000".
func (n normalized) markMask() string {
	m := "0x" + strconv.FormatUint(uint64(n.ConnMark), 16)
	return m + "/" + m
}

// setMark is the CONNMARK option that sets the mark bit and no other.
func (n normalized) setMark() string { return "--set-xmark " + n.markMask() }

// dispatch sends packets from the listed interfaces to chain to.
func (n normalized) dispatch(b []byte, from, to string) []byte {
	for _, i := range n.Interfaces {
		b = line(b, from, "-i "+i, "", to)
	}
	return b
}

func (n normalized) prefixes(set string, fam int) []netip.Prefix {
	if fam == 4 {
		return n.v4[set]
	}
	return n.v6[set]
}

// rules appends the rules of stage to chain.
func (n normalized) rules(b []byte, fam int, withSets bool, stage Stage, chain string) []byte {
	for _, r := range n.Rules {
		if r.Stage != stage {
			continue
		}
		if !r.Protocol.inFamily(fam) {
			continue
		}
		var match string
		switch n, isNumber := r.Protocol.number(); {
		case r.Protocol == IPIP:
			match = "-p 4"
		case isNumber:
			match = "-p " + strconv.Itoa(n)
		default:
			match = "-p " + string(r.Protocol) + " -m " + string(r.Protocol) + " --dport " + strconv.Itoa(int(r.Ports.First))
			if r.Ports.Last != r.Ports.First {
				match += ":" + strconv.Itoa(int(r.Ports.Last))
			}
		}
		target := ""
		switch r.Verdict {
		case Accept:
			target = "RETURN"
			if stage == PreDNAT {
				target = gotoMark
			}
		case Drop:
			target = "DROP"
		case Reject:
			target = rejectICMP(fam)
			if r.Protocol == TCP {
				target = "REJECT --reject-with tcp-reset"
			}
		}
		switch {
		case r.From == "":
			b = line(b, chain, match, r.Comment, target)
		case withSets:
			b = line(b, chain, match+" -m set --match-set "+ipsetName(r.From, fam)+" src", r.Comment, target)
		default:
			// One rule per prefix; written out by hand for speed, as the
			// plain backend renders millions of these.
			for _, p := range n.prefixes(r.From, fam) {
				b = append(b, "-A "...)
				b = append(b, chain...)
				b = append(b, " -s "...)
				b = p.AppendTo(b)
				b = append(b, ' ')
				b = append(b, match...)
				b = comment(b, r.Comment)
				b = appendTarget(b, target)
				b = append(b, '\n')
			}
		}
	}
	return b
}

// line appends "-A chain match -m comment --comment "why" -j target".
func line(b []byte, chain, match, why, target string) []byte {
	b = append(b, "-A "...)
	b = append(b, chain...)
	if match != "" {
		b = append(b, ' ')
		b = append(b, match...)
	}
	b = comment(b, why)
	b = appendTarget(b, target)
	return append(b, '\n')
}

// gotoMark is the target of a PreDNAT accept: a goto, so that the return
// from ORIGINGUARD-MARK goes straight back past ORIGINGUARD-PREDNAT.
const gotoMark = "-g " + chainMark

// appendTarget appends " -j target", or " -g chain" for [gotoMark].
func appendTarget(b []byte, target string) []byte {
	if target == gotoMark {
		return append(append(b, ' '), target...)
	}
	b = append(b, " -j "...)
	return append(b, target...)
}

func comment(b []byte, why string) []byte {
	if why == "" {
		return b
	}
	b = append(b, ` -m comment --comment "`...)
	b = append(b, why...)
	return append(b, '"')
}

// ipsetScript renders the `ipset restore` script: for every set and family,
// create the live set if missing, fill a temporary set, swap the two
// atomically and destroy the temporary one. The create options never vary
// (ipset's -exist only tolerates an existing set with the same options).
func (n normalized) ipsetScript() string {
	size := 256
	for _, set := range n.Sets {
		size += 128 + 40*(len(n.v4[set.Name])+len(n.v6[set.Name]))
	}
	b := make([]byte, 0, size)
	for _, set := range n.Sets {
		for _, fam := range []int{4, 6} {
			live := ipsetName(set.Name, fam)
			tmp := live + "-new"
			family := " hash:net family inet hashsize 1024 maxelem " + strconv.Itoa(maxSetSize) + " -exist\n"
			if fam == 6 {
				family = " hash:net family inet6 hashsize 1024 maxelem " + strconv.Itoa(maxSetSize) + " -exist\n"
			}
			b = append(b, "create "+live+family...)
			b = append(b, "create "+tmp+family...)
			b = append(b, "flush "+tmp+"\n"...)
			for _, p := range n.prefixes(set.Name, fam) {
				b = append(b, "add "...)
				b = append(b, tmp...)
				b = append(b, ' ')
				b = p.AppendTo(b)
				b = append(b, '\n')
			}
			b = append(b, "swap "+tmp+" "+live+"\n"...)
			b = append(b, "destroy "+tmp+"\n"...)
		}
	}
	return string(b)
}

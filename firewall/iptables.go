package firewall

import (
	"net/netip"
	"strconv"
)

// icmpEssentials are the ICMP types the Local stage always lets in, with
// why. Errors that belong to a tracked connection are RELATED anyway; these
// lines keep them for flows conntrack does not know (and ND, which it does
// not track at all).
var icmpEssentials = map[int][]struct {
	typ  int
	name string // nft name
	why  string
}{
	4: {
		{3, "destination-unreachable", "destination unreachable, incl. path-MTU fragmentation needed"},
		{11, "time-exceeded", "time exceeded"},
		{12, "parameter-problem", "parameter problem"},
	},
	6: {
		{1, "destination-unreachable", "destination unreachable"},
		{2, "packet-too-big", "packet too big: path-MTU discovery"},
		{3, "time-exceeded", "time exceeded"},
		{4, "parameter-problem", "parameter problem"},
		{133, "nd-router-solicit", "router solicitation"},
		{134, "nd-router-advert", "router advertisement"},
		{135, "nd-neighbor-solicit", "neighbour solicitation"},
		{136, "nd-neighbor-advert", "neighbour advertisement"},
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
			b = line(b, chainPreDNAT, "-m addrtype ! --dst-type LOCAL", "not to this node", "RETURN")
			b = n.rules(b, fam, withSets, PreDNAT, chainPreDNAT)
		case "filter":
			b = n.dispatch(b, chainInput, chainLocal)
			b = line(b, chainLocal, "-m conntrack --ctstate RELATED,ESTABLISHED", "replies and related", "RETURN")
			b = line(b, chainLocal, "-m conntrack --ctstate DNAT", "DNATed: vetted before DNAT", "RETURN")
			for _, e := range icmpEssentials[fam] {
				match := "-p icmp -m icmp --icmp-type " + strconv.Itoa(e.typ)
				if fam == 6 {
					match = "-p ipv6-icmp -m icmp6 --icmpv6-type " + strconv.Itoa(e.typ)
				}
				b = line(b, chainLocal, match, e.why, "RETURN")
			}
			if fam == 6 {
				b = line(b, chainLocal, "-s fe80::/10 -p udp -m udp --dport 546", "DHCPv6 replies to this node", "RETURN")
			}
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
		var match string
		if r.Protocol == IPIP {
			if fam == 6 {
				continue // Calico's IPIP is IPv4 only
			}
			match = "-p 4"
		} else {
			match = "-p " + string(r.Protocol) + " -m " + string(r.Protocol) + " --dport " + strconv.Itoa(int(r.Ports.First))
			if r.Ports.Last != r.Ports.First {
				match += ":" + strconv.Itoa(int(r.Ports.Last))
			}
		}
		target := ""
		switch r.Verdict {
		case Accept:
			target = "RETURN"
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
				b = append(b, " -j "...)
				b = append(b, target...)
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
	b = append(b, " -j "...)
	b = append(b, target...)
	return append(b, '\n')
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

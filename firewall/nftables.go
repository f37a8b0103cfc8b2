package firewall

import (
	"strconv"
	"strings"
)

// nft renders the `nft -f` script. The first two lines make the replacement
// atomic and idempotent: "table inet originguard" creates the table when it
// is missing (and does nothing otherwise), so that "delete table" never
// fails, and the definition that follows recreates it, all in the one
// transaction nft -f commits. No other table is named.
func (n normalized) nft() string {
	size := 4096
	for _, set := range n.Sets {
		size += 64 + 48*(len(n.v4[set.Name])+len(n.v6[set.Name]))
	}
	b := make([]byte, 0, size)
	b = append(b, "table inet "+nftTable+"\ndelete table inet "+nftTable+"\n\ntable inet "+nftTable+" {\n"...)
	for _, set := range n.Sets {
		for _, fam := range []int{4, 6} {
			b = append(b, "\tset "+set.Name+"_v"+strconv.Itoa(fam)+" {\n"...)
			if fam == 4 {
				b = append(b, "\t\ttype ipv4_addr\n"...)
			} else {
				b = append(b, "\t\ttype ipv6_addr\n"...)
			}
			b = append(b, "\t\tflags interval\n"...)
			if ps := n.prefixes(set.Name, fam); len(ps) > 0 {
				b = append(b, "\t\telements = {\n"...)
				for i, p := range ps {
					b = append(b, "\t\t\t"...)
					b = p.AppendTo(b)
					if i < len(ps)-1 {
						b = append(b, ',')
					}
					b = append(b, '\n')
				}
				b = append(b, "\t\t}\n"...)
			}
			b = append(b, "\t}\n\n"...)
		}
	}

	// PreDNAT: priority mangle (-150) is after conntrack (-200), so ct state
	// is known, and before dstnat (-100), where kube-proxy rewrites the
	// destination, so NodePorts are still visible.
	b = append(b, "\tchain prerouting {\n\t\ttype filter hook prerouting priority mangle; policy accept;\n"...)
	b = n.nftDispatch(b, "prednat")
	b = append(b, "\t}\n\n\tchain prednat {\n"...)
	b = nftLine(b, "ct state established,related return", "")
	b = nftLine(b, "fib daddr type != local return", "")
	b = n.nftRules(b, PreDNAT)
	b = append(b, "\t}\n\n"...)

	b = append(b, "\tchain input {\n\t\ttype filter hook input priority filter; policy accept;\n"...)
	b = n.nftDispatch(b, "local")
	b = append(b, "\t}\n\n\tchain local {\n"...)
	b = nftLine(b, "ct state established,related accept", "")
	b = nftLine(b, "ct status dnat accept", "DNATed: vetted before DNAT")
	var v4, v6 []string
	for _, e := range icmpEssentials[4] {
		v4 = append(v4, e.name)
	}
	for _, e := range icmpEssentials[6] {
		v6 = append(v6, e.name)
	}
	b = nftLine(b, "icmp type { "+strings.Join(v4, ", ")+" } accept", "")
	b = nftLine(b, "icmpv6 type { "+strings.Join(v6, ", ")+" } accept", "")
	b = nftLine(b, "ip6 saddr fe80::/10 udp dport 546 accept", "DHCPv6 replies to this node")
	b = n.nftRules(b, Local)
	if n.Log.PerMinute > 0 {
		b = nftLine(b, "limit rate "+strconv.Itoa(n.Log.PerMinute)+"/minute burst "+strconv.Itoa(n.Log.Burst)+
			` packets log prefix "`+n.Log.Prefix+`"`, "")
	}
	if n.Default == Reject {
		b = nftLine(b, "meta l4proto tcp reject with tcp reset", "")
		b = nftLine(b, "reject", "")
	} else {
		b = nftLine(b, "drop", "")
	}
	b = append(b, "\t}\n}\n"...)
	return string(b)
}

func (n normalized) nftDispatch(b []byte, to string) []byte {
	b = nftLine(b, `iifname "lo" accept`, "")
	for _, i := range n.Interfaces {
		if s, ok := strings.CutSuffix(i, "+"); ok {
			i = s + "*"
		}
		b = nftLine(b, `iifname "`+i+`" jump `+to, "")
	}
	return b
}

func (n normalized) nftRules(b []byte, stage Stage) []byte {
	for _, r := range n.Rules {
		if r.Stage != stage {
			continue
		}
		verdict := string(r.Verdict)
		if r.Protocol == IPIP {
			if r.From == "" {
				b = nftLine(b, "meta nfproto ipv4 meta l4proto 4 "+verdict, r.Comment)
			} else {
				b = nftLine(b, "ip saddr @"+r.From+"_v4 meta l4proto 4 "+verdict, r.Comment)
			}
			continue
		}
		match := string(r.Protocol) + " dport " + strconv.Itoa(int(r.Ports.First))
		if r.Ports.Last != r.Ports.First {
			match += "-" + strconv.Itoa(int(r.Ports.Last))
		}
		if r.Verdict == Reject && r.Protocol == TCP {
			verdict = "reject with tcp reset"
		}
		if r.From == "" {
			b = nftLine(b, match+" "+verdict, r.Comment)
			continue
		}
		b = nftLine(b, "ip saddr @"+r.From+"_v4 "+match+" "+verdict, r.Comment)
		b = nftLine(b, "ip6 saddr @"+r.From+"_v6 "+match+" "+verdict, r.Comment)
	}
	return b
}

func nftLine(b []byte, rule, why string) []byte {
	b = append(b, "\t\t"...)
	b = append(b, rule...)
	if why != "" {
		b = append(b, ` comment "`...)
		b = append(b, why...)
		b = append(b, '"')
	}
	return append(b, '\n')
}

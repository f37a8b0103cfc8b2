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
	mark := "0x" + strconv.FormatUint(uint64(n.ConnMark), 16)
	b = append(b, "\tchain prerouting {\n\t\ttype filter hook prerouting priority mangle; policy accept;\n"...)
	b = n.nftDispatch(b, "prednat")
	b = append(b, "\t}\n\n\tchain prednat {\n"...)
	b = nftLine(b, "ct state established,related return", "")
	b = n.nftRules(b, PreDNAT, "ct mark set ct mark or "+mark+" accept")
	b = append(b, "\t}\n\n"...)

	b = append(b, "\tchain input {\n\t\ttype filter hook input priority filter; policy accept;\n"...)
	b = n.nftDispatch(b, "local")
	b = append(b, "\t}\n\n\tchain local {\n"...)
	b = nftLine(b, "ct state established,related accept", "")
	b = nftLine(b, "ct mark and "+mark+" == "+mark+" accept", "accepted before DNAT")
	for _, fam := range []int{4, 6} {
		for _, e := range icmpRules[fam] {
			rule := "icmp type "
			if fam == 6 {
				rule = "icmpv6 type "
				if e.linkSrc {
					rule = "ip6 saddr fe80::/10 " + rule
				}
			}
			if len(e.names) == 1 {
				rule += e.names[0]
			} else {
				rule += "{ " + strings.Join(e.names, ", ") + " }"
			}
			if e.hopLimit > 0 {
				rule += " ip6 hoplimit " + strconv.Itoa(e.hopLimit)
			}
			b = nftLine(b, rule+" accept", e.why)
		}
	}
	b = nftLine(b, "ip6 saddr fe80::/10 udp dport 546 accept", "DHCPv6 replies to this node")
	b = nftLine(b, "ct state invalid drop", "invalid: drop, never reset")
	b = n.nftRules(b, Local, "accept")
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
	b = append(b, "\t}\n\n"...)

	// Forward: a new flow from a guarded interface that was DNATed (to a
	// pod or container) without being accepted before DNAT is dropped.
	b = append(b, "\tchain forward {\n\t\ttype filter hook forward priority mangle; policy accept;\n"...)
	for _, i := range n.Interfaces {
		b = nftLine(b, `iifname "`+nftIface(i)+`" ct state new ct status dnat ct mark and `+mark+` != `+mark+` drop`,
			"DNATed but not accepted before DNAT")
	}
	b = append(b, "\t}\n}\n"...)
	return string(b)
}

func nftIface(i string) string {
	if s, ok := strings.CutSuffix(i, "+"); ok {
		return s + "*"
	}
	return i
}

func (n normalized) nftDispatch(b []byte, to string) []byte {
	b = nftLine(b, `iifname "lo" accept`, "")
	for _, i := range n.Interfaces {
		b = nftLine(b, `iifname "`+nftIface(i)+`" jump `+to, "")
	}
	return b
}

// nftRules appends the rules of stage; accept is what an Accept verdict
// renders as.
func (n normalized) nftRules(b []byte, stage Stage, accept string) []byte {
	for _, r := range n.Rules {
		if r.Stage != stage {
			continue
		}
		verdict := string(r.Verdict)
		switch r.Verdict {
		case Accept:
			verdict = accept
		case Reject:
			if r.Protocol == TCP {
				verdict = "reject with tcp reset"
			}
		}
		var match string
		switch num, isNumber := r.Protocol.number(); {
		case r.Protocol == IPIP:
			match = "meta l4proto 4"
		case isNumber:
			match = "meta l4proto " + strconv.Itoa(num)
		default:
			match = string(r.Protocol) + " dport " + strconv.Itoa(int(r.Ports.First))
			if r.Ports.Last != r.Ports.First {
				match += "-" + strconv.Itoa(int(r.Ports.Last))
			}
		}
		for _, fam := range []int{4, 6} {
			if !r.Protocol.inFamily(fam) {
				continue
			}
			only4, only6 := !r.Protocol.inFamily(6), !r.Protocol.inFamily(4)
			switch {
			case r.From != "" && fam == 4:
				b = nftLine(b, "ip saddr @"+r.From+"_v4 "+match+" "+verdict, r.Comment)
			case r.From != "":
				b = nftLine(b, "ip6 saddr @"+r.From+"_v6 "+match+" "+verdict, r.Comment)
			case only4:
				b = nftLine(b, "meta nfproto ipv4 "+match+" "+verdict, r.Comment)
			case only6:
				b = nftLine(b, "meta nfproto ipv6 "+match+" "+verdict, r.Comment)
			case fam == 4:
				b = nftLine(b, match+" "+verdict, r.Comment) // both families at once
			}
		}
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

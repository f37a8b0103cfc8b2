// Command nodefirewall prints the host firewall a Kubernetes node behind
// Cloudflare needs, for the packet filter of your choice, and can load it.
// It joins two packages: allowlist gives the Cloudflare edge ranges (the
// embedded snapshot, or a file a refresher wrote), and firewall turns them,
// with the node's own networks, into a rule set.
//
//	go run ./examples/nodefirewall                                  # nftables, eth0, embedded ranges
//	go run ./examples/nodefirewall -backend iptables -iface eth0,eth1 \
//		-cluster 10.0.0.0/8,fd00::/8 -admin 203.0.113.0/24 -bgp -vxlan
//	go run ./examples/nodefirewall -edge-file /etc/originguard/edge.txt
//	sudo go run ./examples/nodefirewall -apply -cluster 10.0.0.0/8   # load it (root, NET_ADMIN)
//
// NodePorts (30000-32767) answer only the edge set; the kubelet and the API
// server answer the cluster set; SSH and the API server answer the admin set;
// the Calico ports open to the cluster when their toggles are given; the rest
// arriving on the listed interfaces is dropped. See the firewall package
// documentation for what each rule is for and how the backends differ.
//
// The -edge-file format is allowlist's: one prefix or address per line, "#"
// starting a comment; it replaces the embedded Cloudflare ranges.
//
// Without -apply nothing is changed: the rule set is only printed, as the
// text the backend's tools load (for nftables the output can be fed to
// nft -f as it is). With -apply the rules are loaded into this machine's
// network namespace with nft, or iptables-restore and ip6tables-restore
// (and ipset); that needs root, or the NET_ADMIN capability, and replaces
// only what originguard owns (the table inet originguard, the ORIGINGUARD-*
// chains and their jumps, the og-* ipsets).
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/netip"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/originguard/originguard/allowlist"
	"github.com/originguard/originguard/firewall"
)

func main() {
	err := run(context.Background(), os.Stdout, os.Stderr, os.Args[1:])
	if errors.Is(err, flag.ErrHelp) {
		return
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "nodefirewall:", err)
		os.Exit(2)
	}
}

// list is a flag that may be repeated and takes comma-separated values.
type list []string

func (l *list) String() string { return strings.Join(*l, ",") }

func (l *list) Set(v string) error {
	for s := range strings.SplitSeq(v, ",") {
		if s = strings.TrimSpace(s); s != "" {
			*l = append(*l, s)
		}
	}
	return nil
}

// prefixes is a flag of CIDR prefixes, repeatable and comma-separated. Each
// is parsed when the flag is set, so a bad one is reported with its flag.
type prefixes []netip.Prefix

func (p *prefixes) String() string {
	s := make([]string, len(*p))
	for i, x := range *p {
		s[i] = x.String()
	}
	return strings.Join(s, ",")
}

func (p *prefixes) Set(v string) error {
	var l list
	l.Set(v)
	for _, s := range l {
		x, err := netip.ParsePrefix(s)
		if err != nil {
			return fmt.Errorf("bad prefix %q (want a CIDR such as 10.0.0.0/8 or fd00::/8)", s)
		}
		*p = append(*p, x.Masked())
	}
	return nil
}

// config is what the command line asks for.
type config struct {
	backend  firewall.Backend
	node     firewall.Node
	edgeFile string
	apply    bool
}

func parse(errw io.Writer, args []string) (config, error) {
	fs := flag.NewFlagSet("nodefirewall", flag.ContinueOnError)
	fs.SetOutput(io.Discard) // errors are returned, and usage printed only for -h
	var (
		c       config
		backend = fs.String("backend", string(firewall.NFTables), "packet filter: nftables, iptables or ipset")
		ifaces  list
		cluster prefixes
		admin   prefixes
	)
	fs.Var(&ifaces, "iface", "outward-facing interface, repeatable or comma-separated; a trailing + matches any suffix (default eth0)")
	fs.Var(&cluster, "cluster", "the cluster's own networks (nodes, control plane), comma-separated CIDRs")
	fs.Var(&admin, "admin", "where operators come from for SSH and the API server, comma-separated CIDRs")
	fs.StringVar(&c.edgeFile, "edge-file", "", "file of edge prefixes (allowlist format: one per line, # comments) replacing the embedded Cloudflare ranges")
	fs.BoolVar(&c.node.BGP, "bgp", false, "open 179/tcp from the cluster (Calico BGP)")
	fs.BoolVar(&c.node.VXLAN, "vxlan", false, "open 4789/udp from the cluster (Calico VXLAN)")
	fs.BoolVar(&c.node.WireGuard, "wireguard", false, "open 51820-51821/udp from the cluster (Calico WireGuard)")
	fs.BoolVar(&c.node.IPIP, "ipip", false, "let IP-in-IP in from the cluster (Calico IPIP)")
	fs.BoolVar(&c.node.Typha, "typha", false, "open 5473/tcp from the cluster (Calico Typha)")
	fs.BoolVar(&c.apply, "apply", false, "load the rules into this machine's firewall (needs root or NET_ADMIN)")
	fs.Usage = func() {} // flag calls it on errors too; usage is printed for -h only, below
	usage := func() {
		fmt.Fprint(errw, "usage: nodefirewall [-backend nftables|iptables|ipset] [-iface eth0] [-cluster CIDR,...] [-admin CIDR,...]\n"+
			"                    [-bgp] [-vxlan] [-wireguard] [-ipip] [-typha] [-edge-file path] [-apply]\n"+
			"Prints the firewall of a Kubernetes node behind Cloudflare. -apply loads it with nft or\n"+
			"iptables-restore and needs root (CAP_NET_ADMIN); without -apply nothing is changed.\n")
		fs.SetOutput(errw)
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			usage()
		}
		return c, err // names the flag and the bad value
	}
	if fs.NArg() > 0 {
		return c, fmt.Errorf("unexpected argument %q (all options are flags)", fs.Arg(0))
	}
	c.backend = firewall.Backend(*backend)
	if !slices.Contains(firewall.Backends(), c.backend) {
		return c, fmt.Errorf("unknown backend %q (want nftables, iptables or ipset)", *backend)
	}
	if len(ifaces) == 0 {
		ifaces = list{"eth0"}
	}
	if c.apply && len(cluster) == 0 {
		return c, errors.New("-apply needs -cluster: without it the API server could not reach this node's kubelet")
	}
	c.node.Interfaces, c.node.Cluster, c.node.Admin = ifaces, cluster, admin
	return c, nil
}

// edge returns the edge prefixes and a line saying where they came from.
func edge(file string) ([]netip.Prefix, string, error) {
	if file == "" {
		r := allowlist.Embedded()
		return r.All(), fmt.Sprintf("%d IPv4 + %d IPv6 Cloudflare ranges, embedded snapshot taken %s",
			len(r.IPv4), len(r.IPv6), r.TakenAt.Format(time.DateOnly)), nil
	}
	text, err := os.ReadFile(file)
	if err != nil {
		return nil, "", fmt.Errorf("-edge-file: %w", err)
	}
	set, err := allowlist.Parse(string(text))
	if err != nil {
		return nil, "", fmt.Errorf("-edge-file %s: %w", file, err)
	}
	if set.Len() == 0 {
		return nil, "", fmt.Errorf("-edge-file %s: no prefixes: every NodePort would be closed", file)
	}
	return set.Prefixes(), fmt.Sprintf("%d IPv4 + %d IPv6 prefixes from %s", set.Len4(), set.Len6(), file), nil
}

func run(ctx context.Context, w, errw io.Writer, args []string) error {
	c, err := parse(errw, args)
	if err != nil {
		return err
	}
	var source string
	if c.node.Edge, source, err = edge(c.edgeFile); err != nil {
		return err
	}
	spec := c.node.Spec()
	// Render is pure: the printed text has no jump from the built-in
	// chains; the Applier adds exactly one, after reading iptables-save.
	script, err := spec.Render(c.backend)
	if err != nil {
		return err
	}

	fmt.Fprintf(w, "# originguard node firewall, backend %s\n", c.backend)
	fmt.Fprintf(w, "# interfaces: %s\n", strings.Join(c.node.Interfaces, ", "))
	fmt.Fprintf(w, "# edge:       %s\n", source)
	fmt.Fprintf(w, "# cluster:    %s\n", orNone(c.node.Cluster))
	fmt.Fprintf(w, "# admin:      %s\n", orNone(c.node.Admin))
	fmt.Fprintf(w, "#\n")
	for _, r := range spec.Rules {
		from := r.From
		if from == "" {
			from = "anyone"
		}
		ports := r.Ports.String()
		if r.Protocol == firewall.IPIP {
			ports = "-"
		}
		fmt.Fprintf(w, "# %-7s %-4s %-11s from %-7s %-6s %s\n", r.Stage, r.Protocol, ports, from, r.Verdict, r.Comment)
	}
	fmt.Fprintf(w, "# then everything else on those interfaces: %s\n", orDrop(spec.Default))
	switch c.backend {
	case firewall.NFTables:
		fmt.Fprintf(w, "#\n# nft -f -\n%s", script.NFT)
	default:
		if script.IPSet != "" {
			fmt.Fprintf(w, "#\n# ipset restore\n%s", script.IPSet)
		}
		fmt.Fprintf(w, "#\n# iptables-restore --noflush\n%s", script.IPv4)
		fmt.Fprintf(w, "#\n# ip6tables-restore --noflush\n%s", script.IPv6)
		fmt.Fprintf(w, "#\n# The jumps into the ORIGINGUARD-* chains are not in this text: -apply\n"+
			"# adds exactly one per built-in chain (see firewall.Spec.Render).\n")
	}

	if !c.apply {
		return nil
	}
	if err := firewall.NewApplier(c.backend).Apply(ctx, spec); err != nil {
		return fmt.Errorf("apply (needs root or NET_ADMIN): %w", err)
	}
	fmt.Fprintf(w, "# applied with %s\n", c.backend)
	return nil
}

func orNone(p []netip.Prefix) string {
	if len(p) == 0 {
		return "(none)"
	}
	s := make([]string, len(p))
	for i, x := range p {
		s[i] = x.String()
	}
	return strings.Join(s, ", ")
}

func orDrop(v firewall.Verdict) firewall.Verdict {
	if v == "" {
		return firewall.Drop
	}
	return v
}

// Command nodefirewall prints the host firewall a Kubernetes node behind
// Cloudflare needs, for the packet filter of your choice, and can load it.
// It joins two packages: allowlist gives the Cloudflare edge ranges (the
// embedded snapshot, or a file a refresher wrote), and firewall turns them,
// with the node's own networks, into a rule set.
//
//	go run ./examples/nodefirewall -cluster 10.0.0.0/8                # nftables, eth0, embedded ranges
//	go run ./examples/nodefirewall -backend iptables -iface eth0,eth1 \
//		-cluster 10.0.0.0/8,fd00::/8 -admin 203.0.113.0/24 -bgp -vxlan
//	go run ./examples/nodefirewall -cluster 10.0.0.0/8 -edge-file /etc/originguard/edge.txt
//	sudo go run ./examples/nodefirewall -apply -cluster 10.0.0.0/8   # load it (root, NET_ADMIN)
//
// NodePorts (30000-32767) answer only the edge and balancer sets; the
// kubelet and the API server answer the cluster set; kube-proxy's healthz
// (10256) the cluster and balancer sets; SSH and the API server the admin
// set; the Calico ports open to the cluster when their toggles are given;
// -edge-port opens ports the node serves to the edge itself (an ingress
// controller on hostNetwork, a hostPort); the rest arriving on the listed
// interfaces is dropped. With neither -cluster nor -admin that would close
// SSH and the kubelet to everyone, so the command refuses unless
// -allow-lockout says it is meant. See the firewall package documentation
// for what each rule is for and how the backends differ.
//
// # Overlay toggles
//
// Pods on different nodes talk through an overlay that arrives on the
// node's outward-facing interface, so the default drop would cut them
// apart unless its toggle is given:
//
//   - -ipip: Calico's IP-in-IP (IP protocol 4, IPv4 only), Calico's
//     default on many installs (IPIPMode Always or CrossSubnet; LKE uses
//     it). Check with `calicoctl get ippool -o wide` (IPIPMODE).
//   - -vxlan: Calico's VXLAN, 4789/udp (VXLANMode). Flannel's VXLAN uses
//     8472/udp instead: add a rule for it.
//   - -wireguard: 51820/udp (and 51821/udp for IPv6): Calico's WireGuard
//     encryption, and on LKE the control plane's tunnel to each node, which
//     carries kubectl exec, logs, port-forward and proxy. Leave it off
//     there and those commands hang while everything else works.
//   - -bgp: 179/tcp, Calico's BGP peering (no overlay, but routes).
//
// Native routing without an overlay needs none of them: pod packets are
// routed, not addressed to the node, so the default drop never sees them
// (the NodePort rules still judge new flows to ports in their range).
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
	"strconv"
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

// hostPorts is a flag of ports opened to the edge before DNAT: "443",
// "443/tcp", "8000-8100/udp", "9000/sctp"; repeatable and comma-separated.
type hostPorts []firewall.HostPort

func (h *hostPorts) String() string {
	s := make([]string, len(*h))
	for i, x := range *h {
		s[i] = x.Ports.String() + "/" + string(x.Protocol)
	}
	return strings.Join(s, ",")
}

func (h *hostPorts) Set(v string) error {
	var l list
	l.Set(v)
	for _, s := range l {
		ports, proto, _ := strings.Cut(s, "/")
		p := firewall.Protocol(strings.ToLower(proto))
		if proto == "" {
			p = firewall.TCP
		}
		if p != firewall.TCP && p != firewall.UDP && p != firewall.SCTP {
			return fmt.Errorf("bad port %q (want 443, 443/tcp, 8000-8100/udp or 9000/sctp)", s)
		}
		first, last, isRange := strings.Cut(ports, "-")
		a, errA := strconv.ParseUint(first, 10, 16)
		b, errB := a, error(nil)
		if isRange {
			b, errB = strconv.ParseUint(last, 10, 16)
		}
		if errA != nil || errB != nil || a == 0 || b < a {
			return fmt.Errorf("bad port %q (want 443, 443/tcp, 8000-8100/udp or 9000/sctp)", s)
		}
		*h = append(*h, firewall.HostPort{Protocol: p, Ports: firewall.Ports(uint16(a), uint16(b)), From: "edge"})
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
		c        config
		backend  = fs.String("backend", string(firewall.NFTables), "packet filter: nftables, iptables or ipset")
		ifaces   list
		cluster  prefixes
		admin    prefixes
		balancer prefixes
	)
	fs.Var(&ifaces, "iface", "outward-facing interface, repeatable or comma-separated; a trailing + matches any suffix (default eth0)")
	fs.Var(&cluster, "cluster", "the cluster's own networks (nodes, control plane), comma-separated CIDRs")
	fs.Var(&admin, "admin", "where operators come from for SSH and the API server, comma-separated CIDRs")
	fs.Var(&balancer, "balancer", "where a load balancer in front of the nodes connects from (NodePorts, health checks, kube-proxy healthz 10256), comma-separated CIDRs")
	fs.Var((*hostPorts)(&c.node.HostPorts), "edge-port", "port the node serves to the edge itself (an ingress controller on hostNetwork, a hostPort), e.g. 443/tcp; repeatable, comma-separated")
	fs.BoolVar(&c.node.AllowLockout, "allow-lockout", false, "allow a rule set with neither -cluster nor -admin, which closes SSH and the kubelet to everyone")
	fs.StringVar(&c.edgeFile, "edge-file", "", "file of edge prefixes (allowlist format: one per line, # comments) replacing the embedded Cloudflare ranges")
	fs.BoolVar(&c.node.BGP, "bgp", false, "open 179/tcp from the cluster (Calico BGP)")
	fs.BoolVar(&c.node.VXLAN, "vxlan", false, "open 4789/udp from the cluster (Calico VXLAN overlay: without it pods on different nodes are cut apart)")
	fs.BoolVar(&c.node.WireGuard, "wireguard", false, "open 51820-51821/udp from the cluster (Calico WireGuard; on LKE the control plane's tunnel for kubectl exec/logs)")
	fs.BoolVar(&c.node.IPIP, "ipip", false, "let IP-in-IP in from the cluster (Calico IPIP overlay: without it pods on different nodes are cut apart)")
	fs.BoolVar(&c.node.Typha, "typha", false, "open 5473/tcp from the cluster (Calico Typha)")
	fs.BoolVar(&c.apply, "apply", false, "load the rules into this machine's firewall (needs root or NET_ADMIN)")
	fs.Usage = func() {} // flag calls it on errors too; usage is printed for -h only, below
	usage := func() {
		fmt.Fprint(errw, "usage: nodefirewall [-backend nftables|iptables|ipset] [-iface eth0] [-cluster CIDR,...] [-admin CIDR,...]\n"+
			"                    [-balancer CIDR,...] [-bgp] [-vxlan] [-wireguard] [-ipip] [-typha] [-edge-file path]\n"+
			"                    [-edge-port 443/tcp,...] [-allow-lockout] [-apply]\n"+
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
	if len(cluster) == 0 && len(admin) == 0 && !c.node.AllowLockout {
		return c, errors.New("neither -cluster nor -admin: SSH and the kubelet would be closed to everyone (pass -allow-lockout if that is meant)")
	}
	c.node.Interfaces, c.node.Cluster, c.node.Admin, c.node.Balancer = ifaces, cluster, admin, balancer
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
	fmt.Fprintf(w, "# balancer:   %s\n", orNone(c.node.Balancer))
	fmt.Fprintf(w, "#\n")
	for _, r := range spec.Rules {
		from := r.From
		if from == "" {
			from = "anyone"
		}
		ports := r.Ports.String()
		if r.Ports == (firewall.PortRange{}) { // ipip, gre, vrrp...: no ports
			ports = "-"
		}
		fmt.Fprintf(w, "# %-7s %-4s %-11s from %-8s %-6s %s\n", r.Stage, r.Protocol, ports, from, r.Verdict, r.Comment)
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

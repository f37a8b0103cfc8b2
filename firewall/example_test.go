package firewall_test

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"strings"

	"github.com/originguard/originguard/firewall"
)

// A Kubernetes node behind Cloudflare: NodePorts from the edge only, the
// kubelet and BGP from the other nodes, SSH from the office.
func ExampleNode_Spec() {
	spec := firewall.Node{
		Interfaces: []string{"eth0"},
		Cluster:    []netip.Prefix{netip.MustParsePrefix("10.0.0.0/16")},
		Edge:       []netip.Prefix{netip.MustParsePrefix("173.245.48.0/20")}, // one of Cloudflare's ranges
		Admin:      []netip.Prefix{netip.MustParsePrefix("203.0.113.0/24")},
		BGP:        true,
	}.Spec()
	if err := spec.Validate(); err != nil {
		panic(err)
	}
	for _, r := range spec.Rules {
		from := r.From
		if from == "" {
			from = "anyone"
		}
		fmt.Printf("%-7s %-4s %-11s from %-8s %-6s # %s\n", r.Stage, r.Protocol, r.Ports, from, r.Verdict, r.Comment)
	}
	// Output:
	// local   tcp  10250       from cluster  accept # kubelet API: the API server calls it for exec and logs
	// local   tcp  6443        from cluster  accept # API server: kubelets and controllers on other nodes
	// local   tcp  6443        from admin    accept # API server: kubectl from admins
	// local   tcp  10256       from cluster  accept # kube-proxy healthz: other nodes
	// local   tcp  10256       from balancer accept # kube-proxy healthz: load-balancer health checks
	// local   tcp  22          from admin    accept # SSH from admins
	// local   tcp  179         from cluster  accept # Calico BGP peering (TCP)
	// prednat tcp  30000-32767 from edge     accept # NodePorts: the edge
	// prednat tcp  30000-32767 from balancer accept # NodePorts: the load balancer
	// prednat tcp  30000-32767 from anyone   drop   # NodePorts: nobody else
	// prednat udp  30000-32767 from edge     accept # NodePorts: the edge
	// prednat udp  30000-32767 from balancer accept # NodePorts: the load balancer
	// prednat udp  30000-32767 from anyone   drop   # NodePorts: nobody else
	// prednat sctp 30000-32767 from edge     accept # NodePorts: the edge
	// prednat sctp 30000-32767 from balancer accept # NodePorts: the load balancer
	// prednat sctp 30000-32767 from anyone   drop   # NodePorts: nobody else
}

// Validate reports every problem at once.
func ExampleSpec_Validate() {
	spec := firewall.Spec{
		Rules: []firewall.Rule{{Protocol: "icmp", From: "admins", Verdict: firewall.Accept}},
	}
	fmt.Println(spec.Validate())
	// Output:
	// firewall: rule 0 (""): unknown protocol "icmp" (want tcp, udp, sctp, ipip or an IP protocol number 1-254)
	// firewall: rule 0 (""): from unknown set "admins"
	// firewall: no Local rule accepts anything from anyone: SSH, the kubelet and the API server would be closed to everyone (give the sets prefixes, or set AllowLockout)
	// firewall: no interfaces: name the outward-facing ones, e.g. eth0
}

// The nftables backend: one inet table, replaced atomically by nft -f.
func ExampleSpec_Render_nftables() {
	spec := firewall.Spec{
		Sets: []firewall.Set{
			{Name: "edge", Prefixes: []netip.Prefix{netip.MustParsePrefix("198.51.100.0/24"), netip.MustParsePrefix("2001:db8::/32")}},
			{Name: "admin", Prefixes: []netip.Prefix{netip.MustParsePrefix("203.0.113.0/24")}},
		},
		Rules: []firewall.Rule{
			{Comment: "NodePorts: edge", Stage: firewall.PreDNAT, Protocol: firewall.TCP, Ports: firewall.Ports(30000, 32767), From: "edge", Verdict: firewall.Accept},
			{Comment: "NodePorts: others", Stage: firewall.PreDNAT, Protocol: firewall.TCP, Ports: firewall.Ports(30000, 32767), Verdict: firewall.Drop},
			{Comment: "SSH", Protocol: firewall.TCP, Ports: firewall.Port(22), From: "admin", Verdict: firewall.Accept},
		},
		Interfaces: []string{"eth0"},
	}
	script, err := spec.Render(firewall.NFTables)
	if err != nil {
		panic(err)
	}
	fmt.Print(script.NFT)
	// Output:
	// table inet originguard
	// delete table inet originguard
	//
	// table inet originguard {
	// 	set edge_v4 {
	// 		type ipv4_addr
	// 		flags interval
	// 		elements = {
	// 			198.51.100.0/24
	// 		}
	// 	}
	//
	// 	set edge_v6 {
	// 		type ipv6_addr
	// 		flags interval
	// 		elements = {
	// 			2001:db8::/32
	// 		}
	// 	}
	//
	// 	set admin_v4 {
	// 		type ipv4_addr
	// 		flags interval
	// 		elements = {
	// 			203.0.113.0/24
	// 		}
	// 	}
	//
	// 	set admin_v6 {
	// 		type ipv6_addr
	// 		flags interval
	// 	}
	//
	// 	chain prerouting {
	// 		type filter hook prerouting priority mangle; policy accept;
	// 		iifname "lo" accept
	// 		iifname "eth0" jump prednat
	// 	}
	//
	// 	chain prednat {
	// 		ct state established,related return
	// 		ip saddr @edge_v4 tcp dport 30000-32767 ct mark set ct mark or 0x8000000 accept comment "NodePorts: edge"
	// 		ip6 saddr @edge_v6 tcp dport 30000-32767 ct mark set ct mark or 0x8000000 accept comment "NodePorts: edge"
	// 		tcp dport 30000-32767 drop comment "NodePorts: others"
	// 	}
	//
	// 	chain input {
	// 		type filter hook input priority filter; policy accept;
	// 		iifname "lo" accept
	// 		iifname "eth0" jump local
	// 	}
	//
	// 	chain local {
	// 		ct state established,related accept
	// 		ct mark and 0x8000000 == 0x8000000 accept comment "accepted before DNAT"
	// 		icmp type { destination-unreachable, time-exceeded, parameter-problem } accept comment "ICMP errors, incl. path-MTU fragmentation needed"
	// 		icmpv6 type { destination-unreachable, packet-too-big, time-exceeded, parameter-problem } accept comment "RFC 4890: ICMPv6 errors, incl. packet too big (path MTU)"
	// 		icmpv6 type echo-request accept comment "RFC 4890: echo request"
	// 		icmpv6 type { nd-router-solicit, nd-router-advert, nd-neighbor-solicit, nd-neighbor-advert, ind-neighbor-solicit, ind-neighbor-advert, 148, 149 } ip6 hoplimit 255 accept comment "RFC 4890: neighbour and router discovery, hop limit 255"
	// 		ip6 saddr fe80::/10 icmpv6 type { mld-listener-query, mld-listener-report, mld-listener-done, mld2-listener-report } accept comment "RFC 4890: multicast listener discovery from link-local"
	// 		ip6 saddr fe80::/10 icmpv6 type { 151, 152, 153 } ip6 hoplimit 1 accept comment "RFC 4890: multicast router discovery from link-local"
	// 		ip6 saddr fe80::/10 udp dport 546 accept comment "DHCPv6 replies to this node"
	// 		ct state invalid drop comment "invalid: drop, never reset"
	// 		ip saddr @admin_v4 tcp dport 22 accept comment "SSH"
	// 		ip6 saddr @admin_v6 tcp dport 22 accept comment "SSH"
	// 		drop
	// 	}
	//
	// 	chain forward {
	// 		type filter hook forward priority mangle; policy accept;
	// 		iifname "eth0" ct state new ct status dnat ct mark and 0x8000000 != 0x8000000 drop comment "DNATed but not accepted before DNAT"
	// 	}
	// }
}

// The iptables backend, IPv4 half. Only the ORIGINGUARD-* chains are
// declared (so only they are flushed); the jump from INPUT is the
// Applier's, which reads iptables-save first.
func ExampleSpec_Render_iptables() {
	spec := firewall.Spec{
		Sets:       []firewall.Set{{Name: "admin", Prefixes: []netip.Prefix{netip.MustParsePrefix("203.0.113.0/24")}}},
		Rules:      []firewall.Rule{{Comment: "SSH", Protocol: firewall.TCP, Ports: firewall.Port(22), From: "admin", Verdict: firewall.Accept}},
		Interfaces: []string{"eth0"},
		Default:    firewall.Reject,
	}
	script, err := spec.Render(firewall.IPTables)
	if err != nil {
		panic(err)
	}
	_, filter, _ := strings.Cut(script.IPv4, "*filter\n")
	fmt.Print("*filter\n" + filter)
	// Output:
	// *filter
	// :ORIGINGUARD-INPUT - [0:0]
	// :ORIGINGUARD-LOCAL - [0:0]
	// -A ORIGINGUARD-INPUT -i eth0 -j ORIGINGUARD-LOCAL
	// -A ORIGINGUARD-LOCAL -m conntrack --ctstate RELATED,ESTABLISHED -m comment --comment "replies and related" -j RETURN
	// -A ORIGINGUARD-LOCAL -m connmark --mark 0x8000000/0x8000000 -m comment --comment "accepted before DNAT" -j RETURN
	// -A ORIGINGUARD-LOCAL -p icmp -m icmp --icmp-type 3 -m comment --comment "ICMP errors, incl. path-MTU fragmentation needed" -j RETURN
	// -A ORIGINGUARD-LOCAL -p icmp -m icmp --icmp-type 11 -m comment --comment "ICMP errors, incl. path-MTU fragmentation needed" -j RETURN
	// -A ORIGINGUARD-LOCAL -p icmp -m icmp --icmp-type 12 -m comment --comment "ICMP errors, incl. path-MTU fragmentation needed" -j RETURN
	// -A ORIGINGUARD-LOCAL -m conntrack --ctstate INVALID -m comment --comment "invalid: drop, never reset" -j DROP
	// -A ORIGINGUARD-LOCAL -s 203.0.113.0/24 -p tcp -m tcp --dport 22 -m comment --comment "SSH" -j RETURN
	// -A ORIGINGUARD-LOCAL -p tcp -m comment --comment "default verdict" -j REJECT --reject-with tcp-reset
	// -A ORIGINGUARD-LOCAL -m comment --comment "default verdict" -j REJECT --reject-with icmp-port-unreachable
	// COMMIT
}

// The ipset backend: sets swapped in atomically, and rules that match
// them, so a rule costs the same for 10 prefixes or 100,000.
func ExampleSpec_Render_ipset() {
	spec := firewall.Spec{
		Sets:       []firewall.Set{{Name: "admin", Prefixes: []netip.Prefix{netip.MustParsePrefix("203.0.113.0/24")}}},
		Rules:      []firewall.Rule{{Comment: "SSH", Protocol: firewall.TCP, Ports: firewall.Port(22), From: "admin", Verdict: firewall.Accept}},
		Interfaces: []string{"eth0"},
	}
	script, err := spec.Render(firewall.IPSet)
	if err != nil {
		panic(err)
	}
	fmt.Print(script.IPSet)
	for line := range strings.Lines(script.IPv4) {
		if strings.Contains(line, "INPUT") || strings.Contains(line, "--match-set") {
			fmt.Print(line)
		}
	}
	// Output:
	// create og-admin-v4 hash:net family inet hashsize 1024 maxelem 16777216 -exist
	// create og-admin-v4-new hash:net family inet hashsize 1024 maxelem 16777216 -exist
	// flush og-admin-v4-new
	// add og-admin-v4-new 203.0.113.0/24
	// swap og-admin-v4-new og-admin-v4
	// destroy og-admin-v4-new
	// create og-admin-v6 hash:net family inet6 hashsize 1024 maxelem 16777216 -exist
	// create og-admin-v6-new hash:net family inet6 hashsize 1024 maxelem 16777216 -exist
	// flush og-admin-v6-new
	// swap og-admin-v6-new og-admin-v6
	// destroy og-admin-v6-new
	// :ORIGINGUARD-INPUT - [0:0]
	// -A ORIGINGUARD-INPUT -i eth0 -j ORIGINGUARD-LOCAL
	// -A ORIGINGUARD-LOCAL -p tcp -m tcp --dport 22 -m set --match-set og-admin-v4 src -m comment --comment "SSH" -j RETURN
}

// exampleLock is the lock file of the examples; a node's Appliers lock
// firewall.DefaultLockFile unless told otherwise.
var exampleLock = firewall.WithLockFile(filepath.Join(os.TempDir(), "originguard-example.lock"))

// Apply runs the real tools through a Runner. This one only prints the
// commands, as a dry run, and answers like a node with one interface,
// eth0, and no flows; the default, Exec, runs them on the node. Apply looks
// at the node first (the guarded interface exists, no eBPF program on it),
// then loads, reads back and verifies the rules, then clears the
// connection-tracking entries of flows the new rules would refuse.
func ExampleApplier_Apply() {
	var last string // the script nft -f was given
	dryRun := func(_ context.Context, stdin, name string, args ...string) (string, error) {
		cmd := name + " " + strings.Join(args, " ")
		fmt.Println(cmd)
		switch {
		case cmd == "ip -d -o link show":
			return "1: lo: <LOOPBACK,UP,LOWER_UP> mtu 65536\n2: eth0: <BROADCAST,MULTICAST,UP,LOWER_UP> mtu 1500\n", nil
		case cmd == "nft -t list table inet originguard":
			// what nft list table prints after the apply
			_, table, _ := strings.Cut(last, "\n\n")
			return table, nil
		case cmd == "nft -f -":
			last = stdin
		}
		return "", nil
	}
	spec := firewall.Node{
		Interfaces: []string{"eth0"},
		Edge:       []netip.Prefix{netip.MustParsePrefix("198.51.100.0/24")},
		Admin:      []netip.Prefix{netip.MustParsePrefix("203.0.113.0/24")},
	}.Spec()
	a := firewall.NewApplier(firewall.NFTables, firewall.WithRunner(dryRun), exampleLock)
	fmt.Println("error:", a.Apply(context.Background(), spec))
	// Output:
	// ip -d -o link show
	// tc filter show dev eth0 ingress
	// bpftool net show
	// nft list tables
	// nft -c -f -
	// nft -f -
	// nft -t list table inet originguard
	// ip -o addr show
	// conntrack -L -f ipv4
	// conntrack -L -f ipv6
	// error: <nil>
}

// Check is a dry run against the node: it inspects the node and has the
// tools check the text, and changes nothing. Here the Spec guards an
// interface the node does not have, which would protect nothing.
func ExampleApplier_Check() {
	node := func(_ context.Context, stdin, name string, args ...string) (string, error) {
		if name == "ip" {
			return "1: lo: <LOOPBACK,UP,LOWER_UP> mtu 65536\n2: ens3: <BROADCAST,MULTICAST,UP,LOWER_UP> mtu 1500\n", nil
		}
		return "", nil
	}
	spec := firewall.Node{Interfaces: []string{"eth0"}, Admin: []netip.Prefix{netip.MustParsePrefix("203.0.113.0/24")}}.Spec()
	a := firewall.NewApplier(firewall.NFTables, firewall.WithRunner(node), exampleLock)
	fmt.Println(a.Check(context.Background(), spec))
	// Output:
	// firewall: interface "eth0" not found on the node (it has lo, ens3): the rules would guard nothing
}

// Exec is the Runner that runs programs on the node itself.
func ExampleExec() {
	out, err := firewall.Exec(context.Background(), "fed on stdin\n", "cat")
	fmt.Printf("%q %v\n", out, err)
	// Output: "fed on stdin\n" <nil>
}

func ExamplePortRange_String() {
	fmt.Println(firewall.Port(10250), firewall.Ports(30000, 32767))
	// Output: 10250 30000-32767
}

// When a step fails, Apply puts back what it saved and says which step
// failed; errors.Is(err, ErrRollback) would report a failed rollback.
func ExampleApplier_Apply_rollback() {
	applied := false
	flaky := func(_ context.Context, stdin, name string, args ...string) (string, error) {
		cmd := name + " " + strings.Join(args, " ")
		switch {
		case name == "ip":
			return "2: eth0: <BROADCAST,MULTICAST,UP,LOWER_UP> mtu 1500\n", nil
		case name != "nft":
			return "", nil
		}
		fmt.Println(cmd)
		if cmd == "nft -f -" && !applied {
			applied = true
			return "", errors.New("netlink: Error: Could not process rule: No buffer space available")
		}
		return "", nil // an empty node: no table of ours yet
	}
	spec := firewall.Node{Interfaces: []string{"eth0"}, Admin: []netip.Prefix{netip.MustParsePrefix("203.0.113.0/24")}}.Spec()
	err := firewall.NewApplier(firewall.NFTables, firewall.WithRunner(flaky), exampleLock).Apply(context.Background(), spec)
	fmt.Println("error:", err)
	fmt.Println("rollback failed:", errors.Is(err, firewall.ErrRollback))
	// Output:
	// nft list tables
	// nft -c -f -
	// nft -f -
	// nft -f -
	// error: firewall: apply: netlink: Error: Could not process rule: No buffer space available
	// rollback failed: false
}

// Remove takes the firewall off the node. This Runner fakes a node where
// the iptables backend runs next to kube-proxy (IPv4 only, filter table
// only, for brevity), with iptables-nft (stated, so the Applier does not
// detect it), and prints the commands and what Remove feeds
// iptables-restore: our jump and chains go, in one transaction; KUBE-*
// stays. A second Remove finds nothing and only looks.
func ExampleApplier_Remove() {
	node := `*filter
:INPUT ACCEPT [0:0]
:KUBE-FIREWALL - [0:0]
:ORIGINGUARD-INPUT - [0:0]
:ORIGINGUARD-LOCAL - [0:0]
-A INPUT -j ORIGINGUARD-INPUT
-A INPUT -j KUBE-FIREWALL
-A KUBE-FIREWALL -m conntrack --ctstate INVALID -j DROP
-A ORIGINGUARD-INPUT -i eth0 -j ORIGINGUARD-LOCAL
-A ORIGINGUARD-LOCAL -j DROP
COMMIT
`
	fake := func(_ context.Context, stdin, name string, args ...string) (string, error) {
		fmt.Println("$", strings.Join(append([]string{name}, args...), " "))
		switch {
		case name == "iptables-nft-save":
			return node, nil
		case name == "iptables-nft-restore" && args[0] == "--noflush":
			fmt.Print(stdin)
			var left strings.Builder
			for line := range strings.Lines(node) {
				if !strings.Contains(line, "ORIGINGUARD") {
					left.WriteString(line)
				}
			}
			node = left.String()
		}
		return "", nil
	}
	a := firewall.NewApplier(firewall.IPTables, firewall.WithRunner(fake), firewall.WithIPTablesMode(firewall.IPTablesNFT), exampleLock)
	fmt.Println("error:", a.Remove(context.Background()))
	fmt.Println("error:", a.Remove(context.Background()))
	fmt.Print(node)
	// Output:
	// $ iptables-nft-save
	// $ ip6tables-nft-save
	// $ iptables-nft-restore --test --noflush
	// $ iptables-nft-restore --noflush
	// *filter
	// :ORIGINGUARD-INPUT - [0:0]
	// :ORIGINGUARD-LOCAL - [0:0]
	// -D INPUT -j ORIGINGUARD-INPUT
	// -X ORIGINGUARD-INPUT
	// -X ORIGINGUARD-LOCAL
	// COMMIT
	// $ iptables-nft-save
	// $ ip6tables-nft-save
	// error: <nil>
	// $ iptables-nft-save
	// $ ip6tables-nft-save
	// error: <nil>
	// *filter
	// :INPUT ACCEPT [0:0]
	// :KUBE-FIREWALL - [0:0]
	// -A INPUT -j KUBE-FIREWALL
	// -A KUBE-FIREWALL -m conntrack --ctstate INVALID -j DROP
	// COMMIT
}

// Any IP protocol can be let in by number, without ports: here VRRP, which
// keepalived uses to move a control-plane VIP between nodes.
func ExampleProtocolNumber() {
	spec := firewall.Spec{
		Sets: []firewall.Set{{Name: "cluster", Prefixes: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/16")}}},
		Rules: []firewall.Rule{
			{Comment: "keepalived", Protocol: firewall.ProtocolNumber(112), From: "cluster", Verdict: firewall.Accept},
			{Comment: "kubelet", Protocol: firewall.TCP, Ports: firewall.Port(10250), From: "cluster", Verdict: firewall.Accept},
		},
		Interfaces: []string{"eth0"},
	}
	script, err := spec.Render(firewall.IPSet)
	if err != nil {
		panic(err)
	}
	for line := range strings.Lines(script.IPv4) {
		if strings.Contains(line, "--match-set") {
			fmt.Print(line)
		}
	}
	fmt.Println(firewall.ProtocolNumber(112) == firewall.VRRP)
	// Output:
	// -A ORIGINGUARD-LOCAL -p 112 -m set --match-set og-cluster-v4 src -m comment --comment "keepalived" -j RETURN
	// -A ORIGINGUARD-LOCAL -p tcp -m tcp --dport 10250 -m set --match-set og-cluster-v4 src -m comment --comment "kubelet" -j RETURN
	// true
}

// Backends lists every backend, for a flag's help or a loop in a test.
func ExampleBackends() {
	fmt.Println(firewall.Backends())
	// Output:
	// [iptables ipset nftables]
}

// An ingress controller on hostNetwork (or a pod's hostPort) serving 443
// to the edge, and a load balancer whose health checks reach NodePorts and
// kube-proxy's healthz: both judged before DNAT.
func ExampleNode_Spec_hostPorts() {
	spec := firewall.Node{
		Interfaces: []string{"eth0"},
		Cluster:    []netip.Prefix{netip.MustParsePrefix("192.168.128.0/17")},
		Edge:       []netip.Prefix{netip.MustParsePrefix("173.245.48.0/20")}, // one of Cloudflare's ranges
		Balancer:   []netip.Prefix{netip.MustParsePrefix("192.168.255.0/24")},
		HostPorts:  []firewall.HostPort{{Protocol: firewall.TCP, Ports: firewall.Port(443), From: "edge"}},
		WireGuard:  true, // LKE's control-plane tunnel, and Calico's
	}.Spec()
	if err := spec.Validate(); err != nil {
		panic(err)
	}
	for _, r := range spec.Rules {
		if r.Stage == firewall.PreDNAT && r.Protocol == firewall.TCP || r.Ports.First == 10256 || r.Protocol == firewall.UDP && r.Stage == firewall.Local {
			from := r.From
			if from == "" {
				from = "anyone"
			}
			fmt.Printf("%-7s %-4s %-11s from %-8s %s\n", r.Stage, r.Protocol, r.Ports, from, r.Verdict)
		}
	}
	// Output:
	// local   tcp  10256       from cluster  accept
	// local   tcp  10256       from balancer accept
	// local   udp  51820       from cluster  accept
	// local   udp  51821       from cluster  accept
	// prednat tcp  443         from edge     accept
	// prednat tcp  30000-32767 from edge     accept
	// prednat tcp  30000-32767 from balancer accept
	// prednat tcp  30000-32767 from anyone   drop
}

// The iptables backend renders one rule per source prefix, and every new
// flow walks them: beyond DefaultPrefixLimit the Applier refuses before it
// touches the node, unless the caller opts in with WithPrefixLimit. (The
// Node preset matches the edge set in three rules: 15,002 rules here.)
func ExampleWithPrefixLimit() {
	edge := make([]netip.Prefix, 5000)
	for i := range edge {
		edge[i] = netip.PrefixFrom(netip.AddrFrom4([4]byte{10, 0, byte(i >> 8), byte(i)}), 32)
	}
	spec := firewall.Node{
		Interfaces: []string{"eth0"},
		Edge:       edge,
		Admin:      []netip.Prefix{netip.MustParsePrefix("203.0.113.0/24")},
	}.Spec()
	node := func(_ context.Context, _, name string, _ ...string) (string, error) {
		return "", fmt.Errorf("%s: not on a node here", name)
	}
	fmt.Println(firewall.DefaultPrefixLimit(firewall.IPTables), firewall.DefaultPrefixLimit(firewall.NFTables))
	err := firewall.NewApplier(firewall.IPTables, firewall.WithRunner(node), exampleLock).Apply(context.Background(), spec)
	fmt.Println(err)
	err = firewall.NewApplier(firewall.IPTables, firewall.WithRunner(node), exampleLock, firewall.WithPrefixLimit(20_000)).Apply(context.Background(), spec)
	fmt.Println(err)
	// Output:
	// 4096 400000
	// firewall: backend iptables would load 15002 rules (one per rule and source prefix), more than the limit of 4096: use a set-based backend (ipset, nftables), or raise the limit with WithPrefixLimit
	// firewall: list interfaces: ip: not on a node here
}

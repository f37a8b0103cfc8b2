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
		fmt.Printf("%-7s %s %-11s from %-7s %-6s # %s\n", r.Stage, r.Protocol, r.Ports, from, r.Verdict, r.Comment)
	}
	// Output:
	// local   tcp 10250       from cluster accept # kubelet API: the API server calls it for exec and logs
	// local   tcp 6443        from cluster accept # API server: kubelets and controllers on other nodes
	// local   tcp 6443        from admin   accept # API server: kubectl from admins
	// local   tcp 22          from admin   accept # SSH from admins
	// local   tcp 179         from cluster accept # Calico BGP peering (TCP)
	// prednat tcp 30000-32767 from edge    accept # NodePorts: the edge only
	// prednat tcp 30000-32767 from anyone  drop   # NodePorts: nobody else
	// prednat udp 30000-32767 from edge    accept # NodePorts: the edge only
	// prednat udp 30000-32767 from anyone  drop   # NodePorts: nobody else
}

// Validate reports every problem at once.
func ExampleSpec_Validate() {
	spec := firewall.Spec{
		Rules: []firewall.Rule{{Protocol: "sctp", Ports: firewall.Port(22), From: "admins", Verdict: firewall.Accept}},
	}
	fmt.Println(spec.Validate())
	// Output:
	// firewall: rule 0 (""): unknown protocol "sctp" (want tcp, udp or ipip)
	// firewall: rule 0 (""): from unknown set "admins"
	// firewall: no interfaces: name the outward-facing ones, e.g. eth0
}

// The nftables backend: one inet table, replaced atomically by nft -f.
func ExampleSpec_Render_nftables() {
	spec := firewall.Spec{
		Sets: []firewall.Set{{Name: "edge", Prefixes: []netip.Prefix{
			netip.MustParsePrefix("198.51.100.0/24"), netip.MustParsePrefix("2001:db8::/32"),
		}}},
		Rules: []firewall.Rule{
			{Comment: "NodePorts: edge", Stage: firewall.PreDNAT, Protocol: firewall.TCP, Ports: firewall.Ports(30000, 32767), From: "edge", Verdict: firewall.Accept},
			{Comment: "NodePorts: others", Stage: firewall.PreDNAT, Protocol: firewall.TCP, Ports: firewall.Ports(30000, 32767), Verdict: firewall.Drop},
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
	// 	chain prerouting {
	// 		type filter hook prerouting priority mangle; policy accept;
	// 		iifname "lo" accept
	// 		iifname "eth0" jump prednat
	// 	}
	//
	// 	chain prednat {
	// 		ct state established,related return
	// 		fib daddr type != local return
	// 		ip saddr @edge_v4 tcp dport 30000-32767 accept comment "NodePorts: edge"
	// 		ip6 saddr @edge_v6 tcp dport 30000-32767 accept comment "NodePorts: edge"
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
	// 		ct status dnat accept comment "DNATed: vetted before DNAT"
	// 		icmp type { destination-unreachable, time-exceeded, parameter-problem } accept
	// 		icmpv6 type { destination-unreachable, packet-too-big, time-exceeded, parameter-problem, nd-router-solicit, nd-router-advert, nd-neighbor-solicit, nd-neighbor-advert } accept
	// 		ip6 saddr fe80::/10 udp dport 546 accept comment "DHCPv6 replies to this node"
	// 		drop
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
	// -A ORIGINGUARD-LOCAL -m conntrack --ctstate DNAT -m comment --comment "DNATed: vetted before DNAT" -j RETURN
	// -A ORIGINGUARD-LOCAL -p icmp -m icmp --icmp-type 3 -m comment --comment "destination unreachable, incl. path-MTU fragmentation needed" -j RETURN
	// -A ORIGINGUARD-LOCAL -p icmp -m icmp --icmp-type 11 -m comment --comment "time exceeded" -j RETURN
	// -A ORIGINGUARD-LOCAL -p icmp -m icmp --icmp-type 12 -m comment --comment "parameter problem" -j RETURN
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
		case cmd == "nft list table inet originguard":
			// what nft list table prints after the apply
			_, table, _ := strings.Cut(last, "\n\n")
			return table, nil
		case cmd == "nft -f -":
			last = stdin
		}
		return "", nil
	}
	spec := firewall.Node{Interfaces: []string{"eth0"}, Edge: []netip.Prefix{netip.MustParsePrefix("198.51.100.0/24")}}.Spec()
	a := firewall.NewApplier(firewall.NFTables, firewall.WithRunner(dryRun), exampleLock)
	fmt.Println("error:", a.Apply(context.Background(), spec))
	// Output:
	// ip -d -o link show
	// tc filter show dev eth0 ingress
	// bpftool net show
	// nft list tables
	// nft -c -f -
	// nft -f -
	// nft list table inet originguard
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
	spec := firewall.Node{Interfaces: []string{"eth0"}}.Spec()
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
	spec := firewall.Node{Interfaces: []string{"eth0"}}.Spec()
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

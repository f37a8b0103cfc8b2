package firewall_test

import (
	"context"
	"errors"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/originguard/originguard/firewall"
)

// TestPrefixLimit shows that the iptables backend refuses, before it runs
// anything, a Spec that would load more per-prefix rules than its limit,
// with an error naming the limit and the way to raise it; and that
// WithPrefixLimit(0) opts in.
func TestPrefixLimit(t *testing.T) {
	ps := make([]netip.Prefix, 5000)
	for i := range ps {
		ps[i] = netip.PrefixFrom(netip.AddrFrom4([4]byte{10, byte(i >> 8), byte(i), 1}), 32)
	}
	spec := firewall.Spec{
		Sets:       []firewall.Set{{Name: "edge", Prefixes: ps}},
		Rules:      []firewall.Rule{{Comment: "edge", Protocol: firewall.TCP, Ports: firewall.Port(443), From: "edge", Verdict: firewall.Accept}},
		Interfaces: []string{"eth0"},
	}
	errNode := errors.New("the node was asked")
	asked := false
	node := func(context.Context, string, string, ...string) (string, error) {
		asked = true
		return "", errNode
	}
	lock := firewall.WithLockFile(filepath.Join(t.TempDir(), "lock"))
	err := firewall.NewApplier(firewall.IPTables, firewall.WithRunner(node), lock).Apply(context.Background(), spec)
	if err == nil || !strings.Contains(err.Error(), "5000 rules") || !strings.Contains(err.Error(), "limit of 4096") || !strings.Contains(err.Error(), "WithPrefixLimit") {
		t.Errorf("Apply of 5000 prefixes with iptables: %v, want a refusal naming the count and the limit", err)
	}
	if asked {
		t.Error("the refused Apply ran a command")
	}
	for _, opts := range [][]firewall.Option{{firewall.WithPrefixLimit(0)}, {firewall.WithPrefixLimit(5000)}} {
		err = firewall.NewApplier(firewall.IPTables, append(opts, firewall.WithRunner(node), lock)...).Apply(context.Background(), spec)
		if !errors.Is(err, errNode) {
			t.Errorf("Apply with a raised limit: %v, want it to go on to the node", err)
		}
	}
	for _, b := range []firewall.Backend{firewall.IPSet, firewall.NFTables} {
		if err := firewall.NewApplier(b, firewall.WithRunner(node), lock).Apply(context.Background(), spec); !errors.Is(err, errNode) {
			t.Errorf("%s with 5000 prefixes: %v, want no refusal (sets cost one lookup)", b, err)
		}
	}
}

// TestNFTablesRefusesWhatNFTCannotHold shows that the nftables backend
// refuses, before it runs anything, a million prefixes (the nft tool would
// need about 830 MiB, see BENCHMARKS.md), naming the limit and the way out.
func TestNFTablesRefusesWhatNFTCannotHold(t *testing.T) {
	ps := make([]netip.Prefix, 1_000_000)
	for i := range ps {
		ps[i] = netip.PrefixFrom(netip.AddrFrom4([4]byte{10, byte(i >> 16), byte(i >> 8), byte(i)}), 32)
	}
	spec := firewall.Spec{
		Sets:         []firewall.Set{{Name: "edge", Prefixes: ps}},
		Rules:        []firewall.Rule{{Comment: "edge", Protocol: firewall.TCP, Ports: firewall.Port(443), From: "edge", Verdict: firewall.Accept}},
		Interfaces:   []string{"eth0"},
		AllowLockout: true,
	}
	node := func(_ context.Context, _, name string, _ ...string) (string, error) {
		t.Errorf("the refused Apply ran %s", name)
		return "", nil
	}
	lock := firewall.WithLockFile(filepath.Join(t.TempDir(), "lock"))
	err := firewall.NewApplier(firewall.NFTables, firewall.WithRunner(node), lock).Apply(context.Background(), spec)
	for _, want := range []string{"1000000 prefixes", "limit of 400000", "ipset backend", "WithPrefixLimit"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Apply of 1M prefixes with nftables: %v, want an error saying %q", err, want)
		}
	}
}

// TestLockFileMustBeRegular shows that the Applier refuses a lock path
// that is not a regular file (a symlink planted there is not followed).
func TestLockFileMustBeRegular(t *testing.T) {
	dir := t.TempDir()
	link := filepath.Join(dir, "lock")
	if err := os.Symlink(filepath.Join(dir, "elsewhere"), link); err != nil {
		t.Fatal(err)
	}
	node := func(context.Context, string, string, ...string) (string, error) { return "", nil }
	err := firewall.NewApplier(firewall.NFTables, firewall.WithRunner(node), firewall.WithLockFile(link)).Remove(context.Background())
	if err == nil || !strings.Contains(err.Error(), link) {
		t.Errorf("Remove with a symlink as lock file: %v, want an error naming it", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "elsewhere")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the symlink's target was created: %v", err)
	}
}

// fakeNode answers like a node with eth0 and nothing else; other commands
// go to more, which may be nil.
func fakeNode(more func(name string, args []string) (string, error)) firewall.Runner {
	return func(_ context.Context, stdin, name string, args ...string) (string, error) {
		if name == "ip" && len(args) > 0 && args[0] == "-d" {
			return "1: lo: <LOOPBACK,UP,LOWER_UP> mtu 65536\n2: eth0: <BROADCAST,MULTICAST,UP,LOWER_UP> mtu 1500 qdisc mq\n", nil
		}
		if more != nil {
			return more(name, args)
		}
		return "", nil
	}
}

// TestIPTablesModeUndecided shows that when kubelet's hint chain is in
// neither flavour and iptables-legacy-save fails (as it does without
// CAP_NET_RAW), Apply says so instead of guessing.
func TestIPTablesModeUndecided(t *testing.T) {
	var mutated []string
	node := fakeNode(func(name string, args []string) (string, error) {
		switch {
		case strings.HasPrefix(name, "ip") && strings.Contains(name, "legacy-save"):
			return "", errors.New("iptables-legacy-save: Permission denied (you must be root)")
		case strings.HasSuffix(name, "-restore") || name == "ipset" && args[0] == "restore":
			mutated = append(mutated, name)
		}
		return "", nil
	})
	lock := firewall.WithLockFile(filepath.Join(t.TempDir(), "lock"))
	spec := firewall.Spec{Interfaces: []string{"eth0"}, AllowLockout: true}
	err := firewall.NewApplier(firewall.IPTables, firewall.WithRunner(node), lock).Apply(context.Background(), spec)
	if err == nil || !strings.Contains(err.Error(), "CAP_NET_RAW") || !strings.Contains(err.Error(), "Permission denied") {
		t.Errorf("Apply: %v, want an error naming CAP_NET_RAW and the tool's complaint", err)
	}
	if len(mutated) > 0 {
		t.Errorf("Apply ran %q", mutated)
	}
	err = firewall.NewApplier(firewall.IPTables, firewall.WithRunner(node), lock, firewall.WithIPTablesMode(firewall.IPTablesNFT)).Apply(context.Background(), spec)
	if err != nil && strings.Contains(err.Error(), "flavour") {
		t.Errorf("Apply with the mode given still detects: %v", err)
	}
}

// TestXDPIsFound feeds ip -d link output with an XDP program (recorded
// from a node running one; the test kernel here cannot load one without a
// compiler) and expects the Applier to refuse with WithFailOnBPF.
func TestXDPIsFound(t *testing.T) {
	for _, line := range []string{
		"2: eth0: <BROADCAST,MULTICAST,UP,LOWER_UP> mtu 1500 xdp qdisc mq \\    link/ether 02:00:00:00:00:01 brd ff:ff:ff:ff:ff:ff \\    prog/xdp id 42 name xdp_pass tag 3b185187f1855c4c jited \n",
		"2: eth0: <BROADCAST,MULTICAST,UP,LOWER_UP> mtu 1500 xdpgeneric qdisc mq \\    link/ether 02:00:00:00:00:01 brd ff:ff:ff:ff:ff:ff \\    prog/xdp id 7 \n",
	} {
		node := func(_ context.Context, stdin, name string, args ...string) (string, error) {
			if name == "ip" && len(args) > 0 && args[0] == "-d" {
				return line, nil
			}
			return "", nil
		}
		lock := firewall.WithLockFile(filepath.Join(t.TempDir(), "lock"))
		err := firewall.NewApplier(firewall.NFTables, firewall.WithRunner(node), lock, firewall.WithFailOnBPF()).Check(context.Background(), firewall.Spec{Interfaces: []string{"eth0"}, AllowLockout: true})
		if err == nil || !strings.Contains(err.Error(), "eth0: XDP program") {
			t.Errorf("Check with %q: %v, want a refusal naming the XDP program", line, err)
		}
	}
}

// TestStaleFlowJudgement feeds a conntrack table (conntrack -L's format)
// to an nftables Apply and checks which entries it deletes: only flows to
// the node, from elsewhere, routed through the guarded interface, that no
// accept rule admits. A flow that ended before its delete (conntrack exits
// 1, "0 flow entries have been deleted") is no error.
func TestStaleFlowJudgement(t *testing.T) {
	const table = `tcp      6 431999 ESTABLISHED src=203.0.113.9 dst=192.0.2.1 sport=40000 dport=30080 src=10.244.1.5 dst=203.0.113.9 sport=8080 dport=40000 [ASSURED] mark=0 use=1
udp      17 29 src=198.51.100.7 dst=192.0.2.1 sport=5000 dport=5353 src=192.0.2.1 dst=198.51.100.7 sport=5353 dport=5000 mark=0 use=1
tcp      6 431999 ESTABLISHED src=10.244.1.5 dst=192.0.2.1 sport=41000 dport=10250 src=192.0.2.1 dst=10.244.1.5 sport=10250 dport=41000 [ASSURED] mark=0 use=1
tcp      6 431999 ESTABLISHED src=192.0.2.1 dst=203.0.113.50 sport=42000 dport=443 src=203.0.113.50 dst=192.0.2.1 sport=443 dport=42000 [ASSURED] mark=0 use=1
tcp      6 431999 ESTABLISHED src=198.51.100.7 dst=192.0.2.1 sport=43000 dport=30080 src=10.244.1.5 dst=198.51.100.7 sport=8080 dport=43000 [ASSURED] mark=0 use=1
udp      17 29 src=203.0.113.9 dst=203.0.113.77 sport=5001 dport=30080 src=203.0.113.77 dst=203.0.113.9 sport=30080 dport=5001 mark=0 use=1
tcp      6 431999 ESTABLISHED src=203.0.113.9 dst=198.51.100.200 sport=44000 dport=443 src=10.244.1.7 dst=203.0.113.9 sport=8443 dport=44000 [ASSURED] mark=0 use=1
icmp     1 29 src=203.0.113.9 dst=192.0.2.1 type=8 code=0 id=7 src=192.0.2.1 dst=203.0.113.9 type=0 code=0 id=7 mark=0 use=1
`
	var deleted []string
	node := func(_ context.Context, stdin, name string, args ...string) (string, error) {
		cmd := name + " " + strings.Join(args, " ")
		switch {
		case cmd == "ip -d -o link show":
			return "1: lo: <LOOPBACK,UP> mtu 65536\n2: eth0: <UP> mtu 1500\n5: cali1@if3: <UP> mtu 1450\n", nil
		case cmd == "ip -o addr show":
			return "1: lo    inet 127.0.0.1/8 scope host lo\n2: eth0    inet 192.0.2.1/24 brd 192.0.2.255 scope global eth0\n", nil
		case cmd == "conntrack -L -f ipv4":
			return table, nil
		case name == "ip" && strings.Contains(cmd, "-batch"):
			var out strings.Builder
			for line := range strings.Lines(stdin) {
				a := strings.TrimSpace(strings.TrimPrefix(line, "route get "))
				dev := "eth0"
				if strings.HasPrefix(a, "10.244.") {
					dev = "cali1"
				}
				out.WriteString(a + " dev " + dev + " src 192.0.2.1 uid 0 \\    cache \n")
			}
			return out.String(), nil
		case name == "conntrack" && args[0] == "-D":
			deleted = append(deleted, cmd)
			if strings.Contains(cmd, "udp") {
				return "conntrack v1.4.7 (conntrack-tools): 0 flow entries have been deleted.\n", errors.New("exit status 1")
			}
		case cmd == "nft -t list table inet originguard":
			return "", nil // verify is not what this test is about: see below
		}
		return "", nil
	}
	spec := firewall.Node{
		Interfaces: []string{"eth0"},
		Edge:       []netip.Prefix{netip.MustParsePrefix("198.51.100.0/24")},
		Admin:      []netip.Prefix{netip.MustParsePrefix("203.0.113.200/32")},
	}.Spec()
	lock := firewall.WithLockFile(filepath.Join(t.TempDir(), "lock"))
	// Here nft -t list returns nothing, so verify fails and Apply rolls
	// back: flows are judged only after a verified apply.
	_ = firewall.NewApplier(firewall.NFTables, firewall.WithRunner(node), lock).Apply(context.Background(), spec)
	if len(deleted) != 0 {
		t.Fatalf("flows deleted although the rules never verified: %q", deleted)
	}

	// Now the read-back shows what was loaded.
	var loaded string
	verified := func(ctx context.Context, stdin, name string, args ...string) (string, error) {
		cmd := name + " " + strings.Join(args, " ")
		switch cmd {
		case "nft -f -":
			loaded = stdin
		case "nft -t list table inet originguard":
			_, tbl, _ := strings.Cut(loaded, "\n\n")
			return tbl, nil
		}
		return node(ctx, stdin, name, args...)
	}
	if err := firewall.NewApplier(firewall.NFTables, firewall.WithRunner(verified), lock).Apply(context.Background(), spec); err != nil {
		t.Fatal(err)
	}
	want := []string{
		// the stranger's DNATed NodePort flow
		"conntrack -D -f ipv4 -p tcp --orig-src 203.0.113.9 --orig-dst 192.0.2.1 --sport 40000 --dport 30080",
		// an edge peer, but to a port no rule opens (and gone by now)
		"conntrack -D -f ipv4 -p udp --orig-src 198.51.100.7 --orig-dst 192.0.2.1 --sport 5000 --dport 5353",
		// the stranger's flow to a load-balancer IP, DNATed to a pod
		"conntrack -D -f ipv4 -p tcp --orig-src 203.0.113.9 --orig-dst 198.51.100.200 --sport 44000 --dport 443",
	}
	// Kept: a pod (routed via cali1) to the kubelet, the node's own outbound
	// flow, the edge peer's NodePort flow, a flow routed through the node
	// to an address that is not its own and not DNATed, and ICMP (no
	// ports).
	if diff := cmp.Diff(want, deleted); diff != "" {
		t.Errorf("deleted flows (-want +got):\n%s", diff)
	}
}

//go:build linux

package firewall_test

import (
	"context"
	"fmt"
	"net/netip"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/originguard/originguard/firewall"
	"github.com/originguard/originguard/internal/testbed/netns"
	"github.com/originguard/originguard/internal/testbed/testenv"
)

// bed is a node with four neighbours, each on its own veth:
//
//	edge     192.0.2.2     2001:db8:1::2  (the "edge" set: may use NodePorts)
//	cluster  198.51.100.2  2001:db8:2::2  (the "cluster" set: kubelet, VXLAN)
//	stranger 203.0.113.2   2001:db8:3::2  (in no set)
//	pod      192.0.2.130   2001:db8:4::2  (behind the node, default route via it)
//
// kube-proxy is emulated in the node: nat PREROUTING → KUBE-SERVICES →
// KUBE-NODEPORTS DNATs NodePort 30080 (TCP and UDP) to the pod's port 8080,
// and forwarding is on, so NodePort packets go through FORWARD, never INPUT.
// Chains named like kube-proxy's and Calico's and a foreign nft table are
// there before the firewall, so tests can show they survive it.
type bed struct {
	node, edge, cluster, stranger, pod *netns.Namespace
	ifs                                []string // the node's ends of the peers' veths
	lock                               string   // the node's lock file
}

// applier is an Applier for the bed's node: its tools run in the node's
// namespace (through run, x.runner() or a wrapper of it), and it locks the
// node's own lock file.
func (x *bed) applier(b firewall.Backend, run firewall.Runner, opts ...firewall.Option) *firewall.Applier {
	return firewall.NewApplier(b, append([]firewall.Option{firewall.WithRunner(run), firewall.WithLockFile(x.lock)}, opts...)...)
}

const nodePort = 30080

// node addresses as each peer sees them
var (
	nodeFromEdge     = [2]netip.Addr{netip.MustParseAddr("192.0.2.1"), netip.MustParseAddr("2001:db8:1::1")}
	nodeFromCluster  = [2]netip.Addr{netip.MustParseAddr("198.51.100.1"), netip.MustParseAddr("2001:db8:2::1")}
	nodeFromStranger = [2]netip.Addr{netip.MustParseAddr("203.0.113.1"), netip.MustParseAddr("2001:db8:3::1")}
	strangerAddr     = [2]netip.Addr{netip.MustParseAddr("203.0.113.2"), netip.MustParseAddr("2001:db8:3::2")}
)

func newBed(t *testing.T, b firewall.Backend) *bed {
	t.Helper()
	needs := []testenv.Need{testenv.NeedRoot, testenv.NeedIPRoute, testenv.NeedIPTables, testenv.NeedIP6Tables, testenv.NeedConntrack}
	switch b {
	case firewall.IPSet:
		needs = append(needs, testenv.NeedIPSet)
	case firewall.NFTables:
		needs = append(needs, testenv.NeedNFT)
	}
	testenv.Require(t, needs...)
	x := &bed{
		node:     netns.New(t, "node"),
		edge:     netns.New(t, "edge"),
		cluster:  netns.New(t, "cluster"),
		stranger: netns.New(t, "stranger"),
		pod:      netns.New(t, "pod"),
		lock:     filepath.Join(t.TempDir(), "originguard.lock"),
	}
	for _, l := range []struct {
		peer        *netns.Namespace
		node, peer_ []netip.Prefix
	}{
		{x.edge, []netip.Prefix{mp("192.0.2.1/26"), mp("2001:db8:1::1/64")}, []netip.Prefix{mp("192.0.2.2/26"), mp("2001:db8:1::2/64")}},
		{x.cluster, []netip.Prefix{mp("198.51.100.1/24"), mp("2001:db8:2::1/64")}, []netip.Prefix{mp("198.51.100.2/24"), mp("2001:db8:2::2/64")}},
		{x.stranger, []netip.Prefix{mp("203.0.113.1/24"), mp("2001:db8:3::1/64")}, []netip.Prefix{mp("203.0.113.2/24"), mp("2001:db8:3::2/64")}},
	} {
		nodeIf, _ := netns.Link(t, x.node, l.node, l.peer, l.peer_)
		x.ifs = append(x.ifs, nodeIf)
	}
	netns.Link(t, x.node, []netip.Prefix{mp("192.0.2.129/26"), mp("2001:db8:4::1/64")},
		x.pod, []netip.Prefix{mp("192.0.2.130/26"), mp("2001:db8:4::2/64")})
	x.pod.MustRun(t, "ip", "route", "add", "default", "via", "192.0.2.129")
	x.pod.MustRun(t, "ip", "-6", "route", "add", "default", "via", "2001:db8:4::1")
	x.node.MustRun(t, "sysctl", "-qw", "net.ipv4.ip_forward=1", "net.ipv6.conf.all.forwarding=1")

	any6 := netip.IPv6Unspecified()
	x.node.ServeTCP(t, netip.AddrPortFrom(any6, 10250)) // kubelet
	x.node.ServeUDP(t, netip.AddrPortFrom(any6, 4789))  // VXLAN
	x.pod.ServeTCP(t, netip.AddrPortFrom(any6, 8080))
	x.pod.ServeUDP(t, netip.AddrPortFrom(any6, 8080))
	x.stranger.ServeTCP(t, netip.AddrPortFrom(any6, 9000))
	x.stranger.ServeUDP(t, netip.AddrPortFrom(any6, 9000))

	// kube-proxy's and Calico's chains, as far as the test needs them.
	for _, f := range []struct {
		tool, pod string
	}{{"iptables", "192.0.2.130:8080"}, {"ip6tables", "[2001:db8:4::2]:8080"}} {
		for _, args := range [][]string{
			{"-t", "nat", "-N", "KUBE-SERVICES"},
			{"-t", "nat", "-N", "KUBE-NODEPORTS"},
			{"-t", "nat", "-A", "PREROUTING", "-j", "KUBE-SERVICES"},
			{"-t", "nat", "-A", "KUBE-SERVICES", "-m", "addrtype", "--dst-type", "LOCAL", "-j", "KUBE-NODEPORTS"},
			{"-t", "nat", "-A", "KUBE-NODEPORTS", "-p", "tcp", "--dport", fmt.Sprint(nodePort), "-j", "DNAT", "--to-destination", f.pod},
			{"-t", "nat", "-A", "KUBE-NODEPORTS", "-p", "udp", "--dport", fmt.Sprint(nodePort), "-j", "DNAT", "--to-destination", f.pod},
			{"-t", "filter", "-N", "KUBE-FIREWALL"},
			{"-t", "filter", "-A", "INPUT", "-j", "KUBE-FIREWALL"},
			{"-t", "filter", "-A", "KUBE-FIREWALL", "-m", "conntrack", "--ctstate", "INVALID", "-j", "DROP"},
			{"-t", "filter", "-N", "KUBE-FORWARD"},
			{"-t", "filter", "-A", "FORWARD", "-j", "KUBE-FORWARD"},
			{"-t", "filter", "-A", "KUBE-FORWARD", "-m", "conntrack", "--ctstate", "RELATED,ESTABLISHED", "-j", "ACCEPT"},
			{"-t", "mangle", "-N", "cali-PREROUTING"},
			{"-t", "mangle", "-A", "PREROUTING", "-j", "cali-PREROUTING"},
			{"-t", "mangle", "-A", "cali-PREROUTING", "-m", "mark", "--mark", "0x10000/0x10000", "-j", "ACCEPT"},
		} {
			x.node.MustRun(t, f.tool, args...)
		}
	}
	if b == firewall.NFTables {
		if out, err := x.node.RunInput(foreignTable, "nft", "-f", "-"); err != nil {
			t.Fatalf("foreign table: %v\n%s", err, out)
		}
	}
	return x
}

// foreignTable stands for someone else's nftables table (kube-proxy's nft
// mode, Calico's nft mode): it must survive every apply untouched.
const foreignTable = `table inet foreign {
	set peers {
		type ipv4_addr
		flags interval
		elements = { 198.51.100.0/24 }
	}
	chain input {
		type filter hook input priority 10; policy accept;
		ip saddr @peers accept
	}
}
`

func (x *bed) spec(edge ...netip.Prefix) firewall.Spec {
	if edge == nil {
		edge = []netip.Prefix{mp("192.0.2.0/26"), mp("2001:db8:1::/64")}
	}
	return firewall.Node{
		Interfaces: x.ifs,
		Cluster:    []netip.Prefix{mp("198.51.100.0/24"), mp("2001:db8:2::/64")},
		Edge:       edge,
		Admin:      []netip.Prefix{mp("203.0.113.200/32")},
		VXLAN:      true,
		IPIP:       true,
		BGP:        true,
		Default:    firewall.Reject,
		Log:        firewall.Log{PerMinute: 6},
	}.Spec()
}

func (x *bed) runner() firewall.Runner {
	return func(_ context.Context, stdin, name string, args ...string) (string, error) {
		return x.node.RunInput(stdin, name, args...)
	}
}

// probe is one connection attempt and whether it must get through.
type probe struct {
	from *netns.Namespace
	who  string
	udp  bool
	to   netip.AddrPort
	want bool
}

func (x *bed) probes(fam int, firewalled bool) []probe {
	ap := netip.AddrPortFrom
	i := fam / 6 // 0 for IPv4, 1 for IPv6
	blocked := !firewalled
	return []probe{
		{x.edge, "edge→NodePort", false, ap(nodeFromEdge[i], nodePort), true},
		{x.edge, "edge→NodePort", true, ap(nodeFromEdge[i], nodePort), true},
		{x.cluster, "cluster→kubelet", false, ap(nodeFromCluster[i], 10250), true},
		{x.cluster, "cluster→VXLAN", true, ap(nodeFromCluster[i], 4789), true},
		{x.node, "node→stranger (replies come back)", false, ap(strangerAddr[i], 9000), true},
		{x.node, "node→stranger (replies come back)", true, ap(strangerAddr[i], 9000), true},
		{x.stranger, "stranger→NodePort", false, ap(nodeFromStranger[i], nodePort), blocked},
		{x.stranger, "stranger→NodePort", true, ap(nodeFromStranger[i], nodePort), blocked},
		{x.stranger, "stranger→kubelet", false, ap(nodeFromStranger[i], 10250), blocked},
		{x.stranger, "stranger→VXLAN", true, ap(nodeFromStranger[i], 4789), blocked},
		{x.cluster, "cluster→NodePort", false, ap(nodeFromCluster[i], nodePort), blocked},
		{x.edge, "edge→kubelet", false, ap(nodeFromEdge[i], 10250), blocked},
	}
}

// check runs every probe of both families at once and reports each one
// whose outcome is wrong. Neighbour caches are flushed first, so that IPv6
// has to get neighbour discovery through the firewall.
func (x *bed) check(t *testing.T, firewalled bool) {
	t.Helper()
	for _, ns := range []*netns.Namespace{x.node, x.edge, x.cluster, x.stranger, x.pod} {
		ns.MustRun(t, "ip", "-6", "neigh", "flush", "all")
	}
	var wg sync.WaitGroup
	var mu sync.Mutex
	var wrong []string
	for _, fam := range []int{4, 6} {
		for _, p := range x.probes(fam, firewalled) {
			wg.Go(func() {
				timeout := 5 * time.Second
				if !p.want {
					timeout = 700 * time.Millisecond
				}
				var err error
				proto := "tcp"
				if p.udp {
					proto = "udp"
					err = p.from.ProbeUDP(p.to, timeout)
				} else {
					err = p.from.ProbeTCP(p.to, timeout)
				}
				if (err == nil) != p.want {
					mu.Lock()
					defer mu.Unlock()
					wrong = append(wrong, fmt.Sprintf("%s %s %s: got err=%v, want success=%v", p.who, proto, p.to, err, p.want))
				}
			})
		}
	}
	wg.Wait()
	slices.Sort(wrong)
	for _, w := range wrong {
		t.Error(w)
	}
}

var (
	counters = regexp.MustCompile(`\[\d+:\d+\]|counter packets \d+ bytes \d+`)
	ipsetRe  = regexp.MustCompile(`^add (og-\S+) (\S+)`)
)

// state is everything a rule set touches on the node, normalised:
// iptables-save and ip6tables-save (without timestamps and counters), nft
// list ruleset, and the entries of our ipsets.
func (x *bed) state(t *testing.T, b firewall.Backend) string {
	t.Helper()
	var out strings.Builder
	for _, tool := range []string{"iptables-save", "ip6tables-save"} {
		for line := range strings.Lines(x.node.MustRun(t, tool)) {
			if !strings.HasPrefix(line, "#") {
				out.WriteString(counters.ReplaceAllString(line, "[0:0]"))
			}
		}
	}
	if b == firewall.NFTables {
		out.WriteString(counters.ReplaceAllString(x.node.MustRun(t, "nft", "list", "ruleset"), "counter"))
	}
	if b == firewall.IPSet {
		var entries []string
		for line := range strings.Lines(x.node.MustRun(t, "ipset", "save")) {
			if m := ipsetRe.FindStringSubmatch(line); m != nil {
				entries = append(entries, m[1]+" "+m[2])
			}
		}
		slices.Sort(entries)
		out.WriteString(strings.Join(entries, "\n"))
	}
	return out.String()
}

// foreign is the part of state that is not ours: lines of iptables-save
// that do not mention ORIGINGUARD, and the foreign nft table.
func (x *bed) foreign(t *testing.T, b firewall.Backend) string {
	t.Helper()
	var out strings.Builder
	for line := range strings.Lines(x.state(t, firewall.IPTables)) {
		if !strings.Contains(line, "ORIGINGUARD") {
			out.WriteString(line)
		}
	}
	if b == firewall.NFTables {
		out.WriteString(x.node.MustRun(t, "nft", "list", "table", "inet", "foreign"))
	}
	return out.String()
}

func TestApplyInNamespaces(t *testing.T) {
	for _, b := range firewall.Backends() {
		t.Run(string(b), func(t *testing.T) {
			x := newBed(t, b)
			ctx := context.Background()
			x.check(t, false) // the bed works, and without the firewall the stranger gets in
			foreign := x.foreign(t, b)

			a := x.applier(b, x.runner())
			if err := a.Apply(ctx, x.spec()); err != nil {
				t.Fatal(err)
			}
			x.check(t, true)
			if diff := cmp.Diff(foreign, x.foreign(t, b)); diff != "" {
				t.Errorf("others' chains or tables changed by apply (-before +after):\n%s", diff)
			}
			applied := x.state(t, b)
			if b != firewall.NFTables && strings.Count(applied, "-A INPUT -j ORIGINGUARD-INPUT\n") != 2 {
				t.Errorf("want one jump from INPUT per family:\n%s", applied)
			}

			for range 2 {
				if err := a.Apply(ctx, x.spec()); err != nil {
					t.Fatal(err)
				}
			}
			if diff := cmp.Diff(applied, x.state(t, b)); diff != "" {
				t.Errorf("re-apply changed the rules (-first +again):\n%s", diff)
			}
			if diff := cmp.Diff(foreign, x.foreign(t, b)); diff != "" {
				t.Errorf("others' chains or tables changed by re-apply (-before +after):\n%s", diff)
			}
			x.check(t, true)
		})
	}
}

// TestApplyRollsBack breaks an apply at every command it runs, in every
// way breakEveryStep knows (a failing tool, a caller cancelling), and checks
// each time that the node's rules are exactly those of the previous apply.
func TestApplyRollsBack(t *testing.T) {
	for _, b := range firewall.Backends() {
		t.Run(string(b), func(t *testing.T) {
			x := newBed(t, b)
			ctx := context.Background()
			// The first spec has a set the next one drops, so that the
			// next apply also destroys a set (ipset backend).
			first := x.spec()
			first.Sets = append(first.Sets, firewall.Set{Name: "old", Prefixes: []netip.Prefix{mp("203.0.113.0/24")}})
			first.Rules = append(first.Rules, firewall.Rule{Comment: "old", Protocol: firewall.TCP, Ports: firewall.Port(8080), From: "old", Verdict: firewall.Accept})
			// A different rule set: another edge, more rules.
			next := x.spec(mp("192.0.2.0/28"), mp("192.0.2.32/28"), mp("2001:db8:1::/80"))
			next.Rules = append(next.Rules, firewall.Rule{Comment: "extra", Protocol: firewall.TCP, Ports: firewall.Port(8443), From: "edge", Verdict: firewall.Accept})
			apply := func(s firewall.Spec) string {
				t.Helper()
				if err := x.applier(b, x.runner()).Apply(ctx, s); err != nil {
					t.Fatal(err)
				}
				return x.state(t, b)
			}
			after := apply(next)
			before := apply(first)
			x.breakEveryStep(t, b, func(ctx context.Context, a *firewall.Applier) error { return a.Apply(ctx, next) },
				func() { apply(first) }, before, after)
			x.check(t, true)
		})
	}
}

// TestGoldenSpecsLoad applies the specs of the golden files with the real
// tools in an empty namespace each, so the rendered text that the golden
// files pin down is text the kernel accepts.
func TestGoldenSpecsLoad(t *testing.T) {
	for name, spec := range goldenSpecs {
		for _, b := range firewall.Backends() {
			t.Run(name+"/"+string(b), func(t *testing.T) {
				x := newBed(t, b)
				// The interfaces the golden specs guard (the kernel here
				// has no dummy driver; a veth pair's two ends will do).
				x.node.MustRun(t, "ip", "link", "add", "eth0", "type", "veth", "peer", "name", "ens3")
				run := x.runner()
				if err := x.applier(b, run).Apply(context.Background(), spec); err != nil {
					t.Fatal(err)
				}
				var out string
				if b == firewall.NFTables {
					out = x.node.MustRun(t, "nft", "list", "table", "inet", "originguard")
				} else {
					out = x.node.MustRun(t, "iptables-save", "-t", "filter")
				}
				if !strings.Contains(out, "HTTPS from the office") && !strings.Contains(out, "kubelet API") {
					t.Errorf("rules not loaded:\n%s", out)
				}
			})
		}
	}
}

// TestApplyDropsStaleSets shows that a set removed from the Spec leaves no
// ipset behind, while the sets still in use keep their entries.
func TestApplyDropsStaleSets(t *testing.T) {
	x := newBed(t, firewall.IPSet)
	a := x.applier(firewall.IPSet, x.runner())
	withOld := x.spec()
	withOld.Sets = append(withOld.Sets, firewall.Set{Name: "old", Prefixes: []netip.Prefix{mp("203.0.113.0/24")}})
	withOld.Rules = append(withOld.Rules, firewall.Rule{Comment: "old", Protocol: firewall.TCP, Ports: firewall.Port(8080), From: "old", Verdict: firewall.Accept})
	if err := a.Apply(context.Background(), withOld); err != nil {
		t.Fatal(err)
	}
	if got := x.node.MustRun(t, "ipset", "list", "-n"); !strings.Contains(got, "og-old-v4") {
		t.Fatalf("set og-old-v4 missing after the first apply:\n%s", got)
	}
	if err := a.Apply(context.Background(), x.spec()); err != nil {
		t.Fatal(err)
	}
	got := strings.Fields(x.node.MustRun(t, "ipset", "list", "-n"))
	slices.Sort(got)
	want := []string{"og-admin-v4", "og-admin-v6", "og-balancer-v4", "og-balancer-v6", "og-cluster-v4", "og-cluster-v6", "og-edge-v4", "og-edge-v6"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("ipsets after dropping set old (-want +got):\n%s", diff)
	}
	x.check(t, true)
}

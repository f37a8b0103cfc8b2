//go:build linux

package firewall_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"net/netip"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/originguard/originguard/firewall"
	"github.com/originguard/originguard/internal/testbed/netns"
)

// The tests in this file send real packets along every path a packet can
// take through a node (issue 9): DNAT to pods and REDIRECT to the node,
// health checks answered on the node, INVALID packets, ICMPv6, SCTP and
// other IP protocols. Each runs for every backend.

// preset is the bed's Node, for tests that change a field of it.
func (x *bed) preset() firewall.Node {
	return firewall.Node{
		Interfaces: x.ifs,
		Cluster:    []netip.Prefix{mp("198.51.100.0/24"), mp("2001:db8:2::/64")},
		Edge:       []netip.Prefix{mp("192.0.2.0/26"), mp("2001:db8:1::/64")},
		Admin:      []netip.Prefix{mp("203.0.113.200/32")},
		VXLAN:      true,
		IPIP:       true,
		BGP:        true,
		Default:    firewall.Reject,
		Log:        firewall.Log{PerMinute: 6},
	}
}

func (x *bed) apply(t *testing.T, b firewall.Backend, spec firewall.Spec) {
	t.Helper()
	if err := x.applier(b, x.runner()).Apply(context.Background(), spec); err != nil {
		t.Fatal(err)
	}
}

// nat adds rules to the node's nat table in both families; pod is the
// pod's address in each family ("%s" in args stands for it, as ip:port).
func (x *bed) nat(t *testing.T, rules ...[]string) {
	t.Helper()
	for _, f := range []struct{ tool, pod string }{{"iptables", "192.0.2.130:8080"}, {"ip6tables", "[2001:db8:4::2]:8080"}} {
		for _, r := range rules {
			args := []string{"-t", "nat", "-A"}
			for _, a := range r {
				if a == "%s" {
					a = f.pod
				}
				args = append(args, a)
			}
			x.node.MustRun(t, f.tool, args...)
		}
	}
}

// expect runs the TCP probes at once and reports each wrong outcome.
func expect(t *testing.T, probes []probe) {
	t.Helper()
	var wg sync.WaitGroup
	var mu sync.Mutex
	var wrong []string
	for _, p := range probes {
		wg.Go(func() {
			timeout := 5 * time.Second
			if !p.want {
				timeout = 700 * time.Millisecond
			}
			err := p.from.ProbeTCP(p.to, timeout)
			if (err == nil) != p.want {
				mu.Lock()
				defer mu.Unlock()
				wrong = append(wrong, fmt.Sprintf("%s %s: got err=%v, want success=%v", p.who, p.to, err, p.want))
			}
		})
	}
	wg.Wait()
	slices.Sort(wrong)
	for _, w := range wrong {
		t.Error(w)
	}
}

// The load-balancer or external IP that kube-proxy DNATs on the node
// (routed to the node by its peers, not one of its addresses).
var vip = [2]netip.Addr{netip.MustParseAddr("192.0.2.250"), netip.MustParseAddr("2001:db8:5::250")}

// TestEveryDNATPathJudged: a new flow arriving on a guarded interface is
// judged before any DNAT, whatever rewrites it: a CNI hostPort (or Docker
// -p, the same DNAT), a Service's load-balancer or external IP, and a
// REDIRECT to a port of the node. Before, PreDNAT looked only at the
// NodePort range on the node's own addresses and the Local stage let every
// DNATed packet in, so a stranger reached a hostPort pod, the VIP, and the
// kubelet through a REDIRECT while 10250 itself was refused.
func TestEveryDNATPathJudged(t *testing.T) {
	for _, b := range firewall.Backends() {
		t.Run(string(b), func(t *testing.T) {
			x := newBed(t, b)
			x.nat(t,
				[]string{"PREROUTING", "-m", "addrtype", "--dst-type", "LOCAL", "-p", "tcp", "--dport", "8081", "-j", "DNAT", "--to-destination", "%s"},
				[]string{"PREROUTING", "-m", "addrtype", "--dst-type", "LOCAL", "-p", "tcp", "--dport", "8082", "-j", "DNAT", "--to-destination", "%s"},
				[]string{"PREROUTING", "-p", "tcp", "--dport", "8443", "-j", "REDIRECT", "--to-ports", "10250"},
			)
			for i, tool := range []string{"iptables", "ip6tables"} {
				for _, port := range []string{"80", "81"} {
					pod := []string{"192.0.2.130:8080", "[2001:db8:4::2]:8080"}[i]
					x.node.MustRun(t, tool, "-t", "nat", "-A", "PREROUTING", "-d", vip[i].String(), "-p", "tcp", "--dport", port, "-j", "DNAT", "--to-destination", pod)
				}
			}
			for _, r := range []struct {
				ns  *netns.Namespace
				via [2]netip.Addr
			}{{x.edge, nodeFromEdge}, {x.cluster, nodeFromCluster}, {x.stranger, nodeFromStranger}} {
				r.ns.MustRun(t, "ip", "route", "add", vip[0].String()+"/32", "via", r.via[0].String())
				r.ns.MustRun(t, "ip", "-6", "route", "add", vip[1].String()+"/128", "via", r.via[1].String())
			}
			x.node.ServeTCP(t, netip.MustParseAddrPort("[::]:443")) // an ingress controller on hostNetwork

			ap := netip.AddrPortFrom
			probes := func(firewalled bool) []probe {
				var ps []probe
				for i := range 2 {
					ps = append(ps,
						probe{x.edge, "edge→hostPort opened to the edge", false, ap(nodeFromEdge[i], 8081), true},
						probe{x.stranger, "stranger→hostPort opened to the edge", false, ap(nodeFromStranger[i], 8081), !firewalled},
						probe{x.cluster, "cluster→hostPort opened to the edge", false, ap(nodeFromCluster[i], 8081), !firewalled},
						probe{x.edge, "edge→hostPort not opened", false, ap(nodeFromEdge[i], 8082), !firewalled},
						probe{x.stranger, "stranger→REDIRECT to the kubelet", false, ap(nodeFromStranger[i], 8443), !firewalled},
						probe{x.cluster, "cluster→REDIRECT to the kubelet", false, ap(nodeFromCluster[i], 8443), true},
						probe{x.edge, "edge→VIP port opened to the edge", false, ap(vip[i], 80), true},
						probe{x.stranger, "stranger→VIP port opened to the edge", false, ap(vip[i], 80), !firewalled},
						probe{x.edge, "edge→VIP port not opened", false, ap(vip[i], 81), !firewalled},
						probe{x.edge, "edge→hostNetwork 443", false, ap(nodeFromEdge[i], 443), true},
						probe{x.stranger, "stranger→hostNetwork 443", false, ap(nodeFromStranger[i], 443), !firewalled},
					)
				}
				return ps
			}
			expect(t, probes(false)) // the bed works: every path is open without the firewall

			n := x.preset()
			n.HostPorts = []firewall.HostPort{
				{Protocol: firewall.TCP, Ports: firewall.Port(8081), From: "edge"},
				{Protocol: firewall.TCP, Ports: firewall.Port(80), From: "edge"},
				{Protocol: firewall.TCP, Ports: firewall.Port(443), From: "edge"},
			}
			x.apply(t, b, n.Spec())
			expect(t, probes(true))
			x.check(t, true)

			// Calico keeps its jumps at the top of the built-in chains and
			// its filter FORWARD ACCEPTs what its policy allows to a pod
			// (everything, without NetworkPolicy). Its jump above ours
			// must not open the DNAT paths again.
			for _, tool := range []string{"iptables", "ip6tables"} {
				x.node.MustRun(t, tool, "-t", "filter", "-N", "cali-FORWARD")
				x.node.MustRun(t, tool, "-t", "filter", "-A", "cali-FORWARD", "-j", "ACCEPT")
				x.node.MustRun(t, tool, "-t", "filter", "-I", "FORWARD", "1", "-j", "cali-FORWARD")
			}
			expect(t, probes(true))
		})
	}
}

// TestHealthChecksAnsweredOnTheNode: kube-proxy answers a Service's
// healthCheckNodePort (externalTrafficPolicy: Local) on its own socket,
// without DNAT, as it answers every NodePort in IPVS mode; and it serves
// its healthz on 10256. A load balancer's probes must pass, a stranger's
// must not. Before, the probe to the healthCheckNodePort met the default
// verdict and the balancer marked every node unhealthy.
func TestHealthChecksAnsweredOnTheNode(t *testing.T) {
	for _, b := range firewall.Backends() {
		t.Run(string(b), func(t *testing.T) {
			x := newBed(t, b)
			const healthCheckNodePort = 31000
			any6 := netip.IPv6Unspecified()
			x.node.ServeTCP(t, netip.AddrPortFrom(any6, healthCheckNodePort)) // kube-proxy's listener: no DNAT
			x.node.ServeTCP(t, netip.AddrPortFrom(any6, 10256))               // kube-proxy healthz

			// The edge peer plays the load balancer in front of the nodes.
			n := x.preset()
			n.Balancer, n.Edge = n.Edge, nil
			x.apply(t, b, n.Spec())

			ap := netip.AddrPortFrom
			var ps []probe
			for i := range 2 {
				ps = append(ps,
					probe{x.edge, "balancer→healthCheckNodePort", false, ap(nodeFromEdge[i], healthCheckNodePort), true},
					probe{x.stranger, "stranger→healthCheckNodePort", false, ap(nodeFromStranger[i], healthCheckNodePort), false},
					probe{x.cluster, "cluster→healthCheckNodePort", false, ap(nodeFromCluster[i], healthCheckNodePort), false},
					probe{x.edge, "balancer→kube-proxy healthz", false, ap(nodeFromEdge[i], 10256), true},
					probe{x.cluster, "cluster→kube-proxy healthz", false, ap(nodeFromCluster[i], 10256), true},
					probe{x.stranger, "stranger→kube-proxy healthz", false, ap(nodeFromStranger[i], 10256), false},
					probe{x.edge, "balancer→NodePort (DNATed to the pod)", false, ap(nodeFromEdge[i], nodePort), true},
					probe{x.stranger, "stranger→NodePort", false, ap(nodeFromStranger[i], nodePort), false},
				)
			}
			expect(t, ps)
		})
	}
}

// TestInvalidIsDroppedNotReset: a packet conntrack finds INVALID (here a
// SYN with FIN, the same class as an out-of-window segment) must be
// dropped, not answered with the default verdict's TCP reset: a reset
// built from an out-of-window packet kills the peer's real connection
// (kubernetes#74839). A valid SYN to the same closed port still gets its
// reset. kube-proxy's own INVALID drop is taken out of the bed first, so
// that only this package's rules decide.
func TestInvalidIsDroppedNotReset(t *testing.T) {
	for _, b := range firewall.Backends() {
		t.Run(string(b), func(t *testing.T) {
			x := newBed(t, b)
			for _, tool := range []string{"iptables", "ip6tables"} {
				x.node.MustRun(t, tool, "-t", "filter", "-D", "KUBE-FIREWALL", "-m", "conntrack", "--ctstate", "INVALID", "-j", "DROP")
			}
			x.apply(t, b, x.spec()) // default verdict: Reject
			for i, fam := range []int{4, 6} {
				rsts := listenRaw(t, x.stranger, fam, 6)
				node := netip.AddrPortFrom(nodeFromStranger[i], 10250) // the kubelet: closed to strangers
				for _, tc := range []struct {
					what    string
					port    uint16
					flags   byte
					wantRST bool
				}{
					{"valid SYN", 40001, tcpSYN, true},
					{"INVALID SYN+FIN", 40002, tcpSYN | tcpFIN, false},
				} {
					src := netip.AddrPortFrom(strangerAddr[i], tc.port)
					if err := sendRaw(x.stranger, 6, src.Addr(), node.Addr(), "", tcpSegment(src, node, 1000, tc.flags)); err != nil {
						t.Fatal(err)
					}
					_, got := rsts.wait(node.Addr(), time.Second, func(p []byte) bool {
						return len(p) >= 20 && binary.BigEndian.Uint16(p[2:]) == tc.port && p[13]&tcpRST != 0
					})
					if got != tc.wantRST {
						t.Errorf("IPv%d %s to %s: reset=%v, want %v", fam, tc.what, node, got, tc.wantRST)
					}
				}
			}
		})
	}
}

// TestICMPv6ForHosts: what RFC 4890 (4.4.1) says a host must not drop
// reaches the node: multicast listener discovery (130, 131, 132, 143) from
// link-local addresses, whose loss makes an MLD-snooping switch stop
// forwarding the node's neighbour solicitations, and echo request. MLD from
// a global address is not let in. The node's own ICMPv6 counters, read
// after the INPUT hook, show what got through.
func TestICMPv6ForHosts(t *testing.T) {
	for _, b := range firewall.Backends() {
		t.Run(string(b), func(t *testing.T) {
			x := newBed(t, b)
			x.apply(t, b, x.spec())
			peerIf := "veth0" // the stranger's only link, to the node
			src := linkLocal(t, x.stranger, peerIf)
			allNodes := netip.MustParseAddr("ff02::1")
			mld1 := func(typ byte) []byte { return append([]byte{typ, 0, 0, 0, 0, 0, 0, 0}, make([]byte, 16)...) }
			for _, tc := range []struct {
				what    string
				msg     []byte
				counter string
			}{
				{"listener query", mld1(130), "Icmp6InGroupMembQueries"},
				{"listener report", mld1(131), "Icmp6InGroupMembResponses"},
				{"listener done", mld1(132), "Icmp6InGroupMembReductions"},
				{"listener report v2", []byte{143, 0, 0, 0, 0, 0, 0, 0}, "Icmp6InMLDv2Reports"},
			} {
				before := snmp6(t, x.node, tc.counter)
				if err := sendRaw(x.stranger, 58, src, allNodes, peerIf, tc.msg); err != nil {
					t.Fatal(err)
				}
				if !waitCounter(t, x.node, tc.counter, before) {
					t.Errorf("MLD %s from %s did not reach the node", tc.what, src)
				}
			}
			// The same query from a global address is dropped.
			before := snmp6(t, x.node, "Icmp6InGroupMembQueries")
			if err := sendRaw(x.stranger, 58, strangerAddr[1], nodeFromStranger[1], "", mld1(130)); err != nil {
				t.Fatal(err)
			}
			if waitCounter(t, x.node, "Icmp6InGroupMembQueries", before) {
				t.Error("an MLD query from a global address reached the node")
			}

			// Echo request from anyone gets its reply.
			replies := listenRaw(t, x.stranger, 6, 58)
			echo := []byte{128, 0, 0, 0, 0x4f, 0x47, 0, 1, 'o', 'g'}
			if err := sendRaw(x.stranger, 58, strangerAddr[1], nodeFromStranger[1], "", echo); err != nil {
				t.Fatal(err)
			}
			if _, ok := replies.wait(nodeFromStranger[1], 2*time.Second, func(p []byte) bool {
				return len(p) >= 8 && p[0] == 129 && bytes.Equal(p[4:8], echo[4:8])
			}); !ok {
				t.Error("no echo reply from the node over IPv6")
			}
		})
	}
}

// waitCounter reports whether counter in ns grows beyond before within a
// second.
func waitCounter(t *testing.T, ns *netns.Namespace, counter string, before int) bool {
	t.Helper()
	for deadline := time.Now().Add(time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		if snmp6(t, ns, counter) > before {
			return true
		}
	}
	return false
}

// TestSCTPAndProtocolNumbers: SCTP NodePorts are filtered like TCP and
// UDP ones (before, a stranger's SCTP reached the pod unjudged), and a
// rule can let in any IP protocol by number: VRRP (112), which keepalived
// uses for a control-plane VIP, GRE (47) and ESP (50), from the cluster
// only. The kernel may have no SCTP stack: the pod reads the INIT chunk on
// a raw socket after the node's DNAT, which shows conntrack took it as a
// valid new association.
func TestSCTPAndProtocolNumbers(t *testing.T) {
	for _, b := range firewall.Backends() {
		t.Run(string(b), func(t *testing.T) {
			x := newBed(t, b)
			x.nat(t, []string{"KUBE-NODEPORTS", "-p", "sctp", "--dport", fmt.Sprint(nodePort), "-j", "DNAT", "--to-destination", "%s"})
			peers := []struct {
				who   string
				ns    *netns.Namespace
				src   [2]netip.Addr
				node  [2]netip.Addr
				sctp  bool // may use the SCTP NodePort
				vrrp  bool // may send VRRP, GRE and ESP
				sport uint16
			}{
				{"edge", x.edge, [2]netip.Addr{mp("192.0.2.2/32").Addr(), mp("2001:db8:1::2/128").Addr()}, nodeFromEdge, true, false, 5001},
				{"cluster", x.cluster, [2]netip.Addr{mp("198.51.100.2/32").Addr(), mp("2001:db8:2::2/128").Addr()}, nodeFromCluster, false, true, 5002},
				{"stranger", x.stranger, strangerAddr, nodeFromStranger, false, false, 5003},
			}
			// Portless protocols, each let in from the cluster only.
			numbered := []struct {
				name   string
				proto  firewall.Protocol
				num    int
				header []byte // what precedes the tag in the payload
			}{
				{"VRRP", firewall.VRRP, 112, []byte{0x31, 1, 100, 1}},
				{"GRE", firewall.GRE, 47, []byte{0, 0, 0x08, 0}}, // version 0, IPv4 payload
				{"ESP", firewall.ESP, 50, []byte{0, 0, 1, 0, 0, 0, 0, 1}},
			}
			var sctpAt [2]*rawListener
			numAt := make([][2]*rawListener, len(numbered))
			for i, fam := range []int{4, 6} {
				sctpAt[i] = listenRaw(t, x.pod, fam, 132)
				for k, n := range numbered {
					numAt[k][i] = listenRaw(t, x.node, fam, n.num)
				}
			}
			isInit := func(sport uint16) func([]byte) bool {
				return func(p []byte) bool {
					return len(p) >= 13 && binary.BigEndian.Uint16(p) == sport && binary.BigEndian.Uint16(p[2:]) == 8080 && p[12] == 1
				}
			}
			isTagged := func(who string) func([]byte) bool {
				return func(p []byte) bool { return bytes.HasSuffix(p, []byte(who)) }
			}
			send := func(round string) {
				for _, p := range peers {
					for i := range 2 {
						sport := p.sport + uint16(10*i)
						if round == "after" {
							sport += 100
						}
						if err := sendRaw(p.ns, 132, p.src[i], p.node[i], "", sctpInit(sport, nodePort, uint32(sport))); err != nil {
							t.Fatal(err)
						}
						for _, n := range numbered {
							msg := append(append([]byte(nil), n.header...), round+p.who...)
							if err := sendRaw(p.ns, n.num, p.src[i], p.node[i], "", msg); err != nil {
								t.Fatal(err)
							}
						}
					}
				}
			}
			// Without the firewall everything arrives: the bed works, and
			// the stranger's SCTP reaches the pod.
			send("before")
			for _, p := range peers {
				for i := range 2 {
					if _, ok := sctpAt[i].wait(p.src[i], 2*time.Second, isInit(p.sport+uint16(10*i))); !ok {
						t.Fatalf("before the firewall, %s's SCTP INIT (IPv%d) did not reach the pod: the bed is broken", p.who, 4+2*i)
					}
					for k, n := range numbered {
						if _, ok := numAt[k][i].wait(p.src[i], 2*time.Second, isTagged("before"+p.who)); !ok {
							t.Fatalf("before the firewall, %s's %s (IPv%d) did not reach the node: the bed is broken", p.who, n.name, 4+2*i)
						}
					}
				}
			}

			spec := x.spec()
			for _, n := range numbered {
				spec.Rules = append(spec.Rules, firewall.Rule{Comment: n.name + " from the cluster", Protocol: n.proto, From: "cluster", Verdict: firewall.Accept})
			}
			x.apply(t, b, spec)
			send("after")
			for _, p := range peers {
				for i := range 2 {
					wait := time.Second
					if p.sctp {
						wait = 2 * time.Second
					}
					if _, got := sctpAt[i].wait(p.src[i], wait, isInit(p.sport+uint16(10*i)+100)); got != p.sctp {
						t.Errorf("%s→SCTP NodePort (IPv%d): reached the pod=%v, want %v", p.who, 4+2*i, got, p.sctp)
					}
					for k, n := range numbered {
						if _, got := numAt[k][i].wait(p.src[i], wait, isTagged("after"+p.who)); got != p.vrrp {
							t.Errorf("%s→%s (IPv%d): reached the node=%v, want %v", p.who, n.name, 4+2*i, got, p.vrrp)
						}
					}
				}
			}
		})
	}
}

//go:build linux

package firewall_test

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"net/netip"
	"path/filepath"
	"testing"
	"time"

	"github.com/originguard/originguard/firewall"
	"github.com/originguard/originguard/internal/testbed/netns"
	"github.com/originguard/originguard/internal/testbed/testenv"
)

// The benchmarks in this file build network namespaces and load real rule
// sets; like every benchmark they run only with -bench. Bound them in
// count, e.g. -benchtime=1000x for connections and -benchtime=5x for loads
// (see BENCHMARKS.md).

func benchNeeds(b *testing.B, backend firewall.Backend) {
	needs := []testenv.Need{testenv.NeedRoot, testenv.NeedIPRoute, testenv.NeedIPTables, testenv.NeedIP6Tables}
	switch backend {
	case firewall.IPSet:
		needs = append(needs, testenv.NeedIPSet)
	case firewall.NFTables:
		needs = append(needs, testenv.NeedNFT)
	}
	testenv.Require(b, needs...)
}

// benchNode is a namespace with an interface eth0 (one end of a veth pair)
// for the benchmarks' Specs to guard.
func benchNode(b *testing.B) *netns.Namespace {
	node := netns.New(b, "node")
	node.MustRun(b, "ip", "link", "add", "eth0", "type", "veth", "peer", "name", "eth0-peer")
	return node
}

// BenchmarkApply100k loads a rule set whose one rule takes its sources
// from a set of 100,000 prefixes (50,000 per family) into a namespace, each iteration replacing
// the previous one with a different 100,000 (so every apply really
// changes the set), through the whole Applier: save, render, check, apply,
// read back and verify.
func BenchmarkApply100k(b *testing.B) {
	specs := [2]firewall.Spec{}
	for i := range specs {
		ps := prefixes(100_001)
		if i == 1 {
			ps = ps[1:]
		}
		specs[i] = firewall.Spec{
			Sets: []firewall.Set{{Name: "edge", Prefixes: ps}},
			Rules: []firewall.Rule{{Comment: "NodePorts: the edge only", Stage: firewall.PreDNAT, Protocol: firewall.TCP,
				Ports: firewall.Ports(30000, 32767), From: "edge", Verdict: firewall.Accept}},
			Interfaces:   []string{"eth0"},
			AllowLockout: true, // a benchmark, not a node
		}
	}
	for _, backend := range firewall.Backends() {
		b.Run(string(backend), func(b *testing.B) {
			benchNeeds(b, backend)
			node := benchNode(b)
			a := firewall.NewApplier(backend, firewall.WithPrefixLimit(0), firewall.WithLockFile(filepath.Join(b.TempDir(), "lock")), firewall.WithRunner(func(_ context.Context, stdin, name string, args ...string) (string, error) {
				return node.RunInput(stdin, name, args...)
			}))
			i := 0
			for b.Loop() {
				if err := a.Apply(context.Background(), specs[i%2]); err != nil {
					b.Fatal(err)
				}
				i++
			}
		})
	}
}

// BenchmarkConnections measures new TCP connections per second from an
// edge peer to a node port that a rule allows from a set of N prefixes,
// the peer's own prefix sorting last. With the plain iptables backend the
// SYN walks N rules; with ipset and nftables it does one set lookup.
// Each connection is a connect, a read of the server's greeting and a
// close; only the SYN meets the rule (later packets are established).
func BenchmarkConnections(b *testing.B) {
	client := netip.MustParseAddr("192.0.2.2")
	server := netip.AddrPortFrom(netip.MustParseAddr("192.0.2.1"), 10250)
	for _, backend := range firewall.Backends() {
		for _, n := range []int{1, 1_000, 10_000, 100_000} {
			benchNeeds(b, backend)
			node, edge := netns.New(b, "node"), netns.New(b, "edge")
			nodeIf, _ := netns.Link(b, node, []netip.Prefix{mp("192.0.2.1/24")}, edge, []netip.Prefix{mp("192.0.2.2/24")})
			node.ServeTCP(b, server)
			edge.MustRun(b, "sysctl", "-qw", "net.ipv4.ip_local_port_range=1024 65000", "net.ipv4.tcp_tw_reuse=1")

			// N-1 prefixes in 10.0.0.0/8, then the client's /32, which sorts after them.
			set := make([]netip.Prefix, 0, n)
			for i := range n - 1 {
				set = append(set, netip.PrefixFrom(netip.AddrFrom4([4]byte{10, byte(i >> 16), byte(i >> 8), byte(i)}), 32))
			}
			set = append(set, netip.PrefixFrom(client, 32))
			spec := firewall.Spec{
				Sets:       []firewall.Set{{Name: "edge", Prefixes: set}},
				Rules:      []firewall.Rule{{Comment: "bench", Protocol: firewall.TCP, Ports: firewall.Port(server.Port()), From: "edge", Verdict: firewall.Accept}},
				Interfaces: []string{nodeIf},
			}
			a := firewall.NewApplier(backend, firewall.WithPrefixLimit(0), firewall.WithLockFile(filepath.Join(b.TempDir(), "lock")), firewall.WithRunner(func(_ context.Context, stdin, name string, args ...string) (string, error) {
				return node.RunInput(stdin, name, args...)
			}))
			if err := a.Apply(context.Background(), spec); err != nil {
				b.Fatal(err)
			}
			if err := edge.ProbeTCP(server, 5*time.Second); err != nil {
				b.Fatalf("%s N=%d: the allowed client cannot connect: %v", backend, n, err)
			}
			b.Run(fmt.Sprintf("%s/N=%d", backend, n), func(b *testing.B) {
				b.ResetTimer()
				start := time.Now()
				err := edge.Do(func() error {
					d := net.Dialer{Timeout: 5 * time.Second}
					buf := make([]byte, 16)
					for range b.N {
						c, err := d.Dial("tcp", server.String())
						if err != nil {
							return err
						}
						_, err = bufio.NewReader(c).Read(buf)
						c.Close()
						if err != nil {
							return err
						}
					}
					return nil
				})
				b.StopTimer()
				if err != nil {
					b.Fatal(err)
				}
				b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "conn/s")
			})
		}
	}
}

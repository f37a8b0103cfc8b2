//go:build linux

package firewall_test

import (
	"context"
	"fmt"
	"net/netip"
	"path/filepath"
	"strings"
	"testing"

	"github.com/originguard/originguard/firewall"
	"github.com/originguard/originguard/internal/testbed/netns"
	"github.com/originguard/originguard/internal/testbed/testenv"
)

// TestValidateTellsTheTruth holds Validate to its doc ("nil means every
// renderer accepts s"): at each limit a tool enforces, the Spec just inside
// loads with the real tools for every backend, and the one just outside is
// refused by Validate and, fed to the tool by hand, by the tool too, so
// the limit is the tool's and not a guess. Before, a 15-byte interface
// name plus '+', a log rate over 600000/minute, a burst over 10000 and a
// /0 in a set (which ipset's hash:net refuses) all passed Validate and
// failed in the tools.
func TestValidateTellsTheTruth(t *testing.T) {
	testenv.Require(t, testenv.NeedRoot, testenv.NeedIPRoute, testenv.NeedIPTables, testenv.NeedIP6Tables, testenv.NeedIPSet, testenv.NeedNFT, testenv.NeedConntrack)
	base := func() firewall.Spec {
		return firewall.Spec{
			Sets:       []firewall.Set{{Name: "office", Prefixes: []netip.Prefix{mp("203.0.113.0/24")}}},
			Rules:      []firewall.Rule{{Comment: "SSH", Protocol: firewall.TCP, Ports: firewall.Port(22), From: "office", Verdict: firewall.Accept}},
			Interfaces: []string{"eth0"},
		}
	}
	const (
		name15 = "abcdefghijklmno"  // IFNAMSIZ-1 bytes
		wild15 = "abcdefghijklmn+"  // the same length, '+' included
		wild16 = "abcdefghijklmno+" // one byte too many for iptables
	)
	// Every printable character Validate allows in a comment.
	var punct strings.Builder
	for c := byte(' '); c <= '~'; c++ {
		if c != '"' && c != '\'' && c != '\\' {
			punct.WriteByte(c)
		}
	}
	inside := []struct {
		name string
		edit func(*firewall.Spec)
	}{
		{"15-byte interface", func(s *firewall.Spec) { s.Interfaces = []string{name15} }},
		{"15-byte wildcard", func(s *firewall.Spec) { s.Interfaces = []string{wild15} }},
		{"fastest log rate, largest burst", func(s *firewall.Spec) { s.Log = firewall.Log{PerMinute: 600000, Burst: 10000} }},
		{"slowest log rate, largest burst", func(s *firewall.Spec) { s.Log = firewall.Log{PerMinute: 1, Burst: 10000} }},
		{"28-byte log prefix", func(s *firewall.Spec) { s.Log = firewall.Log{PerMinute: 1, Prefix: strings.Repeat("p", 28)} }},
		{"punctuation in a log prefix", func(s *firewall.Spec) {
			s.Log = firewall.Log{PerMinute: 1, Prefix: strings.ReplaceAll(punct.String(), "$", "")[:28]}
		}},
		{"128-byte comment", func(s *firewall.Spec) { s.Rules[0].Comment = strings.Repeat("c", 128) }},
		{"/0 in a set", func(s *firewall.Spec) { s.Sets[0].Prefixes = []netip.Prefix{mp("0.0.0.0/0"), mp("::/0")} }},
		{"every allowed character in a comment", func(s *firewall.Spec) { s.Rules[0].Comment = punct.String()[:min(punct.Len(), 128)] }},
		{"protocols", func(s *firewall.Spec) {
			for _, p := range []firewall.Protocol{firewall.SCTP, firewall.GRE, firewall.ESP, firewall.VRRP, firewall.ProtocolNumber(1), firewall.ProtocolNumber(58), firewall.ProtocolNumber(254)} {
				r := firewall.Rule{Comment: string(p), Protocol: p, From: "office", Verdict: firewall.Accept}
				if p == firewall.SCTP {
					r.Ports = firewall.Ports(1, 65535)
				}
				s.Rules = append(s.Rules, r, firewall.Rule{Comment: string(p), Stage: firewall.PreDNAT, Protocol: p, Ports: r.Ports, Verdict: firewall.Drop})
			}
		}},
		{"another conntrack mark bit", func(s *firewall.Spec) { s.ConnMark = 1 << 31 }},
	}
	outside := []struct {
		name string
		edit func(*firewall.Spec)
		want string
		// tool is restore input that uses the same value, which the
		// tool must refuse ("" where the limit is this package's own);
		// nft likewise for nft -c.
		tool, nft string
	}{
		{"16-byte wildcard", func(s *firewall.Spec) { s.Interfaces = []string{wild16} }, `interface "` + wild16 + `"`,
			"*filter\n:T - [0:0]\n-A T -i " + wild16 + " -j DROP\nCOMMIT\n", ""},
		{"16-byte interface", func(s *firewall.Spec) { s.Interfaces = []string{name15 + "p"} }, `interface "` + name15 + `p"`,
			"*filter\n:T - [0:0]\n-A T -i " + name15 + "p -j DROP\nCOMMIT\n", ""},
		{"log rate too fast", func(s *firewall.Spec) { s.Log = firewall.Log{PerMinute: 600001} }, "rate 600001/minute",
			"*filter\n:T - [0:0]\n-A T -m limit --limit 600001/min -j LOG\nCOMMIT\n", ""},
		{"log burst too large", func(s *firewall.Spec) { s.Log = firewall.Log{PerMinute: 1, Burst: 10001} }, "burst 10001",
			"*filter\n:T - [0:0]\n-A T -m limit --limit 1/min --limit-burst 10001 -j LOG\nCOMMIT\n", ""},
		{"'$' in a log prefix", func(s *firewall.Spec) { s.Log = firewall.Log{PerMinute: 1, Prefix: "og$x"} }, "variable", "",
			"table inet t {\n\tchain c {\n\t\tlog prefix \"og$x\"\n\t}\n}\n"},
		{"interface \".\"", func(s *firewall.Spec) { s.Interfaces = []string{"."} }, `interface "."`, "", ""},
		{"protocol 0 (iptables: all)", func(s *firewall.Spec) { s.Rules[0] = firewall.Rule{Protocol: "0", Verdict: firewall.Accept} }, "protocol 0", "", ""},
		{"protocol 51 (skipped in IPv6)", func(s *firewall.Spec) { s.Rules[0].Protocol, s.Rules[0].Ports = "51", firewall.PortRange{} }, "protocol 51", "", ""},
		{"protocol 6 by number", func(s *firewall.Spec) { s.Rules[0].Protocol, s.Rules[0].Ports = "6", firewall.PortRange{} }, `use "tcp"`, "", ""},
		{"protocol 256", func(s *firewall.Spec) { s.Rules[0].Protocol = "256" }, "unknown protocol", "", ""},
		{"ports on VRRP", func(s *firewall.Spec) { s.Rules[0].Protocol = firewall.VRRP }, "protocol 112 has no ports", "", ""},
		{"two conntrack mark bits", func(s *firewall.Spec) { s.ConnMark = 3 }, "conntrack mark 0x3", "", ""},
	}

	for _, b := range firewall.Backends() {
		t.Run(string(b), func(t *testing.T) {
			node := netns.New(t, "node")
			for i, ifname := range []string{"eth0", name15, "abcdefghijklmn0"} {
				node.MustRun(t, "ip", "link", "add", ifname, "type", "veth", "peer", "name", fmt.Sprintf("peer%d", i))
			}
			a := firewall.NewApplier(b, firewall.WithRunner(func(_ context.Context, stdin, name string, args ...string) (string, error) {
				return node.RunInput(stdin, name, args...)
			}), firewall.WithLockFile(filepath.Join(t.TempDir(), "lock")))
			for _, tc := range inside {
				s := base()
				tc.edit(&s)
				if err := s.Validate(); err != nil {
					t.Errorf("%s: Validate: %v", tc.name, err)
					continue
				}
				if err := a.Apply(context.Background(), s); err != nil {
					t.Errorf("%s: Validate said yes, the tools said: %v", tc.name, err)
				}
			}
			if b != firewall.IPTables {
				return // the refusals below are the same for every backend
			}
			for _, tc := range outside {
				s := base()
				tc.edit(&s)
				err := s.Validate()
				if err == nil || !strings.Contains(err.Error(), tc.want) {
					t.Errorf("%s: Validate = %v, want an error naming %q", tc.name, err, tc.want)
				}
				if tc.nft != "" {
					if out, err := node.RunInput(tc.nft, "nft", "-c", "-f", "-"); err == nil {
						t.Errorf("%s: nft accepted it, so Validate is stricter than the tool:\n%s", tc.name, out)
					}
				}
				if tc.tool == "" {
					continue
				}
				for _, tool := range []string{"iptables-restore", "ip6tables-restore"} {
					if out, err := node.RunInput(tc.tool, tool, "--noflush"); err == nil {
						t.Errorf("%s: %s accepted it, so Validate is stricter than the tool:\n%s", tc.name, tool, out)
					}
				}
			}
		})
	}
}

// TestNoLockoutByDefault: a Node with neither Cluster nor Admin prefixes
// would close SSH, the kubelet and the API server to everyone; Validate
// refuses it unless AllowLockout says it is meant. One of the two is
// enough. Before, such a Spec validated and locked the operators out.
func TestNoLockoutByDefault(t *testing.T) {
	edge := []netip.Prefix{mp("192.0.2.0/24")}
	for _, tc := range []struct {
		name string
		node firewall.Node
		ok   bool
	}{
		{"edge only", firewall.Node{Interfaces: []string{"eth0"}, Edge: edge}, false},
		{"edge only, empty lists", firewall.Node{Interfaces: []string{"eth0"}, Edge: edge, Cluster: []netip.Prefix{}, Admin: []netip.Prefix{}}, false},
		{"edge only, lockout allowed", firewall.Node{Interfaces: []string{"eth0"}, Edge: edge, AllowLockout: true}, true},
		{"cluster", firewall.Node{Interfaces: []string{"eth0"}, Edge: edge, Cluster: edge}, true},
		{"admin", firewall.Node{Interfaces: []string{"eth0"}, Edge: edge, Admin: edge}, true},
		{"balancer only", firewall.Node{Interfaces: []string{"eth0"}, Balancer: edge}, true}, // kube-proxy healthz stays open
	} {
		err := tc.node.Spec().Validate()
		if (err == nil) != tc.ok {
			t.Errorf("%s: Validate = %v, want ok=%v", tc.name, err, tc.ok)
		}
		if err != nil && !strings.Contains(err.Error(), "closed to everyone") {
			t.Errorf("%s: error does not say what would happen: %v", tc.name, err)
		}
	}
	// The same holds for a hand-made Spec: no Local accept from anyone.
	s := firewall.Spec{
		Sets:       []firewall.Set{{Name: "edge", Prefixes: edge}, {Name: "admin"}},
		Rules:      []firewall.Rule{{Protocol: firewall.TCP, Ports: firewall.Port(22), From: "admin", Verdict: firewall.Accept}},
		Interfaces: []string{"eth0"},
	}
	if err := s.Validate(); err == nil {
		t.Error("a Spec whose only Local accept names an empty set validated")
	}
}

// TestRenderIsPure: Render needs no node state, gives the same text every
// time, and Backends cannot be changed by a caller.
func TestRenderIsPure(t *testing.T) {
	for name, spec := range goldenSpecs {
		for _, b := range firewall.Backends() {
			first, err := spec.Render(b)
			if err != nil {
				t.Fatal(err)
			}
			if again, _ := spec.Render(b); again != first {
				t.Errorf("%s/%s: two renders differ", name, b)
			}
		}
	}
	bs := firewall.Backends()
	bs[0] = "pf"
	if got := fmt.Sprint(firewall.Backends()); got != "[iptables ipset nftables]" {
		t.Errorf("Backends() = %s after a caller changed its result", got)
	}
}

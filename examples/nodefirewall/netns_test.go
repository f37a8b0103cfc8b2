//go:build linux

package main

import (
	"context"
	"io"
	"net/netip"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/originguard/originguard/internal/testbed/netns"
	"github.com/originguard/originguard/internal/testbed/testenv"
)

func TestMain(m *testing.M) { netns.Main(m) }

// TestApplyInNamespace runs the command with -apply inside a network
// namespace standing for a node, and checks with real packets that a
// NodePort answers the edge (from -edge-file) and nobody else. The host's
// own firewall is never touched: the apply and the tools it runs live in
// the namespace. A REDIRECT in nat PREROUTING stands for kube-proxy's DNAT
// of the NodePort (the Local stage passes the flows PreDNAT accepted, and
// judges every other flow by the port it arrives at).
func TestApplyInNamespace(t *testing.T) {
	for _, tc := range []struct {
		backend string
		needs   []testenv.Need
		listing []string
	}{
		{"nftables", []testenv.Need{testenv.NeedNFT, testenv.NeedIPTables}, []string{"nft", "list", "table", "inet", "originguard"}},
		{"iptables", []testenv.Need{testenv.NeedIPTables, testenv.NeedIP6Tables}, []string{"iptables-save"}},
	} {
		t.Run(tc.backend, func(t *testing.T) {
			testenv.Require(t, append([]testenv.Need{testenv.NeedRoot, testenv.NeedIPRoute, testenv.NeedConntrack}, tc.needs...)...)
			mp := netip.MustParsePrefix
			nodeNs := netns.New(t, "node")
			edgeNs := netns.New(t, "edge")
			strangerNs := netns.New(t, "stranger")
			edgeIf, _ := netns.Link(t, nodeNs, []netip.Prefix{mp("192.0.2.1/26")}, edgeNs, []netip.Prefix{mp("192.0.2.2/26")})
			strangerIf, _ := netns.Link(t, nodeNs, []netip.Prefix{mp("203.0.113.1/24")}, strangerNs, []netip.Prefix{mp("203.0.113.2/24")})
			nodeNs.ServeTCP(t, netip.MustParseAddrPort("0.0.0.0:8080"))
			nodeNs.MustRun(t, "iptables", "-t", "nat", "-A", "PREROUTING", "-p", "tcp", "--dport", "30080", "-j", "REDIRECT", "--to-ports", "8080")
			fromEdge, fromStranger := netip.MustParseAddrPort("192.0.2.1:30080"), netip.MustParseAddrPort("203.0.113.1:30080")
			if err := strangerNs.ProbeTCP(fromStranger, 2*time.Second); err != nil {
				t.Fatalf("before apply the stranger must get in, or the test proves nothing: %v", err)
			}

			args := []string{"-apply", "-backend", tc.backend, "-iface", edgeIf + "," + strangerIf,
				"-cluster", "198.51.100.0/24", "-edge-file", filepath.Join("testdata", "edge.txt")}
			apply := func() string {
				var out strings.Builder
				if err := nodeNs.Do(func() error { return run(context.Background(), &out, io.Discard, args) }); err != nil {
					t.Fatal(err)
				}
				if !strings.HasSuffix(out.String(), "# applied with "+tc.backend+"\n") {
					t.Errorf("output does not end by saying it applied:\n%s", out.String())
				}
				return nodeNs.MustRun(t, tc.listing[0], tc.listing[1:]...)
			}
			first := apply()
			for _, want := range []string{"192.0.2.0/26", edgeIf, strangerIf} {
				if !strings.Contains(first, want) {
					t.Errorf("%s lacks %q after apply:\n%s", tc.listing, want, first)
				}
			}
			if err := edgeNs.ProbeTCP(fromEdge, 2*time.Second); err != nil {
				t.Errorf("the edge cannot reach the NodePort: %v", err)
			}
			if err := strangerNs.ProbeTCP(fromStranger, 300*time.Millisecond); err == nil {
				t.Error("a stranger reached the NodePort")
			}
			if tc.backend == "iptables" {
				first = stripCounters(first)
			}
			again := apply()
			if tc.backend == "iptables" {
				again = stripCounters(again)
			}
			if diff := cmp.Diff(first, again); diff != "" {
				t.Errorf("applying again changed the rules (-first +again):\n%s", diff)
			}
		})
	}
}

// stripCounters drops what iptables-save changes on its own: comment lines
// (with timestamps) and packet counters.
func stripCounters(s string) string {
	var b strings.Builder
	for line := range strings.Lines(s) {
		if strings.HasPrefix(line, "#") {
			continue
		}
		if i := strings.Index(line, " ["); strings.HasPrefix(line, ":") && i > 0 {
			line = line[:i] + "\n"
		}
		b.WriteString(line)
	}
	return b.String()
}

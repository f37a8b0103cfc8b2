package main

import (
	"context"
	"io"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/originguard/originguard/internal/golden"

	"github.com/google/go-cmp/cmp"

	"github.com/originguard/originguard/allowlist"
	"github.com/originguard/originguard/internal/testbed"
)

func render(t *testing.T, args ...string) string {
	t.Helper()
	var out, errw strings.Builder
	if err := run(context.Background(), &out, &errw, args); err != nil {
		t.Fatalf("run %q: %v", args, err)
	}
	if errw.Len() > 0 {
		t.Errorf("run %q wrote to stderr: %s", args, errw.String())
	}
	return out.String()
}

// node is a typical Calico node: two interfaces, dual-stack cluster, an
// admin range, BGP and IPIP.
var node = []string{"-iface", "eth0", "-iface", "ens+", "-cluster", "10.0.0.0/8,fd00::/8",
	"-admin", "203.0.113.0/24", "-bgp", "-ipip"}

// TestRender checks the printed rule sets against golden files; the edge
// set is the embedded Cloudflare snapshot, so refresh them with -update
// when allowlist's snapshot changes.
func TestRender(t *testing.T) {
	for _, tc := range []struct{ golden, backend string }{
		{"nftables.txt", "nftables"},
		{"iptables.txt", "iptables"},
		{"ipset.txt", "ipset"},
	} {
		t.Run(tc.backend, func(t *testing.T) {
			got := render(t, append([]string{"-backend", tc.backend}, node...)...)
			golden.Check(t, tc.golden, got)
			// Composition: every embedded Cloudflare range is in the rule set.
			for _, p := range allowlist.Cloudflare().Prefixes() {
				if !strings.Contains(got, p.String()) {
					t.Errorf("Cloudflare range %s missing from the %s output", p, tc.backend)
				}
			}
		})
	}
}

func TestDefaultIsNFTablesOnEth0(t *testing.T) {
	got := render(t, "-cluster", "10.0.0.0/8")
	for _, want := range []string{"backend nftables", "# interfaces: eth0\n", "table inet originguard {", `iifname "eth0"`} {
		if !strings.Contains(got, want) {
			t.Errorf("output without flags lacks %q:\n%s", want, got)
		}
	}
}

func TestEdgeFile(t *testing.T) {
	got := render(t, append([]string{"-edge-file", filepath.Join("testdata", "edge.txt")}, node...)...)
	golden.Check(t, "edge-file.txt", got)
	for _, want := range []string{"192.0.2.0/26", "198.51.100.7", "2001:db8:1::/64", "2 IPv4 + 1 IPv6 prefixes from testdata/edge.txt"} {
		if !strings.Contains(got, want) {
			t.Errorf("edge file entry %q missing from the output", want)
		}
	}
	if strings.Contains(got, "173.245.48.0/20") {
		t.Error("the embedded Cloudflare ranges are still there: -edge-file must replace them")
	}
}

func TestBadFlags(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.txt")
	if err := os.WriteFile(bad, []byte("192.0.2.0/24\n104.16.0.0/33\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	empty := filepath.Join(dir, "empty.txt")
	if err := os.WriteFile(empty, []byte("# nothing yet\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		args []string
		want []string // every string must be in the error
	}{
		{[]string{"-backend", "pf"}, []string{`unknown backend "pf"`}},
		{[]string{"-cluster", "10.0.0.0/8,10.0.0.0/33"}, []string{"-cluster", `"10.0.0.0/33"`}},
		{[]string{"-admin", "office"}, []string{"-admin", `"office"`}},
		{[]string{"-iface", "lo", "-cluster", "10.0.0.0/8"}, []string{`"lo"`}},
		{[]string{"-edge-file", bad, "-cluster", "10.0.0.0/8"}, []string{bad, "104.16.0.0/33", "line 2"}},
		{[]string{"-edge-file", empty, "-cluster", "10.0.0.0/8"}, []string{empty, "no prefixes"}},
		{[]string{"-edge-file", filepath.Join(dir, "missing.txt"), "-cluster", "10.0.0.0/8"}, []string{"missing.txt"}},
		{[]string{"-apply"}, []string{"-apply needs -cluster"}},
		{nil, []string{"closed to everyone", "-allow-lockout"}},
		{[]string{"-balancer", "192.168.255.0/33"}, []string{"-balancer", `"192.168.255.0/33"`}},
		{[]string{"eth0"}, []string{`unexpected argument "eth0"`}},
		{[]string{"-nodes"}, []string{"-nodes"}},
	} {
		var out strings.Builder
		err := run(context.Background(), &out, io.Discard, tc.args)
		if err == nil {
			t.Errorf("run %q: no error", tc.args)
			continue
		}
		for _, w := range tc.want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("run %q: error %q does not name %q", tc.args, err, w)
			}
		}
		if out.Len() > 0 {
			t.Errorf("run %q: printed a rule set despite the error:\n%s", tc.args, out.String())
		}
	}
}

// TestApplyInNamespace runs the command with -apply inside a network
// namespace standing for a node, and checks with real packets that a
// NodePort answers the edge (from -edge-file) and nobody else. The host's
// own firewall is never touched: the apply and the tools it runs live in
// the namespace. A REDIRECT in nat PREROUTING stands for kube-proxy's DNAT
// of the NodePort (the Local stage passes only packets that were DNATed).
func TestApplyInNamespace(t *testing.T) {
	for _, tc := range []struct {
		backend string
		needs   []testbed.Need
		listing []string
	}{
		{"nftables", []testbed.Need{testbed.NeedNFT, testbed.NeedIPTables}, []string{"nft", "list", "table", "inet", "originguard"}},
		{"iptables", []testbed.Need{testbed.NeedIPTables, testbed.NeedIP6Tables}, []string{"iptables-save"}},
	} {
		t.Run(tc.backend, func(t *testing.T) {
			testbed.Require(t, append([]testbed.Need{testbed.NeedRoot, testbed.NeedIPRoute}, tc.needs...)...)
			mp := netip.MustParsePrefix
			nodeNs := testbed.NewNetns(t, "node")
			edgeNs := testbed.NewNetns(t, "edge")
			strangerNs := testbed.NewNetns(t, "stranger")
			edgeIf, _ := testbed.Link(t, nodeNs, []netip.Prefix{mp("192.0.2.1/26")}, edgeNs, []netip.Prefix{mp("192.0.2.2/26")})
			strangerIf, _ := testbed.Link(t, nodeNs, []netip.Prefix{mp("203.0.113.1/24")}, strangerNs, []netip.Prefix{mp("203.0.113.2/24")})
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

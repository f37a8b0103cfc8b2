package main

import (
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/originguard/originguard/internal/golden"

	"github.com/originguard/originguard/allowlist"
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

// TestEdgePorts: -edge-port opens a port on the node to the edge before
// DNAT, for an ingress controller on hostNetwork or a hostPort.
func TestEdgePorts(t *testing.T) {
	got := render(t, "-cluster", "10.0.0.0/8", "-edge-port", "443,8443/udp", "-edge-port", "9000-9100/sctp")
	for _, want := range []string{
		"# prednat tcp  443         from edge     accept host port 443/tcp from edge\n",
		"# prednat udp  8443        from edge     accept host port 8443/udp from edge\n",
		"# prednat sctp 9000-9100   from edge     accept host port 9000-9100/sctp from edge\n",
		"ip saddr @edge_v4 tcp dport 443 ct mark set ct mark or 0x8000000 accept",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("output lacks %q:\n%s", want, got)
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
		{[]string{"-edge-port", "443/icmp"}, []string{"-edge-port", `"443/icmp"`}},
		{[]string{"-edge-port", "90-80"}, []string{"-edge-port", `"90-80"`}},
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

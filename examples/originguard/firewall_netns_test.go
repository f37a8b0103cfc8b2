//go:build linux

package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/originguard/originguard/internal/testbed/netns"
	"github.com/originguard/originguard/internal/testbed/testenv"
)

// TestRenderedFirewallLoads loads the node firewall layer the sample
// renders, for every backend, with the real tools (nft -f, ipset restore,
// iptables-restore and ip6tables-restore --noflush) in a network namespace
// of its own: the files render writes are what the tools accept, as they
// are. What the rules do to packets is the firewall package's tests'
// business (and examples/nodefirewall's).
func TestRenderedFirewallLoads(t *testing.T) {
	for _, tc := range []struct {
		backend string
		needs   []testenv.Need
		load    [][]string // file, tool, args...
		listing []string
		want    string
	}{
		{"nftables", []testenv.Need{testenv.NeedNFT}, [][]string{{"firewall.nft", "nft", "-f", "-"}},
			[]string{"nft", "list", "table", "inet", "originguard"}, "table inet originguard"},
		{"iptables", []testenv.Need{testenv.NeedIPTables, testenv.NeedIP6Tables}, [][]string{
			{"firewall.ipv4.rules", "iptables-restore", "--noflush"}, {"firewall.ipv6.rules", "ip6tables-restore", "--noflush"}},
			[]string{"iptables-save"}, "ORIGINGUARD"},
		{"ipset", []testenv.Need{testenv.NeedIPSet, testenv.NeedIPTables, testenv.NeedIP6Tables}, [][]string{
			{"firewall.ipset", "ipset", "restore"}, {"firewall.ipv4.rules", "iptables-restore", "--noflush"}, {"firewall.ipv6.rules", "ip6tables-restore", "--noflush"}},
			[]string{"ipset", "list", "-n"}, "og-"},
	} {
		t.Run(tc.backend, func(t *testing.T) {
			testenv.Require(t, append([]testenv.Need{testenv.NeedRoot, testenv.NeedIPRoute}, tc.needs...)...)
			dir := t.TempDir()
			spec := strings.Replace(string(sampleSpec), "  firewall: nftables", "  firewall: "+tc.backend, 1)
			os.WriteFile(filepath.Join(dir, "spec.yaml"), []byte(spec), 0o644)
			out := filepath.Join(dir, "out")
			if _, err := runCLIOrErr(t, "render", "-f", filepath.Join(dir, "spec.yaml"), "-out", out); err != nil {
				t.Fatal(err)
			}
			node := netns.New(t, "node")
			for _, l := range tc.load {
				text, err := os.ReadFile(filepath.Join(out, l[0]))
				if err != nil {
					t.Fatal(err)
				}
				if res, err := node.RunInput(string(text), l[1], l[2:]...); err != nil {
					t.Fatalf("%s refuses %s: %v\n%s", l[1], l[0], err, res)
				}
			}
			if got := node.MustRun(t, tc.listing[0], tc.listing[1:]...); !strings.Contains(got, tc.want) {
				t.Errorf("after loading, %s shows no %q:\n%s", strings.Join(tc.listing, " "), tc.want, got)
			}
		})
	}
}

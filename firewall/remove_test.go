//go:build linux

package firewall_test

import (
	"context"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/originguard/originguard/firewall"
	"github.com/originguard/originguard/internal/testbed/testenv"
)

// foreignSets stand for kube-proxy's and Calico's ipsets: Remove must leave
// them alone.
func (x *bed) foreignSets(t *testing.T) {
	t.Helper()
	x.node.MustRun(t, "ipset", "create", "KUBE-LOOP-BACK", "hash:ip,port,ip")
	x.node.MustRun(t, "ipset", "create", "cali40all-ipam-pools", "hash:net")
	x.node.MustRun(t, "ipset", "add", "cali40all-ipam-pools", "198.51.100.0/24")
	x.node.MustRun(t, "ipset", "create", "og", "hash:net") // not og-*: not ours
	x.node.MustRun(t, "ipset", "add", "og", "192.0.2.0/24")
}

// strayJumps adds what an older version or a human may have left: a
// second jump from INPUT (at the end), a jump with a match from mangle
// PREROUTING straight into ORIGINGUARD-PREDNAT, and a chain of ours that
// the current package does not render, entered from INPUT.
func (x *bed) strayJumps(t *testing.T) {
	t.Helper()
	for _, tool := range []string{"iptables", "ip6tables"} {
		for _, args := range [][]string{
			{"-t", "filter", "-A", "INPUT", "-j", "ORIGINGUARD-INPUT"},
			{"-t", "mangle", "-A", "PREROUTING", "-i", "lo", "-j", "ORIGINGUARD-PREDNAT"},
			{"-t", "filter", "-N", "ORIGINGUARD-STALE"},
			{"-t", "filter", "-A", "ORIGINGUARD-STALE", "-p", "tcp", "--dport", "7", "-j", "RETURN"},
			{"-t", "filter", "-I", "INPUT", "2", "-p", "tcp", "-j", "ORIGINGUARD-STALE"},
		} {
			x.node.MustRun(t, tool, args...)
		}
	}
}

// everything is the node's whole firewall state, counters aside: both
// iptables-save outputs, and nft list ruleset and all ipsets where the
// backend's tools are there. Foreign objects are in it, byte for byte.
func (x *bed) everything(t *testing.T, b firewall.Backend) string {
	t.Helper()
	out := x.state(t, firewall.IPTables)
	switch b {
	case firewall.NFTables:
		out += counters.ReplaceAllString(x.node.MustRun(t, "nft", "list", "ruleset"), "counter")
	case firewall.IPSet:
		out += x.node.MustRun(t, "ipset", "save")
	}
	return out
}

// noneOfOurs fails t if any tool still lists an object of ours.
func (x *bed) noneOfOurs(t *testing.T, b firewall.Backend) {
	t.Helper()
	for _, tool := range []string{"iptables-save", "ip6tables-save"} {
		if out := x.node.MustRun(t, tool); strings.Contains(out, "ORIGINGUARD") {
			t.Errorf("%s still mentions ORIGINGUARD:\n%s", tool, out)
		}
	}
	if b == firewall.IPSet {
		for _, name := range strings.Fields(x.node.MustRun(t, "ipset", "list", "-n")) {
			if strings.HasPrefix(name, "og-") {
				t.Errorf("ipset %s remains", name)
			}
		}
	}
	if b == firewall.NFTables {
		if out := x.node.MustRun(t, "nft", "list", "ruleset"); strings.Contains(out, "originguard") {
			t.Errorf("nft list ruleset still mentions originguard:\n%s", out)
		}
	}
}

// readOnly are the only commands a Remove with nothing to remove may run.
var readOnly = []string{"iptables-nft-save", "ip6tables-nft-save", "iptables-nft-save -t mangle", "ip6tables-nft-save -t mangle", "iptables-legacy-save", "ip6tables-legacy-save", "ipset save", "nft list tables"}

func TestRemoveInNamespaces(t *testing.T) {
	for _, b := range firewall.Backends() {
		t.Run(string(b), func(t *testing.T) {
			x := newBed(t, b)
			if b == firewall.IPSet {
				x.foreignSets(t)
			}
			ctx := context.Background()
			pristine := x.everything(t, b)
			a := x.applier(b, x.runner())
			if err := a.Apply(ctx, x.spec()); err != nil {
				t.Fatal(err)
			}
			applied := x.state(t, b)
			if err := x.stranger.ProbeTCP(netip.AddrPortFrom(nodeFromStranger[0], nodePort), 700*time.Millisecond); err == nil {
				t.Fatal("with the firewall applied the stranger reached the NodePort: the bed shows nothing")
			}
			if b != firewall.NFTables {
				x.strayJumps(t)
			}

			if err := a.Remove(ctx); err != nil {
				t.Fatal(err)
			}
			x.noneOfOurs(t, b)
			if diff := cmp.Diff(pristine, x.everything(t, b)); diff != "" {
				t.Errorf("after apply and remove, the node is not as before (-before +after):\n%s", diff)
			}

			var ran []string
			run := x.runner()
			record := func(ctx context.Context, stdin, name string, args ...string) (string, error) {
				ran = append(ran, strings.Join(append([]string{name}, args...), " "))
				return run(ctx, stdin, name, args...)
			}
			if err := x.applier(b, record).Remove(ctx); err != nil {
				t.Fatalf("second remove: %v", err)
			}
			if len(ran) == 0 {
				t.Error("second remove ran no command: it did not even look")
			}
			for _, cmd := range ran {
				if !slices.Contains(readOnly, cmd) {
					t.Errorf("second remove ran %q, want only %q", cmd, readOnly)
				}
			}
			if diff := cmp.Diff(pristine, x.everything(t, b)); diff != "" {
				t.Errorf("second remove changed the node (-before +after):\n%s", diff)
			}
			x.check(t, false) // the stranger gets in again

			if err := a.Apply(ctx, x.spec()); err != nil {
				t.Fatalf("apply after remove: %v", err)
			}
			if diff := cmp.Diff(applied, x.state(t, b)); diff != "" {
				t.Errorf("apply after remove differs from the first apply (-first +again):\n%s", diff)
			}
			x.check(t, true)
		})
	}
}

// TestSwitchBackends follows doc.go: Remove with the old backend's
// Applier, then Apply with the new one, and nothing of the old one stays.
func TestSwitchBackends(t *testing.T) {
	x := newBed(t, firewall.NFTables)
	testenv.Require(t, testenv.NeedIPSet)
	ctx := context.Background()
	applier := func(b firewall.Backend) *firewall.Applier {
		return x.applier(b, x.runner())
	}
	if err := applier(firewall.IPTables).Apply(ctx, x.spec()); err != nil {
		t.Fatal(err)
	}
	if err := applier(firewall.IPTables).Remove(ctx); err != nil {
		t.Fatal(err)
	}
	if err := applier(firewall.NFTables).Apply(ctx, x.spec()); err != nil {
		t.Fatal(err)
	}
	for _, tool := range []string{"iptables-save", "ip6tables-save"} {
		if out := x.node.MustRun(t, tool); strings.Contains(out, "ORIGINGUARD") {
			t.Errorf("after switching iptables → nftables, %s still has:\n%s", tool, out)
		}
	}
	if out := x.node.MustRun(t, "nft", "list", "tables"); !strings.Contains(out, "table inet originguard") {
		t.Errorf("nftables backend not applied:\n%s", out)
	}
	x.check(t, true)

	// And back to a set-based iptables firewall.
	if err := applier(firewall.NFTables).Remove(ctx); err != nil {
		t.Fatal(err)
	}
	if err := applier(firewall.IPSet).Apply(ctx, x.spec()); err != nil {
		t.Fatal(err)
	}
	if out := x.node.MustRun(t, "nft", "list", "tables"); strings.Contains(out, "originguard") {
		t.Errorf("after switching nftables → ipset, the table remains:\n%s", out)
	}
	x.check(t, true)
}

// TestRemoveRollsBack breaks a Remove at every command it runs, in every
// way breakEveryStep knows, and checks each time that the node's rules are
// exactly as they were, stray jumps and all, at their positions.
func TestRemoveRollsBack(t *testing.T) {
	for _, b := range firewall.Backends() {
		t.Run(string(b), func(t *testing.T) {
			x := newBed(t, b)
			ctx := context.Background()
			pristine := x.state(t, b)
			install := func() {
				t.Helper()
				if err := x.applier(b, x.runner()).Apply(ctx, x.spec()); err != nil {
					t.Fatal(err)
				}
				if b != firewall.NFTables {
					x.strayJumps(t)
				}
			}
			install()
			installed := x.state(t, b)
			x.breakEveryStep(t, b, func(ctx context.Context, a *firewall.Applier) error { return a.Remove(ctx) },
				install, installed, pristine)
		})
	}
}

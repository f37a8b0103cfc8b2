package firewall

import (
	"net/netip"
	"strings"
	"testing"
)

const threeJumps = `*mangle
:PREROUTING ACCEPT [0:0]
-A PREROUTING -j cali-PREROUTING
-A PREROUTING -j ORIGINGUARD-PREROUTING
COMMIT
*filter
:INPUT ACCEPT [0:0]
-A INPUT -j ORIGINGUARD-INPUT
-A INPUT -j KUBE-FIREWALL
-A INPUT -j ORIGINGUARD-INPUT
-A INPUT -i eth0 -j ORIGINGUARD-INPUT
COMMIT
*nat
-A INPUT -j ORIGINGUARD-INPUT
COMMIT
`

// TestWithJumps checks that the restore input the Applier loads leaves exactly one jump
// from each built-in chain, whatever iptables-save showed: none, one, or
// several (only exact "-A INPUT -j ORIGINGUARD-INPUT" lines in the right
// table count).
func TestWithJumps(t *testing.T) {
	spec := Spec{
		Sets:       []Set{{Name: "office", Prefixes: []netip.Prefix{netip.MustParsePrefix("203.0.113.0/24")}}},
		Rules:      []Rule{{Comment: "HTTPS from the office", Protocol: TCP, Ports: Port(443), From: "office", Verdict: Accept}},
		Interfaces: []string{"eth0"},
	}
	for _, tc := range []struct {
		name          string
		saved         string
		wantD, wantI  int // for INPUT
		wantPD, wantP int // for PREROUTING
	}{
		{"first apply", "", 0, 1, 0, 1},
		{"already there", "*mangle\n-A PREROUTING -j ORIGINGUARD-PREROUTING\nCOMMIT\n*filter\n-A INPUT -j ORIGINGUARD-INPUT\nCOMMIT\n", 0, 0, 0, 0},
		{"duplicates", threeJumps, 2, 1, 0, 0},
	} {
		script, err := spec.Render(IPTables)
		if err != nil {
			t.Fatal(err)
		}
		rendered := script.IPv4
		script.IPv4 = withJumps(script.IPv4, tc.saved)
		script.IPv6 = withJumps(script.IPv6, "")
		var rest strings.Builder
		for line := range strings.Lines(script.IPv4) {
			if !strings.HasPrefix(line, "-I ") && !strings.HasPrefix(line, "-D ") {
				rest.WriteString(line)
			}
		}
		if rest.String() != rendered {
			t.Errorf("%s: withJumps changed more than the jump lines:\n%s", tc.name, script.IPv4)
		}
		got := [4]int{
			strings.Count(script.IPv4, "-D INPUT -j ORIGINGUARD-INPUT\n"),
			strings.Count(script.IPv4, "-I INPUT 1 -j ORIGINGUARD-INPUT\n"),
			strings.Count(script.IPv4, "-D PREROUTING -j ORIGINGUARD-PREROUTING\n"),
			strings.Count(script.IPv4, "-I PREROUTING 1 -j ORIGINGUARD-PREROUTING\n"),
		}
		if want := [4]int{tc.wantD, tc.wantI, tc.wantPD, tc.wantP}; got != want {
			t.Errorf("%s: -D/-I INPUT, -D/-I PREROUTING = %v, want %v", tc.name, got, want)
		}
		// IPv6 saw nothing: a first apply there, one jump per hook, each
		// in its table after our chains are declared.
		for _, want := range []string{
			"*mangle\n:ORIGINGUARD-PREROUTING - [0:0]\n:ORIGINGUARD-PREDNAT - [0:0]\n:ORIGINGUARD-MARK - [0:0]\n:ORIGINGUARD-FORWARD - [0:0]\n" +
				"-I PREROUTING 1 -j ORIGINGUARD-PREROUTING\n-I FORWARD 1 -j ORIGINGUARD-FORWARD\n",
			"*filter\n:ORIGINGUARD-INPUT - [0:0]\n:ORIGINGUARD-LOCAL - [0:0]\n-I INPUT 1 -j ORIGINGUARD-INPUT\n",
		} {
			if !strings.Contains(script.IPv6, want) {
				t.Errorf("%s: IPv6 input lacks\n%s\nin\n%s", tc.name, want, script.IPv6)
			}
		}
	}
}

// TestRenderHasNoJumps checks that Render, being pure, emits no line that
// touches a built-in chain: the jumps are the Applier's.
func TestRenderHasNoJumps(t *testing.T) {
	script, err := Node{Interfaces: []string{"eth0"}, AllowLockout: true}.Spec().Render(IPSet)
	if err != nil {
		t.Fatal(err)
	}
	for line := range strings.Lines(script.IPv4 + script.IPv6) {
		if strings.HasPrefix(line, "-I ") || strings.HasPrefix(line, "-D ") {
			t.Errorf("Render emitted %q", line)
		}
	}
}

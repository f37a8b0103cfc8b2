package firewall_test

import (
	"math/rand/v2"
	"net/netip"
	"strings"
	"testing"

	"github.com/originguard/originguard/internal/golden"

	"github.com/originguard/originguard/firewall"
)

var mp = netip.MustParsePrefix

// goldenSpecs are rendered for every backend and compared with
// testdata/<name>.<backend>.<part>.
var goldenSpecs = map[string]firewall.Spec{
	// Everything the preset can switch on, Reject, logging, a wildcard
	// interface, overlapping and unmasked prefixes (canonicalised).
	"node": firewall.Node{
		Interfaces: []string{"eth0", "ens+"},
		Cluster:    []netip.Prefix{mp("10.0.0.0/8"), mp("10.1.0.0/16"), mp("fd00::/8")},
		Edge:       []netip.Prefix{mp("2001:db8:1::/48"), mp("192.0.2.77/26"), mp("198.51.100.0/24")},
		Admin:      []netip.Prefix{mp("203.0.113.7/32")},
		BGP:        true, WireGuard: true, VXLAN: true, IPIP: true, Typha: true,
		Default: firewall.Reject,
		Log:     firewall.Log{PerMinute: 10},
	}.Spec(),
	// Every protocol kind, host ports, a balancer, another mark bit.
	"protocols": func() firewall.Spec {
		s := firewall.Node{
			Interfaces: []string{"eth0"},
			Cluster:    []netip.Prefix{mp("10.0.0.0/8")},
			Edge:       []netip.Prefix{mp("198.51.100.0/24"), mp("2001:db8:1::/48")},
			Balancer:   []netip.Prefix{mp("192.168.255.0/24")},
			HostPorts: []firewall.HostPort{
				{Protocol: firewall.TCP, Ports: firewall.Port(443), From: "edge"},
				{Protocol: firewall.UDP, Ports: firewall.Port(443), From: "edge"},
				{Protocol: firewall.SCTP, Ports: firewall.Ports(9000, 9100), From: "cluster"},
			},
			NodePorts: firewall.Ports(30000, 30999),
		}.Spec()
		s.ConnMark = 0x100
		for _, p := range []firewall.Protocol{firewall.VRRP, firewall.GRE, firewall.ESP, firewall.ProtocolNumber(1), firewall.ProtocolNumber(58)} {
			s.Rules = append(s.Rules, firewall.Rule{Comment: "protocol " + string(p), Protocol: p, From: "cluster", Verdict: firewall.Accept})
		}
		s.Rules = append(s.Rules,
			firewall.Rule{Comment: "SCTP from anyone", Protocol: firewall.SCTP, Ports: firewall.Port(3868), Verdict: firewall.Accept},
			firewall.Rule{Comment: "GRE from nobody else", Protocol: firewall.GRE, Verdict: firewall.Drop},
			firewall.Rule{Comment: "VRRP before DNAT", Stage: firewall.PreDNAT, Protocol: firewall.VRRP, From: "cluster", Verdict: firewall.Accept},
		)
		return s
	}(),
	// The smallest useful rule set: one hand-written rule, default drop.
	"minimal": {
		Sets:       []firewall.Set{{Name: "office", Prefixes: []netip.Prefix{mp("203.0.113.0/24")}}},
		Rules:      []firewall.Rule{{Comment: "HTTPS from the office", Protocol: firewall.TCP, Ports: firewall.Port(443), From: "office", Verdict: firewall.Accept}},
		Interfaces: []string{"eth0"},
	},
}

func TestRenderGolden(t *testing.T) {
	for name, spec := range goldenSpecs {
		for _, b := range firewall.Backends() {
			script, err := spec.Render(b)
			if err != nil {
				t.Fatalf("%s/%s: %v", name, b, err)
			}
			parts := map[string]string{"ipset": script.IPSet, "v4": script.IPv4, "v6": script.IPv6, "nft": script.NFT}
			for part, got := range parts {
				if got == "" {
					continue
				}
				golden.Check(t, name+"."+string(b)+"."+part, got)
			}
		}
	}
}

// TestRenderNeverTouchesOthers scans every rendered text for names of
// chains and tables that belong to someone else, and for restore commands
// that could remove or reorder rules outside our chains.
func TestRenderNeverTouchesOthers(t *testing.T) {
	for name, spec := range goldenSpecs {
		for _, b := range firewall.Backends() {
			script, err := spec.Render(b)
			if err != nil {
				t.Fatal(err)
			}
			for _, problem := range touchesOthers(script) {
				t.Errorf("%s/%s: %s", name, b, problem)
			}
		}
	}
}

// touchesOthers lists the lines of script that could touch a chain, table
// or set this package does not own.
func touchesOthers(script firewall.Script) []string {
	var problems []string
	for _, text := range []string{script.IPv4, script.IPv6} {
		for line := range strings.Lines(text) {
			f := strings.Fields(line)
			switch {
			case len(f) == 0:
				problems = append(problems, "empty line")
			case f[0] == "COMMIT":
			case strings.HasPrefix(f[0], "*"):
				if f[0] != "*mangle" && f[0] != "*filter" {
					problems = append(problems, "touches table "+f[0])
				}
			case strings.HasPrefix(f[0], ":"):
				if !strings.HasPrefix(f[0], ":ORIGINGUARD-") {
					problems = append(problems, "declares (flushes) "+f[0])
				}
			case f[0] == "-A":
				if !strings.HasPrefix(f[1], "ORIGINGUARD-") {
					problems = append(problems, "appends to "+f[1])
				}
			case f[0] == "-I" || f[0] == "-D":
				// only the jumps into our own chains
				if want := map[string]string{"INPUT": "ORIGINGUARD-INPUT", "PREROUTING": "ORIGINGUARD-PREROUTING"}[f[1]]; want == "" || f[len(f)-1] != want {
					problems = append(problems, "jump line "+line)
				}
			default:
				problems = append(problems, "unexpected command "+line)
			}
		}
	}
	for line := range strings.Lines(script.NFT) {
		f := strings.Fields(line)
		if len(f) > 0 && (f[0] == "table" || f[0] == "delete" || f[0] == "flush" || f[0] == "add") {
			if !strings.Contains(line, "table inet originguard") {
				problems = append(problems, "nft "+line)
			}
		}
	}
	for line := range strings.Lines(script.IPSet) {
		if f := strings.Fields(line); len(f) < 2 || !strings.HasPrefix(f[1], "og-") {
			problems = append(problems, "ipset "+line)
		}
	}
	return problems
}

// FuzzRenderText feeds arbitrary names, comments and log prefixes to a
// Spec. Whatever Validate accepts must render to text in which those
// strings cannot break out of their place: every line still touches only
// what this package owns, and the comment appears whole, in quotes.
func FuzzRenderText(f *testing.F) {
	f.Add("kubelet", "eth0", "edge", "originguard: ")
	f.Add("a\"\n-A INPUT -j ACCEPT", "eth+", "x", "p")
	f.Add("x", "lo+", "s_1", "")
	f.Fuzz(func(t *testing.T, comment, iface, set, prefix string) {
		spec := firewall.Spec{
			Sets:       []firewall.Set{{Name: set, Prefixes: []netip.Prefix{mp("192.0.2.0/24"), mp("2001:db8::/32")}}},
			Rules:      []firewall.Rule{{Comment: comment, Protocol: firewall.TCP, Ports: firewall.Port(22), From: set, Verdict: firewall.Accept}},
			Interfaces: []string{iface},
			Log:        firewall.Log{PerMinute: 1, Prefix: prefix},
		}
		if spec.Validate() != nil {
			return
		}
		for _, b := range firewall.Backends() {
			script, err := spec.Render(b)
			if err != nil {
				t.Fatalf("Validate accepted what Render refused: %v", err)
			}
			if problems := touchesOthers(script); len(problems) > 0 {
				t.Fatalf("%s: %q", b, problems)
			}
			if comment != "" && !strings.Contains(script.IPv4+script.NFT, `"`+comment+`"`) {
				t.Fatalf("%s: comment %q not found whole", b, comment)
			}
		}
	})
}

func TestValidate(t *testing.T) {
	ok := goldenSpecs["minimal"]
	for _, tc := range []struct {
		name  string
		edit  func(s *firewall.Spec)
		wants []string
	}{
		{"zero spec", func(s *firewall.Spec) { *s = firewall.Spec{} }, []string{"no interfaces"}},
		{"bad set name", func(s *firewall.Spec) { s.Sets[0].Name = "Office-1" }, []string{`name "Office-1"`, `unknown set "office"`}},
		{"duplicate set", func(s *firewall.Spec) { s.Sets = append(s.Sets, s.Sets[0]) }, []string{`set "office": defined twice`}},
		{"invalid prefix", func(s *firewall.Spec) { s.Sets[0].Prefixes = []netip.Prefix{{}} }, []string{"invalid prefix"}},
		{"mapped prefix", func(s *firewall.Spec) { s.Sets[0].Prefixes = []netip.Prefix{mp("::ffff:192.0.2.0/120")} }, []string{"IPv4-mapped"}},
		{"everything wrong in a rule", func(s *firewall.Spec) {
			s.Rules[0] = firewall.Rule{Comment: `say "hi"`, Stage: "output", Protocol: "icmp", Ports: firewall.Ports(90, 80), From: "nobody", Verdict: "allow"}
		}, []string{"comment", `unknown stage "output"`, `unknown protocol "icmp"`, "last before first", `unknown set "nobody"`, `unknown verdict "allow"`}},
		{"port zero", func(s *firewall.Spec) { s.Rules[0].Ports = firewall.PortRange{} }, []string{"ports start at 1"}},
		{"ipip with ports", func(s *firewall.Spec) { s.Rules[0].Protocol = firewall.IPIP }, []string{"ipip has no ports"}},
		{"reject before DNAT", func(s *firewall.Spec) {
			s.Rules[0].Stage, s.Rules[0].Verdict = firewall.PreDNAT, firewall.Reject
		}, []string{"not possible before DNAT"}},
		{"interfaces", func(s *firewall.Spec) {
			s.Interfaces = []string{"lo", "l+", "eth0", "eth0", "a/b", "waytoolonginterface0"}
		},
			[]string{`"lo": matches loopback`, `"l+": matches loopback`, `"eth0": listed twice`, `"a/b"`, `"waytoolonginterface0"`}},
		{"default accept", func(s *firewall.Spec) { s.Default = firewall.Accept }, []string{`default verdict "accept"`}},
		{"log", func(s *firewall.Spec) {
			s.Log = firewall.Log{PerMinute: -1, Prefix: "a prefix that is much too long for iptables"}
		},
			[]string{"rate -1/minute", "log prefix"}},
	} {
		s := ok
		s.Sets = append([]firewall.Set(nil), ok.Sets...)
		s.Rules = append([]firewall.Rule(nil), ok.Rules...)
		tc.edit(&s)
		err := s.Validate()
		if err == nil {
			t.Errorf("%s: Validate() = nil, want errors %q", tc.name, tc.wants)
			continue
		}
		for _, w := range tc.wants {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("%s: error lacks %q:\n%v", tc.name, w, err)
			}
		}
		if got := strings.Count(err.Error(), "\n") + 1; got < len(tc.wants) {
			t.Errorf("%s: %d problems reported, want at least %d:\n%v", tc.name, got, len(tc.wants), err)
		}
		for _, b := range firewall.Backends() {
			if script, rerr := s.Render(b); rerr == nil || script != (firewall.Script{}) {
				t.Errorf("%s: Render(%s) = %+v, %v; want the Validate error and no text", tc.name, b, script, rerr)
			}
		}
	}
	if err := ok.Validate(); err != nil {
		t.Errorf("minimal spec: %v", err)
	}
	if _, err := ok.Render("pf"); err == nil || !strings.Contains(err.Error(), `unknown backend "pf"`) {
		t.Errorf("Render(pf) error = %v", err)
	}
}

// TestCanonicalSets renders random overlapping prefixes and checks the set
// elements against a slow oracle: the elements are disjoint, masked, and
// cover exactly the addresses the input covered.
func TestCanonicalSets(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	randPrefix := func() netip.Prefix {
		a := netip.AddrFrom4([4]byte{10, byte(r.IntN(4)), byte(r.IntN(256)), byte(r.IntN(256))})
		return netip.PrefixFrom(a, 14+r.IntN(19)) // unmasked on purpose
	}
	for range 50 {
		var in []netip.Prefix
		for range 1 + r.IntN(40) {
			in = append(in, randPrefix())
		}
		spec := firewall.Spec{
			Sets:         []firewall.Set{{Name: "s", Prefixes: in}},
			Interfaces:   []string{"eth0"},
			AllowLockout: true,
		}
		script, err := spec.Render(firewall.IPSet)
		if err != nil {
			t.Fatal(err)
		}
		var out []netip.Prefix
		for line := range strings.Lines(script.IPSet) {
			if f := strings.Fields(line); f[0] == "add" && f[1] == "og-s-v4-new" {
				out = append(out, netip.MustParsePrefix(f[2]))
			}
		}
		for i, p := range out {
			if p != p.Masked() {
				t.Fatalf("element %s not masked", p)
			}
			for _, q := range out[i+1:] {
				if p.Overlaps(q) {
					t.Fatalf("elements %s and %s overlap (input %v)", p, q, in)
				}
			}
		}
		covers := func(ps []netip.Prefix, a netip.Addr) bool {
			for _, p := range ps {
				if p.Contains(a) {
					return true
				}
			}
			return false
		}
		for range 2000 {
			a := randPrefix().Addr()
			if covers(in, a) != covers(out, a) {
				t.Fatalf("%s: covered by input %v, by output %v", a, covers(in, a), covers(out, a))
			}
		}
		// the boundaries of every input prefix too
		for _, p := range in {
			p = p.Masked()
			if !covers(out, p.Addr()) {
				t.Fatalf("%s lost", p)
			}
		}
	}
}

// TestRenderPlainScales checks that the plain iptables backend writes one
// rule per prefix and rule, the ipset one one rule per rule, and nftables
// one element per prefix.
func TestRenderPlainScales(t *testing.T) {
	edge := manyPrefixes(10_000)
	spec := firewall.Node{Interfaces: []string{"eth0"}, Edge: edge, AllowLockout: true}.Spec()
	plain, err := spec.Render(firewall.IPTables)
	if err != nil {
		t.Fatal(err)
	}
	// two NodePort rules (TCP, UDP) from edge
	if got := strings.Count(plain.IPv4, "--dport 30000:32767 -m comment --comment \"NodePorts: the edge\" -g ORIGINGUARD-MARK\n"); got != 3*len(edge) {
		t.Errorf("plain: %d edge rules, want %d", got, 3*len(edge))
	}
	sets, _ := spec.Render(firewall.IPSet)
	if got := strings.Count(sets.IPv4, "--match-set og-edge-v4 src"); got != 3 {
		t.Errorf("ipset: %d edge rules, want 3", got)
	}
	if got := strings.Count(sets.IPSet, "add og-edge-v4-new "); got != len(edge) {
		t.Errorf("ipset: %d entries, want %d", got, len(edge))
	}
	nft, _ := spec.Render(firewall.NFTables)
	if got := strings.Count(nft.NFT, "/32"); got != len(edge) {
		t.Errorf("nft: %d elements, want %d", got, len(edge))
	}
}

// manyPrefixes returns n distinct, disjoint /32s in 10.0.0.0/8 (data only:
// nothing is ever sent to them).
func manyPrefixes(n int) []netip.Prefix {
	ps := make([]netip.Prefix, n)
	for i := range ps {
		ps[i] = netip.PrefixFrom(netip.AddrFrom4([4]byte{10, byte(i >> 16), byte(i >> 8), byte(i)}), 32)
	}
	return ps
}

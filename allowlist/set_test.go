package allowlist

import (
	"math/rand/v2"
	"net/netip"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func pfx(s string) netip.Prefix { return netip.MustParsePrefix(s) }
func addr(s string) netip.Addr  { return netip.MustParseAddr(s) }

func TestSetFromCanonicalises(t *testing.T) {
	tests := []struct {
		name string
		in   []string
		want []string
	}{
		{"empty", nil, nil},
		{"host bits cleared", []string{"192.0.2.77/24"}, []string{"192.0.2.0/24"}},
		{"duplicates", []string{"192.0.2.0/24", "192.0.2.0/24"}, []string{"192.0.2.0/24"}},
		{"covered dropped", []string{"192.0.2.0/28", "192.0.2.0/24", "192.0.2.200/32"}, []string{"192.0.2.0/24"}},
		{"siblings merge", []string{"192.0.2.0/25", "192.0.2.128/25"}, []string{"192.0.2.0/24"}},
		{"merge cascades", []string{"192.0.2.0/26", "192.0.2.64/26", "192.0.2.128/25"}, []string{"192.0.2.0/24"}},
		{"non-siblings stay", []string{"192.0.2.128/25", "192.0.3.0/25"}, []string{"192.0.2.128/25", "192.0.3.0/25"}},
		{"4in6 becomes 4", []string{"::ffff:192.0.2.0/120"}, []string{"192.0.2.0/24"}},
		{"IPv4 before IPv6", []string{"2001:db8::/32", "203.0.113.0/24"}, []string{"203.0.113.0/24", "2001:db8::/32"}},
		{"whole space", []string{"0.0.0.0/1", "128.0.0.0/1"}, []string{"0.0.0.0/0"}},
		{"v6 siblings", []string{"2001:db8::/33", "2001:db8:8000::/33"}, []string{"2001:db8::/32"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var in []netip.Prefix
			for _, s := range tt.in {
				in = append(in, pfx(s))
			}
			s, err := SetFrom(in)
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for p := range s.All() {
				got = append(got, p.String())
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("SetFrom(%v) (-want +got):\n%s", tt.in, diff)
			}
		})
	}
}

func TestSetFromRejects(t *testing.T) {
	_, err := SetFrom([]netip.Prefix{{}, pfx("192.0.2.0/24"), netip.PrefixFrom(addr("192.0.2.1"), 33)})
	if err == nil {
		t.Fatal("SetFrom accepted invalid prefixes")
	}
	for _, want := range []string{"prefix 0:", "prefix 2:"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not mention %q", err, want)
		}
	}
}

func TestParse(t *testing.T) {
	s, err := Parse("# comment\n\n 192.0.2.1 \r\n2001:db8::/32 # trailing\n198.51.100.0/24#tight")
	if err != nil {
		t.Fatal(err)
	}
	want := "192.0.2.1/32\n198.51.100.0/24\n2001:db8::/32\n"
	if got := s.String(); got != want {
		t.Errorf("Parse: got %q, want %q", got, want)
	}
	again, err := Parse(s.String())
	if err != nil || !again.Equal(s) {
		t.Errorf("round trip: %v, %v", again, err)
	}
	var u Set
	if err := u.UnmarshalText([]byte(want)); err != nil || !u.Equal(s) {
		t.Errorf("UnmarshalText: %v, %v", &u, err)
	}
	text, _ := s.MarshalText()
	if string(text) != want {
		t.Errorf("MarshalText = %q", text)
	}
}

func TestParseErrors(t *testing.T) {
	for _, in := range []string{"192.0.2.0/33", "fe80::1%eth0", "not-an-ip", "192.0.2.0/24 extra", "10.0.0.0/8,10.1.0.0/16"} {
		_, err := Parse("192.0.2.0/24\n" + in + "\n")
		if err == nil {
			t.Errorf("Parse(%q) accepted", in)
			continue
		}
		if !strings.Contains(err.Error(), "line 2") || !strings.Contains(err.Error(), strings.TrimSpace(in)) {
			t.Errorf("Parse(%q) error %q does not quote line 2 and the input", in, err)
		}
	}
}

func TestZeroSet(t *testing.T) {
	var z Set
	for _, s := range []Set{z, {}} {
		if s.Contains(addr("192.0.2.1")) || s.Len() != 0 || s.String() != "" {
			t.Errorf("empty set misbehaves: %v", s)
		}
		if _, ok := s.Lookup(addr("192.0.2.1")); ok {
			t.Error("empty set Lookup found something")
		}
		if !s.Equal(MustParse("")) {
			t.Error("empty sets differ")
		}
		if d := s.Diff(MustParse("192.0.2.0/24")); len(d.Added) != 1 || len(d.Removed) != 0 {
			t.Errorf("diff from empty = %+v", d)
		}
	}
}

func TestContainsSpecialAddresses(t *testing.T) {
	s := MustParse("192.0.2.0/24\n2001:db8::/32\n")
	tests := []struct {
		ip   netip.Addr
		want bool
	}{
		{addr("192.0.2.1"), true},
		{addr("::ffff:192.0.2.1"), true},
		{addr("2001:db8::1%eth0"), true},
		{addr("::192.0.2.1"), false}, // IPv4-compatible is not IPv4-mapped
		{addr("192.0.3.1"), false},
		{netip.Addr{}, false},
	}
	for _, tt := range tests {
		if got := s.Contains(tt.ip); got != tt.want {
			t.Errorf("Contains(%v) = %v, want %v", tt.ip, got, tt.want)
		}
		if _, ok := s.Lookup(tt.ip); ok != tt.want {
			t.Errorf("Lookup(%v) found = %v, want %v", tt.ip, ok, tt.want)
		}
	}
}

func TestContainsNoAllocs(t *testing.T) {
	s := Cloudflare()
	ip := addr("::ffff:104.16.1.1")
	if n := testing.AllocsPerRun(100, func() { s.Contains(ip) }); n != 0 {
		t.Errorf("Contains allocates %v times", n)
	}
}

// randomPrefixes makes n prefixes of both families, clustered so that they
// overlap and touch often.
func randomPrefixes(r *rand.Rand, n int) []netip.Prefix {
	out := make([]netip.Prefix, n)
	for i := range out {
		if r.IntN(2) == 0 {
			a := netip.AddrFrom4([4]byte{198, 51, byte(r.IntN(4)), byte(r.IntN(256))})
			out[i] = netip.PrefixFrom(a, 20+r.IntN(13)).Masked()
		} else {
			var b [16]byte
			b[0], b[1], b[2], b[3] = 0x20, 0x01, 0x0d, 0xb8
			b[4], b[5] = byte(r.IntN(4)), byte(r.IntN(256))
			out[i] = netip.PrefixFrom(netip.AddrFrom16(b), 36+r.IntN(13)).Masked()
		}
	}
	return out
}

// randomAddr returns an address near the clusters of randomPrefixes.
func randomAddr(r *rand.Rand) netip.Addr {
	if r.IntN(2) == 0 {
		return netip.AddrFrom4([4]byte{198, 51, byte(r.IntN(5)), byte(r.IntN(256))})
	}
	var b [16]byte
	b[0], b[1], b[2], b[3] = 0x20, 0x01, 0x0d, 0xb8
	b[4], b[5], b[6] = byte(r.IntN(5)), byte(r.IntN(256)), byte(r.IntN(256))
	return netip.AddrFrom16(b)
}

// linear is the obviously correct model: a list scanned in full.
type linear []netip.Prefix

func (l linear) contains(ip netip.Addr) bool {
	ip = ip.Unmap()
	return slices.ContainsFunc(l, func(p netip.Prefix) bool { return p.Contains(ip) })
}

func TestDifferentialAgainstLinearModel(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for round := range 50 {
		in := randomPrefixes(r, 1+r.IntN(200))
		model := linear(slices.Clone(in))
		s, err := SetFrom(in)
		if err != nil {
			t.Fatal(err)
		}
		// The aggregated list covers exactly the model's addresses...
		for range 500 {
			ip := randomAddr(r)
			if got, want := s.Contains(ip), model.contains(ip); got != want {
				t.Fatalf("round %d: Contains(%v) = %v, model says %v", round, ip, got, want)
			}
			if p, ok := s.Lookup(ip); ok != model.contains(ip) || ok && !p.Contains(ip) {
				t.Fatalf("round %d: Lookup(%v) = %v, %v", round, ip, p, ok)
			}
		}
		// ...with no two prefixes overlapping or mergeable.
		ps := s.Prefixes()
		for i := 1; i < len(ps); i++ {
			if ps[i-1].Overlaps(ps[i]) || comparePrefix(ps[i-1], ps[i]) >= 0 {
				t.Fatalf("round %d: %v and %v out of order or overlapping", round, ps[i-1], ps[i])
			}
		}
		if again := MustSetFrom(ps...); !again.Equal(s) {
			t.Fatalf("round %d: aggregation not idempotent", round)
		}
	}
}

func TestDiffAgainstLinearModel(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	for round := range 50 {
		a, b := randomPrefixes(r, r.IntN(60)), randomPrefixes(r, r.IntN(60))
		sa, sb := MustSetFrom(a...), MustSetFrom(b...)
		d := sa.Diff(sb)
		added, removed := linear(d.Added), linear(d.Removed)
		for range 500 {
			ip := randomAddr(r)
			inA, inB := linear(a).contains(ip), linear(b).contains(ip)
			if got := added.contains(ip); got != (inB && !inA) {
				t.Fatalf("round %d: %v in Added = %v; in old %v, in new %v", round, ip, got, inA, inB)
			}
			if got := removed.contains(ip); got != (inA && !inB) {
				t.Fatalf("round %d: %v in Removed = %v; in old %v, in new %v", round, ip, got, inA, inB)
			}
		}
		for _, part := range [][]netip.Prefix{d.Added, d.Removed} {
			if canon := MustSetFrom(slices.Clone(part)...).Prefixes(); !slices.Equal(canon, part) && len(part) > 0 {
				t.Fatalf("round %d: diff part %v is not aggregated (%v)", round, part, canon)
			}
		}
		if !sa.Diff(sa).IsEmpty() {
			t.Fatalf("round %d: diff of a set with itself is not empty", round)
		}
		u := sa.Union(sb)
		for range 200 {
			ip := randomAddr(r)
			if u.Contains(ip) != (sa.Contains(ip) || sb.Contains(ip)) {
				t.Fatalf("round %d: Union wrong at %v", round, ip)
			}
		}
	}
}

func TestDiffIsByAddress(t *testing.T) {
	old := MustParse("192.0.2.0/24\n")
	next := MustParse("192.0.2.0/25\n192.0.2.128/26\n198.51.100.0/24\n")
	got := old.Diff(next)
	want := Diff{Added: []netip.Prefix{pfx("198.51.100.0/24")}, Removed: []netip.Prefix{pfx("192.0.2.192/26")}}
	if d := cmp.Diff(want, got, cmp.Comparer(func(a, b netip.Prefix) bool { return a == b })); d != "" {
		t.Errorf("Diff (-want +got):\n%s", d)
	}
}

func FuzzParse(f *testing.F) {
	f.Add("192.0.2.0/24\n2001:db8::/32 # x\n")
	f.Add("::ffff:1.2.3.4/128\n0.0.0.0/0")
	f.Add("fe80::1%eth0\n")
	f.Add("#\n\n\r\n1.2.3.4")
	f.Fuzz(func(t *testing.T, text string) {
		s, err := Parse(text)
		if err != nil {
			if s.d != nil {
				t.Fatal("Parse returned a set and an error")
			}
			return
		}
		again, err := Parse(s.String())
		if err != nil {
			t.Fatalf("re-parsing %q: %v", s.String(), err)
		}
		if !again.Equal(s) {
			t.Fatalf("round trip changed %q into %q", s, again)
		}
		for p := range s.All() {
			if !p.IsValid() || p != p.Masked() || p.Addr().Is4In6() || p.Addr().Zone() != "" {
				t.Fatalf("non-canonical prefix %v from %q", p, text)
			}
			if !s.Contains(p.Addr()) {
				t.Fatalf("set does not contain its own prefix %v", p)
			}
		}
	})
}

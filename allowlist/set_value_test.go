package allowlist

import (
	"encoding/json"
	"math/rand/v2"
	"net/netip"
	"runtime"
	"slices"
	"sync"
	"testing"
)

// TestMappedAddressesAgree: for every set, an IPv4-mapped IPv6 address is
// the IPv4 address it maps, for Contains and Lookup alike. IPv6 prefixes
// that cover ::ffff:0:0/96 (::/0, ::/1, ::/8, ::fffe:0:0/95) must not make
// mapped addresses contained while their IPv4 form is not: that fails open
// for a dual-stack socket.
func TestMappedAddressesAgree(t *testing.T) {
	covering := []string{"::/0", "::/1", "::/8", "::fffe:0:0/95", "::ffff:0:0/95", "::/64", "::/80", "::ffff:0:0/94"}
	r := rand.New(rand.NewPCG(5, 6))
	randV4 := func() netip.Addr {
		return netip.AddrFrom4([4]byte{byte(r.IntN(256)), byte(r.IntN(256)), byte(r.IntN(256)), byte(r.IntN(256))})
	}
	for round := range 300 {
		var in []netip.Prefix
		for range r.IntN(6) {
			in = append(in, pfx(covering[r.IntN(len(covering))]))
		}
		for range r.IntN(20) {
			in = append(in, netip.PrefixFrom(randV4(), r.IntN(33)).Masked())
		}
		for range r.IntN(5) {
			var b [16]byte
			for i := range b {
				b[i] = byte(r.IntN(256))
			}
			in = append(in, netip.PrefixFrom(netip.AddrFrom16(b), r.IntN(129)).Masked())
		}
		s := MustSetFrom(in...)
		v4 := linear(slices.DeleteFunc(slices.Clone(in), func(p netip.Prefix) bool { return !p.Addr().Unmap().Is4() }))
		for range 200 {
			a := randV4()
			if r.IntN(3) == 0 && len(in) > 0 {
				if p := in[r.IntN(len(in))]; p.Addr().Is4() {
					a = p.Addr()
				}
			}
			m := netip.AddrFrom16(a.As16())
			want := v4.contains(a)
			lp, lok := s.Lookup(a)
			mp, mok := s.Lookup(m)
			if s.Contains(a) != want || s.Contains(m) != want || lok != want || mok != want || lp != mp {
				t.Fatalf("round %d, set %v: %v: Contains %v, mapped %v, Lookup %v %v, mapped %v %v; want %v",
					round, in, a, s.Contains(a), s.Contains(m), lp, lok, mp, mok, want)
			}
		}
	}
	for _, c := range covering {
		s := MustParse(c)
		if s.Contains(addr("::ffff:203.0.113.7")) {
			t.Errorf("Parse(%q).Contains(::ffff:203.0.113.7) = true", c)
		}
	}
}

// TestUnmarshalTextDoesNotWriteShared: decoding a config whose field
// defaulted to Cloudflare() must not rewrite the embedded list for the
// whole process.
func TestUnmarshalTextDoesNotWriteShared(t *testing.T) {
	before := Cloudflare().String()
	var cfg struct{ Trusted Set }
	cfg.Trusted = Cloudflare()
	if err := json.Unmarshal([]byte(`{"Trusted": "192.0.2.0/24\n"}`), &cfg); err != nil {
		t.Fatal(err)
	}
	if got := Cloudflare().String(); got != before {
		t.Fatalf("decoding into a copy rewrote Cloudflare():\n%s", got)
	}
	if cfg.Trusted.String() != "192.0.2.0/24\n" {
		t.Errorf("decoded %q", cfg.Trusted)
	}
	// A failed decode leaves the field as it was.
	cfg.Trusted = Cloudflare()
	if err := json.Unmarshal([]byte(`{"Trusted": "bogus"}`), &cfg); err == nil || !cfg.Trusted.Equal(Cloudflare()) {
		t.Errorf("bad decode: %v, %v", err, cfg.Trusted.Len())
	}
}

// TestUnmarshalTextNoRace: decoding into one handle while others read a
// copy of it is no data race (run with -race).
func TestUnmarshalTextNoRace(t *testing.T) {
	s := MustParse("198.51.100.0/24\n")
	shared := s
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for range 100 {
			_ = shared.Contains(addr("198.51.100.1"))
		}
	}()
	for range 20 {
		if err := s.UnmarshalText([]byte("192.0.2.0/24\n")); err != nil {
			t.Fatal(err)
		}
	}
	wg.Wait()
	if !shared.Contains(addr("198.51.100.1")) {
		t.Error("the shared copy changed")
	}
}

// TestMarshalTextValueInStruct: a Set value inside a struct marshals as its
// text, not as {}.
func TestMarshalTextValueInStruct(t *testing.T) {
	cfg := struct{ Trusted Set }{MustParse("192.0.2.0/24\n")}
	b, err := json.Marshal(cfg) // cfg is not addressable here
	if err != nil {
		t.Fatal(err)
	}
	if string(b) != `{"Trusted":"192.0.2.0/24\n"}` {
		t.Errorf("marshalled %s", b)
	}
}

// TestPrefixesDoNotAlias: what a Set returns is a copy.
func TestPrefixesDoNotAlias(t *testing.T) {
	s := MustParse("192.0.2.0/24\n")
	p := s.Prefixes()
	p[0] = pfx("10.0.0.0/8")
	if s.String() != "192.0.2.0/24\n" {
		t.Error("modifying Prefixes() changed the set")
	}
	e := Embedded()
	e.IPv4[0] = pfx("10.0.0.0/8")
	if Embedded().IPv4[0] == pfx("10.0.0.0/8") {
		t.Error("modifying Embedded() changed the embedded list")
	}
}

// TestSetFromDropsLargeInput: 2^20 /32s aggregate to one prefix; the Set
// must not keep the input-sized array (16 MiB) alive.
func TestSetFromDropsLargeInput(t *testing.T) {
	const len32MiB = 1 << 20 * 32 // 2^20 prefixes of 32 bytes
	in := make([]netip.Prefix, 1<<20)
	for i := range in {
		in[i] = netip.PrefixFrom(netip.AddrFrom4([4]byte{10, byte(i >> 16), byte(i >> 8), byte(i)}), 32)
	}
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	s := MustSetFrom(in...)
	in = nil
	runtime.GC()
	runtime.ReadMemStats(&after)
	if s.String() != "10.0.0.0/12\n" {
		t.Fatalf("aggregated to %q", s)
	}
	if cap(s.list()) != 1 {
		t.Errorf("the Set keeps a backing array of %d prefixes for 1", cap(s.list()))
	}
	// The input (32 MiB) is garbage now; what stays is the Set.
	if kept := int64(after.HeapAlloc) - (int64(before.HeapAlloc) - int64(len32MiB)); kept > 4<<20 {
		t.Errorf("a one-prefix set keeps %d bytes alive", kept)
	}
	runtime.KeepAlive(s)
}

// TestRefresherRangesDoNotAlias: Ranges and Change.Ranges are copies.
func TestRefresherRangesDoNotAlias(t *testing.T) {
	var r Refresher
	rg := r.Ranges()
	want := rg.IPv4[0]
	rg.IPv4[0] = pfx("10.0.0.0/8")
	if got := r.Ranges().IPv4[0]; got != want {
		t.Errorf("modifying Ranges() changed the list in use: %v", got)
	}
}

// TestCoveringPrefixModel checks a Set holding an IPv6 prefix that covers
// ::ffff:0:0/96 (indexed as its parts outside it) against the linear
// model: listing, Lookup, Diff and Union see the prefix itself.
func TestCoveringPrefixModel(t *testing.T) {
	covering := []string{"::/0", "::/1", "::/8", "::fffe:0:0/95", "::/64", "::/80", "::ffff:0:0/94"}
	r := rand.New(rand.NewPCG(7, 8))
	randSet := func() ([]netip.Prefix, Set) {
		var in []netip.Prefix
		if r.IntN(3) > 0 {
			in = append(in, pfx(covering[r.IntN(len(covering))]))
		}
		for range r.IntN(10) {
			a := netip.AddrFrom4([4]byte{byte(r.IntN(256)), byte(r.IntN(256)), 0, 0})
			in = append(in, netip.PrefixFrom(a, 8+r.IntN(17)).Masked())
		}
		for range r.IntN(5) {
			var b [16]byte
			b[0], b[1] = byte(r.IntN(256)), byte(r.IntN(256))
			in = append(in, netip.PrefixFrom(netip.AddrFrom16(b), 8+r.IntN(40)).Masked())
		}
		return in, MustSetFrom(in...)
	}
	probe := func() netip.Addr {
		switch r.IntN(4) {
		case 0:
			return netip.AddrFrom4([4]byte{byte(r.IntN(256)), byte(r.IntN(256)), 1, 1})
		case 1:
			return netip.AddrFrom16(netip.AddrFrom4([4]byte{byte(r.IntN(256)), byte(r.IntN(256)), 1, 1}).As16())
		case 2:
			var b [16]byte
			b[10], b[11], b[15] = 0xff, byte(r.IntN(2))*0xff, byte(r.IntN(256)) // around ::ffff:0:0/96
			b[9] = byte(r.IntN(2)) * 0xff
			return netip.AddrFrom16(b)
		default:
			var b [16]byte
			b[0], b[1], b[15] = byte(r.IntN(256)), byte(r.IntN(256)), 1
			return netip.AddrFrom16(b)
		}
	}
	for round := range 300 {
		inA, a := randSet()
		inB, b := randSet()
		all := a.Prefixes()
		if len(all) != a.Len() || a.Len4()+a.Len6() != a.Len() {
			t.Fatalf("round %d: %d prefixes listed, Len %d", round, len(all), a.Len())
		}
		for i := 1; i < len(all); i++ {
			if all[i-1].Overlaps(all[i]) || comparePrefix(all[i-1], all[i]) >= 0 {
				t.Fatalf("round %d: %v listed as %v", round, inA, all)
			}
		}
		if !MustSetFrom(all...).Equal(a) || !MustParse(a.String()).Equal(a) {
			t.Fatalf("round %d: %v does not round-trip", round, all)
		}
		d := a.Diff(b)
		u := a.Union(b)
		for range 200 {
			ip := probe()
			want := linear(inA).contains(ip)
			if a.Contains(ip) != want {
				t.Fatalf("round %d: %v.Contains(%v) = %v", round, inA, ip, !want)
			}
			if p, ok := a.Lookup(ip); ok != want || ok && !slices.Contains(all, p) {
				t.Fatalf("round %d: %v.Lookup(%v) = %v, %v; listed %v", round, inA, ip, p, ok, all)
			}
			inAm, inBm := linear(inA).contains(ip), linear(inB).contains(ip)
			if linear(d.Added).contains(ip) != (inBm && !inAm) || linear(d.Removed).contains(ip) != (inAm && !inBm) {
				t.Fatalf("round %d: diff of %v and %v wrong at %v: %v", round, inA, inB, ip, d)
			}
			if u.Contains(ip) != (inAm || inBm) {
				t.Fatalf("round %d: union wrong at %v", round, ip)
			}
		}
	}
}

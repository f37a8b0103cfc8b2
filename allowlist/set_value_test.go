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

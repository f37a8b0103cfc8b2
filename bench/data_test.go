package bench

import (
	"fmt"
	"math/rand/v2"
	"net"
	"net/netip"
	"sync"

	"github.com/gaissmai/bart"
	"github.com/originguard/originguard/allowlist"
	"github.com/yl2chen/cidranger"
	"go4.org/netipx"
)

// numProbes is how many addresses each data set is probed with; a power of
// two, so that loops pick the next probe with a mask instead of a division.
const numProbes = 1 << 12

// linearMax is the largest data set the linear scan is run on: at 1M
// prefixes one lookup takes milliseconds and tells nothing new.
const linearMax = 10_000

// numHot is how many distinct probes the target tests cycle through: few
// enough that their paths through the largest trie stay in cache.
const numHot = 256

// dataset is one list of prefixes, every structure built from it, and the
// addresses to look up.
type dataset struct {
	name string
	// raw is the number of prefixes generated, before aggregation.
	raw int
	// prefixes is what every structure holds: the Set's aggregated list.
	prefixes []netip.Prefix

	set    allowlist.Set
	lite   *bart.Lite
	fast   *bart.Fast[struct{}]
	table  *bart.Table[struct{}]
	ipset  *netipx.IPSet
	ranger cidranger.Ranger
	nets   []*net.IPNet

	// probes are the addresses looked up, half inside a prefix of the set
	// and half random, shuffled; netProbes are the same as net.IP, for
	// cidranger, converted once outside the timed loops.
	probes    []netip.Addr
	netProbes []net.IP
	// hot cycles through the first numHot probes only (numProbes long, so
	// that the same loops serve): their trie paths stay in cache.
	hot []netip.Addr
}

// datasets returns the three data sets in order of size. The 1M set is built
// once per process, on first use.
func datasets() []*dataset {
	return []*dataset{cloudflareData(), random10kData(), bgp1MData()}
}

var (
	cloudflareData = sync.OnceValue(func() *dataset {
		r := allowlist.Embedded()
		return build("cloudflare", r.All(), rand.New(rand.NewPCG(1, 2)))
	})
	random10kData = sync.OnceValue(func() *dataset {
		rng := rand.New(rand.NewPCG(1, 2))
		return build("random10k", randomPrefixes(rng, 7_000, 3_000), rng)
	})
	bgp1MData = sync.OnceValue(func() *dataset {
		rng := rand.New(rand.NewPCG(1, 2))
		return build("bgp1M", bgpPrefixes(rng, 800_000, 200_000), rng)
	})
)

// build makes every structure from raw and draws the probes from rng.
func build(name string, raw []netip.Prefix, rng *rand.Rand) *dataset {
	set, err := allowlist.SetFrom(raw)
	if err != nil {
		panic(fmt.Sprintf("data set %s: %v", name, err))
	}
	d := &dataset{
		name:     name,
		raw:      len(raw),
		prefixes: set.Prefixes(),
		set:      set,
		lite:     new(bart.Lite),
		fast:     new(bart.Fast[struct{}]),
		table:    new(bart.Table[struct{}]),
		ranger:   cidranger.NewPCTrieRanger(),
	}
	// One structure at a time, as a program would build its one table, so
	// that each gets its memory in one piece, as the Set did.
	for _, p := range d.prefixes {
		d.lite.Insert(p)
	}
	for _, p := range d.prefixes {
		d.fast.Insert(p, struct{}{})
	}
	for _, p := range d.prefixes {
		d.table.Insert(p, struct{}{})
	}
	var b netipx.IPSetBuilder
	for _, p := range d.prefixes {
		b.AddPrefix(p)
	}
	for _, p := range d.prefixes {
		if err := d.ranger.Insert(cidranger.NewBasicRangerEntry(*netipx.PrefixIPNet(p))); err != nil {
			panic(fmt.Sprintf("data set %s: cidranger: %v", name, err))
		}
	}
	if len(d.prefixes) <= linearMax {
		for _, p := range d.prefixes {
			d.nets = append(d.nets, netipx.PrefixIPNet(p))
		}
	}
	if d.ipset, err = b.IPSet(); err != nil {
		panic(fmt.Sprintf("data set %s: netipx: %v", name, err))
	}
	d.probes = probes(rng, d.prefixes)
	d.hot = make([]netip.Addr, numProbes)
	for i := range d.hot {
		d.hot[i] = d.probes[i%numHot]
	}
	d.netProbes = make([]net.IP, len(d.probes))
	for i, a := range d.probes {
		d.netProbes[i] = net.IP(a.AsSlice())
	}
	return d
}

// probes returns numProbes addresses: half inside a random prefix of the
// list (hits), half random unicast addresses, IPv4 or IPv6 (mostly misses),
// shuffled.
func probes(rng *rand.Rand, prefixes []netip.Prefix) []netip.Addr {
	out := make([]netip.Addr, numProbes)
	for i := range out {
		if i%2 == 0 {
			out[i] = randomIn(rng, prefixes[rng.IntN(len(prefixes))])
		} else {
			out[i] = randomUnicast(rng, rng.IntN(2) == 0)
		}
	}
	rng.Shuffle(len(out), func(i, j int) { out[i], out[j] = out[j], out[i] })
	return out
}

// randomIn returns a random address inside p.
func randomIn(rng *rand.Rand, p netip.Prefix) netip.Addr {
	b := p.Masked().Addr().As16()
	off := 0
	if p.Addr().Is4() {
		off = 96
	}
	for bit := off + p.Bits(); bit < 128; bit++ {
		if rng.IntN(2) == 1 {
			b[bit/8] |= 0x80 >> (bit % 8)
		}
	}
	a := netip.AddrFrom16(b)
	if p.Addr().Is4() {
		a = a.Unmap()
	}
	return a
}

var (
	unicast4 = netip.MustParsePrefix("0.0.0.0/0")
	unicast6 = netip.MustParsePrefix("2000::/3") // global unicast
)

// randomUnicast returns a random IPv4 address in 1.0.0.0-223.255.255.255
// or a random IPv6 address in 2000::/3.
func randomUnicast(rng *rand.Rand, v4 bool) netip.Addr {
	if !v4 {
		return randomIn(rng, unicast6)
	}
	for {
		a := randomIn(rng, unicast4)
		if o := a.As4()[0]; o >= 1 && o <= 223 {
			return a
		}
	}
}

// randomPrefixes returns n4 IPv4 prefixes of /16 to /32 and n6 IPv6
// prefixes of /20 to /64, uniformly.
func randomPrefixes(rng *rand.Rand, n4, n6 int) []netip.Prefix {
	out := make([]netip.Prefix, 0, n4+n6)
	for range n4 {
		out = append(out, netip.PrefixFrom(randomUnicast(rng, true), 16+rng.IntN(17)).Masked())
	}
	for range n6 {
		out = append(out, netip.PrefixFrom(randomUnicast(rng, false), 20+rng.IntN(45)).Masked())
	}
	return out
}

// weighted is a distribution of prefix lengths: bits with relative weights.
type weighted []struct{ bits, weight int }

func (w weighted) draw(rng *rand.Rand) int {
	total := 0
	for _, e := range w {
		total += e.weight
	}
	n := rng.IntN(total)
	for _, e := range w {
		if n < e.weight {
			return e.bits
		}
		n -= e.weight
	}
	panic("unreachable")
}

// Prefix lengths roughly as in a full BGP table: IPv4 mostly /24, IPv6
// mostly /48, with fewer broad prefixes than a real table has, so that most
// survive aggregation.
var (
	bgpBits4 = weighted{{24, 700}, {23, 110}, {22, 100}, {21, 40}, {20, 30}, {19, 10}, {18, 6}, {17, 2}, {16, 2}}
	bgpBits6 = weighted{{48, 600}, {44, 80}, {40, 60}, {32, 50}, {46, 50}, {47, 40}, {45, 30}, {42, 30}, {36, 20}, {56, 30}, {29, 10}}
	// rirBlocks are where IPv6 allocations come from; a BGP table's IPv6
	// prefixes cluster in them rather than spread over 2000::/3.
	rirBlocks = []netip.Prefix{
		netip.MustParsePrefix("2001::/16"), netip.MustParsePrefix("2400::/12"),
		netip.MustParsePrefix("2600::/12"), netip.MustParsePrefix("2800::/12"),
		netip.MustParsePrefix("2a00::/12"), netip.MustParsePrefix("2c00::/12"),
	}
)

// bgpPrefixes returns exactly n4 IPv4 and n6 IPv6 prefixes shaped like a
// BGP table that are already aggregated (no prefix covers another, no two
// merge), so that every structure holds n4+n6 prefixes. IPv4 prefixes are
// spread over unicast space; IPv6 ones fall inside 100k random /32
// allocations of the RIR blocks. It draws in batches until aggregation
// leaves enough of each family, then keeps a random n4 and n6 of them (a
// subset of an aggregated list is still aggregated).
func bgpPrefixes(rng *rand.Rand, n4, n6 int) []netip.Prefix {
	allocs := make([]netip.Prefix, 100_000)
	for i := range allocs {
		block := rirBlocks[rng.IntN(len(rirBlocks))]
		allocs[i] = netip.PrefixFrom(randomIn(rng, block), 32).Masked()
	}
	var raw []netip.Prefix
	for more4, more6 := n4*4/3, n6*4/3; ; more4, more6 = n4/8, n6/8 {
		for range more4 {
			raw = append(raw, netip.PrefixFrom(randomUnicast(rng, true), bgpBits4.draw(rng)).Masked())
		}
		for range more6 {
			alloc := allocs[rng.IntN(len(allocs))]
			raw = append(raw, netip.PrefixFrom(randomIn(rng, alloc), bgpBits6.draw(rng)).Masked())
		}
		set, err := allowlist.SetFrom(raw)
		if err != nil {
			panic(err)
		}
		if set.Len4() < n4 || set.Len6() < n6 {
			continue
		}
		agg := set.Prefixes()
		v4, v6 := agg[:set.Len4()], agg[set.Len4():]
		rng.Shuffle(len(v4), func(i, j int) { v4[i], v4[j] = v4[j], v4[i] })
		rng.Shuffle(len(v6), func(i, j int) { v6[i], v6[j] = v6[j], v6[i] })
		return append(v4[:n4:n4], v6[:n6]...)
	}
}

package allowlist

import (
	"cmp"
	"errors"
	"fmt"
	"iter"
	"net/netip"
	"slices"
	"strings"

	"github.com/gaissmai/bart"
)

// Matcher reports whether an address is trusted. [Set] and [*Refresher]
// implement it; so can anything else a caller wants to trust.
type Matcher interface {
	Contains(ip netip.Addr) bool
}

// Set is an immutable set of IP prefixes, IPv4 and IPv6.
//
// A Set holds the smallest list of prefixes that covers exactly the addresses
// it was built from: masked, de-duplicated, with covered prefixes dropped and
// adjacent halves merged. Two Sets of the same addresses are therefore
// [Set.Equal] whatever lists they were built from.
//
// An IPv4-mapped IPv6 address (::ffff:192.0.2.1) is the IPv4 address it
// maps: [Set.Contains] and [Set.Lookup] answer for it exactly as for
// 192.0.2.1, whatever IPv6 prefixes the set holds (::/0 does not contain
// it). Lookups go to a github.com/gaissmai/bart table (its Fast variant,
// the quickest to look up). So that Contains finds ::ffff:192.0.2.1 with
// no conversion and stays small enough to be inlined, every IPv4 prefix is
// indexed a second time in its IPv4-mapped form, and an IPv6 prefix that
// covers ::ffff:0:0/96 (such as ::/0) is indexed as the prefixes that make
// it up outside that block; the table is therefore larger than an
// IPv4-only one, by the IPv4 part.
//
// A Set is a value, like [netip.Prefix]: a small handle to data that is
// never modified after it is built, so copies share it safely and it is
// safe for any number of goroutines. [Set.UnmarshalText] replaces the
// handle it is called on and never touches the data other copies hold. To
// change the trusted addresses, build a new Set and swap it (as [Refresher]
// does). The zero value is the empty set.
type Set struct {
	d *setData
}

// setData is what a Set holds. It is never modified after build. The
// table holds the aggregated prefixes, the IPv4-mapped copies of the IPv4
// ones, and, for the one IPv6 prefix that may cover mapped (the prefixes
// are disjoint), its parts outside mapped instead of itself. Listing walks
// the table (bart's sorted order is the canonical one for disjoint
// prefixes), leaving the copies out and putting cover back in place of its
// parts.
type setData struct {
	table  bart.Fast[struct{}]
	cover  netip.Prefix // the IPv6 prefix covering mapped, if any
	n4, n6 int          // aggregated prefixes per family
}

// mapped is the IPv4-mapped IPv6 block.
var mapped = netip.MustParsePrefix("::ffff:0:0/96")

// SetFrom builds a Set from prefixes. Every prefix must be valid; host bits
// are cleared ("192.0.2.1/24" becomes 192.0.2.0/24), IPv4-mapped IPv6
// prefixes such as ::ffff:192.0.2.0/120 become IPv4, and duplicates and
// covered prefixes are dropped. An invalid prefix is an error that names its
// position.
func SetFrom(prefixes []netip.Prefix) (Set, error) {
	var errs []error
	clean := make([]netip.Prefix, 0, len(prefixes))
	for i, p := range prefixes {
		c, err := canonical(p)
		if err != nil {
			errs = append(errs, fmt.Errorf("prefix %d: %w", i, err))
			continue
		}
		clean = append(clean, c)
	}
	if err := errors.Join(errs...); err != nil {
		return Set{}, fmt.Errorf("allowlist: %w", err)
	}
	return build(clean), nil
}

// MustSetFrom is like [SetFrom] but panics on invalid input. It is meant for
// tests and literals.
func MustSetFrom(prefixes ...netip.Prefix) Set {
	s, err := SetFrom(prefixes)
	if err != nil {
		panic(err)
	}
	return s
}

// Parse reads a Set from text: one prefix or address per line (an address
// stands for itself, as a /32 or /128), blank lines ignored, and "#" starting
// a comment to the end of the line. This is the format of Cloudflare's
// published lists and of [Set.String], so a Set round-trips through files and
// ConfigMaps. Every bad line is reported, quoted with its line number.
func Parse(text string) (Set, error) {
	prefixes, err := parseLines(text)
	if err != nil {
		return Set{}, fmt.Errorf("allowlist: %w", err)
	}
	return build(prefixes), nil
}

// parseLines parses the format of [Parse], keeping the order of the lines.
func parseLines(text string) ([]netip.Prefix, error) {
	var (
		errs     []error
		prefixes []netip.Prefix
	)
	for i, field := range strings.Split(text, "\n") {
		if c := strings.IndexByte(field, '#'); c >= 0 {
			field = field[:c]
		}
		field = strings.TrimSpace(field)
		if field == "" {
			continue
		}
		p, err := parsePrefix(field)
		if err != nil {
			errs = append(errs, fmt.Errorf("line %d: %w", i+1, err))
			continue
		}
		prefixes = append(prefixes, p)
	}
	return prefixes, errors.Join(errs...)
}

// MustParse is like [Parse] but panics on invalid input. It is meant for
// tests and literals.
func MustParse(text string) Set {
	s, err := Parse(text)
	if err != nil {
		panic(err)
	}
	return s
}

// parsePrefix parses one prefix or bare address and canonicalises it.
func parsePrefix(s string) (netip.Prefix, error) {
	var (
		p   netip.Prefix
		err error
	)
	if strings.IndexByte(s, '/') >= 0 {
		p, err = netip.ParsePrefix(s)
	} else {
		var a netip.Addr
		if a, err = netip.ParseAddr(s); err == nil {
			if a.Zone() != "" {
				return netip.Prefix{}, fmt.Errorf("%q: zones are not allowed", s)
			}
			p = netip.PrefixFrom(a, a.BitLen())
		}
	}
	if err != nil {
		return netip.Prefix{}, err // netip's errors quote the input
	}
	return canonical(p)
}

// canonical masks p and turns an IPv4-mapped IPv6 prefix into IPv4.
func canonical(p netip.Prefix) (netip.Prefix, error) {
	if !p.IsValid() {
		return netip.Prefix{}, fmt.Errorf("%q is not a valid prefix", p)
	}
	p = p.Masked()
	if a := p.Addr(); a.Is4In6() {
		// Masked, so /96 or longer: shorter ones clear a bit of the ffff.
		p = netip.PrefixFrom(a.Unmap(), p.Bits()-96)
	}
	return p, nil
}

// build aggregates canonical prefixes and indexes them. It owns prefixes,
// which the Set does not keep.
func build(prefixes []netip.Prefix) Set {
	d := &setData{}
	for _, p := range aggregate(prefixes) {
		switch {
		case p.Addr().Is4():
			d.n4++
			d.table.Insert(p, struct{}{})
			// Also as IPv4-mapped IPv6, so that bart finds ::ffff:192.0.2.1
			// itself and Contains needs no Unmap (and stays inlinable).
			d.table.Insert(netip.PrefixFrom(netip.AddrFrom16(p.Addr().As16()), p.Bits()+96), struct{}{})
		case p.Bits() <= mapped.Bits() && p.Contains(mapped.Addr()):
			// Mapped addresses are IPv4: index p less the mapped block.
			d.n6++
			d.cover = p
			for _, q := range appendMinus(nil, p, []netip.Prefix{mapped}) {
				d.table.Insert(q, struct{}{})
			}
		default:
			d.n6++
			d.table.Insert(p, struct{}{})
		}
	}
	return Set{d: d}
}

// isPart reports whether q, a prefix of the table, is a mapped copy or a
// part of cover rather than one of the set's prefixes.
func (d *setData) isPart(q netip.Prefix) bool {
	return q.Addr().Is4In6() || d.cover.IsValid() && q != d.cover && d.cover.Contains(q.Addr())
}

// within returns the set's prefixes that lie inside p (p itself included).
func (s Set) within(p netip.Prefix) iter.Seq[netip.Prefix] {
	return func(yield func(netip.Prefix) bool) {
		if s.d == nil {
			return
		}
		c := s.d.cover
		if c.IsValid() && p.Bits() <= c.Bits() && p.Contains(c.Addr()) {
			if !yield(c) {
				return
			}
		}
		for q := range s.d.table.Subnets(p) {
			if !s.d.isPart(q) && !yield(q) {
				return
			}
		}
	}
}

// covers reports whether every address of p is in s.
func (s Set) covers(p netip.Prefix) bool {
	if s.d == nil {
		return false
	}
	if c := s.d.cover; c.IsValid() && c.Bits() <= p.Bits() && c.Contains(p.Addr()) {
		return true
	}
	_, _, ok := s.d.table.LookupPrefixLPM(p)
	return ok
}

// comparePrefix orders IPv4 before IPv6, then by address, then broader first.
func comparePrefix(a, b netip.Prefix) int {
	if c := a.Addr().Compare(b.Addr()); c != 0 {
		return c
	}
	return cmp.Compare(a.Bits(), b.Bits())
}

// aggregate returns the smallest list of prefixes covering the same addresses
// as in, sorted by comparePrefix. Prefixes must be masked. It reuses in.
func aggregate(in []netip.Prefix) []netip.Prefix {
	slices.SortFunc(in, comparePrefix)
	out := in[:0]
	for _, p := range in {
		if n := len(out); n > 0 && out[n-1].Overlaps(p) {
			// Sorted input: an overlapping predecessor starts no later and
			// is at least as broad, so it covers p.
			continue
		}
		out = append(out, p)
		// Merge sibling halves bottom-up: 192.0.2.0/25 + 192.0.2.128/25.
		for n := len(out); n >= 2; n = len(out) {
			a, b := out[n-2], out[n-1]
			if a.Bits() != b.Bits() || a.Bits() == 0 {
				break
			}
			parent := netip.PrefixFrom(a.Addr(), a.Bits()-1).Masked()
			if parent.Addr() != a.Addr() || !parent.Contains(b.Addr()) {
				break
			}
			out = append(out[:n-2], parent)
		}
	}
	return out
}

// Contains reports whether ip is in the set. An IPv4-mapped IPv6 address
// (::ffff:192.0.2.1) is looked up as the IPv4 address it maps, and a zone
// is ignored. It does not allocate, and it is inlined.
func (s Set) Contains(ip netip.Addr) bool {
	if s.d == nil {
		return false
	}
	return s.d.table.Contains(ip)
}

// Lookup returns the prefix of the set that contains ip — one of the
// aggregated prefixes listed by [Set.All] — and whether there is one. Like
// Contains, it looks an IPv4-mapped address up as IPv4.
func (s Set) Lookup(ip netip.Addr) (netip.Prefix, bool) {
	if s.d == nil || !ip.IsValid() {
		return netip.Prefix{}, false
	}
	ip = ip.Unmap().WithZone("")
	p, _, ok := s.d.table.LookupPrefixLPM(netip.PrefixFrom(ip, ip.BitLen()))
	if ok && s.d.isPart(p) {
		p = s.d.cover // IPv4 addresses are unmapped, so a part of cover
	}
	return p, ok
}

// All returns the set's prefixes in canonical order: IPv4 before IPv6, then
// by address.
func (s Set) All() iter.Seq[netip.Prefix] {
	return func(yield func(netip.Prefix) bool) {
		if s.d == nil {
			return
		}
		coverDone := false
		for p := range s.d.table.AllSorted() {
			if s.d.isPart(p) {
				if p.Addr().Is4In6() || coverDone {
					continue
				}
				// The first part of cover in order starts where cover does.
				p, coverDone = s.d.cover, true
			}
			if !yield(p) {
				return
			}
		}
	}
}

// Prefixes returns the set's prefixes in the order of [Set.All], in a slice
// of the caller's own.
func (s Set) Prefixes() []netip.Prefix {
	return s.list()
}

// Len returns the number of prefixes in the set after aggregation.
func (s Set) Len() int { return s.Len4() + s.Len6() }

// Len4 returns the number of IPv4 prefixes in the set.
func (s Set) Len4() int {
	if s.d == nil {
		return 0
	}
	return s.d.n4
}

// Len6 returns the number of IPv6 prefixes in the set.
func (s Set) Len6() int {
	if s.d == nil {
		return 0
	}
	return s.d.n6
}

// list returns the set's prefixes in canonical order, newly collected.
func (s Set) list() []netip.Prefix {
	if s.Len() == 0 {
		return nil
	}
	out := make([]netip.Prefix, 0, s.Len())
	for p := range s.All() {
		out = append(out, p)
	}
	return out
}

// Equal reports whether s and o hold the same addresses.
func (s Set) Equal(o Set) bool {
	return slices.Equal(s.list(), o.list())
}

// Union returns a Set of the addresses in s or in o.
func (s Set) Union(o Set) Set {
	all := make([]netip.Prefix, 0, s.Len()+o.Len())
	for p := range s.All() {
		all = append(all, p)
	}
	for p := range o.All() {
		all = append(all, p)
	}
	return build(all)
}

// Diff says how the addresses of one Set differ from another's.
type Diff struct {
	// Added holds the addresses in the newer set only, as the fewest prefixes.
	Added []netip.Prefix
	// Removed holds the addresses in the older set only, as the fewest prefixes.
	Removed []netip.Prefix
}

// IsEmpty reports whether the two sets held the same addresses.
func (d Diff) IsEmpty() bool { return len(d.Added) == 0 && len(d.Removed) == 0 }

// String lists the change one prefix per line, "+" for added and "-" for
// removed.
func (d Diff) String() string {
	var b strings.Builder
	for _, p := range d.Added {
		fmt.Fprintf(&b, "+%s\n", p)
	}
	for _, p := range d.Removed {
		fmt.Fprintf(&b, "-%s\n", p)
	}
	return b.String()
}

// Diff reports the addresses that newer adds to s and those it removes,
// address by address: 192.0.2.0/24 replaced by 192.0.2.0/25 is the removal of
// 192.0.2.128/25, not of a /24 and the addition of a /25.
func (s Set) Diff(newer Set) Diff {
	return Diff{Added: subtract(newer, s), Removed: subtract(s, newer)}
}

// subtract returns the addresses of a that are not in b, aggregated.
func subtract(a, b Set) []netip.Prefix {
	var out []netip.Prefix
	for p := range a.All() {
		if b.Len() == 0 {
			out = append(out, p)
			continue
		}
		if b.covers(p) {
			continue
		}
		out = appendMinus(out, p, slices.Collect(b.within(p)))
	}
	return out
}

// appendMinus appends p less the holes (all inside p, pairwise disjoint) to out.
func appendMinus(out []netip.Prefix, p netip.Prefix, holes []netip.Prefix) []netip.Prefix {
	if len(holes) == 0 {
		return append(out, p)
	}
	for _, h := range holes {
		if h == p {
			return out
		}
	}
	lo := netip.PrefixFrom(p.Addr(), p.Bits()+1)
	hi := netip.PrefixFrom(upperHalf(p), p.Bits()+1)
	var inLo, inHi []netip.Prefix
	for _, h := range holes {
		if lo.Contains(h.Addr()) {
			inLo = append(inLo, h)
		} else {
			inHi = append(inHi, h)
		}
	}
	out = appendMinus(out, lo, inLo)
	return appendMinus(out, hi, inHi)
}

// upperHalf returns the first address of the upper half of p (p.Bits() less
// than the address length).
func upperHalf(p netip.Prefix) netip.Addr {
	b := p.Addr().As16()
	off := 0
	if p.Addr().Is4() {
		off = 12
	}
	bit := off*8 + p.Bits()
	b[bit/8] |= 0x80 >> (bit % 8)
	a := netip.AddrFrom16(b)
	if p.Addr().Is4() {
		a = a.Unmap()
	}
	return a
}

// String returns the set one prefix per line, in canonical order, each line
// ending in a newline: the format [Parse] reads.
func (s Set) String() string {
	var b strings.Builder
	for p := range s.All() {
		b.WriteString(p.String())
		b.WriteByte('\n')
	}
	return b.String()
}

// MarshalText implements [encoding.TextMarshaler] with the format of
// [Set.String]. It has a value receiver, so a Set field of a struct
// marshals as its text whether or not the struct is addressable.
func (s Set) MarshalText() ([]byte, error) {
	return []byte(s.String()), nil
}

// UnmarshalText implements [encoding.TextUnmarshaler] with the format of
// [Parse]. It makes s refer to a newly built Set; the Set s referred to
// before, which others may share (such as [Cloudflare]'s), is not touched.
// On error s is left as it was.
func (s *Set) UnmarshalText(text []byte) error {
	n, err := Parse(string(text))
	if err != nil {
		return err
	}
	*s = n
	return nil
}

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

// Matcher reports whether an address is trusted. [*Set] and [*Refresher]
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
// Lookups go to a github.com/gaissmai/bart table (its Fast variant, the
// quickest to look up). Every IPv4 prefix is indexed twice, also in its
// IPv4-mapped IPv6 form, so that Contains finds ::ffff:192.0.2.1 with no
// conversion and stays small enough to be inlined; the table is therefore
// about twice the size an IPv4-only one would be.
//
// The zero value and a nil *Set are empty. A Set is never modified after it
// is built, so it is safe for any number of goroutines; to change the trusted
// addresses, build a new Set and swap the pointer (as [Refresher] does).
type Set struct {
	table    *bart.Fast[struct{}]
	prefixes []netip.Prefix // canonical: IPv4 first, then by address
}

// SetFrom builds a Set from prefixes. Every prefix must be valid; host bits
// are cleared ("192.0.2.1/24" becomes 192.0.2.0/24), IPv4-mapped IPv6
// prefixes such as ::ffff:192.0.2.0/120 become IPv4, and duplicates and
// covered prefixes are dropped. An invalid prefix is an error that names its
// position.
func SetFrom(prefixes []netip.Prefix) (*Set, error) {
	var errs []error
	clean := make([]netip.Prefix, 0, len(prefixes))
	for i, p := range prefixes {
		c, err := canonical(p)
		if err != nil {
			errs = append(errs, fmt.Errorf("allowlist: prefix %d: %w", i, err))
			continue
		}
		clean = append(clean, c)
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return build(clean), nil
}

// MustSetFrom is like [SetFrom] but panics on invalid input. It is meant for
// tests and literals.
func MustSetFrom(prefixes ...netip.Prefix) *Set {
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
func Parse(text string) (*Set, error) {
	prefixes, err := parseLines(text)
	if err != nil {
		return nil, err
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
			errs = append(errs, fmt.Errorf("allowlist: line %d: %w", i+1, err))
			continue
		}
		prefixes = append(prefixes, p)
	}
	return prefixes, errors.Join(errs...)
}

// MustParse is like [Parse] but panics on invalid input. It is meant for
// tests and literals.
func MustParse(text string) *Set {
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
	if a := p.Addr(); a.Is4In6() {
		if p.Bits() < 96 {
			return netip.Prefix{}, fmt.Errorf("%q: an IPv4-mapped prefix must be /96 or longer", p)
		}
		p = netip.PrefixFrom(a.Unmap(), p.Bits()-96)
	}
	return p.Masked(), nil
}

// build aggregates canonical prefixes and indexes them. It owns prefixes.
func build(prefixes []netip.Prefix) *Set {
	prefixes = aggregate(prefixes)
	t := new(bart.Fast[struct{}])
	for _, p := range prefixes {
		t.Insert(p, struct{}{})
		if p.Addr().Is4() {
			// Also as IPv4-mapped IPv6, so that bart finds ::ffff:192.0.2.1
			// itself and Contains needs no Unmap (and stays inlinable).
			t.Insert(netip.PrefixFrom(netip.AddrFrom16(p.Addr().As16()), p.Bits()+96), struct{}{})
		}
	}
	return &Set{table: t, prefixes: prefixes}
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
	return slices.Clip(out)
}

// Contains reports whether ip is in the set. An IPv4-mapped IPv6 address
// (::ffff:192.0.2.1) is looked up as IPv4, and a zone is ignored. It does not
// allocate.
func (s *Set) Contains(ip netip.Addr) bool {
	if s == nil || s.table == nil {
		return false
	}
	return s.table.Contains(ip)
}

// Lookup returns the prefix of the set that contains ip — one of the
// aggregated prefixes listed by [Set.All] — and whether there is one.
func (s *Set) Lookup(ip netip.Addr) (netip.Prefix, bool) {
	if s == nil || s.table == nil || !ip.IsValid() {
		return netip.Prefix{}, false
	}
	ip = ip.Unmap().WithZone("")
	p, _, ok := s.table.LookupPrefixLPM(netip.PrefixFrom(ip, ip.BitLen()))
	return p, ok
}

// All returns the set's prefixes in canonical order: IPv4 before IPv6, then
// by address.
func (s *Set) All() iter.Seq[netip.Prefix] {
	return func(yield func(netip.Prefix) bool) {
		for _, p := range s.list() {
			if !yield(p) {
				return
			}
		}
	}
}

// Prefixes returns a copy of the set's prefixes in the order of [Set.All].
func (s *Set) Prefixes() []netip.Prefix {
	return slices.Clone(s.list())
}

// Len returns the number of prefixes in the set after aggregation.
func (s *Set) Len() int { return len(s.list()) }

// Len4 returns the number of IPv4 prefixes in the set.
func (s *Set) Len4() int {
	n, _ := slices.BinarySearchFunc(s.list(), true, func(p netip.Prefix, _ bool) int {
		if p.Addr().Is4() {
			return -1
		}
		return 1
	})
	return n
}

// Len6 returns the number of IPv6 prefixes in the set.
func (s *Set) Len6() int { return s.Len() - s.Len4() }

func (s *Set) list() []netip.Prefix {
	if s == nil {
		return nil
	}
	return s.prefixes
}

// Equal reports whether s and o hold the same addresses.
func (s *Set) Equal(o *Set) bool {
	return slices.Equal(s.list(), o.list())
}

// Union returns a Set of the addresses in s or in o.
func (s *Set) Union(o *Set) *Set {
	all := make([]netip.Prefix, 0, s.Len()+o.Len())
	all = append(append(all, s.list()...), o.list()...)
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
func (s *Set) Diff(newer *Set) Diff {
	return Diff{Added: subtract(newer, s), Removed: subtract(s, newer)}
}

// subtract returns the addresses of a that are not in b, aggregated.
func subtract(a, b *Set) []netip.Prefix {
	var out []netip.Prefix
	for _, p := range a.list() {
		if b.Len() == 0 {
			out = append(out, p)
			continue
		}
		if _, _, covered := b.table.LookupPrefixLPM(p); covered {
			continue
		}
		holes := slices.Collect(func(yield func(netip.Prefix) bool) {
			for q := range b.table.Subnets(p) {
				if q.Addr().Is4In6() {
					continue // the mapped copy of an IPv4 prefix
				}
				if !yield(q) {
					return
				}
			}
		})
		out = appendMinus(out, p, holes)
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
func (s *Set) String() string {
	var b strings.Builder
	for _, p := range s.list() {
		b.WriteString(p.String())
		b.WriteByte('\n')
	}
	return b.String()
}

// MarshalText implements [encoding.TextMarshaler] with the format of
// [Set.String].
func (s *Set) MarshalText() ([]byte, error) {
	return []byte(s.String()), nil
}

// UnmarshalText implements [encoding.TextUnmarshaler] with the format of
// [Parse]. It is meant for decoding into a fresh Set; a Set that is
// already shared must not be decoded into.
func (s *Set) UnmarshalText(text []byte) error {
	n, err := Parse(string(text))
	if err != nil {
		return err
	}
	*s = *n
	return nil
}

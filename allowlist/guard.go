package allowlist

import (
	"errors"
	"fmt"
	"math"
	"net/netip"
	"sync"
)

// Defaults of a [Guard]. The breadth and size bounds are set near what
// Cloudflare publishes (its broadest prefixes are 104.16.0.0/13,
// 172.64.0.0/13 and 2a06:98c0::/29; about 1.5 million IPv4 addresses and
// fourteen /32s of IPv6 in all), so that a list far beyond it is refused
// until someone raises them on purpose.
const (
	DefaultBroadest4 = 13   // no IPv4 prefix broader than a /13
	DefaultBroadest6 = 29   // no IPv6 prefix broader than a /29
	DefaultMaxShrink = 0.25 // no more than a quarter of the reference may go
	DefaultMaxGrowth = 0.25 // no more than a quarter of the reference may be added
	DefaultMaxAddrs4 = 1 << 21
	DefaultMaxAddrs6 = 1 << 100 // sixteen /32s
)

// ErrRejected is matched (with errors.Is) by every error of [Guard.Check].
var ErrRejected = errors.New("allowlist: list rejected")

// ErrShrink is matched by a [Guard.Check] error when the list lacks too
// much of the reference; only this check is waived by [Guard.AllowShrink].
var ErrShrink = errors.New("shrinks too much")

// Guard decides whether a newly fetched list is sane enough to replace the
// one in use. Cloudflare's list changes rarely and a little; a list that is
// empty, covers much of the Internet, includes special-purpose addresses,
// or lacks much of what is known to be Cloudflare's is far more likely a
// fault (or an attack on the fetch or the cache) than news.
//
// Growth and shrink are measured against a reference, by default the
// embedded list ([Cloudflare]), not against the list in use: small steps
// add up (the bound is cumulative), and a list that was once let in cannot
// make the real one look like a shrink and lock it out. A [Refresher]
// makes the list an operator forced ([Refresher.Force]) its reference.
//
// The zero value applies the defaults. A Guard is a value; it is safe for
// concurrent use.
type Guard struct {
	// Reference is the list growth and shrink are measured against; the
	// zero Set means the embedded list, [Cloudflare].
	Reference Set
	// Broadest4 and Broadest6 are the shortest prefix lengths accepted;
	// zero means [DefaultBroadest4] and [DefaultBroadest6].
	Broadest4, Broadest6 int
	// MaxAddrs4 and MaxAddrs6 bound how many addresses of each family the
	// list may cover in all; zero means [DefaultMaxAddrs4] and
	// [DefaultMaxAddrs6].
	MaxAddrs4, MaxAddrs6 float64
	// MaxGrowth is the largest fraction of the Reference's addresses, per
	// family, that the list may add to it; zero means [DefaultMaxGrowth].
	MaxGrowth float64
	// MaxShrink is the largest fraction of the Reference, per family and
	// counted both in addresses and in prefixes (a prefix counts as gone
	// when any of its addresses is), that the list may lack, in (0, 1];
	// zero means [DefaultMaxShrink].
	MaxShrink float64
	// AllowShrink waives the shrink check, for an operator who has looked
	// at the new list and forces it.
	AllowShrink bool
}

// special holds the IANA IPv4 and IPv6 Special-Purpose Address Registries
// (RFC 6890 and its updates), multicast and the other ranges that never
// belong to an edge network. IPv6 outside 2000::/3, global unicast, is
// refused besides.
var special = sync.OnceValue(func() Set {
	return MustParse(`
		# IANA IPv4 Special-Purpose Address Registry
		0.0.0.0/8           # this network (0.0.0.0/32: this host)
		10.0.0.0/8          # private use
		100.64.0.0/10       # shared address space (CGNAT)
		127.0.0.0/8         # loopback
		169.254.0.0/16      # link-local
		172.16.0.0/12       # private use
		192.0.0.0/24        # IETF protocol assignments (with 192.0.0.0/29, .8, .9, .10, .170, .171)
		192.0.2.0/24        # documentation (TEST-NET-1)
		192.31.196.0/24     # AS112-v4
		192.52.193.0/24     # AMT
		192.88.99.0/24      # deprecated 6to4 relay anycast
		192.168.0.0/16      # private use
		192.175.48.0/24     # direct delegation AS112 service
		198.18.0.0/15       # benchmarking
		198.51.100.0/24     # documentation (TEST-NET-2)
		203.0.113.0/24      # documentation (TEST-NET-3)
		240.0.0.0/4         # reserved (with 255.255.255.255/32, limited broadcast)
		224.0.0.0/4         # multicast
		# IANA IPv6 Special-Purpose Address Registry
		::/128              # unspecified
		::1/128             # loopback
		# ::ffff:0:0/96, IPv4-mapped, is within ::/8 below; written here it
		# would be read as the IPv4 prefix it maps, 0.0.0.0/0.
		64:ff9b::/96        # IPv4-IPv6 translation (NAT64)
		64:ff9b:1::/48      # local-use IPv4-IPv6 translation
		100::/64            # discard-only
		100:0:0:1::/64      # dummy IPv6 prefix
		2001::/23           # IETF protocol assignments
		2001::/32           # Teredo
		2001:1::1/128       # port control protocol anycast
		2001:1::2/128       # traversal using relays around NAT anycast
		2001:1::3/128       # DNS-SD service registration protocol anycast
		2001:2::/48         # benchmarking
		2001:3::/32         # AMT
		2001:4:112::/48     # AS112-v6
		2001:10::/28        # deprecated ORCHID
		2001:20::/28        # ORCHIDv2
		2001:30::/28        # drone remote ID protocol entity tags
		2001:db8::/32       # documentation
		2002::/16           # 6to4: holds every IPv4 address
		2620:4f:8000::/48   # direct delegation AS112 service
		3fff::/20           # documentation
		5f00::/16           # segment routing SIDs
		fc00::/7            # unique local
		fe80::/10           # link-local
		# Reserved by the IETF and multicast
		::/8                # with IPv4-compatible addresses
		fec0::/10           # deprecated site-local
		ff00::/8            # multicast
	`)
})

// globalUnicast6 is where every IPv6 edge address lies.
var globalUnicast6 = netip.MustParsePrefix("2000::/3")

// Check returns nil if next may replace the list in use, or an error
// matching [ErrRejected] that lists every reason (at most ten of each
// kind, and how many more).
func (g Guard) Check(next Set) error {
	var errs []error
	if next.Len4() == 0 {
		errs = append(errs, errors.New("no IPv4 prefixes"))
	}
	if next.Len6() == 0 {
		errs = append(errs, errors.New("no IPv6 prefixes"))
	}
	b4, b6 := orDefault(g.Broadest4, DefaultBroadest4), orDefault(g.Broadest6, DefaultBroadest6)
	var broad, reserved entryErrors
	spec := special()
	for p := range next.All() {
		broadest := b4
		if p.Addr().Is6() {
			broadest = b6
		}
		if p.Bits() < broadest {
			broad.add(fmt.Errorf("%s is broader than /%d", p, broadest))
		}
		if q, ok := overlap(spec, p); ok {
			reserved.add(fmt.Errorf("%s overlaps special-purpose range %s", p, q))
		} else if p.Addr().Is6() && !globalUnicast6.Contains(p.Addr()) {
			reserved.add(fmt.Errorf("%s lies outside global unicast %s", p, globalUnicast6))
		}
	}
	for _, e := range []*entryErrors{&broad, &reserved} {
		if err := e.err(); err != nil {
			errs = append(errs, err)
		}
	}

	ref := g.Reference
	if ref.Len() == 0 {
		ref = Cloudflare()
	}
	nextList, refList := next.list(), ref.list()
	diff := ref.Diff(next)
	maxGrowth := orDefaultF(g.MaxGrowth, DefaultMaxGrowth)
	maxShrink := g.MaxShrink
	if maxShrink <= 0 || maxShrink > 1 {
		maxShrink = DefaultMaxShrink
	}
	for _, fam := range []struct {
		name     string
		is4      bool
		maxAddrs float64
	}{
		{"IPv4", true, orDefaultF(g.MaxAddrs4, DefaultMaxAddrs4)},
		{"IPv6", false, orDefaultF(g.MaxAddrs6, DefaultMaxAddrs6)},
	} {
		total, base := size(nextList, fam.is4), size(refList, fam.is4)
		if total > fam.maxAddrs {
			errs = append(errs, fmt.Errorf("%s covers %s addresses, more than the ceiling of %s", fam.name, count(total), count(fam.maxAddrs)))
		}
		if added := size(diff.Added, fam.is4); base > 0 && added/base > maxGrowth {
			errs = append(errs, fmt.Errorf("%s grows too much: %.1f%% more addresses than the reference (limit %.1f%%)",
				fam.name, 100*added/base, 100*maxGrowth))
		}
		if g.AllowShrink || base == 0 {
			continue
		}
		if gone := size(diff.Removed, fam.is4); gone/base > maxShrink {
			errs = append(errs, fmt.Errorf("%s %w: %.1f%% of the reference's addresses would go (limit %.1f%%)",
				fam.name, ErrShrink, 100*gone/base, 100*maxShrink))
		}
		var n, lost int
		for p := range ref.All() {
			if p.Addr().Is4() != fam.is4 {
				continue
			}
			n++
			if !next.covers(p) {
				lost++
			}
		}
		if n > 0 && float64(lost)/float64(n) > maxShrink {
			errs = append(errs, fmt.Errorf("%s %w: %d of the reference's %d prefixes would lose addresses (limit %.1f%%)",
				fam.name, ErrShrink, lost, n, 100*maxShrink))
		}
	}
	if len(errs) == 0 {
		return nil
	}
	return fmt.Errorf("%w: %w", ErrRejected, errors.Join(errs...))
}

func orDefault(v, def int) int {
	if v <= 0 {
		return def
	}
	return v
}

func orDefaultF(v, def float64) float64 {
	if v <= 0 {
		return def
	}
	return v
}

// count renders an address count: exact below 2^53, else as a power of two.
func count(n float64) string {
	if n < 1<<53 {
		return fmt.Sprintf("%.0f", n)
	}
	return fmt.Sprintf("2^%.1f", math.Log2(n))
}

// overlap returns a prefix of s that overlaps p.
func overlap(s Set, p netip.Prefix) (netip.Prefix, bool) {
	if q, ok := s.Lookup(p.Addr()); ok {
		return q, true
	}
	for q := range s.within(p) {
		return q, true
	}
	return netip.Prefix{}, false
}

// size returns how many addresses of one family the prefixes cover.
func size(prefixes []netip.Prefix, is4 bool) float64 {
	var n float64
	for _, p := range prefixes {
		if p.Addr().Is4() == is4 {
			n += math.Ldexp(1, p.Addr().BitLen()-p.Bits())
		}
	}
	return n
}

package allowlist

import (
	"errors"
	"fmt"
	"math"
	"net/netip"
	"sync"
)

// Defaults of a [Guard].
const (
	DefaultBroadest4 = 8    // no IPv4 prefix broader than a /8
	DefaultBroadest6 = 16   // no IPv6 prefix broader than a /16
	DefaultMaxShrink = 0.25 // no more than a quarter of a family's addresses may go at once
)

// ErrRejected is matched (with errors.Is) by every error of [Guard.Check].
var ErrRejected = errors.New("allowlist: list rejected")

// ErrShrink is matched by a [Guard.Check] error when the list shrank too
// much; only this check is waived by [Guard.AllowShrink].
var ErrShrink = errors.New("shrinks too much")

// Guard decides whether a newly fetched list is sane enough to replace the
// one in use. Cloudflare's list changes rarely and a little; a list that is
// empty, covers the Internet, includes private addresses or loses much of
// what was trusted is far more likely a fault (or an attack on the fetch)
// than news.
//
// The zero value applies the defaults: [DefaultBroadest4],
// [DefaultBroadest6] and [DefaultMaxShrink]. A Guard is a value; it is safe
// for concurrent use.
type Guard struct {
	// Broadest4 and Broadest6 are the shortest prefix lengths accepted;
	// zero means the default.
	Broadest4, Broadest6 int
	// MaxShrink is the largest fraction of a family's addresses that may
	// disappear in one change, in (0, 1]; zero means the default.
	MaxShrink float64
	// AllowShrink waives the shrink check, for an operator who has looked
	// at the new list and forces it.
	AllowShrink bool
}

// reserved are ranges that never belong to an edge network: unspecified,
// private, shared, loopback, link-local, documentation, benchmarking,
// multicast and reserved space (RFC 6890 and its IPv6 counterpart).
var reserved = sync.OnceValue(func() Set {
	return MustParse(`
		0.0.0.0/8        # this network
		10.0.0.0/8       # private
		100.64.0.0/10    # shared address space (CGNAT)
		127.0.0.0/8      # loopback
		169.254.0.0/16   # link-local
		172.16.0.0/12    # private
		192.0.0.0/24     # IETF protocol assignments
		192.0.2.0/24     # documentation (TEST-NET-1)
		192.168.0.0/16   # private
		198.18.0.0/15    # benchmarking
		198.51.100.0/24  # documentation (TEST-NET-2)
		203.0.113.0/24   # documentation (TEST-NET-3)
		224.0.0.0/3      # multicast and reserved, broadcast
		::/8             # unspecified, loopback, IPv4-mapped and -compatible
		100::/64         # discard-only
		2001:db8::/32    # documentation
		fc00::/7         # unique local
		fe80::/10        # link-local
		ff00::/8         # multicast
	`)
})

// Check returns nil if next may replace prev (prev may be nil or empty, as at
// first start), or an error matching [ErrRejected] that lists every reason.
func (g Guard) Check(prev, next Set) error {
	var errs []error
	if next.Len4() == 0 {
		errs = append(errs, errors.New("no IPv4 prefixes"))
	}
	if next.Len6() == 0 {
		errs = append(errs, errors.New("no IPv6 prefixes"))
	}
	b4, b6 := orDefault(g.Broadest4, DefaultBroadest4), orDefault(g.Broadest6, DefaultBroadest6)
	res := reserved()
	for p := range next.All() {
		broadest := b4
		if p.Addr().Is6() {
			broadest = b6
		}
		if p.Bits() < broadest {
			errs = append(errs, fmt.Errorf("%s is broader than /%d", p, broadest))
		}
		if q, ok := overlap(res, p); ok {
			errs = append(errs, fmt.Errorf("%s overlaps reserved range %s", p, q))
		}
	}
	if !g.AllowShrink && prev.Len() > 0 {
		max := g.MaxShrink
		if max <= 0 || max > 1 {
			max = DefaultMaxShrink
		}
		removed := prev.Diff(next).Removed
		for _, fam := range []struct {
			name string
			is4  bool
		}{{"IPv4", true}, {"IPv6", false}} {
			before, gone := size(prev.list(), fam.is4), size(removed, fam.is4)
			if before > 0 && gone/before > max {
				errs = append(errs, fmt.Errorf("%s %w: %.1f%% of its addresses would go (limit %.1f%%)",
					fam.name, ErrShrink, 100*gone/before, 100*max))
			}
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

// overlap returns a prefix of s that overlaps p.
func overlap(s Set, p netip.Prefix) (netip.Prefix, bool) {
	if q, ok := s.Lookup(p.Addr()); ok {
		return q, true
	}
	for q := range s.d.table.Subnets(p) {
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

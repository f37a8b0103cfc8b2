package firewall

import "fmt"

// DefaultPrefixLimit is the most source prefixes (IPv4 and IPv6 together)
// an Applier for backend b loads unless [WithPrefixLimit] says otherwise.
// The figures behind each are in BENCHMARKS.md.
//
//   - [IPTables] renders one rule per rule and source prefix, and every
//     new flow walks them in order: beyond a few thousand the per-packet
//     cost shows, and loading 100,000 takes iptables-restore tens of
//     seconds. The limit is 4096 rules' worth of prefixes; a caller who
//     wants more must say so.
//   - [NFTables] matches a set in one lookup, but the nft tool holds the
//     whole table in memory whenever it loads or lists it, about 0.8 KiB
//     per prefix: 1,000,000 prefixes took 828 MiB. The limit, 400,000,
//     keeps an Applier within a 512 MiB memory limit; use [IPSet] for more.
//   - [IPSet] streams its sets through ipset restore (a few MiB whatever
//     the size), so its limit is the size of a set, 2^24 per family.
func DefaultPrefixLimit(b Backend) int {
	switch b {
	case IPTables:
		return 4096
	case NFTables:
		return 400_000
	case IPSet:
		return 2 * maxSetSize
	}
	return 0
}

// checkLimit refuses a Spec that would make the backend load more prefixes
// than the Applier's limit.
func (a *Applier) checkLimit(n normalized) error {
	limit := a.prefixLimit
	if limit < 0 {
		limit = DefaultPrefixLimit(a.backend)
	}
	if limit == 0 {
		return nil
	}
	count := 0
	what := "prefixes in sets"
	for _, fam := range []int{4, 6} {
		if a.backend == IPTables {
			what = "rules (one per rule and source prefix)"
			for _, r := range n.Rules {
				if r.From != "" {
					count += len(n.prefixes(r.From, fam))
				}
			}
		} else {
			for _, set := range n.Sets {
				count += len(n.prefixes(set.Name, fam))
			}
		}
	}
	if count > limit {
		hint := "raise the limit with WithPrefixLimit"
		switch a.backend {
		case IPTables:
			hint = "use a set-based backend (ipset, nftables), or " + hint
		case NFTables:
			hint = "use the ipset backend, whose loading streams, or " + hint + " if the node can give nft about 0.8 KiB per prefix"
		}
		return fmt.Errorf("firewall: backend %s would load %d %s, more than the limit of %d: %s", a.backend, count, what, limit, hint)
	}
	return nil
}

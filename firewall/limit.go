package firewall

import "fmt"

// DefaultPrefixLimit is the most source prefixes per address family an
// Applier for backend b loads unless [WithPrefixLimit] says otherwise.
//
//   - [IPTables] renders one rule per rule and source prefix, and every
//     packet walks them in order: beyond a few thousand the per-packet
//     cost shows (see BENCHMARKS.md), so the limit is 4096 rules' worth of
//     prefixes and a caller who wants more must say so.
//   - [IPSet] and [NFTables] match a set in one lookup whatever its size;
//     their limit bounds what loading costs the node (the tools' memory and
//     time, measured in BENCHMARKS.md) so that an Applier in a DaemonSet
//     stays within a 512 MiB memory limit.
func DefaultPrefixLimit(b Backend) int {
	switch b {
	case IPTables:
		return 4096
	case IPSet:
		return 1_000_000
	case NFTables:
		return 1_000_000
	}
	return 0
}

// checkLimit refuses a Spec that would make the backend load more prefixes
// per family than the Applier's limit.
func (a *Applier) checkLimit(n normalized) error {
	limit := a.prefixLimit
	if limit < 0 {
		limit = DefaultPrefixLimit(a.backend)
	}
	if limit == 0 {
		return nil
	}
	for _, fam := range []int{4, 6} {
		count := 0
		what := "prefixes in sets"
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
		if count > limit {
			return fmt.Errorf("firewall: backend %s would load %d IPv%d %s, more than the limit of %d; use a set-based backend or raise the limit with WithPrefixLimit", a.backend, count, fam, what, limit)
		}
	}
	return nil
}

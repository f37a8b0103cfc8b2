package firewall

import (
	"fmt"
	"strings"
)

// Script is the text of a rule set for one backend, for the tools'
// restore-style inputs. Which fields are set depends on [Script.Backend].
type Script struct {
	Backend Backend
	// IPSet is for `ipset restore` (backend IPSet only). Load it before
	// IPv4 and IPv6, whose rules refer to its sets.
	IPSet string
	// IPv4 and IPv6 are for `iptables-restore --noflush` and
	// `ip6tables-restore --noflush` (backends IPTables and IPSet).
	IPv4, IPv6 string
	// NFT is for `nft -f` (backend NFTables).
	NFT string
}

// Saved is what `iptables-save` and `ip6tables-save` print on the node now.
// The iptables backends need it because restore input cannot test whether a
// rule exists: [Spec.Render] counts the jumps into this package's chains in
// Saved and emits exactly the lines that leave one jump from each built-in
// chain (none when one is there, an insert at the top when none is, deletes
// and one insert when there are several). The zero Saved means "no jump yet"
// (a first apply). [Applier] fills it in.
type Saved struct {
	IPv4, IPv6 string
}

// The chains this package owns. Restore input declares them, which creates
// or flushes them and only them; every other chain is left alone.
const (
	chainPrerouting = "ORIGINGUARD-PREROUTING" // jumped to from mangle PREROUTING
	chainPreDNAT    = "ORIGINGUARD-PREDNAT"    // PreDNAT rules
	chainInput      = "ORIGINGUARD-INPUT"      // jumped to from filter INPUT
	chainLocal      = "ORIGINGUARD-LOCAL"      // Local rules and the default verdict
	chainPrefix     = "ORIGINGUARD-"

	nftTable = "originguard" // nft table inet originguard
	setTag   = "og-"         // ipset names: og-<set>-v4, og-<set>-v6
)

// hook is one jump from a built-in chain into ours.
type hook struct{ table, builtin, chain string }

var hooks = []hook{
	{"mangle", "PREROUTING", chainPrerouting},
	{"filter", "INPUT", chainInput},
}

// ownChains lists our chains per table, in declaration order.
var ownChains = map[string][]string{
	"mangle": {chainPrerouting, chainPreDNAT},
	"filter": {chainInput, chainLocal},
}

// Render validates s and renders it for backend b. It returns the errors of
// [Spec.Validate] and nothing else: a valid Spec always renders. saved is
// used by the iptables backends only (see [Saved]).
//
// Every rendered text touches only what this package owns: the chains
// ORIGINGUARD-PREROUTING and ORIGINGUARD-PREDNAT (mangle), ORIGINGUARD-INPUT
// and ORIGINGUARD-LOCAL (filter), one jump into each from PREROUTING and
// INPUT, the ipsets og-<set>-v4 and og-<set>-v6, and the nft table inet
// originguard. Chains and tables of kube-proxy (KUBE-*), Calico (cali-*),
// flannel and Docker are never flushed, deleted or reordered.
func (s Spec) Render(b Backend, saved Saved) (Script, error) {
	switch b {
	case IPTables, IPSet, NFTables:
	default:
		return Script{}, fmt.Errorf("firewall: unknown backend %q (want iptables, ipset or nftables)", b)
	}
	if err := s.Validate(); err != nil {
		return Script{}, err
	}
	n := normalize(s)
	out := Script{Backend: b}
	switch b {
	case IPTables, IPSet:
		if b == IPSet {
			out.IPSet = n.ipsetScript()
		}
		out.IPv4 = n.iptables(4, b == IPSet, saved.IPv4)
		out.IPv6 = n.iptables(6, b == IPSet, saved.IPv6)
	case NFTables:
		out.NFT = n.nft()
	}
	return out, nil
}

// countJumps counts the lines "-A <builtin> -j <chain>" in table of an
// iptables-save output.
func countJumps(saved string, h hook) int {
	n, table := 0, ""
	for line := range strings.Lines(saved) {
		line = strings.TrimSpace(line)
		if t, ok := strings.CutPrefix(line, "*"); ok {
			table = t
			continue
		}
		if table != h.table {
			continue
		}
		f := strings.Fields(line)
		if len(f) == 4 && f[0] == "-A" && f[1] == h.builtin && f[2] == "-j" && f[3] == h.chain {
			n++
		}
	}
	return n
}

// jumpFix returns the restore lines that leave exactly one jump for h,
// given that the node now has have of them.
func jumpFix(b []byte, h hook, have int) []byte {
	if have == 1 {
		return b
	}
	for range have {
		b = append(b, "-D "+h.builtin+" -j "+h.chain+"\n"...)
	}
	return append(b, "-I "+h.builtin+" 1 -j "+h.chain+"\n"...)
}

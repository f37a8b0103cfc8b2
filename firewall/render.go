package firewall

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

// The chains this package owns. Restore input declares them, which creates
// or flushes them and only them; every other chain is left alone.
const (
	chainPrerouting = "ORIGINGUARD-PREROUTING" // jumped to from mangle PREROUTING
	chainPreDNAT    = "ORIGINGUARD-PREDNAT"    // PreDNAT rules
	chainMark       = "ORIGINGUARD-MARK"       // PreDNAT accepts go here: mark the flow
	chainInput      = "ORIGINGUARD-INPUT"      // jumped to from filter INPUT
	chainLocal      = "ORIGINGUARD-LOCAL"      // Local rules and the default verdict
	chainForward    = "ORIGINGUARD-FORWARD"    // jumped to from mangle FORWARD
	chainPrefix     = "ORIGINGUARD-"

	nftTable = "originguard" // nft table inet originguard
	setTag   = "og-"         // ipset names: og-<set>-v4, og-<set>-v6
)

// hook is one jump from a built-in chain into ours.
type hook struct{ table, builtin, chain string }

// hooks are the jumps from built-in chains into ours, one each.
var hooks = []hook{
	{"mangle", "PREROUTING", chainPrerouting},
	{"filter", "INPUT", chainInput},
	// mangle, not filter: mangle FORWARD runs before filter FORWARD, where
	// Calico (whose jumps sit at the top), Docker and kube-proxy ACCEPT
	// forwarded packets, which would end the chain before our drop.
	{"mangle", "FORWARD", chainForward},
}

// ownChains lists our chains per table, in declaration order.
var ownChains = map[string][]string{
	"mangle": {chainPrerouting, chainPreDNAT, chainMark, chainForward},
	"filter": {chainInput, chainLocal},
}

// Render validates s and renders it for backend b. It returns the errors of
// [Spec.Validate] and nothing else: a valid Spec always renders. Render is
// pure: it reads no node state, and the same Spec and Backend always give
// the same text.
//
// Every rendered text touches only what this package owns: the chains
// ORIGINGUARD-PREROUTING, ORIGINGUARD-PREDNAT, ORIGINGUARD-MARK and
// ORIGINGUARD-FORWARD (mangle), ORIGINGUARD-INPUT and ORIGINGUARD-LOCAL
// (filter), the
// ipsets og-<set>-v4 and og-<set>-v6, and the nft table inet originguard. Chains and tables of kube-proxy
// (KUBE-*), Calico (cali-*), flannel and Docker are never flushed, deleted
// or reordered.
//
// The iptables text holds no jump from the built-in chains into this
// package's chains: restore input cannot test whether a rule exists, so the
// one jump per built-in chain is the [Applier]'s job (it reads iptables-save
// first). Without the Applier, add each jump once after loading, e.g.
//
//	iptables -t filter -C INPUT -j ORIGINGUARD-INPUT 2>/dev/null ||
//		iptables -t filter -I INPUT 1 -j ORIGINGUARD-INPUT
//
// and likewise for mangle PREROUTING → ORIGINGUARD-PREROUTING and mangle
// FORWARD → ORIGINGUARD-FORWARD, in iptables and ip6tables.
func (s Spec) Render(b Backend) (Script, error) {
	switch b {
	case IPTables, IPSet, NFTables:
	default:
		return Script{}, errBackend(b)
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
		out.IPv4 = n.iptables(4, b == IPSet)
		out.IPv6 = n.iptables(6, b == IPSet)
	case NFTables:
		out.NFT = n.nft()
	}
	return out, nil
}

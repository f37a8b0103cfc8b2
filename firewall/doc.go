// Package firewall builds the host firewall of a Kubernetes node behind
// Cloudflare: NodePorts answer only the edge, the ports the cluster itself
// needs stay open to the cluster, and everything else arriving on the
// node's outward-facing interfaces is dropped or rejected — without
// touching the rules kube-proxy, Calico, flannel or Docker keep.
//
// It is not for pod-to-pod policy (that is NetworkPolicy's job, see package
// netpol) nor for anything above layer 4. It imports only the standard
// library.
//
// # Three steps
//
// A [Spec] is a typed rule set: named prefix sets ([Set]), [Rule]s of
// protocol × ports × source set × [Verdict], the interfaces it guards, a
// default verdict and optional rate-limited logging. [Node.Spec] is the
// preset for a node, each port documented with why it is open.
// [Spec.Validate] reports every problem at once; [Spec.Render] turns a valid
// Spec into text for one [Backend] and cannot fail; an [Applier] loads that
// text with the real tools, and is optional.
//
//	spec := firewall.Node{
//		Interfaces: []string{"eth0"},
//		Cluster:    []netip.Prefix{netip.MustParsePrefix("10.0.0.0/16")},
//		Edge:       cloudflareRanges, // e.g. from package allowlist
//		Admin:      []netip.Prefix{netip.MustParsePrefix("203.0.113.0/24")},
//		BGP:        true,
//	}.Spec()
//	err := firewall.NewApplier(firewall.NFTables).Apply(ctx, spec)
//
// # Backends
//
//   - [IPTables]: iptables-restore and ip6tables-restore input, one rule per
//     source prefix. Works everywhere; the per-packet cost grows with the
//     number of prefixes (see BENCHMARKS.md).
//   - [IPSet]: hash:net sets, replaced atomically (create a temporary set,
//     fill it, swap, destroy), and iptables rules that match them: one rule
//     per Rule, whatever the number of prefixes.
//   - [NFTables]: one "table inet originguard" with interval sets, replaced
//     atomically in one nft -f transaction ("table" then "delete table"
//     then the new table, which also works when the table does not exist).
//
// The iptables backends own the chains ORIGINGUARD-PREROUTING and
// ORIGINGUARD-PREDNAT (mangle) and ORIGINGUARD-INPUT and ORIGINGUARD-LOCAL
// (filter). Restore input is used with --noflush and declares only those
// chains, which flushes only them. [Spec.Render] is pure: it reads no node
// state, and its text has no jump from the built-in chains, because restore
// input cannot test whether a rule exists. The [Applier] reads iptables-save
// first and adds exactly the lines that leave one jump from PREROUTING and
// from INPUT: an insert at the top when there is none, deletes when there
// are several. The jump is inserted at the top once and never moved
// afterwards.
//
// # NodePorts and DNAT
//
// kube-proxy DNATs a packet to a NodePort in nat PREROUTING; the packet
// then goes through FORWARD to the pod. A filter-INPUT rule on ports
// 30000-32767 therefore never sees NodePort traffic — a common, silent
// mistake. Rules at [PreDNAT] run where the port the client sent is still
// visible: in mangle PREROUTING (after conntrack, so "established" is
// known; before nat) and in an nft chain hooked at prerouting with priority
// mangle (-150), ahead of dstnat (-100, where kube-proxy's nft mode and
// iptables-nft's nat run). They only see packets addressed to one of the
// node's own addresses (addrtype LOCAL, fib daddr type local); packets
// addressed to pods or load-balancer IPs are left alone. REJECT is not
// allowed before routing, so PreDNAT rules drop. At the [Local] stage
// (filter INPUT), packets that were DNATed (conntrack state DNAT) are let
// through, because PreDNAT has already judged them by their original port.
// A cloud load balancer's health checks of a Service with
// externalTrafficPolicy: Local go to its healthCheckNodePort, which is a
// NodePort too: put the balancer's health-check ranges in the edge set.
//
// # Coexistence with kube-proxy and Calico
//
// Nothing here flushes, deletes, renames or reorders a chain or table it
// does not own: no KUBE-*, cali-*, FLANNEL*, DOCKER* chain, no foreign nft
// table, no built-in chain policy. This package's accepts are never final:
// the iptables backends RETURN to the built-in chain, so kube-proxy's and
// Calico's rules after the jump still run, and an nft accept ends only this
// package's table, so other tables' base chains still see the packet. Only
// its drops and rejects are final. Traffic on loopback and on interfaces
// not listed in [Spec.Interfaces] (pods' veths, cali*, vxlan.calico, tunl0,
// wireguard.cali) is never filtered, so pods still reach node-local
// services.
//
// Others' accepts can be final. With the iptables backends, the jump is
// inserted at the top, but Calico also keeps its jump at the top of INPUT
// and PREROUTING; a packet its host-endpoint policy ACCEPTs before our jump
// is not seen by our chains. With nftables, every base chain at a hook runs
// and a drop in any of them is final, so this package's table filters
// regardless of iptables' accepts: prefer [NFTables] next to Calico host
// endpoints.
//
// If Calico runs in IP-in-IP mode, set [Node.IPIP]; for VXLAN set
// [Node.VXLAN] (flannel's VXLAN uses 8472/udp: add a [Rule]). Otherwise a
// default drop on the node's interface cuts pods on different nodes apart.
//
// # Running it on every node
//
// The usual pattern is a DaemonSet whose container runs a small Go program
// that builds the Spec (for instance from package allowlist's refreshed
// Cloudflare ranges) and calls [Applier.Apply] at start and then
// periodically (every few minutes, and whenever the ranges change):
//
//   - hostNetwork: true, so the rules land in the node's network namespace;
//   - securityContext.capabilities.add: [NET_ADMIN], and NET_RAW too where
//     the node may use iptables-legacy (legacy iptables-save and
//     iptables-restore open a raw socket; iptables-nft, nft, ipset and
//     conntrack need only NET_ADMIN), and tolerations so it runs on every
//     node;
//   - the image carries iptables with both flavours (iptables-legacy-* and
//     iptables-nft-*), ipset or nft, iproute2 (ip, tc) and conntrack; the
//     Applier picks the node's flavour as kube-proxy does
//     ([IPTablesMode]);
//   - mount the host's /run (hostPath): the Applier locks
//     [DefaultLockFile] so that two Appliers on one node (a rollout with
//     maxSurge, a manual run) never interleave, and iptables locks
//     /run/xtables.lock so that its calls serialise with kube-proxy's.
//
// Apply refuses a Spec whose interfaces the node does not have, and warns
// (or, [WithFailOnBPF], refuses) when an eBPF program (XDP, tc) sits on a
// guarded interface: Cilium and Calico's eBPF data plane handle NodePorts
// before netfilter, so these rules never see that traffic. After loading
// the rules it deletes the conntrack entries of flows they would not admit,
// so that nothing opened before the Apply keeps flowing past them.
// [Applier.Check] does all the looking and checking without changing
// anything.
//
// Re-applying the same Spec changes nothing: iptables-save and nft list
// ruleset read the same before and after, and the ipsets hold the same
// entries. If any step fails, the
// Applier restores this package's previous chains, jumps, sets and table
// exactly and returns the error; [ErrRollback] marks the rare case where
// even that failed.
//
// Without the Applier, the rendered text can be loaded by a shell script:
// ipset restore < sets (ipset backend only), then iptables-restore
// --noflush and ip6tables-restore --noflush, then add each jump once (see
// [Spec.Render]), or nft -f for nftables.
//
// # Uninstalling and switching backends
//
// [Applier.Remove] takes this package's firewall off the node, for the
// Applier's backend: with the iptables backends, every rule of mangle
// PREROUTING and filter INPUT that jumps into an ORIGINGUARD-* chain, then
// those chains, in IPv4 and IPv6 (one iptables-restore --noflush
// transaction per family), and with [IPSet] then the og-* ipsets; with
// [NFTables], the table inet originguard (one nft -f transaction). Nothing
// else is touched, removing twice is harmless, and a failure restores the
// previous rules as Apply does. To uninstall, stop the DaemonSet first (or
// it will apply again), then run Remove once on each node:
//
//	err := firewall.NewApplier(firewall.IPSet).Remove(ctx)
//
// The Applier only ever replaces what it owns for its own backend, so
// applying with a new backend leaves the old one's rules in place, and
// both then filter (from ipset to iptables, the shared chains are replaced
// but the og-* ipsets stay). To switch, Remove with the old backend's Applier, then
// Apply with the new one:
//
//	if err := firewall.NewApplier(firewall.IPTables).Remove(ctx); err != nil {
//		return err
//	}
//	err := firewall.NewApplier(firewall.NFTables).Apply(ctx, spec)
//
// Between the two calls the node is unfiltered for a moment. Between
// nftables and an iptables backend, the order can be turned round if that
// matters (both filter meanwhile); not between [IPTables] and [IPSet],
// which share the ORIGINGUARD-* chains, so that the old Remove would take
// the new rules away.
//
// # Limits
//
// Rules match TCP, UDP and IP-in-IP only; ICMP echo (ping) is not let in.
// The Applier replaces what it owns for its own backend (and destroys the
// ipsets of sets dropped from the Spec): Apply does not remove the rules
// of another backend after a switch; Remove does, with the old backend's
// Applier. IPv6 is always rendered: a node without ip6tables
// support fails the IPv6 step (and is rolled back).
package firewall

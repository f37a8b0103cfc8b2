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
// The iptables backends own the chains ORIGINGUARD-PREROUTING,
// ORIGINGUARD-PREDNAT, ORIGINGUARD-MARK and ORIGINGUARD-FORWARD (mangle) and
// ORIGINGUARD-INPUT and ORIGINGUARD-LOCAL (filter). Restore input is used
// with --noflush and declares only those chains, which flushes only them. [Spec.Render] is pure: it reads no node
// state, and its text has no jump from the built-in chains, because restore
// input cannot test whether a rule exists. The [Applier] reads iptables-save
// first and adds exactly the lines that leave one jump from mangle
// PREROUTING, mangle FORWARD and filter INPUT: an insert at the top when
// there is none, deletes when there are several. The jump is inserted at the top once and never moved
// afterwards.
//
// # What is filtered, and what is not
//
// kube-proxy DNATs a packet to a NodePort in nat PREROUTING, and the packet
// then goes through FORWARD to the pod: a filter-INPUT rule on ports
// 30000-32767 never sees it. So do a CNI's hostPort (portmap), Docker's -p,
// and kube-proxy for a Service's externalIPs and load-balancer IPs. A
// REDIRECT sends a packet to another port of the node. Every one of these
// paths is judged before the rewrite:
//
//   - [PreDNAT] rules judge every new flow that arrives on a guarded
//     interface, whatever its destination, with the port the client sent:
//     in mangle PREROUTING (after conntrack, before nat) and in an nft
//     chain at prerouting priority mangle (-150), ahead of dstnat (-100,
//     where kube-proxy's nft mode and iptables-nft's nat run). A flow they
//     accept gets a conntrack mark ([Spec.ConnMark]); a drop ends it.
//   - A new flow from a guarded interface that was DNATed (to a pod or a
//     container) without the mark is dropped in mangle FORWARD (nft:
//     forward, priority mangle), ahead of the accepts of Calico, Docker and
//     kube-proxy in filter FORWARD. So a hostPort, a Docker port or a VIP
//     is closed until a PreDNAT rule opens it ([Node.HostPorts]).
//   - At the [Local] stage (filter INPUT), marked flows pass: what PreDNAT
//     accepted and the node answers itself, without DNAT: a Service's
//     healthCheckNodePort, every NodePort in kube-proxy's IPVS mode, an
//     ingress controller on hostNetwork. Every other new flow, a REDIRECTed
//     one included, meets the Local rules with the port it arrives at, and
//     then the default verdict. Packets conntrack finds INVALID are dropped
//     first, never rejected: a reset built from an out-of-window packet
//     kills the peer's real connection (kubernetes#74839).
//
// Not filtered: packets on loopback and on interfaces not listed in
// [Spec.Interfaces] (pods' veths, cali*, vxlan.calico, tunl0,
// wireguard.cali, so pods still reach node-local services); packets the
// node sends; forwarded packets that were not DNATed (routed pod traffic,
// which is NetworkPolicy's job); replies, and flows that conntrack already
// knows (see [Applier] for flows opened before an Apply); and anything that
// never reaches netfilter (see eBPF below).
// REJECT is not allowed before routing, so PreDNAT rules drop.
//
// # Coexistence
//
// Nothing here flushes, deletes, renames or reorders a chain or table it
// does not own, nor changes a built-in chain's policy. This package's
// accepts are never final: the iptables backends RETURN to the built-in
// chain, so others' rules after the jump still run, and an nft accept ends
// only this package's table. Its drops and rejects are final. Others'
// accepts can be final too: an iptables ACCEPT before our jump in the same
// built-in chain ends that chain.
//
//	kube-proxy iptables  works: NodePorts judged in mangle before its nat
//	                     DNAT; LB and external IPs need a PreDNAT accept
//	kube-proxy IPVS      works: no netfilter DNAT, the NodePort reaches INPUT
//	                     marked; VIPs on kube-ipvs0 are local: PreDNAT accept
//	kube-proxy nftables  works: separate tables; our prerouting (-150) runs
//	                     before its dstnat (-100); its accepts end only its table
//	Calico iptables      PreDNAT and forward work (Calico's mangle passes new
//	                     flows unless a preDNAT host-endpoint policy accepts
//	                     them; Calico keeps no accepts in mangle FORWARD).
//	                     Local: Calico keeps its jump above ours in INPUT, so a
//	                     host-endpoint ACCEPT there skips our Local rules;
//	                     prefer NFTables, or FELIX_CHAININSERTMODE=Append
//	Calico nftables      works: separate tables, drops final everywhere
//	Calico eBPF          Local works for the node's own sockets; NodePorts and
//	                     DNAT happen in eBPF before netfilter: PreDNAT never
//	                     sees them. Use Calico host-endpoint policy for those
//	Cilium               with kube-proxy: as kube-proxy. With kube-proxy
//	                     replacement or BPF host routing, NodePorts and
//	                     forwarded flows bypass netfilter as with Calico eBPF:
//	                     use Cilium's host firewall for those
//	firewalld            NFTables works (both tables filter; a packet must pass
//	                     both). With its iptables backend, a reload flushes
//	                     every chain, ours included: use NFTables
//	Docker               works; published ports (-p) on guarded interfaces are
//	                     closed until a PreDNAT accept (DOCKER-USER not needed)
//
// With nftables every base chain at a hook runs and a drop in any of them
// is final, so this package's table filters whatever iptables accepts:
// prefer [NFTables] next to Calico host endpoints and firewalld. Both
// flavours of iptables (legacy and nf_tables) must not be mixed on a node.
//
// If Calico runs in IP-in-IP mode, set [Node.IPIP]; for VXLAN set
// [Node.VXLAN] (flannel's VXLAN uses 8472/udp: add a [Rule]). Otherwise a
// default drop on the node's interface cuts pods on different nodes apart.
// On LKE, set [Node.WireGuard] too: the control plane reaches kubelets for
// kubectl exec, logs and port-forward through a WireGuard tunnel on
// 51820/udp.
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
// PREROUTING, mangle FORWARD and filter INPUT that jumps into an
// ORIGINGUARD-* chain, then those chains, in IPv4 and IPv6 (one
// iptables-restore --noflush transaction per family), and with [IPSet] then the og-* ipsets; with
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
// Rules match TCP, UDP and SCTP with ports, and any other IP protocol by
// number ([ProtocolNumber]; [IPIP] and ICMP on IPv4 only, ICMPv6 on IPv6
// only). ICMP echo (ping) is let in over IPv6, as RFC 4890 asks of a host,
// and not over IPv4. The Applier replaces what it owns for its own backend
// (and destroys the ipsets of sets dropped from the Spec): Apply does not
// remove the rules of another backend after a switch; Remove does, with the
// old backend's Applier. IPv6 is always rendered: a node without ip6tables
// support fails the IPv6 step (and is rolled back). The Applier refuses
// more source prefixes than [DefaultPrefixLimit] (4,096 rules' worth with
// [IPTables], 400,000 with [NFTables], whose tool needs about 0.8 KiB of
// memory per prefix) unless [WithPrefixLimit] raises the limit.
package firewall

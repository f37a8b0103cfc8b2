package firewall

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
)

// IPTablesMode is the iptables flavour the iptables backends drive: the
// legacy x_tables kernel interface, or iptables-nft, which writes nf_tables
// tables named like iptables' ones. Rules loaded through one are invisible
// to the other's save tool, so the Applier must use the node's flavour.
// It is a closed vocabulary: use the constants.
type IPTablesMode string

const (
	// IPTablesAuto, the zero value, detects the flavour the way kube-proxy's
	// image (kubernetes-sigs/iptables-wrappers) does: kubelet's chains
	// KUBE-IPTABLES-HINT or KUBE-KUBELET-CANARY in the mangle table of
	// iptables-nft mean nft; in iptables-legacy, legacy; otherwise this
	// package's own chains in iptables-legacy mean legacy; otherwise nft —
	// unless iptables-legacy-save failed (it needs CAP_NET_RAW), which is
	// an error rather than a guess.
	IPTablesAuto IPTablesMode = ""
	// IPTablesLegacy runs iptables-legacy-save and iptables-legacy-restore.
	IPTablesLegacy IPTablesMode = "legacy"
	// IPTablesNFT runs iptables-nft-save and iptables-nft-restore.
	IPTablesNFT IPTablesMode = "nft"
)

// kubeletHints are the chains kubelet (1.17 and later) keeps in the mangle
// table of the iptables flavour the node uses.
var kubeletHints = []string{":KUBE-IPTABLES-HINT ", ":KUBE-KUBELET-CANARY "}

// xtables names the save and restore tools per family (IPv4, IPv6) of one
// iptables flavour.
type xtables struct {
	mode          IPTablesMode
	save, restore [2]string
}

func xtablesFor(m IPTablesMode) xtables {
	s := string(m)
	return xtables{
		mode:    m,
		save:    [2]string{"iptables-" + s + "-save", "ip6tables-" + s + "-save"},
		restore: [2]string{"iptables-" + s + "-restore", "ip6tables-" + s + "-restore"},
	}
}

// detectMode returns the flavour to use (see [IPTablesAuto]). Like
// iptables-wrappers it never runs iptables-legacy-save with -t, which would
// make the kernel create the table.
func (a *Applier) detectMode(ctx context.Context) (IPTablesMode, error) {
	if a.mode != IPTablesAuto {
		return a.mode, nil
	}
	has := func(out string, marks []string) bool {
		return slices.ContainsFunc(marks, func(m string) bool { return strings.Contains(out, m) })
	}
	for _, tool := range []string{"iptables-nft-save", "ip6tables-nft-save"} {
		if out, err := a.exec(ctx, "", tool, "-t", "mangle"); err == nil && has(out, kubeletHints) {
			return IPTablesNFT, nil
		}
	}
	var legacy [2]string
	var failed []error
	for i, tool := range []string{"iptables-legacy-save", "ip6tables-legacy-save"} {
		var err error
		if legacy[i], err = a.exec(ctx, "", tool); err != nil {
			failed = append(failed, err)
		}
		if has(legacy[i], kubeletHints) {
			return IPTablesLegacy, nil
		}
	}
	if has(legacy[0]+legacy[1], []string{":" + chainPrefix}) {
		return IPTablesLegacy, nil // installed there before; keep it there
	}
	if len(failed) > 0 {
		// Unlike iptables-wrappers, do not guess: legacy iptables-save
		// fails without CAP_NET_RAW, and a wrong guess would load the
		// rules where the node's other tools do not look.
		return "", fmt.Errorf("firewall: cannot tell the node's iptables flavour (kubelet's hint chain is in neither; grant CAP_NET_RAW, which iptables-legacy needs, or use WithIPTablesMode): %w", errors.Join(failed...))
	}
	return IPTablesNFT, nil
}

// links parses `ip -d -o link show`: each interface's name and whether an
// XDP program is attached to it.
func links(out string) (names []string, xdp map[string]bool) {
	xdp = map[string]bool{}
	for line := range strings.Lines(out) {
		// "2: eth0@if5: <BROADCAST,...> mtu 1500 ... prog/xdp id 12 ..."
		f := strings.Fields(line)
		if len(f) < 2 {
			continue
		}
		name, _, _ := strings.Cut(strings.TrimSuffix(f[1], ":"), "@")
		names = append(names, name)
		xdp[name] = hasXDP(line)
	}
	return names, xdp
}

// inspectInterfaces fails unless every entry of s.Interfaces names an
// interface of the node (for "name+", at least one interface starting with
// name): a Spec guarding an interface that does not exist protects
// nothing, silently. It then looks for eBPF programs on the guarded
// interfaces: XDP (ip -d link) and tc classifiers (tc filter, ingress).
// Such a program (Cilium, Calico's eBPF data plane) may DNAT, redirect or
// accept NodePort traffic before netfilter sees it, so these rules never
// judge it. It logs a warning for each, or fails with [WithFailOnBPF]. tcx
// attachments (kernel 6.6 and later) are not listed by tc; they are found
// only where bpftool is installed. It returns the node's interfaces the
// Spec guards.
func (a *Applier) inspectInterfaces(ctx context.Context, s Spec) ([]string, error) {
	out, err := a.exec(ctx, "", "ip", "-d", "-o", "link", "show")
	if err != nil {
		return nil, fmt.Errorf("firewall: list interfaces: %w", err)
	}
	have, xdp := links(out)
	var guarded []string
	var errs []error
	for _, want := range s.Interfaces {
		stem, wild := strings.CutSuffix(want, "+")
		found := false
		for _, name := range have {
			if name == want || wild && strings.HasPrefix(name, stem) {
				found = true
				if !slices.Contains(guarded, name) {
					guarded = append(guarded, name)
				}
			}
		}
		if !found {
			errs = append(errs, fmt.Errorf("firewall: interface %q not found on the node (it has %s): the rules would guard nothing", want, strings.Join(have, ", ")))
		}
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}

	var found []string
	for _, name := range guarded {
		if xdp[name] {
			found = append(found, name+": XDP program")
		}
		if out, err := a.exec(ctx, "", "tc", "filter", "show", "dev", name, "ingress"); err == nil && hasTCBPF(out) {
			found = append(found, name+": tc ingress BPF classifier")
		}
	}
	if out, err := a.exec(ctx, "", "bpftool", "net", "show"); err == nil {
		for line := range strings.Lines(out) {
			dev, _, _ := strings.Cut(strings.TrimSpace(line), "(")
			if strings.Contains(line, "tcx/ingress") && slices.Contains(guarded, dev) {
				found = append(found, dev+": tcx ingress program")
			}
		}
	}
	if len(found) == 0 {
		return guarded, nil
	}
	msg := "eBPF programs on guarded interfaces may handle packets before netfilter, so these rules may never see them: " + strings.Join(found, "; ")
	if a.failOnBPF {
		return nil, fmt.Errorf("firewall: %s", msg)
	}
	a.logger.Warn("firewall: " + msg)
	return guarded, nil
}

// hasXDP reports whether `ip -d link show` lists an attached XDP program
// ("prog/xdp id 12", "xdpgeneric", "xdpdrv", "xdpoffload").
func hasXDP(out string) bool {
	for _, f := range strings.Fields(out) {
		switch f {
		case "xdp", "xdpgeneric", "xdpdrv", "xdpoffload", "xdpmulti", "prog/xdp":
			return true
		}
		if strings.HasPrefix(f, "xdpgeneric/") || strings.HasPrefix(f, "xdpdrv/") || strings.HasPrefix(f, "xdpoffload/") || strings.HasPrefix(f, "prog/xdp") {
			return true
		}
	}
	return false
}

// hasTCBPF reports whether `tc filter show` lists a bpf classifier.
func hasTCBPF(out string) bool {
	for line := range strings.Lines(out) {
		if slices.Contains(strings.Fields(line), "bpf") {
			return true
		}
	}
	return false
}

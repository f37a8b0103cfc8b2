package firewall

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"
)

// Remove takes this package's firewall off the node, for the Applier's
// backend only: with [IPTables] and [IPSet], every rule of mangle
// PREROUTING, mangle FORWARD and filter INPUT that jumps into an ORIGINGUARD-* chain
// (however many there are), then the ORIGINGUARD-* chains of mangle and
// filter, in IPv4 and IPv6; with [IPSet] also the og-* ipsets, once no rule
// refers to them; with [NFTables], the table inet originguard.
//
// Nothing else is touched: not other chains, tables or ipsets, not the
// other backends' rules (to switch backends, Remove with the old backend's
// Applier, then Apply with the new one). Removing when nothing is installed
// changes nothing and is not an error.
//
// With iptables-nft, a built-in chain that only this package's jumps used
// (and that accepts by policy) is deleted too: iptables-nft creates such
// base chains on demand, each hooked into the packet path, so Remove on a
// node that had no iptables rules leaves no hooked chain behind (the empty
// nf_tables tables stay; they cost nothing).
//
// Like [Applier.Apply], Remove takes the node's lock, saves what it is
// about to change, checks
// the change with the tools' dry runs, makes it in one iptables-restore
// --noflush transaction per family (one nft -f transaction for nftables),
// verifies the result, and on any failure restores what it saved and
// returns the error, which matches [ErrRollback] if that failed too.
func (a *Applier) Remove(ctx context.Context) error {
	nd, _, unlock, err := a.prepare(ctx, nil, true)
	if err != nil {
		return err
	}
	defer unlock()
	if a.backend == NFTables {
		return a.removeNFT(ctx)
	}
	return a.removeIPTables(ctx, nd)
}

func errBackend(b Backend) error {
	return fmt.Errorf("firewall: unknown backend %q (want iptables, ipset or nftables)", b)
}

func (a *Applier) removeIPTables(ctx context.Context, nd node) error {
	before, err := a.saveIPTables(ctx, nd)
	if err != nil {
		return err
	}
	fail := func(step string, err error) error { return a.undoIPTables(ctx, nd, before, step, err) }
	var text [2]string
	for i := range text {
		text[i] = removeScript(before.saved[i], nd.xt.mode == IPTablesNFT)
	}
	for i, tool := range nd.xt.restore {
		if text[i] == "" {
			continue
		}
		if _, err := a.exec(ctx, text[i], tool, "--test", "--noflush"); err != nil {
			return fail("check", err)
		}
	}
	for i, tool := range nd.xt.restore {
		if text[i] == "" {
			continue
		}
		if _, err := a.exec(ctx, text[i], tool, "--noflush"); err != nil {
			return fail("remove", err)
		}
	}
	if len(before.sets) > 0 {
		// Only now that no rule of ours matches them can the sets go.
		var b strings.Builder
		for _, name := range slices.Sorted(maps.Keys(before.sets)) {
			b.WriteString("destroy " + name + "\n")
		}
		if _, err := a.exec(ctx, b.String(), "ipset", "restore"); err != nil {
			return fail("destroy sets", err)
		}
	}
	if text == [2]string{} && len(before.sets) == 0 {
		return nil // nothing was installed, nothing changed
	}
	after, err := a.saveIPTables(ctx, nd)
	if err != nil {
		return fail("verify", err)
	}
	for i, tool := range nd.xt.save {
		if err := verifyRemoved(after.saved[i]); err != nil {
			return fail("verify", fmt.Errorf("%s: %w", tool, err))
		}
	}
	if len(after.sets) > 0 {
		return fail("verify", fmt.Errorf("ipsets %v remain", slices.Sorted(maps.Keys(after.sets))))
	}
	return nil
}

// removeScript returns restore input that removes our part of saved (an
// iptables-save output), or "" if saved has none. Declaring our chains
// flushes them, so that nothing refers to them when they are deleted.
//
// With iptables-nft (nft true) a built-in chain exists only once a rule
// needs it, and each one is a base chain hooked into the packet path. A
// hooked built-in chain that only our jumps used and that accepts by
// policy is deleted too, so that Remove leaves nothing that was not there
// before Apply; to every iptables tool it looks the same (iptables-nft
// shows built-in chains that do not exist as empty ACCEPT ones).
func removeScript(saved string, nft bool) string {
	o := parseOwn(saved)
	var out strings.Builder
	for _, table := range ownTables() {
		var body strings.Builder
		for _, c := range o.chains[table] {
			body.WriteString(":" + c + " - [0:0]\n")
		}
		var empty []string
		for _, h := range hooks {
			if h.table != table {
				continue
			}
			for _, e := range o.entries[h] {
				body.WriteString("-D " + h.builtin + " " + e.spec + "\n")
			}
			if nft && len(o.entries[h]) > 0 && o.builtin[h] == len(o.entries[h]) && o.policy[h] == "ACCEPT" && !slices.Contains(empty, h.builtin) {
				empty = append(empty, h.builtin)
			}
		}
		for _, c := range o.chains[table] {
			body.WriteString("-X " + c + "\n")
		}
		for _, c := range empty {
			body.WriteString("-X " + c + "\n")
		}
		if body.Len() > 0 {
			out.WriteString("*" + table + "\n" + body.String() + "COMMIT\n")
		}
	}
	return out.String()
}

// verifyRemoved checks that saved (read back after removing) has no chain
// of ours and no rule entering one from a hooked built-in chain.
func verifyRemoved(saved string) error {
	o := parseOwn(saved)
	for _, table := range []string{"mangle", "filter"} {
		if len(o.chains[table]) > 0 {
			return fmt.Errorf("chains %v remain in table %s", o.chains[table], table)
		}
	}
	for _, h := range hooks {
		if len(o.entries[h]) > 0 {
			return fmt.Errorf("%d rules of %s %s still jump to our chains", len(o.entries[h]), h.table, h.builtin)
		}
	}
	return nil
}

func (a *Applier) removeNFT(ctx context.Context) error {
	before, exists, err := a.saveNFT(ctx)
	if err != nil || !exists {
		return err
	}
	// "table" first makes the delete work even if the table went away
	// meanwhile.
	script := "table inet " + nftTable + "\ndelete table inet " + nftTable + "\n"
	if _, err := a.exec(ctx, script, "nft", "-c", "-f", "-"); err != nil {
		return fmt.Errorf("firewall: check: %w", err) // nothing changed yet
	}
	if _, err := a.exec(ctx, script, "nft", "-f", "-"); err != nil {
		return a.undoNFT(ctx, before, "remove", err)
	}
	tables, err := a.exec(ctx, "", "nft", "list", "tables")
	if err != nil {
		return a.undoNFT(ctx, before, "verify", err)
	}
	if hasLine(tables, "table inet "+nftTable) {
		return a.undoNFT(ctx, before, "verify", fmt.Errorf("table inet %s remains", nftTable))
	}
	return nil
}

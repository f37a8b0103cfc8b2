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
// PREROUTING and filter INPUT that jumps into an ORIGINGUARD-* chain
// (however many there are), then the ORIGINGUARD-* chains of mangle and
// filter, in IPv4 and IPv6; with [IPSet] also the og-* ipsets, once no rule
// refers to them; with [NFTables], the table inet originguard.
//
// Nothing else is touched: not other chains, tables or ipsets, not the
// other backends' rules (to switch backends, Remove with the old backend's
// Applier, then Apply with the new one). Removing when nothing is installed
// changes nothing and is not an error.
//
// Like [Applier.Apply], Remove saves what it is about to change, checks
// the change with the tools' dry runs, makes it in one iptables-restore
// --noflush transaction per family (one nft -f transaction for nftables),
// verifies the result, and on any failure restores what it saved and
// returns the error, which matches [ErrRollback] if that failed too.
func (a *Applier) Remove(ctx context.Context) error {
	switch a.backend {
	case IPTables, IPSet:
		return a.removeIPTables(ctx)
	case NFTables:
		return a.removeNFT(ctx)
	}
	return errBackend(a.backend)
}

func errBackend(b Backend) error {
	return fmt.Errorf("firewall: unknown backend %q (want iptables, ipset or nftables)", b)
}

func (a *Applier) removeIPTables(ctx context.Context) error {
	before, err := a.saveIPTables(ctx)
	if err != nil {
		return err
	}
	fail := func(step string, err error) error { return a.undoIPTables(ctx, before, step, err) }
	var text [2]string
	for i := range families {
		text[i] = removeScript(before.saved[i])
	}
	for i, f := range families {
		if text[i] == "" {
			continue
		}
		if _, err := a.run(ctx, text[i], f.restore, "--test", "--noflush"); err != nil {
			return fail("check", err)
		}
	}
	for i, f := range families {
		if text[i] == "" {
			continue
		}
		if _, err := a.run(ctx, text[i], f.restore, "--noflush"); err != nil {
			return fail("remove", err)
		}
	}
	if len(before.sets) > 0 {
		// Only now that no rule of ours matches them can the sets go.
		var b strings.Builder
		for _, name := range slices.Sorted(maps.Keys(before.sets)) {
			b.WriteString("destroy " + name + "\n")
		}
		if _, err := a.run(ctx, b.String(), "ipset", "restore"); err != nil {
			return fail("destroy sets", err)
		}
	}
	if text == [2]string{} && len(before.sets) == 0 {
		return nil // nothing was installed, nothing changed
	}
	after, err := a.saveIPTables(ctx)
	if err != nil {
		return fail("verify", err)
	}
	for i, f := range families {
		if err := verifyRemoved(after.saved[i]); err != nil {
			return fail("verify", fmt.Errorf("%s: %w", f.save, err))
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
func removeScript(saved string) string {
	o := parseOwn(saved)
	var out strings.Builder
	for _, table := range []string{"mangle", "filter"} {
		var body strings.Builder
		for _, c := range o.chains[table] {
			body.WriteString(":" + c + " - [0:0]\n")
		}
		for _, h := range hooks {
			if h.table == table {
				for _, e := range o.entries[h] {
					body.WriteString("-D " + h.builtin + " " + e.spec + "\n")
				}
			}
		}
		for _, c := range o.chains[table] {
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
	if _, err := a.run(ctx, script, "nft", "-c", "-f", "-"); err != nil {
		return fmt.Errorf("firewall: check: %w", err) // nothing changed yet
	}
	if _, err := a.run(ctx, script, "nft", "-f", "-"); err != nil {
		return a.undoNFT(ctx, before, "remove", err)
	}
	tables, err := a.run(ctx, "", "nft", "list", "tables")
	if err != nil {
		return a.undoNFT(ctx, before, "verify", err)
	}
	if hasLine(tables, "table inet "+nftTable) {
		return a.undoNFT(ctx, before, "verify", fmt.Errorf("table inet %s remains", nftTable))
	}
	return nil
}

package firewall

import "strings"

// The one jump from each hooked built-in chain into this package's chains
// is the Applier's business, not the renderer's: restore input cannot test
// whether a rule exists, so the Applier reads iptables-save first and adds
// exactly the lines that leave one jump (see withJumps).

// withJumps returns the restore input text (as [Spec.Render] made it) with
// the lines added that leave exactly one jump per hook, given what
// iptables-save printed on the node (saved): none when one is there, an
// insert at the top when none is, deletes and one insert when there are
// several. The jump is inserted at the top once and never moved afterwards.
// The lines go right after the table's chain declarations, so that the
// chains exist when the jump refers to them.
func withJumps(text, saved string) string {
	fix := map[string][]byte{}
	size := len(text)
	for _, h := range hooks {
		fix[h.table] = jumpFix(fix[h.table], h, countJumps(saved, h))
		size += len(fix[h.table])
	}
	// One allocation of the final size: the plain backend's text can be
	// large, and the Applier runs under a memory limit.
	var b strings.Builder
	b.Grow(size)
	rest := text
	for rest != "" {
		line, after, _ := strings.Cut(rest, "\n")
		b.WriteString(line)
		b.WriteByte('\n')
		rest = after
		table, ok := strings.CutPrefix(line, "*")
		if !ok {
			continue
		}
		for strings.HasPrefix(rest, ":") {
			line, rest, _ = strings.Cut(rest, "\n")
			b.WriteString(line)
			b.WriteByte('\n')
		}
		b.Write(fix[table])
		fix[table] = nil // once per table
	}
	return b.String()
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

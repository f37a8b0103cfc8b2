package firewall

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"os/exec"
	"slices"
	"strings"
	"time"
)

// Runner runs the program name with args, feeding it stdin, and returns
// what it printed on standard output. A non-nil error must carry what the
// program printed on standard error. [Exec] is the Runner that runs
// programs on the local node; tests inject one that runs them inside a
// network namespace.
type Runner func(ctx context.Context, stdin, name string, args ...string) (string, error)

// Exec is the [Runner] that runs programs with os/exec on the local node.
func Exec(ctx context.Context, stdin, name string, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Stdin = strings.NewReader(stdin)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return stdout.String(), fmt.Errorf("%s %s: %w: %s", name, strings.Join(args, " "), err, strings.TrimSpace(stderr.String()))
	}
	return stdout.String(), nil
}

// ErrRollback is matched (errors.Is) by an [Applier.Apply] error when
// putting the previous rule set back failed too: the node's rules are then
// in an unknown state and need a human.
var ErrRollback = errors.New("rollback failed")

// rollbackTimeout bounds a rollback. It runs under its own deadline, not the
// caller's: a caller that gives up (a cancelled context, a deadline) in the
// middle of an Apply must not leave IPv4 on the new rules, IPv6 on the old
// ones and the ipsets swapped.
const rollbackTimeout = 30 * time.Second

// Applier loads rule sets into the kernel with the real tools (iptables-save
// and iptables-restore of the node's flavour, ip6tables-*, ipset, nft, and
// conntrack). It is the optional third step after [Spec.Validate] and
// [Spec.Render].
//
// Apply takes the node's lock ([WithLockFile]), looks at the node (the
// iptables flavour, that the guarded interfaces exist, eBPF programs on
// them), saves what it is about to change, renders, checks the text with
// the tools' dry runs (iptables-restore --test, nft -c), applies, reads the
// result back and verifies it, and deletes the conntrack entries of flows
// the new rules would not admit; on any failure it restores what it saved,
// exactly, touching only this package's chains, jumps, sets and table.
// Applying the same Spec again changes nothing. [Applier.Remove] takes
// what Apply installed off the node again, with the same care, and
// [Applier.Check] is a dry run that changes nothing.
//
// An Applier holds no state and may be shared; Apply, Remove and Check
// serialise through the lock file, across processes too.
type Applier struct {
	backend     Backend
	run         Runner
	lockFile    string
	mode        IPTablesMode
	logger      *slog.Logger
	failOnBPF   bool
	prefixLimit int // -1: the backend's default
}

// Option configures an [Applier].
type Option func(*Applier)

// WithRunner makes the Applier run programs with r instead of [Exec].
func WithRunner(r Runner) Option { return func(a *Applier) { a.run = r } }

// WithLockFile makes the Applier lock path instead of [DefaultLockFile].
// Every Applier that may touch the node at the same time must lock the
// same file.
func WithLockFile(path string) Option { return func(a *Applier) { a.lockFile = path } }

// WithIPTablesMode makes the iptables backends use flavour m instead of
// detecting it ([IPTablesAuto]).
func WithIPTablesMode(m IPTablesMode) Option { return func(a *Applier) { a.mode = m } }

// WithLogger makes the Applier log its warnings (eBPF programs on a guarded
// interface) to l instead of [slog.Default].
func WithLogger(l *slog.Logger) Option { return func(a *Applier) { a.logger = l } }

// WithFailOnBPF makes Apply and Check fail, instead of warning, when an
// eBPF program is attached to a guarded interface.
func WithFailOnBPF() Option { return func(a *Applier) { a.failOnBPF = true } }

// WithPrefixLimit sets the most source prefixes (IPv4 and IPv6 together)
// a Spec may make the backend load, instead of [DefaultPrefixLimit]; n = 0
// lifts the limit. Raising it is how a caller opts in to the [IPTables]
// backend's per-packet cost beyond a few thousand prefixes, or to the nft
// tool's memory beyond [NFTables]' limit.
func WithPrefixLimit(n int) Option {
	return func(a *Applier) { a.prefixLimit = max(n, 0) }
}

// NewApplier returns an Applier for backend b.
func NewApplier(b Backend, opts ...Option) *Applier {
	a := &Applier{backend: b, run: Exec, lockFile: DefaultLockFile, prefixLimit: -1}
	for _, o := range opts {
		o(a)
	}
	if a.logger == nil {
		a.logger = slog.Default()
	}
	return a
}

// exec runs a program through the Runner, unless ctx is already done: a
// Runner need not watch ctx for Apply to stop between steps.
func (a *Applier) exec(ctx context.Context, stdin, name string, args ...string) (string, error) {
	if err := context.Cause(ctx); err != nil {
		return "", fmt.Errorf("%s not run: %w", name, err)
	}
	return a.run(ctx, stdin, name, args...)
}

// undoContext is the context a rollback runs under: the caller's values,
// none of its cancellation, and a deadline of its own.
func undoContext(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.WithoutCancel(ctx), rollbackTimeout)
}

// node is what Apply, Remove and Check learn about the node before they
// change anything.
type node struct {
	xt      xtables    // the iptables flavour's tools (iptables backends)
	guarded []string   // the node's interfaces the Spec guards (Apply, Check)
	n       normalized // the Spec, normalised once (Apply, Check)
}

// compile checks the Applier's settings and s, and renders s, before the
// node is touched: a Spec that is invalid or over the prefix limit is
// refused without waiting for the lock (and the limit is checked before
// rendering, which is where a million prefixes cost).
func (a *Applier) compile(s *Spec) (normalized, Script, error) {
	if err := a.checkSettings(); err != nil {
		return normalized{}, Script{}, err
	}
	if err := s.Validate(); err != nil {
		return normalized{}, Script{}, err
	}
	n := normalize(*s)
	if err := a.checkLimit(n); err != nil {
		return normalized{}, Script{}, err
	}
	script, err := s.Render(a.backend)
	return n, script, err
}

func (a *Applier) checkSettings() error {
	switch a.backend {
	case IPTables, IPSet, NFTables:
	default:
		return errBackend(a.backend)
	}
	switch a.mode {
	case IPTablesAuto, IPTablesLegacy, IPTablesNFT:
	default:
		return fmt.Errorf("firewall: unknown iptables mode %q (want legacy or nft)", a.mode)
	}
	return nil
}

// inspect looks at the node: the guarded interfaces of s (nil for Remove)
// and eBPF programs on them, and the iptables flavour.
func (a *Applier) inspect(ctx context.Context, s *Spec) (node, error) {
	var nd node
	if s != nil {
		var err error
		if nd.guarded, err = a.inspectInterfaces(ctx, *s); err != nil {
			return nd, err
		}
	}
	if a.backend != NFTables {
		mode, err := a.detectMode(ctx)
		if err != nil {
			return nd, err
		}
		nd.xt = xtablesFor(mode)
	}
	return nd, nil
}

// prepare compiles s, takes the lock and inspects the node. The caller
// must call unlock when it is done with the node.
func (a *Applier) prepare(ctx context.Context, s *Spec, exclusive bool) (nd node, script Script, unlock func(), err error) {
	var n normalized
	if s != nil {
		if n, script, err = a.compile(s); err != nil {
			return nd, script, nil, err
		}
	} else if err := a.checkSettings(); err != nil {
		return nd, script, nil, err
	}
	if unlock, err = a.lock(ctx, exclusive); err != nil {
		return nd, script, nil, err
	}
	if nd, err = a.inspect(ctx, s); err != nil {
		unlock()
		return nd, script, nil, err
	}
	nd.n = n
	return nd, script, unlock, nil
}

// Apply makes the node's rules those of s (see [Applier]). The error names
// the step that failed; it matches [ErrRollback] if the previous rules could
// not be restored.
func (a *Applier) Apply(ctx context.Context, s Spec) error {
	nd, script, unlock, err := a.prepare(ctx, &s, true)
	if err != nil {
		return err
	}
	defer unlock()
	if a.backend == NFTables {
		return a.applyNFT(ctx, nd, script)
	}
	return a.applyIPTables(ctx, nd, s, script)
}

// Check is a dry run of [Applier.Apply] against the node: it takes the lock
// (shared), inspects the node as Apply does (iptables flavour, guarded
// interfaces, eBPF programs, the prefix limit) and has the tools check the
// text Apply would load (iptables-restore --test, nft -c), and changes
// nothing. nil means Apply would get as far as loading the rules. With
// [IPSet], rules matching a set that does not exist yet are checked without
// their set match: the ipset tool has no dry run, and the kernel needs the
// set to exist before a rule can name it.
func (a *Applier) Check(ctx context.Context, s Spec) error {
	nd, script, unlock, err := a.prepare(ctx, &s, false)
	if err != nil {
		return err
	}
	defer unlock()
	if a.backend == NFTables {
		if _, err := a.exec(ctx, script.NFT, "nft", "-c", "-f", "-"); err != nil {
			return fmt.Errorf("firewall: check: %w", err)
		}
		return nil
	}
	before, err := a.saveIPTables(ctx, nd)
	if err != nil {
		return err
	}
	for i := range 2 {
		text := withJumps([2]string{script.IPv4, script.IPv6}[i], before.saved[i])
		if a.backend == IPSet {
			text = withoutMissingSets(text, before.sets)
		}
		if _, err := a.exec(ctx, text, nd.xt.restore[i], "--test", "--noflush"); err != nil {
			return fmt.Errorf("firewall: check: %w", err)
		}
	}
	return nil
}

// withoutMissingSets drops "-m set --match-set NAME src" from the rules of
// text whose set is not among have.
func withoutMissingSets(text string, have ipsets) string {
	var b strings.Builder
	for line := range strings.Lines(text) {
		f := strings.Fields(line)
		for i := 0; i+4 < len(f); i++ {
			if f[i] == "-m" && f[i+1] == "set" && f[i+2] == "--match-set" {
				if _, ok := have[f[i+3]]; !ok {
					line = strings.Replace(line, " -m set --match-set "+f[i+3]+" "+f[i+4], "", 1)
				}
			}
		}
		b.WriteString(line)
	}
	return b.String()
}

// ipState is what Apply saves before changing anything.
type ipState struct {
	saved [2]string // iptables-save, ip6tables-save
	sets  ipsets    // ours only; nil without the ipset backend
}

func (a *Applier) saveIPTables(ctx context.Context, nd node) (ipState, error) {
	var st ipState
	for i, tool := range nd.xt.save {
		out, err := a.exec(ctx, "", tool)
		if err != nil {
			return st, fmt.Errorf("firewall: save: %w", err)
		}
		st.saved[i] = out
	}
	if a.backend == IPSet {
		out, err := a.exec(ctx, "", "ipset", "save")
		if err != nil {
			return st, fmt.Errorf("firewall: save: %w", err)
		}
		st.sets = parseIPSets(out)
	}
	return st, nil
}

func (a *Applier) applyIPTables(ctx context.Context, nd node, s Spec, script Script) error {
	before, err := a.saveIPTables(ctx, nd)
	if err != nil {
		return err
	}
	text := [2]string{withJumps(script.IPv4, before.saved[0]), withJumps(script.IPv6, before.saved[1])}
	fail := func(step string, err error) error { return a.undoIPTables(ctx, nd, before, step, err) }
	if a.backend == IPSet {
		// No dry run exists for ipset; its sets must exist before
		// iptables-restore --test can check rules that match them.
		if _, err := a.exec(ctx, script.IPSet, "ipset", "restore"); err != nil {
			return fail("load sets", err)
		}
	}
	for i, tool := range nd.xt.restore {
		if _, err := a.exec(ctx, text[i], tool, "--test", "--noflush"); err != nil {
			return fail("check", err)
		}
	}
	for i, tool := range nd.xt.restore {
		if _, err := a.exec(ctx, text[i], tool, "--noflush"); err != nil {
			return fail("apply", err)
		}
	}
	after, err := a.saveIPTables(ctx, nd)
	if err != nil {
		return fail("verify", err)
	}
	for i, tool := range nd.xt.save {
		if err := verifyIPTables(text[i], after.saved[i]); err != nil {
			return fail("verify", fmt.Errorf("%s: %w", tool, err))
		}
	}
	n := nd.n
	if a.backend == IPSet {
		want := map[string]bool{}
		for _, set := range s.Sets {
			for _, fam := range []int{4, 6} {
				name := ipsetName(set.Name, fam)
				want[name] = true
				if got, want := len(after.sets[name]), len(n.prefixes(set.Name, fam)); got != want {
					return fail("verify", fmt.Errorf("ipset %s holds %d entries, want %d", name, got, want))
				}
			}
		}
		// Sets of ours that the Spec no longer has: no rule refers to them
		// any more, so they can go.
		var stale strings.Builder
		for _, name := range slices.Sorted(maps.Keys(after.sets)) {
			if !want[name] {
				stale.WriteString("destroy " + name + "\n")
			}
		}
		if stale.Len() > 0 {
			if _, err := a.exec(ctx, stale.String(), "ipset", "restore"); err != nil {
				return fail("destroy stale sets", err)
			}
		}
	}
	if err := a.dropStaleFlows(ctx, nd, n); err != nil {
		return fail("drop stale flows", err)
	}
	return nil
}

// undoIPTables reports that step failed with err, after putting back what
// before saved (see rollbackIPTables).
func (a *Applier) undoIPTables(ctx context.Context, nd node, before ipState, step string, err error) error {
	err = fmt.Errorf("firewall: %s: %w", step, err)
	rctx, cancel := undoContext(ctx)
	defer cancel()
	if rb := a.rollbackIPTables(rctx, nd, before); rb != nil {
		return errors.Join(err, fmt.Errorf("firewall: %w: %w", ErrRollback, rb))
	}
	return err
}

// ownLines parses an iptables-save output: per table, the chains of ours
// that exist, the rules in them, and the number of jumps per hook.
type ownLines struct {
	chains map[string][]string // table → our chains declared
	rules  map[string][]string // table → "-A ORIGINGUARD-..." lines
	jumps  map[hook]int        // the canonical jumps "-A <builtin> -j <chain>"
	// entries holds, per hook, every rule of the hook's built-in chain that
	// jumps (or goes) to any chain of ours, canonical or not, with its
	// position; builtin is the number of rules in that built-in chain.
	entries map[hook][]entry
	builtin map[hook]int
	policy  map[hook]string // the built-in chain's policy, "ACCEPT", "DROP"
}

// entry is one rule of a built-in chain that enters our chains: its
// 1-based position in the chain and the rule without "-A <builtin> ".
type entry struct {
	pos  int
	spec string
}

func parseOwn(saved string) ownLines {
	o := ownLines{
		chains: map[string][]string{}, rules: map[string][]string{}, jumps: map[hook]int{},
		entries: map[hook][]entry{}, builtin: map[hook]int{}, policy: map[hook]string{},
	}
	for _, h := range hooks {
		o.jumps[h] = countJumps(saved, h)
	}
	table := ""
	for line := range strings.Lines(saved) {
		line = strings.TrimRight(line, "\r\n")
		switch {
		case strings.HasPrefix(line, "*"):
			table = line[1:]
		case strings.HasPrefix(line, ":"+chainPrefix):
			name, _, _ := strings.Cut(line[1:], " ")
			o.chains[table] = append(o.chains[table], name)
		case strings.HasPrefix(line, ":"):
			f := strings.Fields(line[1:])
			for _, h := range hooks {
				if len(f) > 1 && table == h.table && f[0] == h.builtin {
					o.policy[h] = f[1]
				}
			}
		case strings.HasPrefix(line, "-A "+chainPrefix):
			o.rules[table] = append(o.rules[table], line)
		default:
			for _, h := range hooks {
				spec, ok := strings.CutPrefix(line, "-A "+h.builtin+" ")
				if !ok || table != h.table {
					continue
				}
				o.builtin[h]++
				if entersOurs(spec) {
					o.entries[h] = append(o.entries[h], entry{o.builtin[h], spec})
				}
			}
		}
	}
	return o
}

// entersOurs reports whether a rule's target (-j or -g) is one of our
// chains.
func entersOurs(spec string) bool {
	f := strings.Fields(spec)
	for i := 0; i+1 < len(f); i++ {
		if (f[i] == "-j" || f[i] == "-g") && strings.HasPrefix(f[i+1], chainPrefix) {
			return true
		}
	}
	return false
}

func specs(es []entry) []string {
	out := make([]string, len(es))
	for i, e := range es {
		out[i] = e.spec
	}
	return out
}

// verifyIPTables checks that saved (read back after applying) holds as many
// rules in each of our chains as the restore input put there, and exactly
// one jump per hook.
func verifyIPTables(input, saved string) error {
	got := parseOwn(saved)
	want := map[string]int{}
	for line := range strings.Lines(input) {
		if f := strings.Fields(line); len(f) > 1 && f[0] == "-A" {
			want[f[1]]++
		}
	}
	count := map[string]int{}
	for _, lines := range got.rules {
		for _, l := range lines {
			count[strings.Fields(l)[1]]++
		}
	}
	var errs []error
	for _, table := range ownTables() {
		for _, c := range ownChains[table] {
			if count[c] != want[c] {
				errs = append(errs, fmt.Errorf("chain %s holds %d rules, want %d", c, count[c], want[c]))
			}
		}
	}
	for _, h := range hooks {
		if got.jumps[h] != 1 {
			errs = append(errs, fmt.Errorf("%d jumps from %s %s to %s, want 1", got.jumps[h], h.table, h.builtin, h.chain))
		}
	}
	return errors.Join(errs...)
}

// rollbackIPTables puts back our chains, jumps and sets as they were in
// before, leaving everything else as it is now (kube-proxy or Calico may
// have changed their own rules meanwhile). The order matters: the old sets
// must exist before the old rules that match them are restored, and the new
// sets can only be destroyed once no rule refers to them.
func (a *Applier) rollbackIPTables(ctx context.Context, nd node, before ipState) error {
	var errs []error
	var now ipsets
	if a.backend == IPSet {
		out, err := a.exec(ctx, "", "ipset", "save")
		if err != nil {
			return err
		}
		now = parseIPSets(out)
		if text := refillIPSets(before.sets); text != "" {
			if _, err := a.exec(ctx, text, "ipset", "restore"); err != nil {
				errs = append(errs, err)
			}
		}
	}
	for i := range 2 {
		saved, err := a.exec(ctx, "", nd.xt.save[i])
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if text := rollbackScript(before.saved[i], saved); text != "" {
			if _, err := a.exec(ctx, text, nd.xt.restore[i], "--noflush"); err != nil {
				errs = append(errs, err)
			}
		}
	}
	if a.backend == IPSet {
		var b strings.Builder
		for _, name := range slices.Sorted(maps.Keys(now)) {
			if _, ok := before.sets[name]; !ok {
				b.WriteString("destroy " + name + "\n")
			}
		}
		if b.Len() > 0 {
			if _, err := a.exec(ctx, b.String(), "ipset", "restore"); err != nil {
				errs = append(errs, err)
			}
		}
	}
	return errors.Join(errs...)
}

// rollbackScript returns restore input that turns our part of now back into
// our part of before, or "" when they already agree.
func rollbackScript(before, now string) string {
	b, n := parseOwn(before), parseOwn(now)
	var out strings.Builder
	for _, table := range ownTables() {
		var body strings.Builder
		chains := slices.Concat(b.chains[table], n.chains[table])
		slices.Sort(chains)
		chains = slices.Compact(chains)
		for _, c := range chains {
			body.WriteString(":" + c + " - [0:0]\n")
		}
		for _, h := range hooks {
			if h.table != table || slices.Equal(specs(b.entries[h]), specs(n.entries[h])) {
				continue
			}
			for _, e := range n.entries[h] {
				body.WriteString("-D " + h.builtin + " " + e.spec + "\n")
			}
			// Back at their old positions, as far as the chain, which
			// others may have changed meanwhile, still has them.
			length := n.builtin[h] - len(n.entries[h])
			for _, e := range b.entries[h] {
				body.WriteString("-I " + h.builtin + " " + fmt.Sprint(min(e.pos, length+1)) + " " + e.spec + "\n")
				length++
			}
		}
		for _, l := range b.rules[table] {
			body.WriteString(l + "\n")
		}
		for _, c := range n.chains[table] {
			if !slices.Contains(b.chains[table], c) {
				body.WriteString("-X " + c + "\n")
			}
		}
		if body.Len() > 0 {
			out.WriteString("*" + table + "\n" + body.String() + "COMMIT\n")
		}
	}
	return out.String()
}

// ipsets maps our ipset names to their "add" lines' entries.
type ipsets map[string][]string

// ipsetFamily is the family of one of our sets, from its name.
func ipsetFamily(name string) string {
	if strings.HasSuffix(name, "-v6") || strings.HasSuffix(name, "-v6-new") {
		return "inet6"
	}
	return "inet"
}

func parseIPSets(saved string) ipsets {
	sets := ipsets{}
	for line := range strings.Lines(saved) {
		f := strings.Fields(line)
		if len(f) < 2 || !strings.HasPrefix(f[1], setTag) {
			continue
		}
		switch f[0] {
		case "create":
			if _, ok := sets[f[1]]; !ok {
				sets[f[1]] = []string{}
			}
		case "add":
			if len(f) >= 3 {
				sets[f[1]] = append(sets[f[1]], f[2])
			}
		}
	}
	return sets
}

// refillIPSets returns an ipset restore script that recreates the sets of
// before if they are gone and refills them with their old entries, through
// a swap, as rendering does.
func refillIPSets(before ipsets) string {
	var b strings.Builder
	for _, name := range slices.Sorted(maps.Keys(before)) {
		opts := " hash:net family " + ipsetFamily(name) + " hashsize 1024 maxelem " + fmt.Sprint(maxSetSize) + " -exist\n"
		tmp := name + "-new"
		b.WriteString("create " + name + opts + "create " + tmp + opts + "flush " + tmp + "\n")
		for _, e := range before[name] {
			b.WriteString("add " + tmp + " " + e + "\n")
		}
		b.WriteString("swap " + tmp + " " + name + "\ndestroy " + tmp + "\n")
	}
	return b.String()
}

func (a *Applier) applyNFT(ctx context.Context, nd node, script Script) error {
	before, _, err := a.saveNFT(ctx)
	if err != nil {
		return err
	}
	fail := func(step string, err error) error { return a.undoNFT(ctx, before, step, err) }
	if _, err := a.exec(ctx, script.NFT, "nft", "-c", "-f", "-"); err != nil {
		return fmt.Errorf("firewall: check: %w", err) // nothing changed yet
	}
	if _, err := a.exec(ctx, script.NFT, "nft", "-f", "-"); err != nil {
		return fail("apply", err)
	}
	after, err := a.exec(ctx, "", "nft", "-t", "list", "table", "inet", nftTable) // -t: without set elements, which verify does not read
	if err != nil {
		return fail("verify", err)
	}
	if got, want := nftShape(after), nftShape(script.NFT); !maps.Equal(got, want) {
		return fail("verify", fmt.Errorf("table inet %s has rules per chain %v, want %v", nftTable, got, want))
	}
	if err := a.dropStaleFlows(ctx, nd, nd.n); err != nil {
		return fail("drop stale flows", err)
	}
	return nil
}

// saveNFT returns our table as nft lists it, and whether it exists.
func (a *Applier) saveNFT(ctx context.Context) (before string, exists bool, err error) {
	tables, err := a.exec(ctx, "", "nft", "list", "tables")
	if err != nil {
		return "", false, fmt.Errorf("firewall: save: %w", err)
	}
	if !hasLine(tables, "table inet "+nftTable) {
		return "", false, nil
	}
	if before, err = a.exec(ctx, "", "nft", "list", "table", "inet", nftTable); err != nil {
		return "", true, fmt.Errorf("firewall: save: %w", err)
	}
	return before, true, nil
}

// undoNFT reports that step failed with err, after putting our table back
// as saveNFT saw it (before is "" if there was none), in one transaction.
func (a *Applier) undoNFT(ctx context.Context, before, step string, err error) error {
	err = fmt.Errorf("firewall: %s: %w", step, err)
	rctx, cancel := undoContext(ctx)
	defer cancel()
	restore := "table inet " + nftTable + "\ndelete table inet " + nftTable + "\n" + before
	if _, rb := a.exec(rctx, restore, "nft", "-f", "-"); rb != nil {
		return errors.Join(err, fmt.Errorf("firewall: %w: %w", ErrRollback, rb))
	}
	return err
}

func hasLine(text, want string) bool {
	for line := range strings.Lines(text) {
		if strings.TrimSpace(line) == want {
			return true
		}
	}
	return false
}

// nftShape counts the rules in each chain of an nft table, as written by
// the renderer or as printed by nft list: one rule per line, between
// "chain NAME {" and "}", not counting the "type ..." line.
func nftShape(text string) map[string]int {
	shape := map[string]int{}
	chain := ""
	for line := range strings.Lines(text) {
		line = strings.TrimSpace(line)
		switch {
		case strings.HasPrefix(line, "chain ") && strings.HasSuffix(line, "{"):
			chain = strings.Fields(line)[1]
			shape[chain] = 0
		case chain == "":
		case line == "}":
			chain = ""
		case line == "" || strings.HasPrefix(line, "type "):
		default:
			shape[chain]++
		}
	}
	return shape
}

// ownTables lists the tables that hold chains of ours, in the order restore
// input names them.
func ownTables() []string {
	var out []string
	for _, t := range []string{"raw", "mangle", "nat", "filter", "security"} {
		if len(ownChains[t]) > 0 {
			out = append(out, t)
		}
	}
	return out
}

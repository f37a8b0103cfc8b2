package netpol

import (
	"errors"
	"fmt"
	"slices"
	"strings"
)

// Selector is a parsed Calico label selector, as policies, rules, host
// endpoints and network sets use it. The grammar is Calico's documented
// one: all(), global(), has(k), k == 'v', k != 'v', k in {'a','b'},
// k not in {...}, k contains 's', k starts with 's', k ends with 's',
// !, && (binding tighter) and ||, and parentheses; strings in single or
// double quotes. k != 'v' and k not in {...} also match a resource
// without the label k, as Calico documents. An empty selector is all().
//
// The zero value is all(). A Selector is immutable and safe for
// concurrent use.
type Selector struct {
	src  string
	root selNode
}

// ErrSelector is wrapped by every error [ParseSelector] returns.
var ErrSelector = errors.New("invalid Calico selector")

// CalicoNamespaceLabel is the label Calico gives every namespaced
// endpoint and network set: its namespace. global() matches the
// resources without it.
const CalicoNamespaceLabel = "projectcalico.org/namespace"

// CalicoNameLabel is the label Calico gives every namespace: its name, so
// that a namespaceSelector can select a namespace by name.
const CalicoNameLabel = "projectcalico.org/name"

// CalicoServiceAccountLabel is the label Calico gives a pod's endpoint: its
// service account's name.
const CalicoServiceAccountLabel = "projectcalico.org/serviceaccount"

// MustParseSelector is [ParseSelector] that panics; for tests and literals.
func MustParseSelector(s string) Selector {
	sel, err := ParseSelector(s)
	if err != nil {
		panic(err)
	}
	return sel
}

// ParseSelector parses s in Calico's selector grammar. Anything outside
// the grammar is an error wrapping [ErrSelector] that quotes s and says
// where it failed: the evaluator never guesses what an unsupported
// selector means.
func ParseSelector(s string) (Selector, error) {
	sel, err := parseSelector(s)
	if err != nil {
		return Selector{}, fmt.Errorf("netpol: %w", err)
	}
	return sel, nil
}

// parseSelector is ParseSelector with errors that do not name the
// package, for callers that do.
func parseSelector(s string) (Selector, error) {
	if len(s) > 4096 {
		return Selector{}, fmt.Errorf("selector of %d bytes: longer than 4096: %w", len(s), ErrSelector)
	}
	p := selParser{src: s}
	p.skip()
	if p.pos == len(s) {
		return Selector{src: s}, nil
	}
	n, err := p.or(0)
	if err == nil {
		p.skip()
		if p.pos != len(s) {
			err = p.fail("unexpected %q", p.rest())
		}
	}
	if err != nil {
		return Selector{}, fmt.Errorf("selector %q: %w", s, err)
	}
	return Selector{src: s, root: n}, nil
}

// String returns the selector as written.
func (s Selector) String() string { return s.src }

// Matches reports whether a resource with labels is selected. A resource
// is namespaced (and so not global()) when it carries
// [CalicoNamespaceLabel].
func (s Selector) Matches(labels map[string]string) bool {
	_, namespaced := labels[CalicoNamespaceLabel]
	return s.match(labels, !namespaced)
}

func (s Selector) match(labels map[string]string, global bool) bool {
	if s.root == nil {
		return true
	}
	return s.root.eval(labels, global)
}

// all reports whether s is all() or empty, so it selects everything.
func (s Selector) all() bool {
	if s.root == nil {
		return true
	}
	_, ok := s.root.(selAll)
	return ok
}

// requiredLabel returns a label equality k == 'v' that every resource s
// selects has: one of the top-level conjuncts of s, preferring a key
// outside projectcalico.org/ (those every pod shares) and then the
// smallest. It reports false when s has no such conjunct.
func (s Selector) requiredLabel() ([2]string, bool) {
	var best [2]string
	found := false
	better := func(k string) bool {
		if !found {
			return true
		}
		bc, kc := strings.HasPrefix(best[0], "projectcalico.org/"), strings.HasPrefix(k, "projectcalico.org/")
		if bc != kc {
			return bc
		}
		return k < best[0]
	}
	var walk func(n selNode)
	walk = func(n selNode) {
		switch n := n.(type) {
		case selAnd:
			walk(n.a)
			walk(n.b)
		case selCmp:
			if n.op == "==" && better(n.key) {
				best, found = [2]string{n.key, n.vals[0]}, true
			}
		}
	}
	if s.root != nil {
		walk(s.root)
	}
	return best, found
}

type selNode interface {
	eval(labels map[string]string, global bool) bool
}

type (
	selAll    struct{}
	selGlobal struct{}
	selHas    struct{ key string }
	selNot    struct{ n selNode }
	selAnd    struct{ a, b selNode }
	selOr     struct{ a, b selNode }
	selCmp    struct {
		key, op string
		vals    []string
	}
)

func (selAll) eval(map[string]string, bool) bool        { return true }
func (selGlobal) eval(_ map[string]string, g bool) bool { return g }
func (h selHas) eval(l map[string]string, _ bool) bool {
	_, ok := l[h.key]
	return ok
}
func (n selNot) eval(l map[string]string, g bool) bool { return !n.n.eval(l, g) }
func (n selAnd) eval(l map[string]string, g bool) bool { return n.a.eval(l, g) && n.b.eval(l, g) }
func (n selOr) eval(l map[string]string, g bool) bool  { return n.a.eval(l, g) || n.b.eval(l, g) }
func (c selCmp) eval(l map[string]string, _ bool) bool {
	v, ok := l[c.key]
	switch c.op {
	case "==":
		return ok && v == c.vals[0]
	case "!=":
		return !ok || v != c.vals[0]
	case "in":
		return ok && slices.Contains(c.vals, v)
	case "not in":
		return !ok || !slices.Contains(c.vals, v)
	case "contains":
		return ok && strings.Contains(v, c.vals[0])
	case "starts with":
		return ok && strings.HasPrefix(v, c.vals[0])
	case "ends with":
		return ok && strings.HasSuffix(v, c.vals[0])
	}
	return false
}

type selParser struct {
	src string
	pos int
}

// maxSelectorDepth bounds nesting so that a hostile selector cannot
// exhaust the stack.
const maxSelectorDepth = 100

func (p *selParser) fail(format string, a ...any) error {
	return fmt.Errorf("at offset %d: %s: %w", p.pos, fmt.Sprintf(format, a...), ErrSelector)
}

func (p *selParser) rest() string {
	r := p.src[p.pos:]
	if len(r) > 20 {
		r = r[:20] + "..."
	}
	return r
}

func (p *selParser) skip() {
	for p.pos < len(p.src) && (p.src[p.pos] == ' ' || p.src[p.pos] == '\t') {
		p.pos++
	}
}

// lit consumes tok (after blanks) if it comes next.
func (p *selParser) lit(tok string) bool {
	p.skip()
	if strings.HasPrefix(p.src[p.pos:], tok) {
		p.pos += len(tok)
		return true
	}
	return false
}

// word consumes the keyword w if it comes next, followed by something that
// cannot continue a label key.
func (p *selParser) word(w string) bool {
	p.skip()
	if !strings.HasPrefix(p.src[p.pos:], w) {
		return false
	}
	end := p.pos + len(w)
	if end < len(p.src) && isKeyByte(p.src[end]) {
		return false
	}
	p.pos = end
	return true
}

func (p *selParser) or(depth int) (selNode, error) {
	a, err := p.and(depth)
	if err != nil {
		return nil, err
	}
	for p.lit("||") {
		b, err := p.and(depth)
		if err != nil {
			return nil, err
		}
		a = selOr{a, b}
	}
	return a, nil
}

func (p *selParser) and(depth int) (selNode, error) {
	a, err := p.unary(depth)
	if err != nil {
		return nil, err
	}
	for p.lit("&&") {
		b, err := p.unary(depth)
		if err != nil {
			return nil, err
		}
		a = selAnd{a, b}
	}
	return a, nil
}

func (p *selParser) unary(depth int) (selNode, error) {
	if depth > maxSelectorDepth {
		return nil, p.fail("nested deeper than %d", maxSelectorDepth)
	}
	p.skip()
	if p.pos < len(p.src) && p.src[p.pos] == '!' && !strings.HasPrefix(p.src[p.pos:], "!=") {
		p.pos++
		n, err := p.unary(depth + 1)
		if err != nil {
			return nil, err
		}
		return selNot{n}, nil
	}
	if p.lit("(") {
		n, err := p.or(depth + 1)
		if err != nil {
			return nil, err
		}
		if !p.lit(")") {
			return nil, p.fail("want ')'")
		}
		return n, nil
	}
	return p.primary()
}

func (p *selParser) primary() (selNode, error) {
	p.skip()
	start := p.pos
	for _, fn := range []struct {
		name string
		node selNode
	}{{"all", selAll{}}, {"global", selGlobal{}}} {
		if p.word(fn.name) {
			if p.lit("(") && p.lit(")") {
				return fn.node, nil
			}
			p.pos = start
		}
	}
	if p.word("has") {
		if p.lit("(") {
			p.skip()
			k := p.key()
			if k == "" {
				return nil, p.fail("has() needs a label key")
			}
			if !p.lit(")") {
				return nil, p.fail("want ')' after has(%s", k)
			}
			return selHas{k}, nil
		}
		p.pos = start
	}
	k := p.key()
	if k == "" {
		if p.pos == len(p.src) {
			return nil, p.fail("unexpected end")
		}
		return nil, p.fail("want a label key, all(), global() or has(), got %q", p.rest())
	}
	switch {
	case p.lit("=="):
		v, err := p.str()
		return selCmp{k, "==", []string{v}}, err
	case p.lit("!="):
		v, err := p.str()
		return selCmp{k, "!=", []string{v}}, err
	case p.word("in"):
		vs, err := p.set()
		return selCmp{k, "in", vs}, err
	case p.word("not"):
		if !p.word("in") {
			return nil, p.fail("want 'in' after 'not'")
		}
		vs, err := p.set()
		return selCmp{k, "not in", vs}, err
	case p.word("contains"):
		v, err := p.str()
		return selCmp{k, "contains", []string{v}}, err
	case p.word("starts"):
		if !p.word("with") {
			return nil, p.fail("want 'with' after 'starts'")
		}
		v, err := p.str()
		return selCmp{k, "starts with", []string{v}}, err
	case p.word("ends"):
		if !p.word("with") {
			return nil, p.fail("want 'with' after 'ends'")
		}
		v, err := p.str()
		return selCmp{k, "ends with", []string{v}}, err
	}
	p.skip()
	return nil, p.fail("want an operator after label key %q, got %q", k, p.rest())
}

func isKeyByte(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '.' || c == '/' || c == '-'
}

// key consumes a label key: letters, digits, '_', '.', '/', '-'.
func (p *selParser) key() string {
	p.skip()
	start := p.pos
	for p.pos < len(p.src) && isKeyByte(p.src[p.pos]) {
		p.pos++
	}
	return p.src[start:p.pos]
}

// str consumes a string in single or double quotes, without escapes.
func (p *selParser) str() (string, error) {
	p.skip()
	if p.pos >= len(p.src) || (p.src[p.pos] != '"' && p.src[p.pos] != '\'') {
		return "", p.fail("want a quoted string")
	}
	q := p.src[p.pos]
	end := strings.IndexByte(p.src[p.pos+1:], q)
	if end < 0 {
		return "", p.fail("unterminated string")
	}
	v := p.src[p.pos+1 : p.pos+1+end]
	p.pos += end + 2
	return v, nil
}

// set consumes {'a', 'b'}; the empty set {} is allowed.
func (p *selParser) set() ([]string, error) {
	if !p.lit("{") {
		return nil, p.fail("want '{'")
	}
	var vs []string
	if p.lit("}") {
		return vs, nil
	}
	for {
		v, err := p.str()
		if err != nil {
			return nil, err
		}
		vs = append(vs, v)
		if p.lit("}") {
			return vs, nil
		}
		if !p.lit(",") {
			return nil, p.fail("want ',' or '}'")
		}
	}
}

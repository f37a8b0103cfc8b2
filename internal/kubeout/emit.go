package kubeout

import (
	"slices"
	"strconv"
	"strings"
	"unicode"

	yamlv2 "go.yaml.in/yaml/v2"
)

// emitter writes a decoded JSON tree as block YAML exactly as
// go.yaml.in/yaml/v2 does, for the common case: string keys and values
// without whitespace, integers, booleans, null, and nested mappings and
// sequences. How each string is written (plain, or quoted because it would
// read back as something else or starts with an indicator) is asked of
// go.yaml.in/yaml/v2 itself, once per string and context, and cached. For
// anything else — a string with whitespace (which the YAML emitter may
// fold), a long key (which it writes as a complex key), a float — doc
// reports false and the caller lets go.yaml.in/yaml/v2 write the document.
// The tests compare the two byte for byte on random trees.
type emitter struct {
	buf     []byte
	scalars map[scalarKey]string
	orders  map[string][]string // keys sorted bytewise, joined by NUL -> their order
}

type scalarContext uint8

const (
	asValue scalarContext = iota // after "key: "
	asItem                       // after "- "
	asKey                        // before ":"
)

type scalarKey struct {
	ctx scalarContext
	s   string
}

// maxKey keeps keys well inside the emitter's 128-character limit for
// simple keys.
const maxKey = 100

// doc appends tree as one document (without a "---" line) and reports
// whether it could; on false, buf is as before.
func (e *emitter) doc(tree any) bool {
	m, ok := tree.(map[string]any)
	if !ok || len(m) == 0 {
		return false
	}
	start := len(e.buf)
	if !e.mapping(m, 0, false) {
		e.buf = e.buf[:start]
		return false
	}
	return true
}

func (e *emitter) indent(n int) {
	for range n {
		e.buf = append(e.buf, ' ')
	}
}

// mapping writes m's entries at indent; with inline, the first entry
// continues the current line (after "- ").
func (e *emitter) mapping(m map[string]any, indent int, inline bool) bool {
	for i, k := range e.order(m) {
		if i > 0 || !inline {
			e.indent(indent)
		}
		ks, ok := e.scalar(asKey, k)
		if !ok || len(k) > maxKey {
			return false
		}
		e.buf = append(e.buf, ks...)
		e.buf = append(e.buf, ':')
		switch v := m[k].(type) {
		case map[string]any:
			if len(v) == 0 {
				e.buf = append(e.buf, " {}\n"...)
				continue
			}
			e.buf = append(e.buf, '\n')
			if !e.mapping(v, indent+2, false) {
				return false
			}
		case []any:
			if len(v) == 0 {
				e.buf = append(e.buf, " []\n"...)
				continue
			}
			e.buf = append(e.buf, '\n')
			if !e.sequence(v, indent, false) {
				return false
			}
		default:
			s, ok := e.value(asValue, v)
			if !ok {
				return false
			}
			e.buf = append(e.buf, ' ')
			e.buf = append(e.buf, s...)
			e.buf = append(e.buf, '\n')
		}
	}
	return true
}

// sequence writes l's items at indent; with inline, the first item
// continues the current line.
func (e *emitter) sequence(l []any, indent int, inline bool) bool {
	for i, item := range l {
		if i > 0 || !inline {
			e.indent(indent)
		}
		e.buf = append(e.buf, "- "...)
		switch v := item.(type) {
		case map[string]any:
			if len(v) == 0 {
				e.buf = append(e.buf, "{}\n"...)
				continue
			}
			if !e.mapping(v, indent+2, true) {
				return false
			}
		case []any:
			if len(v) == 0 {
				e.buf = append(e.buf, "[]\n"...)
				continue
			}
			if !e.sequence(v, indent+2, true) {
				return false
			}
		default:
			s, ok := e.value(asItem, v)
			if !ok {
				return false
			}
			e.buf = append(e.buf, s...)
			e.buf = append(e.buf, '\n')
		}
	}
	return true
}

func (e *emitter) value(ctx scalarContext, v any) (string, bool) {
	switch x := v.(type) {
	case string:
		return e.scalar(ctx, x)
	case int64:
		return strconv.FormatInt(x, 10), true
	case int:
		return strconv.Itoa(x), true
	case uint64:
		return strconv.FormatUint(x, 10), true
	case bool:
		return strconv.FormatBool(x), true
	case nil:
		return "null", true
	}
	return "", false // floats and anything unexpected
}

// scalar is how go.yaml.in/yaml/v2 writes s in ctx, when s has no
// whitespace and the result is one line.
func (e *emitter) scalar(ctx scalarContext, s string) (string, bool) {
	if r, ok := e.scalars[scalarKey{ctx, s}]; ok {
		return r, r != ""
	}
	r := e.askYAML(ctx, s)
	if e.scalars == nil {
		e.scalars = map[scalarKey]string{}
	}
	e.scalars[scalarKey{ctx, s}] = r
	return r, r != ""
}

// yamlWords are the plain scalars YAML 1.1 (go.yaml.in/yaml/v2) reads as
// booleans or null: a string spelled so must be quoted.
var yamlWords = map[string]bool{
	"y": true, "Y": true, "yes": true, "Yes": true, "YES": true, "n": true, "N": true, "no": true, "No": true, "NO": true,
	"true": true, "True": true, "TRUE": true, "false": true, "False": true, "FALSE": true,
	"on": true, "On": true, "ON": true, "off": true, "Off": true, "OFF": true,
	"null": true, "Null": true, "NULL": true,
}

// plainWord reports whether s is written as it is in any block context
// without asking: it starts with an ASCII letter (so it cannot read back
// as a number, timestamp or special float), holds only letters, digits,
// '-', '.', '_' and '/' (no indicator, no space), and is not one of
// yamlWords. TestPlainWord holds this to go.yaml.in/yaml/v2.
func plainWord(s string) bool {
	if s == "" || !(s[0] >= 'a' && s[0] <= 'z' || s[0] >= 'A' && s[0] <= 'Z') || yamlWords[s] {
		return false
	}
	for i := 1; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '.' || c == '_' || c == '/') {
			return false
		}
	}
	return true
}

// askYAML renders s in ctx with go.yaml.in/yaml/v2 and cuts the context
// away; "" means the fast path does not handle s.
func (e *emitter) askYAML(ctx scalarContext, s string) string {
	if plainWord(s) {
		return s
	}
	return yamlScalar(ctx, s)
}

// yamlScalar asks go.yaml.in/yaml/v2 how it writes s in ctx.
func yamlScalar(ctx scalarContext, s string) string {
	if strings.IndexFunc(s, func(r rune) bool { return unicode.IsSpace(r) || !unicode.IsPrint(r) }) >= 0 {
		return ""
	}
	var doc any
	var prefix, suffix string
	switch ctx {
	case asValue:
		doc, prefix, suffix = map[string]string{"k": s}, "k: ", "\n"
	case asItem:
		doc, prefix, suffix = []string{s}, "- ", "\n"
	case asKey:
		doc, prefix, suffix = map[string]int{s: 0}, "", ": 0\n"
	}
	out, err := yamlv2.Marshal(doc)
	if err != nil {
		return ""
	}
	r, ok := strings.CutPrefix(string(out), prefix)
	if !ok {
		return ""
	}
	r, ok = strings.CutSuffix(r, suffix)
	if !ok || r == "" || strings.ContainsAny(r, "\n") {
		return ""
	}
	return r
}

// order returns m's keys in the order go.yaml.in/yaml/v2 writes them:
// see lessKey. That order is not transitive for some keys ("a02", "a002",
// "a00b"), and go.yaml.in/yaml/v2 sorts a Go map's keys from the map's
// random iteration order, so for such keys its output changes from run to
// run. Here the keys are first sorted bytewise and then stably by lessKey,
// which makes the order the same every time, and the one
// go.yaml.in/yaml/v2 always gives where its order is consistent. Cached
// per set of keys.
func (e *emitter) order(m map[string]any) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	sig := strings.Join(keys, "\x00")
	if cached, ok := e.orders[sig]; ok {
		return cached
	}
	if e.orders == nil {
		e.orders = map[string][]string{}
	}
	slices.SortStableFunc(keys, func(a, b string) int {
		switch {
		case lessKey(a, b):
			return -1
		case lessKey(b, a):
			return 1
		}
		return 0
	})
	e.orders[sig] = keys
	return keys
}

// ordered turns every mapping of a JSON tree into a yamlv2.MapSlice in
// [emitter.order], so that go.yaml.in/yaml/v2 writes it in that order.
func (e *emitter) ordered(v any) any {
	switch x := v.(type) {
	case map[string]any:
		ms := make(yamlv2.MapSlice, 0, len(x))
		for _, k := range e.order(x) {
			ms = append(ms, yamlv2.MapItem{Key: k, Value: e.ordered(x[k])})
		}
		return ms
	case []any:
		out := make([]any, len(x))
		for i, item := range x {
			out[i] = e.ordered(item)
		}
		return out
	}
	return v
}

// lessKey is the order go.yaml.in/yaml/v2 gives string keys: at the first
// rune where they differ, a non-letter sorts before a letter and two
// letters by code point; otherwise the runs of digits that start there
// are compared as numbers (counting a run of leading zeros as non-zero
// when digits other than zero precede them), then by length, then by the
// rune. A key that is a prefix of the other sorts first.
func lessKey(a, b string) bool {
	ar, br := []rune(a), []rune(b)
	n := min(len(ar), len(br))
	for i := 0; i < n; i++ {
		x, y := ar[i], br[i]
		if x == y {
			continue
		}
		xl, yl := unicode.IsLetter(x), unicode.IsLetter(y)
		if xl || yl {
			if xl && yl {
				return x < y
			}
			return yl // the non-letter first
		}
		var xv, yv int64
		if x == '0' || y == '0' {
			for j := i - 1; j >= 0 && unicode.IsDigit(ar[j]); j-- {
				if ar[j] != '0' {
					xv, yv = 1, 1
					break
				}
			}
		}
		xe, ye := digits(ar, i, &xv), digits(br, i, &yv)
		switch {
		case xv != yv:
			return xv < yv
		case xe != ye:
			return xe < ye
		}
		return x < y
	}
	return len(ar) < len(br)
}

// digits accumulates the run of digits of r from i into *v and returns
// where the run ends.
func digits(r []rune, i int, v *int64) int {
	for ; i < len(r) && unicode.IsDigit(r[i]); i++ {
		*v = *v*10 + int64(r[i]-'0')
	}
	return i
}

package kubeout

import (
	"math/rand/v2"
	"strings"
	"testing"

	yamlv2 "go.yaml.in/yaml/v2"
)

var (
	tricky = []string{"", "true", "True", "false", "null", "Null", "~", "yes", "no", "on", "off", "y", "n", "1", "01", "1.5", "-0", "+1", "0x1f", "0o17", "0b101", "1e3", "1_000",
		"1:20", "30000:32767", ".inf", "-.inf", ".nan", "2001-12-14", "2001-12-14t21:59:43.10-05:00", "2001:db8::/32", "fd00:ec2::254", "169.254.169.254/32", "10.0.0.0/16",
		"a:b", "a: b", "a:", "-", "- x", "-x", "--", "---", "---x", "...", "?", "?x", ":x", "#c", "a#b", "a #b", "'q'", "\"dq\"", "*", "*x", "&a", "!tag", "%p", "@", "`", "|", ">", "{a}", "[b]", "x,y", "a]",
		"ünïcode", "日本", "has(kubernetes.io/hostname)", `originguard.io/set == "edge"`, "global()", "all()", "kubernetes.io/metadata.name", "app.kubernetes.io/name", "k8s-app", "x\ty", "multi\nline",
		" lead", "trail ", strings.Repeat("long words that the emitter folds ", 4), strings.Repeat("x", 120), "\u00a0nbsp", "zero\u200bwidth", "bell\a"}
	// Keys whose order go.yaml.in/yaml/v2 gives consistently; see
	// TestKeyOrderIsDeterministic for the others.
	keys = []string{"a", "b", "B", "a2", "a10", "a02", "a002", "1", "01", "10", "2", "x_1", "x-1", "x.1", "é", "Z", "apiVersion", "kind", "metadata", "spec", "0", "00", "a1b", "a01b", "0a", "1a",
		strings.Repeat("k", 99), strings.Repeat("k", 101), strings.Repeat("k", 130), "true", "null", "", "a: b", "-", "?"}
)

func randTree(r *rand.Rand, depth int) any {
	switch k := r.IntN(9); {
	case k <= 1 && depth < 5:
		m := map[string]any{}
		for range r.IntN(6) {
			m[keys[r.IntN(len(keys))]] = randTree(r, depth+1)
		}
		return m
	case k == 2 && depth < 5:
		l := []any{}
		for range r.IntN(4) {
			l = append(l, randTree(r, depth+1))
		}
		return l
	case k == 3:
		return []int64{0, 1, -1, 53, 65535, 1000000, 1 << 40, -1 << 62}[r.IntN(8)]
	case k == 4:
		return []any{uint64(1) << 63, 0.5, 10.5, 1e21, -2.25}[r.IntN(5)]
	case k == 5:
		return r.IntN(2) == 0
	case k == 6:
		return nil
	default:
		return tricky[r.IntN(len(tricky))]
	}
}

// transitive reports whether lessKey orders the keys of every mapping in
// v consistently, so that go.yaml.in/yaml/v2 sorts them the same whatever
// the map's iteration order.
func transitive(v any) bool {
	switch x := v.(type) {
	case map[string]any:
		var ks []string
		for k, e := range x {
			ks = append(ks, k)
			if !transitive(e) {
				return false
			}
		}
		for _, a := range ks {
			for _, b := range ks {
				for _, c := range ks {
					if lessKey(a, b) && lessKey(b, c) && !lessKey(a, c) {
						return false
					}
				}
			}
		}
	case []any:
		for _, e := range x {
			if !transitive(e) {
				return false
			}
		}
	}
	return true
}

// TestEmitterIsYAMLv2: wherever the fast path writes a document, it is
// byte for byte what go.yaml.in/yaml/v2 writes; one emitter serves all
// trees, so the caches are exercised too.
func TestEmitterIsYAMLv2(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	var e emitter
	fast := 0
	const n = 20000
	for i := range n {
		root := map[string]any{}
		for range 1 + r.IntN(5) {
			root[keys[r.IntN(len(keys))]] = randTree(r, 0)
		}
		if !transitive(root) {
			continue // go.yaml.in/yaml/v2's own output varies; see below
		}
		want, err := yamlv2.Marshal(root)
		if err != nil {
			t.Fatal(err)
		}
		e.buf = e.buf[:0]
		if !e.doc(root) {
			continue
		}
		fast++
		if got := string(e.buf); got != string(want) {
			t.Fatalf("tree %d %#v:\nyaml.v2:\n%s\nemitter:\n%s", i, root, want, got)
		}
	}
	if fast < n/5 {
		t.Errorf("fast path took only %d of %d trees", fast, n)
	}
	t.Logf("fast path wrote %d of %d trees", fast, n)
}

// TestKeyOrderIsDeterministic: go.yaml.in/yaml/v2's key order is not
// transitive for keys such as a02 < a002 < a00b < a02, so its output for
// a Go map holding them depends on the map's random iteration order; the
// emitter's and Marshal's never does.
func TestKeyOrderIsDeterministic(t *testing.T) {
	tree := func() map[string]any {
		return map[string]any{"B": 0, "a02": 1, "a002": 2, "a00b": map[string]any{"a02": "x", "a002": "y", "a00b": []any{"z"}}}
	}
	ours, theirs := map[string]bool{}, map[string]bool{}
	for range 300 {
		var e emitter
		e.buf = e.buf[:0]
		if !e.doc(tree()) {
			t.Fatal("fast path refused a simple tree")
		}
		ours[string(e.buf)] = true
		out, err := Marshal(struct {
			Spec any `json:"spec"`
		}{tree()})
		if err != nil {
			t.Fatal(err)
		}
		ours["marshal:"+string(out)] = true
		v2, err := yamlv2.Marshal(tree())
		if err != nil {
			t.Fatal(err)
		}
		theirs[string(v2)] = true
	}
	if len(ours) != 2 {
		t.Errorf("%d distinct outputs, want one from each path: %v", len(ours), ours)
	}
	t.Logf("go.yaml.in/yaml/v2 gave %d distinct outputs for the same map", len(theirs))
}

// TestPlainWord: every string plainWord accepts, go.yaml.in/yaml/v2 writes
// plain in each context; the words it rejects for being YAML booleans or
// null, it quotes.
func TestPlainWord(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	const first = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
	const rest = first + "0123456789-._/"
	var words []string
	for w := range yamlWords {
		words = append(words, w)
	}
	for i := range 20000 {
		var s string
		if i < len(words) {
			s = words[i]
		} else {
			b := []byte{first[r.IntN(len(first))]}
			for range r.IntN(12) {
				b = append(b, rest[r.IntN(len(rest))])
			}
			s = string(b)
		}
		for _, ctx := range []scalarContext{asValue, asItem, asKey} {
			got := yamlScalar(ctx, s)
			if plainWord(s) && got != s {
				t.Fatalf("%q (context %d): plainWord says plain, go.yaml.in/yaml/v2 writes %q", s, ctx, got)
			}
			if yamlWords[s] && got == s {
				t.Fatalf("%q: go.yaml.in/yaml/v2 writes it plain", s)
			}
		}
	}
}

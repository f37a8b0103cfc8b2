package netpol

import (
	"errors"
	"strings"
	"testing"
)

func TestSelectorMatches(t *testing.T) {
	pod := map[string]string{"app": "web", "tier": "front-end", CalicoNamespaceLabel: "shop"}
	host := map[string]string{"kubernetes.io/hostname": "node-1", "role": "worker"}
	tests := []struct {
		sel    string
		labels map[string]string
		want   bool
	}{
		{"", pod, true},
		{"all()", pod, true},
		{"!all()", pod, false},
		{"global()", pod, false},
		{"global()", host, true},
		{"has(app)", pod, true},
		{"has(app)", host, false},
		{"!has(app)", host, true},
		{"app == 'web'", pod, true},
		{`app == "web"`, pod, true},
		{"app == 'db'", pod, false},
		{"app != 'db'", pod, true},
		{"app != 'web'", pod, false},
		{"app != 'web'", host, true}, // != matches an absent label
		{"app in {'web', 'db'}", pod, true},
		{"app in {'db'}", pod, false},
		{"app in {}", pod, false},
		{"app in {'web'}", host, false},
		{"app not in {'db'}", pod, true},
		{"app not in {'web','db'}", pod, false},
		{"app not in {'web'}", host, true}, // not in matches an absent label
		{"tier contains 'end'", pod, true},
		{"tier contains 'back'", pod, false},
		{"tier starts with 'front'", pod, true},
		{"tier starts with 'end'", pod, false},
		{"tier ends with 'end'", pod, true},
		{"tier ends with 'front'", pod, false},
		{"tier contains ''", host, false}, // contains needs the label
		{"app == 'web' && tier == 'front-end'", pod, true},
		{"app == 'web' && tier == 'x'", pod, false},
		{"app == 'x' || tier == 'front-end'", pod, true},
		// && binds tighter than ||.
		{"app == 'x' && tier == 'x' || has(app)", pod, true},
		{"app == 'x' && (tier == 'x' || has(app))", pod, false},
		{"!has(app) || app starts with 'w' && tier in {'front-end'}", pod, true},
		{"!(app == 'web')", pod, false},
		{"!!has(app)", pod, true},
		{"  ( ( has(app) ) )  ", pod, true},
		{"kubernetes.io/hostname == 'node-1'", host, true},
		{"has(kubernetes.io/hostname)", host, true},
		{"projectcalico.org/namespace == 'shop'", pod, true},
		{"has(has)", map[string]string{"has": ""}, true}, // keywords are label keys where a key fits
		{"in == 'x'", map[string]string{"in": "x"}, true},
		{"all == 'x'", map[string]string{"all": "x"}, true},
	}
	for _, tt := range tests {
		sel, err := ParseSelector(tt.sel)
		if err != nil {
			t.Errorf("ParseSelector(%q): %v", tt.sel, err)
			continue
		}
		if got := sel.Matches(tt.labels); got != tt.want {
			t.Errorf("%q.Matches(%v) = %v, want %v", tt.sel, tt.labels, got, tt.want)
		}
		if sel.String() != tt.sel {
			t.Errorf("String() = %q, want %q", sel.String(), tt.sel)
		}
	}
}

func TestSelectorErrors(t *testing.T) {
	for _, s := range []string{
		"app", "app ==", "app == web", "app = 'web'", "app == 'web", "has(app", "has()",
		"app in 'web'", "app in {'web'", "app in {'a' 'b'}", "app not 'x'", "app starts 'x'",
		"app ends 'x'", "(has(app)", "has(app))", "has(app) &&", "|| has(app)", "has(app) & has(b)",
		"has(app) | has(b)", "all(", "global(x)", "app == 'x' extra", "!", "!= 'x'", "app =~ 'x'",
		"has(app) and has(b)", "app in {'a',}", "app\n== 'x'", "app == 'x' ; has(y)",
		strings.Repeat("(", 200) + "all()" + strings.Repeat(")", 200),
		strings.Repeat("!", 200) + "all()",
	} {
		_, err := ParseSelector(s)
		if err == nil {
			t.Errorf("ParseSelector(%q): no error", s)
			continue
		}
		if !errors.Is(err, ErrSelector) {
			t.Errorf("ParseSelector(%q): %v does not wrap ErrSelector", s, err)
		}
		if !strings.Contains(err.Error(), "netpol: ") || strings.Count(err.Error(), "netpol:") != 1 {
			t.Errorf("ParseSelector(%q): %q: want one package prefix", s, err)
		}
	}
}

func TestSelectorGlobalVersusNamespace(t *testing.T) {
	// global() in a namespaceSelector selects non-namespaced resources
	// (network sets, host endpoints), whatever their labels.
	sel := MustParseSelector("global()")
	if !sel.match(map[string]string{"a": "b"}, true) || sel.match(map[string]string{}, false) {
		t.Error("global() must follow the resource's scope")
	}
}

func FuzzParseSelector(f *testing.F) {
	for _, s := range []string{"", "all()", "global()", "has(a)", "a == 'b'", "a != \"b\"", "a in {'x','y'}",
		"a not in {}", "a contains 'x'", "a starts with 'x'", "a ends with 'y'", "!(a == 'b') && has(c) || d == 'e'"} {
		f.Add(s, "a", "b")
	}
	f.Fuzz(func(t *testing.T, s, k, v string) {
		sel, err := ParseSelector(s)
		if err != nil {
			if !errors.Is(err, ErrSelector) {
				t.Fatalf("%q: %v does not wrap ErrSelector", s, err)
			}
			return
		}
		l := map[string]string{k: v}
		got := sel.Matches(l)
		// Negation and parentheses must agree with the parse.
		if s != "" && strings.TrimSpace(s) != "" {
			neg, err := ParseSelector("!(" + s + ")")
			if err != nil && strings.Contains(err.Error(), "nested deeper") {
				return
			}
			if err != nil {
				t.Fatalf("%q parses but !(%q) does not: %v", s, s, err)
			}
			if neg.Matches(l) == got {
				t.Fatalf("%q and its negation agree on %v", s, l)
			}
			both, err := ParseSelector("(" + s + ") && all()")
			if err != nil || both.Matches(l) != got {
				t.Fatalf("(%q) && all() differs: %v", s, err)
			}
		}
	})
}

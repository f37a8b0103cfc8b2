package netpol

import (
	"fmt"
	"math/rand/v2"
	"reflect"
	"testing"

	calicov3 "github.com/projectcalico/api/pkg/apis/projectcalico/v3"
	networkingv1 "k8s.io/api/networking/v1"
)

// The namespace and label index of Calico policies only prunes: on random
// worlds of tiers, GlobalNetworkPolicies, Calico NetworkPolicies and
// Kubernetes NetworkPolicies, every flow's whole path (steps, deciding
// policy and rule, Log rules met) equals a scan of every policy in order.
func TestCalicoIndexEqualsScan(t *testing.T) {
	sels := []string{"", "all()", "app == 'web'", "app == 'db' && tier == 'x'", "tier == 'y' && app == 'x'",
		"app != 'web'", "has(tier)", "app in {'web', 'db'}", "app == 'web' || tier == 'x'", "!(app == 'db')",
		"projectcalico.org/orchestrator == 'k8s' && app == 'x'", "(app == 'web' && tier == 'x')",
		"projectcalico.org/namespace == 'a'", "tier == 'x' && !has(app)"}
	actions := []calicov3.Action{calicov3.Allow, calicov3.Deny, calicov3.Pass, calicov3.Log}
	for seed := range uint64(60) {
		w := newRandomWorld(seed, 24, 10)
		r := rand.New(rand.NewPCG(seed, 7))
		rules := func() []calicov3.Rule {
			var rs []calicov3.Rule
			for range r.IntN(3) {
				rl := calicov3.Rule{Action: pick(r, actions...)}
				switch r.IntN(3) {
				case 0:
					rl.Source.Selector = pick(r, sels...)
				case 1:
					rl = tcpTo(rl.Action, pick(r, "80", "443", "53", "5432"))
				}
				rs = append(rs, rl)
			}
			return rs
		}
		o := Objects{NetworkPolicies: w.policies, Tiers: []calicov3.Tier{
			tier("security", ord(100), pick(r, calicov3.Deny, calicov3.Pass)),
			tier("platform", ord(200), pick(r, calicov3.Deny, calicov3.Pass))}}
		tiers := []string{"", "security", "platform"}
		for i := range 6 {
			g := gnp(fmt.Sprintf("g%d", i), pick(r, nil, ord(1), ord(1000), ord(1500)), pick(r, sels...), rules()...)
			g.Spec.Egress = rules()
			g.Spec.Tier = pick(r, tiers...)
			if r.IntN(3) == 0 {
				g.Spec.NamespaceSelector = pick(r, "team == 'x'", "has(team)")
			}
			o.GlobalNetworkPolicies = append(o.GlobalNetworkPolicies, g)
		}
		for i, np := range w.policies[:6] {
			c := toCalico(np)
			c.Name = fmt.Sprintf("c%d", i)
			c.Spec.Order = pick(r, nil, ord(1), ord(1000), ord(1500))
			c.Spec.Tier = pick(r, tiers...)
			if r.IntN(2) == 0 {
				c.Spec.Selector = pick(r, sels...)
				c.Spec.Ingress, c.Spec.Egress = rules(), rules()
			}
			o.CalicoNetworkPolicies = append(o.CalicoNetworkPolicies, c)
		}
		idx, err := NewEvaluator(Network{Objects: o, Semantics: Calico})
		if err != nil {
			t.Fatalf("seed %d: %v", seed, err)
		}
		scan, _ := NewEvaluator(Network{Objects: o, Semantics: Calico})
		scan.cal.scan = true
		for _, f := range w.flows(seed, 300) {
			got, err1 := idx.Explain(f)
			want, err2 := scan.Explain(f)
			if err1 != nil || err2 != nil || !reflect.DeepEqual(got, want) {
				t.Fatalf("seed %d: indexed\n%s (%v)\nfull scan\n%s (%v)", seed, got, err1, want, err2)
			}
			if idx.Allowed(f) != want.Allowed {
				t.Fatalf("seed %d: Allowed %v, Explain %v", seed, !want.Allowed, want.Allowed)
			}
		}
	}
}

// requiredLabel finds a label equality every selected resource has, and
// only where there is one.
func TestSelectorRequiredLabel(t *testing.T) {
	for _, c := range []struct {
		sel  string
		want [2]string
		ok   bool
	}{
		{"", [2]string{}, false},
		{"all()", [2]string{}, false},
		{"app == 'web'", [2]string{"app", "web"}, true},
		{"tier == 'x' && app == 'web'", [2]string{"app", "web"}, true},
		{"projectcalico.org/orchestrator == 'k8s' && tier == 'x'", [2]string{"tier", "x"}, true},
		{"projectcalico.org/orchestrator == 'k8s'", [2]string{"projectcalico.org/orchestrator", "k8s"}, true},
		{"app == 'web' || tier == 'x'", [2]string{}, false},
		{"!(app == 'web')", [2]string{}, false},
		{"app != 'web'", [2]string{}, false},
		{"app in {'web'}", [2]string{}, false},
		{"(app == 'web' && tier == 'x') && has(z)", [2]string{"app", "web"}, true},
	} {
		got, ok := MustParseSelector(c.sel).requiredLabel()
		if got != c.want || ok != c.ok {
			t.Errorf("%q: got %q %v, want %q %v", c.sel, got, ok, c.want, c.ok)
		}
	}
}

// A Kubernetes NetworkPolicy selects by the pod's own labels, a Calico
// policy by the labels Calico gives the pod, which override a pod label
// of the same name: the index looks each up where its policy would.
func TestCalicoIndexOwnLabels(t *testing.T) {
	p := pod("a", "10.0.0.1", "n1", CalicoNamespaceLabel, "elsewhere")
	q := pod("a", "10.0.0.2", "n2")
	cnp := calicov3.NetworkPolicy{}
	cnp.Namespace, cnp.Name = "a", "c"
	cnp.Spec.Selector = CalicoNamespaceLabel + " == 'elsewhere'"
	cnp.Spec.Ingress = []calicov3.Rule{deny()}
	for _, c := range []struct {
		name string
		o    Objects
		want bool
	}{
		{"kubernetes policy by the pod's own label", Objects{NetworkPolicies: []networkingv1.NetworkPolicy{
			knp("a", "deny", sel(CalicoNamespaceLabel, "elsewhere"), ingress)}}, false},
		{"calico policy by calico's label", Objects{CalicoNetworkPolicies: []calicov3.NetworkPolicy{cnp}}, true},
	} {
		ev, err := NewEvaluator(Network{Objects: c.o, Semantics: Calico})
		if err != nil {
			t.Fatal(err)
		}
		if got := ev.Allowed(tcp(q, p, 80)); got != c.want {
			v, _ := ev.Explain(tcp(q, p, 80))
			t.Errorf("%s: allowed %v, want %v\n%s", c.name, got, c.want, v)
		}
	}
}

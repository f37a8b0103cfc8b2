package netpol

import (
	"fmt"
	"math/rand/v2"
	"net/netip"
	"slices"
	"sort"
	"strings"
	"testing"

	calicov3 "github.com/projectcalico/api/pkg/apis/projectcalico/v3"
	"github.com/projectcalico/api/pkg/lib/numorstring"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
)

// randomWorld is a seeded random cluster: pods in three namespaces,
// addresses outside, and NetworkPolicies over them.
type randomWorld struct {
	pods     []Endpoint
	outside  []Endpoint
	policies []networkingv1.NetworkPolicy
}

func pick[T any](r *rand.Rand, xs ...T) T { return xs[r.IntN(len(xs))] }

func randomSelector(r *rand.Rand, keys ...string) *metav1.LabelSelector {
	s := &metav1.LabelSelector{}
	switch r.IntN(5) {
	case 0: // empty: everything
	case 1, 2:
		k := pick(r, keys...)
		s.MatchLabels = map[string]string{k: pick(r, "web", "db", "x", "y")}
	case 3:
		s.MatchExpressions = []metav1.LabelSelectorRequirement{{Key: pick(r, keys...), Operator: metav1.LabelSelectorOpIn, Values: []string{"web", "x"}}}
	case 4:
		op := pick(r, metav1.LabelSelectorOpNotIn, metav1.LabelSelectorOpExists, metav1.LabelSelectorOpDoesNotExist)
		req := metav1.LabelSelectorRequirement{Key: pick(r, keys...), Operator: op}
		if op == metav1.LabelSelectorOpNotIn {
			req.Values = []string{"db", "y"}
		}
		s.MatchExpressions = []metav1.LabelSelectorRequirement{req}
	}
	return s
}

func randomPeers(r *rand.Rand) []networkingv1.NetworkPolicyPeer {
	var peers []networkingv1.NetworkPolicyPeer
	for range r.IntN(3) {
		switch r.IntN(4) {
		case 0:
			peers = append(peers, networkingv1.NetworkPolicyPeer{PodSelector: randomSelector(r, "app", "tier")})
		case 1:
			peers = append(peers, networkingv1.NetworkPolicyPeer{NamespaceSelector: randomSelector(r, "team")})
		case 2:
			peers = append(peers, networkingv1.NetworkPolicyPeer{NamespaceSelector: randomSelector(r, "team"), PodSelector: randomSelector(r, "app", "tier")})
		case 3:
			b := pick(r,
				&networkingv1.IPBlock{CIDR: "203.0.113.0/24", Except: []string{"203.0.113.0/28"}},
				&networkingv1.IPBlock{CIDR: "10.0.0.0/8"},
				&networkingv1.IPBlock{CIDR: "10.1.1.0/24", Except: []string{"10.1.1.8/29"}},
				&networkingv1.IPBlock{CIDR: "0.0.0.0/0", Except: []string{"198.51.100.0/24"}},
				&networkingv1.IPBlock{CIDR: "2001:db8::/32"})
			peers = append(peers, networkingv1.NetworkPolicyPeer{IPBlock: b})
		}
	}
	return peers
}

func randomPorts(r *rand.Rand) []networkingv1.NetworkPolicyPort {
	var ports []networkingv1.NetworkPolicyPort
	for range r.IntN(3) {
		proto := pick(r, corev1.ProtocolTCP, corev1.ProtocolUDP)
		p := networkingv1.NetworkPolicyPort{Protocol: &proto}
		switch r.IntN(4) {
		case 0: // every port of proto
		case 1:
			v := intstr.FromInt32(pick[int32](r, 53, 80, 443, 5432))
			p.Port = &v
		case 2:
			v := intstr.FromInt32(pick[int32](r, 50, 70))
			end := pick[int32](r, 80, 5432)
			p.Port, p.EndPort = &v, &end
		case 3:
			v := intstr.FromString(pick(r, "http", "dns", "nope"))
			p.Port = &v
		}
		ports = append(ports, p)
	}
	return ports
}

func newRandomWorld(seed uint64, npods, npolicies int) randomWorld {
	r := rand.New(rand.NewPCG(seed, 2))
	var w randomWorld
	nsLabels := map[string]map[string]string{"a": {"team": "x"}, "b": {"team": "y"}, "c": {}}
	for i := range npods {
		ns := pick(r, "a", "b", "c")
		l := map[string]string{}
		if r.IntN(4) > 0 {
			l["app"] = pick(r, "web", "db", "x")
		}
		if r.IntN(2) == 0 {
			l["tier"] = pick(r, "x", "y")
		}
		e := Endpoint{Addr: netip.AddrFrom4([4]byte{10, 1, byte(i / 16), byte(i%16 + 1)}), Namespace: ns, Labels: l,
			NamespaceLabels: nsLabels[ns], Node: fmt.Sprintf("n%d", i%3)}
		if r.IntN(2) == 0 {
			e.Ports = append(e.Ports, NamedPort{Name: "http", Protocol: TCP, Port: 80})
		}
		if r.IntN(2) == 0 {
			e.Ports = append(e.Ports, NamedPort{Name: "dns", Protocol: UDP, Port: 53})
		}
		w.pods = append(w.pods, e)
	}
	for _, a := range []string{"203.0.113.5", "203.0.113.100", "198.51.100.7", "192.0.2.9"} {
		w.outside = append(w.outside, ext(a))
	}
	for i := range npolicies {
		np := networkingv1.NetworkPolicy{
			ObjectMeta: metav1.ObjectMeta{Namespace: pick(r, "a", "b", "c"), Name: fmt.Sprintf("p%d", i)},
			Spec:       networkingv1.NetworkPolicySpec{PodSelector: *randomSelector(r, "app", "tier")},
		}
		// API-defaulted: types explicit, protocols set.
		switch r.IntN(3) {
		case 0:
			np.Spec.PolicyTypes = []networkingv1.PolicyType{ingress}
		case 1:
			np.Spec.PolicyTypes = []networkingv1.PolicyType{egress}
		case 2:
			np.Spec.PolicyTypes = []networkingv1.PolicyType{ingress, egress}
		}
		for range r.IntN(3) {
			np.Spec.Ingress = append(np.Spec.Ingress, networkingv1.NetworkPolicyIngressRule{From: randomPeers(r), Ports: randomPorts(r)})
		}
		for range r.IntN(3) {
			np.Spec.Egress = append(np.Spec.Egress, networkingv1.NetworkPolicyEgressRule{To: randomPeers(r), Ports: randomPorts(r)})
		}
		w.policies = append(w.policies, np)
	}
	return w
}

func (w randomWorld) flows(seed uint64, n int) []Flow {
	r := rand.New(rand.NewPCG(seed, 3))
	var out []Flow
	for len(out) < n {
		from := pick(r, w.pods...)
		to := pick(r, w.pods...)
		switch r.IntN(4) {
		case 0:
			from = pick(r, w.outside...)
		case 1:
			to = pick(r, w.outside...)
		}
		if from.Addr == to.Addr {
			continue
		}
		out = append(out, Flow{From: from, To: to, Protocol: pick(r, TCP, UDP), Port: pick[uint16](r, 53, 80, 443, 5432, 8080)})
	}
	return out
}

// calicoSelector renders a label selector in Calico's grammar.
func calicoSelector(s *metav1.LabelSelector) string {
	var parts []string
	keys := make([]string, 0, len(s.MatchLabels))
	for k := range s.MatchLabels {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		parts = append(parts, fmt.Sprintf("%s == '%s'", k, s.MatchLabels[k]))
	}
	set := func(vs []string) string {
		q := make([]string, len(vs))
		for i, v := range vs {
			q[i] = "'" + v + "'"
		}
		return "{" + strings.Join(q, ", ") + "}"
	}
	for _, e := range s.MatchExpressions {
		switch e.Operator {
		case metav1.LabelSelectorOpIn:
			parts = append(parts, fmt.Sprintf("%s in %s", e.Key, set(e.Values)))
		case metav1.LabelSelectorOpNotIn:
			parts = append(parts, fmt.Sprintf("%s not in %s", e.Key, set(e.Values)))
		case metav1.LabelSelectorOpExists:
			parts = append(parts, fmt.Sprintf("has(%s)", e.Key))
		case metav1.LabelSelectorOpDoesNotExist:
			parts = append(parts, fmt.Sprintf("!has(%s)", e.Key))
		}
	}
	if len(parts) == 0 {
		return "all()"
	}
	return strings.Join(parts, " && ")
}

// toCalico converts np as Calico's converter does: a namespaced Calico
// policy at order 1000, pods selected with projectcalico.org/orchestrator,
// one Allow rule per peer and protocol.
func toCalico(np networkingv1.NetworkPolicy) calicov3.NetworkPolicy {
	const k8s = "projectcalico.org/orchestrator == 'k8s'"
	order := float64(KubernetesPolicyOrder)
	out := calicov3.NetworkPolicy{ObjectMeta: metav1.ObjectMeta{Namespace: np.Namespace, Name: "knp.default." + np.Name}}
	out.Spec.Order = &order
	out.Spec.Selector = k8s + " && " + calicoSelector(&np.Spec.PodSelector)
	for _, t := range np.Spec.PolicyTypes {
		out.Spec.Types = append(out.Spec.Types, calicov3.PolicyType(t))
	}
	peer := func(p networkingv1.NetworkPolicyPeer) calicov3.EntityRule {
		switch {
		case p.IPBlock != nil:
			return calicov3.EntityRule{Nets: []string{p.IPBlock.CIDR}, NotNets: p.IPBlock.Except}
		case p.NamespaceSelector != nil:
			e := calicov3.EntityRule{NamespaceSelector: calicoSelector(p.NamespaceSelector), Selector: k8s}
			if p.PodSelector != nil {
				e.Selector += " && " + calicoSelector(p.PodSelector)
			}
			return e
		default:
			return calicov3.EntityRule{Selector: k8s + " && " + calicoSelector(p.PodSelector)}
		}
	}
	type protoPorts struct {
		proto string
		all   bool
		ports []numorstring.Port
	}
	groups := func(ports []networkingv1.NetworkPolicyPort) []protoPorts {
		var gs []protoPorts
		for _, p := range ports {
			proto := string(*p.Protocol)
			i := slices.IndexFunc(gs, func(g protoPorts) bool { return g.proto == proto })
			if i < 0 {
				gs = append(gs, protoPorts{proto: proto})
				i = len(gs) - 1
			}
			switch {
			case p.Port == nil:
				gs[i].all = true
			case p.Port.Type == intstr.String:
				gs[i].ports = append(gs[i].ports, numorstring.NamedPort(p.Port.StrVal))
			case p.EndPort != nil:
				pr, _ := numorstring.PortFromRange(uint16(p.Port.IntVal), uint16(*p.EndPort))
				gs[i].ports = append(gs[i].ports, pr)
			default:
				gs[i].ports = append(gs[i].ports, numorstring.SinglePort(uint16(p.Port.IntVal)))
			}
		}
		return gs
	}
	rules := func(peers []networkingv1.NetworkPolicyPeer, ports []networkingv1.NetworkPolicyPort, ingress bool) []calicov3.Rule {
		var ents []calicov3.EntityRule
		for _, p := range peers {
			ents = append(ents, peer(p))
		}
		if len(ents) == 0 {
			ents = []calicov3.EntityRule{{}}
		}
		gs := groups(ports)
		var out []calicov3.Rule
		for _, e := range ents {
			if len(gs) == 0 {
				r := calicov3.Rule{Action: calicov3.Allow}
				if ingress {
					r.Source = e
				} else {
					r.Destination = e
				}
				out = append(out, r)
				continue
			}
			for _, g := range gs {
				proto := numorstring.ProtocolFromString(g.proto)
				r := calicov3.Rule{Action: calicov3.Allow, Protocol: &proto}
				dst := calicov3.EntityRule{}
				if !g.all {
					dst.Ports = g.ports
				}
				if ingress {
					r.Source = e
				} else {
					dst.Nets, dst.NotNets, dst.Selector, dst.NamespaceSelector = e.Nets, e.NotNets, e.Selector, e.NamespaceSelector
				}
				r.Destination = dst
				out = append(out, r)
			}
		}
		return out
	}
	for _, r := range np.Spec.Ingress {
		out.Spec.Ingress = append(out.Spec.Ingress, rules(r.From, r.Ports, true)...)
	}
	for _, r := range np.Spec.Egress {
		out.Spec.Egress = append(out.Spec.Egress, rules(r.To, r.Ports, false)...)
	}
	return out
}

// A NetworkPolicy judged by Kubernetes' rules, the same policy judged by
// Calico's (in the default tier at 1000), and the Calico policy Calico
// converts it to, agree on every flow.
func TestMetamorphicKubernetesCalico(t *testing.T) {
	for seed := range uint64(40) {
		w := newRandomWorld(seed, 24, 8)
		var converted []calicov3.NetworkPolicy
		for _, np := range w.policies {
			converted = append(converted, toCalico(np))
		}
		kube, err := NewEvaluator(Network{Objects: Objects{NetworkPolicies: w.policies}})
		if err != nil {
			t.Fatal(err)
		}
		cal, err := NewEvaluator(Network{Objects: Objects{NetworkPolicies: w.policies}, Semantics: Calico})
		if err != nil {
			t.Fatal(err)
		}
		conv, err := NewEvaluator(Network{Objects: Objects{CalicoNetworkPolicies: converted}, Semantics: Calico})
		if err != nil {
			t.Fatalf("seed %d: %v", seed, err)
		}
		for _, f := range w.flows(seed, 200) {
			k, c, v := kube.Allowed(f), cal.Allowed(f), conv.Allowed(f)
			if k != c || k != v {
				kv, _ := kube.Explain(f)
				cv, _ := conv.Explain(f)
				t.Fatalf("seed %d: kubernetes %v, calico %v, converted %v\n%s\n%s", seed, k, c, v, kv, cv)
			}
		}
	}
}

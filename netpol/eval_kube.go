package netpol

import (
	"fmt"
	"net/netip"
	"slices"
	"strings"

	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/intstr"
)

// NamespaceNameLabel is the label the API server gives every namespace:
// its name. A flow's endpoint has it even when NamespaceLabels omit it.
const NamespaceNameLabel = "kubernetes.io/metadata.name"

// kubePolicy is a NetworkPolicy compiled for evaluation.
type kubePolicy struct {
	np              *networkingv1.NetworkPolicy
	name            string // "NetworkPolicy ns/name"
	pods            labels.Selector
	ingress, egress bool
	in, out         []kubeRule
	rank            int // in name order within the namespace
}

type kubeRule struct {
	all   bool // no peers: every source or destination
	peers []kubePeer
	ports []networkingv1.NetworkPolicyPort // nil: every port and protocol
	text  string
}

type kubePeer struct {
	ns, pods labels.Selector // ns nil: the policy's namespace; pods nil: every pod
	cidr     netip.Prefix    // valid for an ipBlock
	except   []netip.Prefix
}

func compileKube(np *networkingv1.NetworkPolicy, bad func(string, ...any)) *kubePolicy {
	at := fmt.Sprintf("NetworkPolicy %s/%s", np.Namespace, np.Name)
	kp := &kubePolicy{np: np, name: at}
	sel := func(field string, s *metav1.LabelSelector) labels.Selector {
		if s == nil {
			return nil
		}
		out, err := metav1.LabelSelectorAsSelector(s)
		if err != nil {
			bad("%s: %s: %v", at, field, err)
			return labels.Nothing()
		}
		return out
	}
	kp.pods = sel("spec.podSelector", &np.Spec.PodSelector)
	if len(np.Spec.PolicyTypes) == 0 {
		// The API server's defaulting: Ingress always, Egress when there
		// are egress rules.
		kp.ingress, kp.egress = true, len(np.Spec.Egress) > 0
	}
	for _, t := range np.Spec.PolicyTypes {
		switch t {
		case networkingv1.PolicyTypeIngress:
			kp.ingress = true
		case networkingv1.PolicyTypeEgress:
			kp.egress = true
		default:
			bad("%s: spec.policyTypes: %q: want Ingress or Egress", at, t)
		}
	}
	rule := func(field string, peers []networkingv1.NetworkPolicyPeer, ports []networkingv1.NetworkPolicyPort, from bool) kubeRule {
		r := kubeRule{all: len(peers) == 0, ports: ports, text: renderKubeRule(peers, ports, from)}
		for i, pr := range peers {
			f := fmt.Sprintf("%s[%d]", field, i)
			var kpr kubePeer
			if pr.IPBlock != nil {
				c, err := netip.ParsePrefix(pr.IPBlock.CIDR)
				if err != nil {
					bad("%s: %s.ipBlock.cidr: %q: %v", at, f, pr.IPBlock.CIDR, err)
					continue
				}
				kpr.cidr = c.Masked()
				for j, x := range pr.IPBlock.Except {
					ep, err := netip.ParsePrefix(x)
					if err != nil {
						bad("%s: %s.ipBlock.except[%d]: %q: %v", at, f, j, x, err)
						continue
					}
					kpr.except = append(kpr.except, ep.Masked())
				}
			} else {
				kpr.ns = sel(f+".namespaceSelector", pr.NamespaceSelector)
				kpr.pods = sel(f+".podSelector", pr.PodSelector)
				if pr.NamespaceSelector == nil && pr.PodSelector == nil {
					bad("%s: %s: no podSelector, namespaceSelector or ipBlock", at, f)
				}
			}
			r.peers = append(r.peers, kpr)
		}
		for i, pt := range ports {
			f := fmt.Sprintf("%s.ports[%d]", strings.TrimSuffix(strings.TrimSuffix(field, ".from"), ".to"), i)
			if pt.Protocol != nil && !slices.Contains([]string{"TCP", "UDP", "SCTP"}, string(*pt.Protocol)) {
				bad("%s: %s.protocol: %q: want TCP, UDP or SCTP", at, f, *pt.Protocol)
			}
			if pt.EndPort != nil && (pt.Port == nil || pt.Port.Type != intstr.Int || *pt.EndPort < pt.Port.IntVal) {
				bad("%s: %s.endPort: %d needs a numeric port at or before it", at, f, *pt.EndPort)
			}
		}
		return r
	}
	for i, r := range np.Spec.Ingress {
		kp.in = append(kp.in, rule(fmt.Sprintf("spec.ingress[%d].from", i), r.From, r.Ports, true))
	}
	for i, r := range np.Spec.Egress {
		kp.out = append(kp.out, rule(fmt.Sprintf("spec.egress[%d].to", i), r.To, r.Ports, false))
	}
	return kp
}

// renderKubeRule renders a rule as "from <peers> on <ports>".
func renderKubeRule(peers []networkingv1.NetworkPolicyPeer, ports []networkingv1.NetworkPolicyPort, from bool) string {
	var b strings.Builder
	if from {
		b.WriteString("from ")
	} else {
		b.WriteString("to ")
	}
	if len(peers) == 0 {
		b.WriteString("anywhere")
	}
	for i, p := range peers {
		if i > 0 {
			b.WriteString(" or ")
		}
		switch {
		case p.IPBlock != nil:
			b.WriteString(p.IPBlock.CIDR)
			if len(p.IPBlock.Except) > 0 {
				fmt.Fprintf(&b, " except %s", strings.Join(p.IPBlock.Except, ","))
			}
		case p.NamespaceSelector != nil && p.PodSelector != nil:
			fmt.Fprintf(&b, "pods{%s} in namespaces{%s}", selectorText(p.PodSelector), selectorText(p.NamespaceSelector))
		case p.NamespaceSelector != nil:
			fmt.Fprintf(&b, "namespaces{%s}", selectorText(p.NamespaceSelector))
		case p.PodSelector != nil:
			fmt.Fprintf(&b, "pods{%s}", selectorText(p.PodSelector))
		}
	}
	if len(ports) == 0 {
		b.WriteString(" on any port")
		return b.String()
	}
	b.WriteString(" on ")
	for i, pt := range ports {
		if i > 0 {
			b.WriteString(",")
		}
		proto := "TCP"
		if pt.Protocol != nil {
			proto = string(*pt.Protocol)
		}
		b.WriteString(proto)
		switch {
		case pt.Port == nil:
			b.WriteString("/any")
		case pt.EndPort != nil:
			fmt.Fprintf(&b, "/%s-%d", pt.Port.String(), *pt.EndPort)
		default:
			fmt.Fprintf(&b, "/%s", pt.Port.String())
		}
	}
	return b.String()
}

func selectorText(s *metav1.LabelSelector) string {
	sel, err := metav1.LabelSelectorAsSelector(s)
	if err != nil {
		return "invalid"
	}
	return sel.String()
}

// nsLabels are e's namespace's labels with [NamespaceNameLabel], without
// copying them.
type nsLabels struct {
	m  map[string]string
	ns string
}

func (l *nsLabels) Has(k string) bool {
	_, ok := l.Lookup(k)
	return ok
}

func (l *nsLabels) Get(k string) string {
	v, _ := l.Lookup(k)
	return v
}

func (l *nsLabels) Lookup(k string) (string, bool) {
	if k == NamespaceNameLabel {
		return l.ns, true
	}
	v, ok := l.m[k]
	return v, ok
}

// selects reports whether p selects pod e for direction ingress or
// egress.
func (p *kubePolicy) selects(e Endpoint, ingress bool) bool {
	if ingress && !p.ingress || !ingress && !p.egress {
		return false
	}
	return p.np.Namespace == e.Namespace && p.pods.Matches(labels.Set(e.Labels))
}

// peerMatches reports whether other, the far end, is one of r's peers of
// a policy in namespace ns.
func (r *kubeRule) peerMatches(ns string, other Endpoint) bool {
	if r.all {
		return true
	}
	for i := range r.peers {
		pr := &r.peers[i]
		if pr.cidr.IsValid() {
			a := other.Addr.Unmap()
			if !pr.cidr.Contains(a) {
				continue
			}
			excepted := false
			for _, x := range pr.except {
				if x.Contains(a) {
					excepted = true
					break
				}
			}
			if !excepted {
				return true
			}
			continue
		}
		if !other.IsPod() {
			continue
		}
		if pr.ns == nil {
			if other.Namespace != ns {
				continue
			}
		} else if !pr.ns.Matches(&nsLabels{other.NamespaceLabels, other.Namespace}) {
			continue
		}
		if pr.pods == nil || pr.pods.Matches(labels.Set(other.Labels)) {
			return true
		}
	}
	return false
}

// portMatches reports whether the flow's destination port is among r's;
// named ports resolve against the destination dst.
func (r *kubeRule) portMatches(f Flow, dst Endpoint) bool {
	if len(r.ports) == 0 {
		return true
	}
	proto := strings.ToUpper(string(f.Protocol.orTCP()))
	for _, pt := range r.ports {
		want := "TCP"
		if pt.Protocol != nil {
			want = strings.ToUpper(string(*pt.Protocol))
		}
		if want != proto {
			continue
		}
		switch {
		case pt.Port == nil:
			return true
		case pt.Port.Type == intstr.String:
			if n, ok := dst.namedPort(pt.Port.StrVal, Protocol(want)); ok && dst.IsPod() && n == f.Port {
				return true
			}
		case pt.EndPort != nil:
			if int32(f.Port) >= pt.Port.IntVal && int32(f.Port) <= *pt.EndPort {
				return true
			}
		default:
			if int32(f.Port) == pt.Port.IntVal {
				return true
			}
		}
	}
	return false
}

// kubeIndex holds a namespace's NetworkPolicies grouped by podSelector
// (each distinct selector is evaluated once per pod) and the groups by the
// pod labels they require, so that a pod meets only the groups that may
// select it.
type kubeIndex struct {
	any     []*kubeGroup               // selectors without matchLabels
	byLabel map[[2]string][]*kubeGroup // by one of their matchLabels
}

// kubeGroup is the policies of a namespace with one podSelector, in name
// order.
type kubeGroup struct {
	pods     labels.Selector
	policies []*kubePolicy
}

func newKubeIndex(ps []*kubePolicy) *kubeIndex {
	x := &kubeIndex{byLabel: map[[2]string][]*kubeGroup{}}
	groups := map[string]*kubeGroup{}
	for i, p := range ps {
		p.rank = i
		key := p.pods.String()
		if g, ok := groups[key]; ok {
			g.policies = append(g.policies, p)
			continue
		}
		g := &kubeGroup{pods: p.pods, policies: []*kubePolicy{p}}
		groups[key] = g
		ml := p.np.Spec.PodSelector.MatchLabels
		if len(ml) == 0 {
			x.any = append(x.any, g)
			continue
		}
		// File under the smallest key: any one required label will do.
		var lk [2]string
		for k, v := range ml {
			if lk[0] == "" || k < lk[0] {
				lk = [2]string{k, v}
			}
		}
		x.byLabel[lk] = append(x.byLabel[lk], g)
	}
	return x
}

// selecting calls fn with each group of pod self's namespace whose
// podSelector selects it, until fn returns false.
func (e *Evaluator) selecting(self Endpoint, fn func(*kubeGroup) bool) {
	x := e.kubeIdx[self.Namespace]
	if x == nil {
		return
	}
	l := labels.Set(self.Labels)
	for _, g := range x.any {
		if g.pods.Matches(l) && !fn(g) {
			return
		}
	}
	if len(x.byLabel) > 0 {
		for k, v := range self.Labels {
			for _, g := range x.byLabel[[2]string{k, v}] {
				if g.pods.Matches(l) && !fn(g) {
					return
				}
			}
		}
	}
}

// kubeDecide judges one direction of f at pod self under NetworkPolicy
// alone: other is the far end (the source for ingress). It returns the
// verdict, why, and the deciding policy and rule: with ordered, the first
// allowing policy by name, as [Evaluator.Explain] reports; without, any.
func (e *Evaluator) kubeDecide(f Flow, self, other Endpoint, ingress, ordered bool) (bool, Reason, *kubePolicy, int) {
	switch {
	case other.IsPod() && other.Addr == self.Addr:
		return true, ReasonSelf, nil, -1
	case other.Host && other.Node == self.Node && self.Node != "":
		return true, ReasonOwnNode, nil, -1
	}
	isolated := false
	var best *kubePolicy
	bestRule := -1
	e.selecting(self, func(g *kubeGroup) bool {
		for _, p := range g.policies {
			if ingress && !p.ingress || !ingress && !p.egress {
				continue
			}
			isolated = true
			if best != nil && p.rank > best.rank {
				break // the group is in name order; a better one is known
			}
			rules := p.out
			if ingress {
				rules = p.in
			}
			for i := range rules {
				r := &rules[i]
				if r.peerMatches(p.np.Namespace, other) && r.portMatches(f, f.To) {
					best, bestRule = p, i
					return ordered
				}
			}
		}
		return true
	})
	switch {
	case best != nil:
		return true, ReasonRule, best, bestRule
	case !isolated:
		return true, ReasonNotIsolated, nil, -1
	}
	return false, ReasonIsolated, nil, -1
}

// kubeStep is kubeDecide as a Step.
func (e *Evaluator) kubeStep(f Flow, self, other Endpoint, ingress bool) Step {
	dir := "egress"
	if ingress {
		dir = "ingress"
	}
	ok, why, p, rule := e.kubeDecide(f, self, other, ingress, true)
	s := Step{Point: fmt.Sprintf("%s of %s", dir, self), Final: true, Allowed: ok, Reason: why, Rule: rule}
	if p != nil {
		rules := p.out
		if ingress {
			rules = p.in
		}
		s.Policy, s.RuleText = p.name, rules[rule].text
	}
	return s
}

// kubeAllowed is explainKube without the path.
func (e *Evaluator) kubeAllowed(f Flow) bool {
	if f.From.IsPod() {
		if ok, _, _, _ := e.kubeDecide(f, f.From, f.To, false, false); !ok {
			return false
		}
	}
	if f.To.IsPod() {
		ok, _, _, _ := e.kubeDecide(f, f.To, f.source(), true, false)
		return ok
	}
	return true
}

// explainKube judges f under NetworkPolicy alone: the source pod's egress,
// then the destination pod's ingress; both must allow.
func (e *Evaluator) explainKube(f Flow, add func(Step) bool) {
	if f.From.IsPod() {
		if !add(e.kubeStep(f, f.From, f.To, false)) {
			return
		}
	}
	if f.To.IsPod() {
		add(e.kubeStep(f, f.To, f.source(), true))
	}
}

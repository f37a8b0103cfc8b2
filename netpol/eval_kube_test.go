package netpol

import (
	"net/netip"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
)

// Fixtures: a small cluster of two nodes.

func pod(ns, addr, node string, kv ...string) Endpoint {
	l := map[string]string{}
	for i := 0; i+1 < len(kv); i += 2 {
		l[kv[i]] = kv[i+1]
	}
	return Endpoint{Addr: netip.MustParseAddr(addr), Namespace: ns, Labels: l, Node: node}
}

func host(node, addr string, kv ...string) Endpoint {
	l := map[string]string{"kubernetes.io/hostname": node}
	for i := 0; i+1 < len(kv); i += 2 {
		l[kv[i]] = kv[i+1]
	}
	return Endpoint{Addr: netip.MustParseAddr(addr), Host: true, Node: node, Labels: l}
}

func ext(addr string) Endpoint { return Endpoint{Addr: netip.MustParseAddr(addr)} }

func sel(kv ...string) *metav1.LabelSelector {
	s := &metav1.LabelSelector{}
	for i := 0; i+1 < len(kv); i += 2 {
		if s.MatchLabels == nil {
			s.MatchLabels = map[string]string{}
		}
		s.MatchLabels[kv[i]] = kv[i+1]
	}
	return s
}

func knp(ns, name string, pods *metav1.LabelSelector, types ...networkingv1.PolicyType) networkingv1.NetworkPolicy {
	return networkingv1.NetworkPolicy{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
		Spec:       networkingv1.NetworkPolicySpec{PodSelector: *pods, PolicyTypes: types},
	}
}

func withIngress(np networkingv1.NetworkPolicy, peers []networkingv1.NetworkPolicyPeer, ports ...networkingv1.NetworkPolicyPort) networkingv1.NetworkPolicy {
	np.Spec.Ingress = append(np.Spec.Ingress, networkingv1.NetworkPolicyIngressRule{From: peers, Ports: ports})
	return np
}

func withEgress(np networkingv1.NetworkPolicy, peers []networkingv1.NetworkPolicyPeer, ports ...networkingv1.NetworkPolicyPort) networkingv1.NetworkPolicy {
	np.Spec.Egress = append(np.Spec.Egress, networkingv1.NetworkPolicyEgressRule{To: peers, Ports: ports})
	return np
}

func peerPods(s *metav1.LabelSelector) networkingv1.NetworkPolicyPeer {
	return networkingv1.NetworkPolicyPeer{PodSelector: s}
}

func peerNS(s *metav1.LabelSelector) networkingv1.NetworkPolicyPeer {
	return networkingv1.NetworkPolicyPeer{NamespaceSelector: s}
}

func peerBlock(cidr string, except ...string) networkingv1.NetworkPolicyPeer {
	return networkingv1.NetworkPolicyPeer{IPBlock: &networkingv1.IPBlock{CIDR: cidr, Except: except}}
}

func kport(proto string, port any, end ...int32) networkingv1.NetworkPolicyPort {
	p := corev1.Protocol(proto)
	out := networkingv1.NetworkPolicyPort{Protocol: &p}
	switch v := port.(type) {
	case int:
		x := intstr.FromInt32(int32(v))
		out.Port = &x
	case string:
		x := intstr.FromString(v)
		out.Port = &x
	}
	if len(end) > 0 {
		out.EndPort = &end[0]
	}
	return out
}

var (
	ingress = networkingv1.PolicyTypeIngress
	egress  = networkingv1.PolicyTypeEgress
	web     = pod("shop", "10.1.0.10", "n1", "app", "web")
	db      = func() Endpoint {
		e := pod("shop", "10.1.1.20", "n2", "app", "db")
		e.Ports = []NamedPort{{Name: "postgres", Protocol: TCP, Port: 5432}, {Name: "metrics", Protocol: UDP, Port: 9000}}
		return e
	}()
	other = func() Endpoint {
		e := pod("blog", "10.1.1.30", "n2", "app", "web")
		e.NamespaceLabels = map[string]string{"team": "blog"}
		return e
	}()
	node1 = host("n1", "192.0.2.1")
	node2 = host("n2", "192.0.2.2")
	user  = ext("203.0.113.7")
)

// want is the expected verdict and deciding step of a flow.
type want struct {
	allowed bool
	reason  Reason
	policy  string // the deciding policy, "" for none
	rule    int
}

type evalCase struct {
	name string
	objs Objects
	flow Flow
	want want
}

func runEvalCases(t *testing.T, sem Semantics, net func(Objects) Network, cases []evalCase) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			n := Network{Objects: tc.objs, Semantics: sem}
			if net != nil {
				n = net(tc.objs)
			}
			ev, err := NewEvaluator(n)
			if err != nil {
				t.Fatal(err)
			}
			v, err := ev.Explain(tc.flow)
			if err != nil {
				t.Fatal(err)
			}
			d := v.Decider()
			got := want{v.Allowed, d.Reason, d.Policy, d.Rule}
			if tc.want.rule == 0 && tc.want.policy == "" {
				tc.want.rule = -1
			}
			if got != tc.want {
				t.Errorf("got %+v, want %+v\n%s", got, tc.want, v)
			}
			if ev.Allowed(tc.flow) != v.Allowed {
				t.Error("Allowed disagrees with Explain")
			}
		})
	}
}

func tcp(from, to Endpoint, port uint16) Flow {
	return Flow{From: from, To: to, Protocol: TCP, Port: port}
}

func TestKubernetesSemantics(t *testing.T) {
	denyIn := knp("shop", "deny-in", sel(), ingress)
	denyOut := knp("shop", "deny-out", sel(), egress)
	objs := func(nps ...networkingv1.NetworkPolicy) Objects { return Objects{NetworkPolicies: nps} }
	cases := []evalCase{
		{"no policy: not isolated", objs(), tcp(web, db, 5432), want{true, ReasonNotIsolated, "", -1}},
		{"ingress deny-all isolates ingress", objs(denyIn), tcp(web, db, 5432), want{false, ReasonIsolated, "", -1}},
		{"egress deny-all isolates egress", objs(denyOut), tcp(web, db, 5432), want{false, ReasonIsolated, "", -1}},
		{"egress deny-all does not isolate ingress", objs(denyOut), tcp(other, db, 5432), want{true, ReasonNotIsolated, "", -1}},
		{"policy for other pods does not isolate", objs(knp("shop", "web-only", sel("app", "web"), ingress)), tcp(web, db, 5432),
			want{true, ReasonNotIsolated, "", -1}},
		{"policy in another namespace does not isolate", objs(knp("blog", "deny", sel(), ingress)), tcp(web, db, 5432),
			want{true, ReasonNotIsolated, "", -1}},
		{"empty policyTypes with only ingress rules: ingress isolated", objs(knp("shop", "x", sel())), tcp(web, db, 5432),
			want{false, ReasonIsolated, "", -1}},
		{"empty policyTypes with only ingress rules: egress open", objs(knp("shop", "x", sel("app", "web"))), tcp(web, db, 5432),
			want{true, ReasonNotIsolated, "", -1}},
		{"empty policyTypes with egress rules: egress isolated",
			objs(withEgress(knp("shop", "x", sel("app", "web")), []networkingv1.NetworkPolicyPeer{peerBlock("198.51.100.0/24")})),
			tcp(web, db, 5432), want{false, ReasonIsolated, "", -1}},
		{"union: the second policy allows",
			objs(denyIn, withIngress(knp("shop", "from-web", sel("app", "db"), ingress), []networkingv1.NetworkPolicyPeer{peerPods(sel("app", "web"))})),
			tcp(web, db, 5432), want{true, ReasonRule, "NetworkPolicy shop/from-web", 0}},
		{"union: the first allowing policy by name decides, whatever its selector",
			objs(withIngress(knp("shop", "b-all-pods", sel(), ingress), nil),
				withIngress(knp("shop", "a-db", sel("app", "db"), ingress), []networkingv1.NetworkPolicyPeer{peerPods(sel("app", "web"))})),
			tcp(web, db, 5432), want{true, ReasonRule, "NetworkPolicy shop/a-db", 0}},
		{"rule index: the second rule allows",
			objs(withIngress(withIngress(knp("shop", "p", sel(), ingress), []networkingv1.NetworkPolicyPeer{peerPods(sel("app", "x"))}),
				[]networkingv1.NetworkPolicyPeer{peerPods(sel("app", "web"))})),
			tcp(web, db, 5432), want{true, ReasonRule, "NetworkPolicy shop/p", 1}},
		{"podSelector peer: same namespace only",
			objs(withIngress(knp("shop", "p", sel(), ingress), []networkingv1.NetworkPolicyPeer{peerPods(sel("app", "web"))})),
			tcp(other, db, 5432), want{false, ReasonIsolated, "", -1}},
		{"namespaceSelector and podSelector in one peer are ANDed: wrong pod",
			objs(withIngress(knp("shop", "p", sel(), ingress), []networkingv1.NetworkPolicyPeer{{NamespaceSelector: sel("team", "blog"), PodSelector: sel("app", "api")}})),
			tcp(other, db, 5432), want{false, ReasonIsolated, "", -1}},
		{"namespaceSelector and podSelector in one peer are ANDed: both match",
			objs(withIngress(knp("shop", "p", sel(), ingress), []networkingv1.NetworkPolicyPeer{{NamespaceSelector: sel("team", "blog"), PodSelector: sel("app", "web")}})),
			tcp(other, db, 5432), want{true, ReasonRule, "NetworkPolicy shop/p", 0}},
		{"separate peers are ORed",
			objs(withIngress(knp("shop", "p", sel(), ingress), []networkingv1.NetworkPolicyPeer{peerNS(sel("team", "blog")), peerPods(sel("app", "api"))})),
			tcp(other, db, 5432), want{true, ReasonRule, "NetworkPolicy shop/p", 0}},
		{"namespaceSelector by kubernetes.io/metadata.name, set by the API server",
			objs(withIngress(knp("shop", "p", sel(), ingress), []networkingv1.NetworkPolicyPeer{peerNS(sel(NamespaceNameLabel, "blog"))})),
			tcp(other, db, 5432), want{true, ReasonRule, "NetworkPolicy shop/p", 0}},
		{"empty namespaceSelector: every namespace's pods",
			objs(withIngress(knp("shop", "p", sel(), ingress), []networkingv1.NetworkPolicyPeer{peerNS(sel())})),
			tcp(other, db, 5432), want{true, ReasonRule, "NetworkPolicy shop/p", 0}},
		{"empty namespaceSelector: not addresses outside the cluster",
			objs(withIngress(knp("shop", "p", sel(), ingress), []networkingv1.NetworkPolicyPeer{peerNS(sel())})),
			tcp(user, db, 5432), want{false, ReasonIsolated, "", -1}},
		{"empty from: everyone",
			objs(withIngress(knp("shop", "p", sel(), ingress), nil)),
			tcp(user, db, 5432), want{true, ReasonRule, "NetworkPolicy shop/p", 0}},
		{"ipBlock admits its cidr",
			objs(withIngress(knp("shop", "p", sel(), ingress), []networkingv1.NetworkPolicyPeer{peerBlock("203.0.113.0/24", "203.0.113.128/25")})),
			tcp(user, db, 5432), want{true, ReasonRule, "NetworkPolicy shop/p", 0}},
		{"ipBlock except refuses",
			objs(withIngress(knp("shop", "p", sel(), ingress), []networkingv1.NetworkPolicyPeer{peerBlock("203.0.113.0/24", "203.0.113.0/29")})),
			tcp(user, db, 5432), want{false, ReasonIsolated, "", -1}},
		{"ipBlock matches pod addresses too, as the reference implementation does",
			objs(withIngress(knp("shop", "p", sel(), ingress), []networkingv1.NetworkPolicyPeer{peerBlock("10.1.0.0/24")})),
			tcp(web, db, 5432), want{true, ReasonRule, "NetworkPolicy shop/p", 0}},
		{"ipBlock of another family",
			objs(withIngress(knp("shop", "p", sel(), ingress), []networkingv1.NetworkPolicyPeer{peerBlock("::/0")})),
			tcp(user, db, 5432), want{false, ReasonIsolated, "", -1}},
		{"port matches",
			objs(withIngress(knp("shop", "p", sel(), ingress), nil, kport("TCP", 5432))),
			tcp(web, db, 5432), want{true, ReasonRule, "NetworkPolicy shop/p", 0}},
		{"port differs",
			objs(withIngress(knp("shop", "p", sel(), ingress), nil, kport("TCP", 5433))),
			tcp(web, db, 5432), want{false, ReasonIsolated, "", -1}},
		{"protocol differs",
			objs(withIngress(knp("shop", "p", sel(), ingress), nil, kport("UDP", 5432))),
			tcp(web, db, 5432), want{false, ReasonIsolated, "", -1}},
		{"protocol without port: every port",
			objs(withIngress(knp("shop", "p", sel(), ingress), nil, kport("TCP", nil))),
			tcp(web, db, 1), want{true, ReasonRule, "NetworkPolicy shop/p", 0}},
		{"endPort: first", objs(withIngress(knp("shop", "p", sel(), ingress), nil, kport("TCP", 5000, 5432))),
			tcp(web, db, 5000), want{true, ReasonRule, "NetworkPolicy shop/p", 0}},
		{"endPort: last", objs(withIngress(knp("shop", "p", sel(), ingress), nil, kport("TCP", 5000, 5432))),
			tcp(web, db, 5432), want{true, ReasonRule, "NetworkPolicy shop/p", 0}},
		{"endPort: past the end", objs(withIngress(knp("shop", "p", sel(), ingress), nil, kport("TCP", 5000, 5431))),
			tcp(web, db, 5432), want{false, ReasonIsolated, "", -1}},
		{"endPort: before the start", objs(withIngress(knp("shop", "p", sel(), ingress), nil, kport("TCP", 5433, 6000))),
			tcp(web, db, 5432), want{false, ReasonIsolated, "", -1}},
		{"named port resolves against the destination pod",
			objs(withIngress(knp("shop", "p", sel(), ingress), nil, kport("TCP", "postgres"))),
			tcp(web, db, 5432), want{true, ReasonRule, "NetworkPolicy shop/p", 0}},
		{"named port: another number",
			objs(withIngress(knp("shop", "p", sel(), ingress), nil, kport("TCP", "postgres"))),
			tcp(web, db, 5433), want{false, ReasonIsolated, "", -1}},
		{"named port: another protocol",
			objs(withIngress(knp("shop", "p", sel(), ingress), nil, kport("TCP", "metrics"))),
			tcp(web, db, 9000), want{false, ReasonIsolated, "", -1}},
		{"named port in egress resolves against the destination, not the source",
			objs(withEgress(knp("shop", "p", sel("app", "web"), egress), nil, kport("TCP", "postgres"))),
			tcp(web, db, 5432), want{true, ReasonNotIsolated, "", -1}}, // egress allowed; ingress decides
		{"named port in egress: another number",
			objs(withEgress(knp("shop", "p", sel("app", "web"), egress), nil, kport("TCP", "postgres"))),
			tcp(web, db, 5433), want{false, ReasonIsolated, "", -1}},
		{"named port in egress to an address outside the cluster never matches",
			objs(withEgress(knp("shop", "p", sel("app", "web"), egress), nil, kport("TCP", "postgres"))),
			tcp(web, ext("198.51.100.1"), 5432), want{false, ReasonIsolated, "", -1}},
		{"both ends must allow: egress allows, ingress denies",
			objs(denyIn, withEgress(knp("shop", "out", sel(), egress), nil)),
			tcp(web, db, 5432), want{false, ReasonIsolated, "", -1}},
		{"both ends must allow: egress denies first",
			objs(denyOut, withIngress(knp("shop", "in", sel(), ingress), nil)),
			tcp(web, db, 5432), want{false, ReasonIsolated, "", -1}},
		{"traffic from the pod's own node passes",
			objs(denyIn), tcp(node2, db, 5432), want{true, ReasonOwnNode, "", -1}},
		{"traffic to the pod's own node passes",
			objs(denyOut), tcp(web, node1, 10250), want{true, ReasonOwnNode, "", -1}},
		{"traffic from another node is policed",
			objs(denyIn), tcp(node1, db, 5432), want{false, ReasonIsolated, "", -1}},
		{"a pod reaches itself",
			objs(denyIn, denyOut), tcp(db, db, 5432), want{true, ReasonSelf, "", -1}},
		{"a portless rule admits ICMP",
			objs(withIngress(knp("shop", "p", sel(), ingress), nil)),
			Flow{From: web, To: db, Protocol: ICMP, ICMPType: 8}, want{true, ReasonRule, "NetworkPolicy shop/p", 0}},
		{"a ported rule does not admit ICMP",
			objs(withIngress(knp("shop", "p", sel(), ingress), nil, kport("TCP", 5432))),
			Flow{From: web, To: db, Protocol: ICMP, ICMPType: 8}, want{false, ReasonIsolated, "", -1}},
		{"NetworkPolicy does not police a node",
			objs(denyIn), tcp(user, node1, 10250), want{true, "", "", -1}},
		{"NodePort without SNAT: ipBlock sees the client",
			objs(withIngress(knp("shop", "p", sel(), ingress), []networkingv1.NetworkPolicyPeer{peerBlock("203.0.113.0/24")})),
			Flow{From: user, To: db, Port: 5432, NodePort: 30432, Via: node1}, want{true, ReasonRule, "NetworkPolicy shop/p", 0}},
		{"NodePort with SNAT: ipBlock sees the node, and refuses",
			objs(withIngress(knp("shop", "p", sel(), ingress), []networkingv1.NetworkPolicyPeer{peerBlock("203.0.113.0/24")})),
			Flow{From: user, To: db, Port: 5432, NodePort: 30432, Via: node1, SNAT: true}, want{false, ReasonIsolated, "", -1}},
	}
	runEvalCases(t, Kubernetes, nil, cases)
}

func TestKubernetesDeciderAndRendering(t *testing.T) {
	np := withIngress(knp("shop", "from-edge", sel("app", "db"), ingress),
		[]networkingv1.NetworkPolicyPeer{peerBlock("203.0.113.0/24", "203.0.113.128/25"), {NamespaceSelector: sel("team", "blog"), PodSelector: sel("app", "web")}},
		kport("TCP", 5432), kport("UDP", 9000, 9100))
	ev, err := NewEvaluator(Network{Objects: Objects{NetworkPolicies: []networkingv1.NetworkPolicy{np}}})
	if err != nil {
		t.Fatal(err)
	}
	v, err := ev.Explain(tcp(user, db, 5432))
	if err != nil {
		t.Fatal(err)
	}
	wantText := "203.0.113.7 -> pod in shop (10.1.1.20) TCP/5432: ALLOW\n" +
		"  ingress of pod in shop (10.1.1.20): allow (rule: NetworkPolicy shop/from-edge rule 0: " +
		"from 203.0.113.0/24 except 203.0.113.128/25 or pods{app=web} in namespaces{team=blog} on TCP/5432,UDP/9000-9100)"
	if got := v.String(); got != wantText {
		t.Errorf("String():\n%s\nwant:\n%s", got, wantText)
	}
}

func TestNewEvaluatorRefuses(t *testing.T) {
	bad := withIngress(knp("shop", "bad", sel(), ingress), []networkingv1.NetworkPolicyPeer{peerBlock("10.0.0.0/33"), {}}, kport("ICMP", 1))
	bad.Spec.PolicyTypes = append(bad.Spec.PolicyTypes, "Sideways")
	_, err := NewEvaluator(Network{Objects: Objects{NetworkPolicies: []networkingv1.NetworkPolicy{bad}}, Semantics: "iptables"})
	if err == nil {
		t.Fatal("no error")
	}
	for _, s := range []string{`Semantics "iptables"`, `spec.ingress[0].from[0].ipBlock.cidr: "10.0.0.0/33"`,
		"spec.ingress[0].from[1]: no podSelector", `spec.ingress[0].ports[0].protocol: "ICMP"`, `spec.policyTypes: "Sideways"`} {
		if !strings.Contains(err.Error(), s) {
			t.Errorf("error lacks %q:\n%v", s, err)
		}
	}
	for _, line := range strings.Split(err.Error(), "\n") {
		if !strings.HasPrefix(line, "netpol: ") || strings.Count(line, "netpol:") != 1 {
			t.Errorf("%q: want the package named once, at the start", line)
		}
	}
	ev, _ := NewEvaluator(Network{})
	for _, f := range []Flow{{}, {From: web, To: db, Protocol: "GRE"}, {From: web, To: db}, {From: web, To: db, Port: 1, NodePort: 30000},
		{From: web, To: db, Port: 1, SNAT: true}, {From: Endpoint{Addr: node1.Addr, Host: true}, To: db, Port: 1},
		{From: ext("2001:db8::1"), To: db, Port: 1}} {
		if _, err := ev.Explain(f); err == nil {
			t.Errorf("Explain(%v): no error", f)
		}
	}
}

package netpol

import (
	"net/netip"
	"strings"
	"testing"

	calicov3 "github.com/projectcalico/api/pkg/apis/projectcalico/v3"
	"github.com/projectcalico/api/pkg/lib/numorstring"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func ord(f float64) *float64 { return &f }

func proto(p string) *numorstring.Protocol {
	x := numorstring.ProtocolFromString(p)
	return &x
}

func gnp(name string, order *float64, selector string, ingressRules ...calicov3.Rule) calicov3.GlobalNetworkPolicy {
	return calicov3.GlobalNetworkPolicy{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: calicov3.GlobalNetworkPolicySpec{Order: order, Selector: selector, Ingress: ingressRules,
			Types: []calicov3.PolicyType{calicov3.PolicyTypeIngress}},
	}
}

func inTier(p calicov3.GlobalNetworkPolicy, tier string) calicov3.GlobalNetworkPolicy {
	p.Spec.Tier = tier
	return p
}

func forward(p calicov3.GlobalNetworkPolicy) calicov3.GlobalNetworkPolicy {
	p.Spec.ApplyOnForward = true
	return p
}

func preDNAT(p calicov3.GlobalNetworkPolicy) calicov3.GlobalNetworkPolicy {
	p.Spec.PreDNAT, p.Spec.ApplyOnForward = true, true
	return p
}

func untracked(p calicov3.GlobalNetworkPolicy) calicov3.GlobalNetworkPolicy {
	p.Spec.DoNotTrack, p.Spec.ApplyOnForward = true, true
	return p
}

func allow() calicov3.Rule { return calicov3.Rule{Action: calicov3.Allow} }
func deny() calicov3.Rule  { return calicov3.Rule{Action: calicov3.Deny} }
func pass() calicov3.Rule  { return calicov3.Rule{Action: calicov3.Pass} }
func logR() calicov3.Rule  { return calicov3.Rule{Action: calicov3.Log} }

func tcpTo(a calicov3.Action, ports ...string) calicov3.Rule {
	r := calicov3.Rule{Action: a, Protocol: proto("TCP")}
	for _, p := range ports {
		pt, err := numorstring.PortFromString(p)
		if err != nil {
			panic(err)
		}
		r.Destination.Ports = append(r.Destination.Ports, pt)
	}
	return r
}

func from(r calicov3.Rule, e calicov3.EntityRule) calicov3.Rule {
	r.Source = e
	return r
}

func tier(name string, order *float64, def calicov3.Action) calicov3.Tier {
	t := calicov3.Tier{ObjectMeta: metav1.ObjectMeta{Name: name}, Spec: calicov3.TierSpec{Order: order}}
	if def != "" {
		t.Spec.DefaultAction = &def
	}
	return t
}

func hep(node, iface string, ips ...string) calicov3.HostEndpoint {
	return calicov3.HostEndpoint{
		ObjectMeta: metav1.ObjectMeta{Name: node + "-" + strings.ReplaceAll(iface, "*", "all"), Labels: map[string]string{"kubernetes.io/hostname": node}},
		Spec:       calicov3.HostEndpointSpec{Node: node, InterfaceName: iface, ExpectedIPs: ips},
	}
}

var edgeSet = calicov3.GlobalNetworkSet{
	ObjectMeta: metav1.ObjectMeta{Name: "edge", Labels: map[string]string{"role": "edge"}},
	Spec:       calicov3.GlobalNetworkSetSpec{Nets: []string{"203.0.113.0/24"}},
}

func TestCalicoSemantics(t *testing.T) {
	denyIn := knp("shop", "deny-in", sel(), ingress)
	allowWeb := withIngress(knp("shop", "from-web", sel("app", "db"), ingress), []networkingv1.NetworkPolicyPeer{peerPods(sel("app", "web"))})
	pod2pod := tcp(web, db, 5432)
	toNode1 := func(port uint16) Flow { return tcp(user, node1, port) }
	n1eth0 := hep("n1", "eth0", "192.0.2.1")
	n1all := hep("n1", "*")
	n2all := hep("n2", "*")
	cases := []evalCase{
		{"no policy: the namespace profile allows", Objects{}, pod2pod, want{true, ReasonProfile, "Profile kns.shop", -1}},
		{"a Kubernetes policy in the default tier: end of tier",
			Objects{NetworkPolicies: []networkingv1.NetworkPolicy{denyIn}}, pod2pod, want{false, ReasonEndOfTier, "", -1}},
		{"a Kubernetes policy allows",
			Objects{NetworkPolicies: []networkingv1.NetworkPolicy{denyIn, allowWeb}}, pod2pod, want{true, ReasonRule, "NetworkPolicy shop/from-web", 0}},
		{"a lower order decides before the Kubernetes policies' 1000",
			Objects{NetworkPolicies: []networkingv1.NetworkPolicy{allowWeb}, GlobalNetworkPolicies: []calicov3.GlobalNetworkPolicy{gnp("first", ord(999), "all()", deny())}},
			pod2pod, want{false, ReasonRule, "GlobalNetworkPolicy first", 0}},
		{"a higher order decides after them",
			Objects{NetworkPolicies: []networkingv1.NetworkPolicy{allowWeb}, GlobalNetworkPolicies: []calicov3.GlobalNetworkPolicy{gnp("later", ord(1001), "all()", deny())}},
			pod2pod, want{true, ReasonRule, "NetworkPolicy shop/from-web", 0}},
		{"no order sorts last",
			Objects{GlobalNetworkPolicies: []calicov3.GlobalNetworkPolicy{gnp("a-unordered", nil, "all()", allow()), gnp("z", ord(5000), "all()", deny())}},
			pod2pod, want{false, ReasonRule, "GlobalNetworkPolicy z", 0}},
		{"equal orders: by name",
			Objects{GlobalNetworkPolicies: []calicov3.GlobalNetworkPolicy{gnp("b", ord(10), "all()", allow()), gnp("a", ord(10), "all()", deny())}},
			pod2pod, want{false, ReasonRule, "GlobalNetworkPolicy a", 0}},
		{"rules in order; Log goes on",
			Objects{GlobalNetworkPolicies: []calicov3.GlobalNetworkPolicy{gnp("p", ord(10), "all()", logR(), tcpTo(calicov3.Deny, "1"), allow(), deny())}},
			pod2pod, want{true, ReasonRule, "GlobalNetworkPolicy p", 2}},
		{"a policy that selects other endpoints does not apply",
			Objects{GlobalNetworkPolicies: []calicov3.GlobalNetworkPolicy{gnp("p", ord(10), "app == 'web'", deny())}},
			pod2pod, want{true, ReasonProfile, "Profile kns.shop", -1}},
		{"end of tier: a selecting policy whose rules do not match",
			Objects{GlobalNetworkPolicies: []calicov3.GlobalNetworkPolicy{gnp("p", ord(10), "app == 'db'", tcpTo(calicov3.Allow, "1"))}},
			pod2pod, want{false, ReasonEndOfTier, "", -1}},
		{"end of tier is per tier: the later tier's allow never runs",
			Objects{Tiers: []calicov3.Tier{tier("security", ord(100), "")},
				GlobalNetworkPolicies: []calicov3.GlobalNetworkPolicy{inTier(gnp("security.p", ord(10), "all()", tcpTo(calicov3.Allow, "1")), "security"), gnp("open", ord(10), "all()", allow())}},
			pod2pod, want{false, ReasonEndOfTier, "", -1}},
		{"a tier whose default action is Pass goes on",
			Objects{Tiers: []calicov3.Tier{tier("security", ord(100), calicov3.Pass)},
				GlobalNetworkPolicies: []calicov3.GlobalNetworkPolicy{inTier(gnp("security.p", ord(10), "all()", tcpTo(calicov3.Allow, "1")), "security"), gnp("open", ord(10), "all()", allow())}},
			pod2pod, want{true, ReasonRule, "GlobalNetworkPolicy open", 0}},
		{"Pass goes to the next tier",
			Objects{Tiers: []calicov3.Tier{tier("security", ord(100), "")}, NetworkPolicies: []networkingv1.NetworkPolicy{denyIn},
				GlobalNetworkPolicies: []calicov3.GlobalNetworkPolicy{inTier(gnp("security.p", ord(10), "all()", pass()), "security")}},
			pod2pod, want{false, ReasonEndOfTier, "", -1}},
		{"Pass out of the last tier: the profile",
			Objects{Tiers: []calicov3.Tier{tier("security", ord(100), "")},
				GlobalNetworkPolicies: []calicov3.GlobalNetworkPolicy{inTier(gnp("security.p", ord(10), "all()", pass()), "security")}},
			pod2pod, want{true, ReasonProfile, "Profile kns.shop", -1}},
		{"tiers by order: a tier without one comes last",
			Objects{Tiers: []calicov3.Tier{tier("aaa", nil, ""), tier("zzz", ord(1), "")},
				GlobalNetworkPolicies: []calicov3.GlobalNetworkPolicy{inTier(gnp("aaa.p", ord(1), "all()", allow()), "aaa"), inTier(gnp("zzz.p", ord(1), "all()", deny()), "zzz")}},
			pod2pod, want{false, ReasonRule, "GlobalNetworkPolicy zzz.p", 0}},
		{"a Calico NetworkPolicy applies in its namespace only",
			Objects{CalicoNetworkPolicies: []calicov3.NetworkPolicy{{ObjectMeta: metav1.ObjectMeta{Namespace: "blog", Name: "deny"},
				Spec: calicov3.NetworkPolicySpec{Order: ord(1), Selector: "all()", Types: []calicov3.PolicyType{calicov3.PolicyTypeIngress}, Ingress: []calicov3.Rule{deny()}}}}},
			pod2pod, want{true, ReasonProfile, "Profile kns.shop", -1}},
		{"a Calico NetworkPolicy's rule selector stays in its namespace",
			Objects{CalicoNetworkPolicies: []calicov3.NetworkPolicy{{ObjectMeta: metav1.ObjectMeta{Namespace: "shop", Name: "web"},
				Spec: calicov3.NetworkPolicySpec{Order: ord(1), Selector: "all()", Types: []calicov3.PolicyType{calicov3.PolicyTypeIngress},
					Ingress: []calicov3.Rule{from(allow(), calicov3.EntityRule{Selector: "app == 'web'"})}}}}},
			tcp(other, db, 5432), want{false, ReasonEndOfTier, "", -1}},
		{"nets",
			Objects{GlobalNetworkPolicies: []calicov3.GlobalNetworkPolicy{gnp("p", ord(1), "all()", from(allow(), calicov3.EntityRule{Nets: []string{"10.1.0.0/24"}}))}},
			pod2pod, want{true, ReasonRule, "GlobalNetworkPolicy p", 0}},
		{"notNets",
			Objects{GlobalNetworkPolicies: []calicov3.GlobalNetworkPolicy{gnp("p", ord(1), "all()", from(allow(), calicov3.EntityRule{NotNets: []string{"10.1.0.10"}}))}},
			pod2pod, want{false, ReasonEndOfTier, "", -1}},
		{"port range",
			Objects{GlobalNetworkPolicies: []calicov3.GlobalNetworkPolicy{gnp("p", ord(1), "all()", tcpTo(calicov3.Deny, "1:5431"), tcpTo(calicov3.Allow, "5432:5432"))}},
			pod2pod, want{true, ReasonRule, "GlobalNetworkPolicy p", 1}},
		{"named port",
			Objects{GlobalNetworkPolicies: []calicov3.GlobalNetworkPolicy{gnp("p", ord(1), "all()", tcpTo(calicov3.Allow, "postgres"))}},
			pod2pod, want{true, ReasonRule, "GlobalNetworkPolicy p", 0}},
		{"notPorts",
			Objects{GlobalNetworkPolicies: []calicov3.GlobalNetworkPolicy{gnp("p", ord(1), "all()", calicov3.Rule{Action: calicov3.Deny, Protocol: proto("TCP"),
				Destination: calicov3.EntityRule{NotPorts: []numorstring.Port{numorstring.SinglePort(5432)}}}, allow())}},
			pod2pod, want{true, ReasonRule, "GlobalNetworkPolicy p", 1}},
		{"protocol",
			Objects{GlobalNetworkPolicies: []calicov3.GlobalNetworkPolicy{gnp("p", ord(1), "all()", calicov3.Rule{Action: calicov3.Deny, Protocol: proto("UDP")}, calicov3.Rule{Action: calicov3.Allow, Protocol: proto("tcp")})}},
			pod2pod, want{true, ReasonRule, "GlobalNetworkPolicy p", 1}},
		{"protocol by number",
			Objects{GlobalNetworkPolicies: []calicov3.GlobalNetworkPolicy{gnp("p", ord(1), "all()", calicov3.Rule{Action: calicov3.Allow, Protocol: func() *numorstring.Protocol { p := numorstring.ProtocolFromInt(47); return &p }()})}},
			Flow{From: web, To: db, Protocol: "47"}, want{true, ReasonRule, "GlobalNetworkPolicy p", 0}},
		{"notProtocol",
			Objects{GlobalNetworkPolicies: []calicov3.GlobalNetworkPolicy{gnp("p", ord(1), "all()", calicov3.Rule{Action: calicov3.Deny, NotProtocol: proto("TCP")}, allow())}},
			pod2pod, want{true, ReasonRule, "GlobalNetworkPolicy p", 1}},
		{"ICMP type and code",
			Objects{GlobalNetworkPolicies: []calicov3.GlobalNetworkPolicy{gnp("p", ord(1), "all()",
				calicov3.Rule{Action: calicov3.Allow, Protocol: proto("ICMP"), ICMP: &calicov3.ICMPFields{Type: func() *int { i := 8; return &i }(), Code: func() *int { i := 0; return &i }()}}, deny())}},
			Flow{From: web, To: db, Protocol: ICMP, ICMPType: 8}, want{true, ReasonRule, "GlobalNetworkPolicy p", 0}},
		{"ICMP another type",
			Objects{GlobalNetworkPolicies: []calicov3.GlobalNetworkPolicy{gnp("p", ord(1), "all()",
				calicov3.Rule{Action: calicov3.Allow, Protocol: proto("ICMP"), ICMP: &calicov3.ICMPFields{Type: func() *int { i := 8; return &i }()}}, deny())}},
			Flow{From: web, To: db, Protocol: ICMP, ICMPType: 3}, want{false, ReasonRule, "GlobalNetworkPolicy p", 1}},
		{"ipVersion",
			Objects{GlobalNetworkPolicies: []calicov3.GlobalNetworkPolicy{gnp("p", ord(1), "all()", calicov3.Rule{Action: calicov3.Deny, IPVersion: func() *int { i := 6; return &i }()}, allow())}},
			pod2pod, want{true, ReasonRule, "GlobalNetworkPolicy p", 1}},
		{"a GlobalNetworkSet is selected by its labels",
			Objects{GlobalNetworkSets: []calicov3.GlobalNetworkSet{edgeSet},
				GlobalNetworkPolicies: []calicov3.GlobalNetworkPolicy{gnp("p", ord(1), "all()", from(allow(), calicov3.EntityRule{Selector: "role == 'edge'"}))}},
			tcp(user, db, 5432), want{true, ReasonRule, "GlobalNetworkPolicy p", 0}},
		{"an address outside the set is not",
			Objects{GlobalNetworkSets: []calicov3.GlobalNetworkSet{edgeSet},
				GlobalNetworkPolicies: []calicov3.GlobalNetworkPolicy{gnp("p", ord(1), "all()", from(allow(), calicov3.EntityRule{Selector: "role == 'edge'"}))}},
			tcp(ext("198.51.100.9"), db, 5432), want{false, ReasonEndOfTier, "", -1}},
		{"namespaceSelector global(): not a pod labelled like the set",
			Objects{GlobalNetworkSets: []calicov3.GlobalNetworkSet{edgeSet},
				GlobalNetworkPolicies: []calicov3.GlobalNetworkPolicy{gnp("p", ord(1), "all()", from(allow(), calicov3.EntityRule{Selector: "role == 'edge'", NamespaceSelector: "global()"}))}},
			tcp(pod("shop", "10.1.0.11", "n1", "role", "edge"), db, 5432), want{false, ReasonEndOfTier, "", -1}},
		{"a GlobalNetworkPolicy's namespaceSelector",
			Objects{GlobalNetworkPolicies: []calicov3.GlobalNetworkPolicy{func() calicov3.GlobalNetworkPolicy {
				p := gnp("p", ord(1), "all()", deny())
				p.Spec.NamespaceSelector = "projectcalico.org/name == 'blog'"
				return p
			}()}},
			pod2pod, want{true, ReasonProfile, "Profile kns.shop", -1}},
		{"serviceAccounts by name",
			Objects{GlobalNetworkPolicies: []calicov3.GlobalNetworkPolicy{gnp("p", ord(1), "all()", from(allow(), calicov3.EntityRule{ServiceAccounts: &calicov3.ServiceAccountMatch{Names: []string{"frontend"}}}))}},
			tcp(func() Endpoint { e := web; e.ServiceAccount = "frontend"; return e }(), db, 5432), want{true, ReasonRule, "GlobalNetworkPolicy p", 0}},

		// Host endpoints.
		{"no host endpoint: the host is not policed", Objects{}, toNode1(10250), want{true, "", "", -1}},
		{"a named host endpoint without policy denies",
			Objects{HostEndpoints: []calicov3.HostEndpoint{n1eth0}}, toNode1(10250), want{false, ReasonHostEndpointDefault, "", -1}},
		{"an all-interfaces host endpoint without policy denies too",
			Objects{HostEndpoints: []calicov3.HostEndpoint{n1all}}, toNode1(10250), want{false, ReasonHostEndpointDefault, "", -1}},
		{"a host endpoint's profile decides without policy",
			Objects{HostEndpoints: []calicov3.HostEndpoint{func() calicov3.HostEndpoint {
				h := n1all
				h.Spec.Profiles = []string{"projectcalico-default-allow"}
				return h
			}()}}, toNode1(10250), want{true, ReasonProfile, "Profile projectcalico-default-allow", -1}},
		{"failsafe ports pass a named host endpoint",
			Objects{HostEndpoints: []calicov3.HostEndpoint{n1eth0}}, toNode1(22), want{true, ReasonFailsafe, "", -1}},
		{"failsafe ports pass a deny",
			Objects{HostEndpoints: []calicov3.HostEndpoint{n1all}, GlobalNetworkPolicies: []calicov3.GlobalNetworkPolicy{gnp("deny", ord(1), "has(kubernetes.io/hostname)", deny())}},
			toNode1(6443), want{true, ReasonFailsafe, "", -1}},
		{"10250 is no failsafe",
			Objects{HostEndpoints: []calicov3.HostEndpoint{n1all}, GlobalNetworkPolicies: []calicov3.GlobalNetworkPolicy{gnp("deny", ord(1), "has(kubernetes.io/hostname)", deny())}},
			toNode1(10250), want{false, ReasonRule, "GlobalNetworkPolicy deny", 0}},
		{"host policy without applyOnForward does not see forwarded traffic",
			Objects{HostEndpoints: []calicov3.HostEndpoint{n2all}, GlobalNetworkPolicies: []calicov3.GlobalNetworkPolicy{gnp("deny", ord(1), "has(kubernetes.io/hostname)", deny())}},
			tcp(user, db, 5432), want{true, ReasonProfile, "Profile kns.shop", -1}},
		{"applyOnForward host policy sees forwarded traffic",
			Objects{HostEndpoints: []calicov3.HostEndpoint{n2all}, GlobalNetworkPolicies: []calicov3.GlobalNetworkPolicy{forward(gnp("deny", ord(1), "has(kubernetes.io/hostname)", deny()))}},
			tcp(user, db, 5432), want{false, ReasonRule, "GlobalNetworkPolicy deny", 0}},
		{"failsafes never pass forwarded traffic",
			Objects{HostEndpoints: []calicov3.HostEndpoint{n2all}, GlobalNetworkPolicies: []calicov3.GlobalNetworkPolicy{forward(gnp("deny", ord(1), "has(kubernetes.io/hostname)", deny()))}},
			tcp(user, db, 22), want{false, ReasonRule, "GlobalNetworkPolicy deny", 0}},
		{"a named host endpoint forwards by default",
			Objects{HostEndpoints: []calicov3.HostEndpoint{hep("n2", "eth0", "192.0.2.2")}}, tcp(user, db, 5432), want{true, ReasonProfile, "Profile kns.shop", -1}},
		{"pre-DNAT: a NodePort from outside the edge",
			Objects{HostEndpoints: []calicov3.HostEndpoint{n1all}, GlobalNetworkSets: []calicov3.GlobalNetworkSet{edgeSet},
				GlobalNetworkPolicies: []calicov3.GlobalNetworkPolicy{preDNAT(gnp("np", ord(1), "all()", from(tcpTo(calicov3.Allow, "30000:32767"), calicov3.EntityRule{Selector: "role == 'edge'"}), tcpTo(calicov3.Deny, "30000:32767")))}},
			Flow{From: ext("198.51.100.9"), To: web, Port: 8080, NodePort: 30080, Via: node1}, want{false, ReasonRule, "GlobalNetworkPolicy np", 1}},
		{"pre-DNAT: a NodePort from the edge skips normal host policy",
			Objects{HostEndpoints: []calicov3.HostEndpoint{n1all}, GlobalNetworkSets: []calicov3.GlobalNetworkSet{edgeSet},
				GlobalNetworkPolicies: []calicov3.GlobalNetworkPolicy{
					preDNAT(gnp("np", ord(1), "all()", from(tcpTo(calicov3.Allow, "30000:32767"), calicov3.EntityRule{Selector: "role == 'edge'"}), tcpTo(calicov3.Deny, "30000:32767"))),
					forward(gnp("deny", ord(2), "has(kubernetes.io/hostname)", deny()))}},
			Flow{From: user, To: web, Port: 8080, NodePort: 30080, Via: node1}, want{true, ReasonProfile, "Profile kns.shop", -1}},
		{"pre-DNAT sees the NodePort, not the pod's port",
			Objects{HostEndpoints: []calicov3.HostEndpoint{n1all},
				GlobalNetworkPolicies: []calicov3.GlobalNetworkPolicy{preDNAT(gnp("np", ord(1), "all()", tcpTo(calicov3.Deny, "8080")))}},
			Flow{From: user, To: web, Port: 8080, NodePort: 30080, Via: node1}, want{true, ReasonProfile, "Profile kns.shop", -1}},
		{"pre-DNAT has no end-of-tier drop",
			Objects{HostEndpoints: []calicov3.HostEndpoint{n1all},
				GlobalNetworkPolicies: []calicov3.GlobalNetworkPolicy{preDNAT(gnp("np", ord(1), "all()", tcpTo(calicov3.Deny, "30000:32767"))), gnp("host", ord(2), "all()", tcpTo(calicov3.Allow, "10250"))}},
			toNode1(10250), want{true, ReasonRule, "GlobalNetworkPolicy host", 0}},
		{"pre-DNAT judges forwarded NodePort traffic to another node's pod, and then that node",
			Objects{HostEndpoints: []calicov3.HostEndpoint{n1all, n2all},
				GlobalNetworkPolicies: []calicov3.GlobalNetworkPolicy{forward(gnp("n2-deny", ord(1), "kubernetes.io/hostname == 'n2'", deny()))}},
			Flow{From: user, To: db, Port: 5432, NodePort: 30432, Via: node1, SNAT: true}, want{false, ReasonRule, "GlobalNetworkPolicy n2-deny", 0}},
		{"untracked deny",
			Objects{HostEndpoints: []calicov3.HostEndpoint{n1eth0}, GlobalNetworkPolicies: []calicov3.GlobalNetworkPolicy{untracked(gnp("raw", ord(1), "all()", tcpTo(calicov3.Deny, "10250"))), gnp("host", ord(2), "all()", allow())}},
			toNode1(10250), want{false, ReasonRule, "GlobalNetworkPolicy raw", 0}},
		{"untracked allow skips the rest",
			Objects{HostEndpoints: []calicov3.HostEndpoint{n1eth0}, GlobalNetworkPolicies: []calicov3.GlobalNetworkPolicy{untracked(gnp("raw", ord(1), "all()", tcpTo(calicov3.Allow, "10250"))), gnp("host", ord(2), "all()", deny())}},
			toNode1(10250), want{true, ReasonRule, "GlobalNetworkPolicy raw", 0}},
		{"untracked no match goes on without a drop",
			Objects{HostEndpoints: []calicov3.HostEndpoint{n1eth0}, GlobalNetworkPolicies: []calicov3.GlobalNetworkPolicy{untracked(gnp("raw", ord(1), "all()", tcpTo(calicov3.Deny, "1"))), gnp("host", ord(2), "all()", allow())}},
			toNode1(10250), want{true, ReasonRule, "GlobalNetworkPolicy host", 0}},
		{"host egress: outbound failsafe",
			Objects{HostEndpoints: []calicov3.HostEndpoint{n1eth0}}, Flow{From: node1, To: ext("198.51.100.53"), Protocol: UDP, Port: 53}, want{true, ReasonFailsafe, "", -1}},
		{"host egress: a named host endpoint denies the rest",
			Objects{HostEndpoints: []calicov3.HostEndpoint{n1eth0}}, tcp(node1, ext("198.51.100.53"), 443), want{false, ReasonHostEndpointDefault, "", -1}},
		{"a node reaches its own pods whatever their policy",
			Objects{NetworkPolicies: []networkingv1.NetworkPolicy{denyIn}}, tcp(node2, db, 5432), want{true, ReasonOwnNode, "", -1}},
		{"another node does not",
			Objects{NetworkPolicies: []networkingv1.NetworkPolicy{denyIn}}, tcp(node1, db, 5432), want{false, ReasonEndOfTier, "", -1}},
		{"NodePort traffic SNATed by the pod's own node is judged by the pod's policy",
			Objects{NetworkPolicies: []networkingv1.NetworkPolicy{denyIn}}, Flow{From: user, To: db, Port: 5432, NodePort: 30432, Via: node2, SNAT: true},
			want{false, ReasonEndOfTier, "", -1}},
		{"a host endpoint's named port",
			Objects{HostEndpoints: []calicov3.HostEndpoint{func() calicov3.HostEndpoint {
				h := n1eth0
				h.Spec.Ports = []calicov3.EndpointPort{{Name: "kubelet", Protocol: numorstring.ProtocolFromString("TCP"), Port: 10250}}
				return h
			}()}, GlobalNetworkPolicies: []calicov3.GlobalNetworkPolicy{gnp("host", ord(1), "all()", tcpTo(calicov3.Allow, "kubelet"))}},
			toNode1(10250), want{true, ReasonRule, "GlobalNetworkPolicy host", 0}},
		{"notSelector",
			Objects{GlobalNetworkPolicies: []calicov3.GlobalNetworkPolicy{gnp("p", ord(1), "all()", from(deny(), calicov3.EntityRule{NotSelector: "app == 'web'"}), allow())}},
			pod2pod, want{true, ReasonRule, "GlobalNetworkPolicy p", 1}},
		{"notSelector denies the others",
			Objects{GlobalNetworkPolicies: []calicov3.GlobalNetworkPolicy{gnp("p", ord(1), "all()", from(deny(), calicov3.EntityRule{NotSelector: "app == 'web'"}), allow())}},
			tcp(pod("shop", "10.1.0.12", "n1", "app", "api"), db, 5432), want{false, ReasonRule, "GlobalNetworkPolicy p", 0}},
		{"a namespaced NetworkSet is selected within its namespace",
			Objects{NetworkSets: []calicov3.NetworkSet{{ObjectMeta: metav1.ObjectMeta{Namespace: "shop", Name: "partners", Labels: map[string]string{"role": "partner"}},
				Spec: calicov3.NetworkSetSpec{Nets: []string{"198.51.100.0/24"}}}},
				CalicoNetworkPolicies: []calicov3.NetworkPolicy{{ObjectMeta: metav1.ObjectMeta{Namespace: "shop", Name: "partners"},
					Spec: calicov3.NetworkPolicySpec{Order: ord(1), Selector: "all()", Types: []calicov3.PolicyType{calicov3.PolicyTypeIngress},
						Ingress: []calicov3.Rule{from(allow(), calicov3.EntityRule{Selector: "role == 'partner'"})}}}}},
			tcp(ext("198.51.100.9"), db, 5432), want{true, ReasonRule, "NetworkPolicy (Calico) shop/partners", 0}},
		{"another namespace's policy does not see that set",
			Objects{NetworkSets: []calicov3.NetworkSet{{ObjectMeta: metav1.ObjectMeta{Namespace: "shop", Name: "partners", Labels: map[string]string{"role": "partner"}},
				Spec: calicov3.NetworkSetSpec{Nets: []string{"198.51.100.0/24"}}}},
				CalicoNetworkPolicies: []calicov3.NetworkPolicy{{ObjectMeta: metav1.ObjectMeta{Namespace: "blog", Name: "partners"},
					Spec: calicov3.NetworkPolicySpec{Order: ord(1), Selector: "all()", Types: []calicov3.PolicyType{calicov3.PolicyTypeIngress},
						Ingress: []calicov3.Rule{from(allow(), calicov3.EntityRule{Selector: "role == 'partner'"})}}}}},
			tcp(ext("198.51.100.9"), other, 5432), want{false, ReasonEndOfTier, "", -1}},
		{"a rule's namespaceSelector reaches another namespace",
			Objects{CalicoNetworkPolicies: []calicov3.NetworkPolicy{{ObjectMeta: metav1.ObjectMeta{Namespace: "shop", Name: "from-blog"},
				Spec: calicov3.NetworkPolicySpec{Order: ord(1), Selector: "all()", Types: []calicov3.PolicyType{calicov3.PolicyTypeIngress},
					Ingress: []calicov3.Rule{from(allow(), calicov3.EntityRule{NamespaceSelector: "team == 'blog'", Selector: "app == 'web'"})}}}}},
			tcp(other, db, 5432), want{true, ReasonRule, "NetworkPolicy (Calico) shop/from-blog", 0}},
		{"a pod to its own host: Felix drops by default",
			Objects{}, tcp(web, node1, 10250), want{false, ReasonEndpointToHost, "", -1}},
	}
	runEvalCases(t, Calico, nil, cases)
	// The profile case: a user-supplied kns profile that denies.
	runEvalCases(t, Calico, func(o Objects) Network {
		return Network{Objects: o, Semantics: Calico, Profiles: []calicov3.Profile{{ObjectMeta: metav1.ObjectMeta{Name: "kns.shop"},
			Spec: calicov3.ProfileSpec{Ingress: []calicov3.Rule{tcpTo(calicov3.Allow, "1")}, Egress: []calicov3.Rule{allow()}}}}}
	}, []evalCase{{"a profile decides when given", Objects{}, pod2pod, want{false, ReasonProfile, "Profile kns.shop", -1}}})
}

func TestCalicoNetworkOptions(t *testing.T) {
	deny := gnp("deny", ord(1), "has(kubernetes.io/hostname)", deny())
	cases := []struct {
		name string
		net  Network
		flow Flow
		want want
	}{
		{"automatic host endpoints: policy applies to the node",
			Network{Semantics: Calico, AutoHostEndpoints: true, Objects: Objects{GlobalNetworkPolicies: []calicov3.GlobalNetworkPolicy{deny}}},
			tcp(user, node1, 10250), want{false, ReasonRule, "GlobalNetworkPolicy deny", 0}},
		{"automatic host endpoints allow by their profile",
			Network{Semantics: Calico, AutoHostEndpoints: true}, tcp(user, node1, 10250), want{true, ReasonProfile, "Profile projectcalico-default-allow", -1}},
		{"failsafes as configured",
			Network{Semantics: Calico, FailsafeInbound: []Failsafe{{Protocol: TCP, Port: 10250, Net: netip.MustParsePrefix("192.0.2.0/24")}},
				Objects: Objects{HostEndpoints: []calicov3.HostEndpoint{hep("n1", "eth0", "192.0.2.1")}}},
			tcp(node2, node1, 10250), want{true, ReasonFailsafe, "", -1}},
		{"failsafes as configured: another source",
			Network{Semantics: Calico, FailsafeInbound: []Failsafe{{Protocol: TCP, Port: 10250, Net: netip.MustParsePrefix("192.0.2.0/24")}},
				Objects: Objects{HostEndpoints: []calicov3.HostEndpoint{hep("n1", "eth0", "192.0.2.1")}}},
			tcp(user, node1, 10250), want{false, ReasonHostEndpointDefault, "", -1}},
		{"no failsafes when configured empty",
			Network{Semantics: Calico, FailsafeInbound: []Failsafe{}, Objects: Objects{HostEndpoints: []calicov3.HostEndpoint{hep("n1", "eth0", "192.0.2.1")}}},
			tcp(user, node1, 22), want{false, ReasonHostEndpointDefault, "", -1}},
		{"Felix's VXLAN allowance between hosts",
			Network{Semantics: Calico, Overlay: []Failsafe{{Protocol: UDP, Port: 4789, Net: netip.MustParsePrefix("192.0.2.0/24")}},
				Objects: Objects{HostEndpoints: []calicov3.HostEndpoint{hep("n1", "*")}, GlobalNetworkPolicies: []calicov3.GlobalNetworkPolicy{deny}}},
			Flow{From: node2, To: node1, Protocol: UDP, Port: 4789}, want{true, ReasonOverlay, "", -1}},
		{"a pod to its own host: Accept",
			Network{Semantics: Calico, EndpointToHost: "Accept"}, tcp(web, node1, 10250), want{true, ReasonEndpointToHost, "", -1}},
		{"a pod to its own host: Return, to the all-interfaces host endpoint",
			Network{Semantics: Calico, EndpointToHost: "Return", Objects: Objects{HostEndpoints: []calicov3.HostEndpoint{hep("n1", "*")}, GlobalNetworkPolicies: []calicov3.GlobalNetworkPolicy{deny}}},
			tcp(web, node1, 10250), want{false, ReasonRule, "GlobalNetworkPolicy deny", 0}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			runEvalCases(t, Calico, func(Objects) Network { return tc.net }, []evalCase{{tc.name, tc.net.Objects, tc.flow, tc.want}})
		})
	}
}

func TestCalicoRefuses(t *testing.T) {
	bad := gnp("bad", ord(1), "app = 'x'",
		calicov3.Rule{Action: "Reject"},
		calicov3.Rule{Action: calicov3.Allow, HTTP: &calicov3.HTTPMatch{Methods: []string{"GET"}}},
		calicov3.Rule{Action: calicov3.Allow, Source: calicov3.EntityRule{Nets: []string{"nope"}, Selector: "has(", Ports: []numorstring.Port{numorstring.SinglePort(1)}}},
		calicov3.Rule{Action: calicov3.Allow, Destination: calicov3.EntityRule{Services: &calicov3.ServiceMatch{Name: "kubernetes"}}},
	)
	_, err := NewEvaluator(Network{Semantics: Calico, Objects: Objects{GlobalNetworkPolicies: []calicov3.GlobalNetworkPolicy{bad}}, EndpointToHost: "Maybe"})
	if err == nil {
		t.Fatal("no error")
	}
	for _, s := range []string{
		`GlobalNetworkPolicy bad: spec.selector: selector "app = 'x'"`,
		`spec.ingress[0].action: "Reject"`,
		"spec.ingress[1].http",
		`spec.ingress[2].source.nets[0]: "nope"`,
		"spec.ingress[2].source.selector",
		"spec.ingress[2].source.ports",
		"spec.ingress[3].destination.services",
		`EndpointToHost "Maybe"`,
	} {
		if !strings.Contains(err.Error(), s) {
			t.Errorf("error lacks %q:\n%v", s, err)
		}
	}
	for _, line := range strings.Split(err.Error(), "\n") {
		if !strings.HasPrefix(line, "netpol: ") || strings.Count(line, "netpol:") != 1 {
			t.Errorf("%q: want the package named once, at the start", line)
		}
	}
}

func TestParseNet(t *testing.T) {
	for in, want := range map[string]string{
		"10.1.2.3":            "10.1.2.3/32",
		"10.1.2.3/8":          "10.0.0.0/8",
		"2001:db8::1":         "2001:db8::1/128",
		"::ffff:10.0.0.0/104": "10.0.0.0/8",
		"::ffff:0:0/90":       "::ffc0:0:0/90",
	} {
		got, err := parseNet(in)
		if err != nil || got.String() != want {
			t.Errorf("parseNet(%q) = %v, %v; want %s", in, got, err, want)
		}
	}
	if _, err := parseNet("10.0.0.0/33"); err == nil {
		t.Error("parseNet accepted /33")
	}
}

// A pre-DNAT policy that matches nothing shows in the path as a point the
// flow went on from, not as a decision.
func TestCalicoGoesOnStep(t *testing.T) {
	objs := Objects{HostEndpoints: []calicov3.HostEndpoint{hep("n1", "*")},
		GlobalNetworkPolicies: []calicov3.GlobalNetworkPolicy{preDNAT(gnp("np", ord(1), "all()", tcpTo(calicov3.Deny, "30000:32767"))), gnp("host", ord(2), "all()", tcpTo(calicov3.Allow, "10250"))}}
	ev, err := NewEvaluator(Network{Objects: objs, Semantics: Calico})
	if err != nil {
		t.Fatal(err)
	}
	v, err := ev.Explain(tcp(user, node1, 10250))
	if err != nil {
		t.Fatal(err)
	}
	want := "203.0.113.7 -> host n1 (192.0.2.1) TCP/10250: ALLOW\n" +
		"  ingress of host endpoint n1-all (pre-DNAT): continue (no rule matched, goes on)\n" +
		"  ingress of host endpoint n1-all: allow (rule: tier default, GlobalNetworkPolicy host rule 0: Allow TCP to ports 10250)"
	if got := v.String(); got != want {
		t.Errorf("got\n%s\nwant\n%s", got, want)
	}
	if d := v.Decider(); d.Policy != "GlobalNetworkPolicy host" {
		t.Errorf("decider %+v", d)
	}
}

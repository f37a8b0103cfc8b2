package oracle

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net"
	"net/netip"
	"testing"

	"github.com/mattfenwick/cyclonus/pkg/matcher"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes/fake"
	"sigs.k8s.io/kube-network-policies/pkg/api"
	"sigs.k8s.io/kube-network-policies/pkg/network"
	"sigs.k8s.io/kube-network-policies/pkg/networkpolicy"

	"github.com/originguard/originguard/netpol"
)

// world is a cluster: namespaces, pods and NetworkPolicies, all as the API
// server would hold them (defaulted: policyTypes and protocols set).
type world struct {
	namespaces []*corev1.Namespace
	pods       []*corev1.Pod
	policies   []*networkingv1.NetworkPolicy
	outside    []netip.Addr
}

func pick[T any](r *rand.Rand, xs ...T) T { return xs[r.IntN(len(xs))] }

func randomSelector(r *rand.Rand, keys ...string) *metav1.LabelSelector {
	s := &metav1.LabelSelector{}
	switch r.IntN(5) {
	case 0:
	case 1, 2:
		s.MatchLabels = map[string]string{pick(r, keys...): pick(r, "web", "db", "x", "y")}
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
			peers = append(peers, networkingv1.NetworkPolicyPeer{IPBlock: pick(r,
				&networkingv1.IPBlock{CIDR: "203.0.113.0/24", Except: []string{"203.0.113.0/28"}},
				&networkingv1.IPBlock{CIDR: "10.0.0.0/8"},
				&networkingv1.IPBlock{CIDR: "10.1.0.0/24", Except: []string{"10.1.0.8/29"}},
				&networkingv1.IPBlock{CIDR: "0.0.0.0/0", Except: []string{"198.51.100.0/24"}})})
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
		case 0:
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

// newWorld draws npods pods over three namespaces and npolicies policies
// from seed.
func newWorld(seed uint64, npods, npolicies int) *world {
	r := rand.New(rand.NewPCG(seed, 2))
	w := &world{}
	nsLabels := map[string]map[string]string{"a": {"team": "x"}, "b": {"team": "y"}, "c": {}}
	for _, n := range []string{"a", "b", "c"} {
		l := map[string]string{netpol.NamespaceNameLabel: n}
		for k, v := range nsLabels[n] {
			l[k] = v
		}
		w.namespaces = append(w.namespaces, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: n, Labels: l}})
	}
	for i := range npods {
		l := map[string]string{}
		if r.IntN(4) > 0 {
			l["app"] = pick(r, "web", "db", "x")
		}
		if r.IntN(2) == 0 {
			l["tier"] = pick(r, "x", "y")
		}
		var ports []corev1.ContainerPort
		if r.IntN(2) == 0 {
			ports = append(ports, corev1.ContainerPort{Name: "http", ContainerPort: 80, Protocol: corev1.ProtocolTCP})
		}
		if r.IntN(2) == 0 {
			ports = append(ports, corev1.ContainerPort{Name: "dns", ContainerPort: 53, Protocol: corev1.ProtocolUDP})
		}
		w.pods = append(w.pods, &corev1.Pod{
			ObjectMeta: metav1.ObjectMeta{Namespace: pick(r, "a", "b", "c"), Name: fmt.Sprintf("pod-%d", i), Labels: l},
			Spec:       corev1.PodSpec{NodeName: fmt.Sprintf("n%d", i%3), Containers: []corev1.Container{{Name: "c", Ports: ports}}},
			Status:     corev1.PodStatus{Phase: corev1.PodRunning, PodIP: netip.AddrFrom4([4]byte{10, 1, byte(i / 200), byte(i%200 + 1)}).String()},
		})
	}
	for _, a := range []string{"203.0.113.5", "203.0.113.100", "198.51.100.7", "192.0.2.9"} {
		w.outside = append(w.outside, netip.MustParseAddr(a))
	}
	for i := range npolicies {
		np := &networkingv1.NetworkPolicy{
			ObjectMeta: metav1.ObjectMeta{Namespace: pick(r, "a", "b", "c"), Name: fmt.Sprintf("p%d", i)},
			Spec:       networkingv1.NetworkPolicySpec{PodSelector: *randomSelector(r, "app", "tier")},
		}
		np.Spec.PolicyTypes = pick(r, []networkingv1.PolicyType{networkingv1.PolicyTypeIngress}, []networkingv1.PolicyType{networkingv1.PolicyTypeEgress},
			[]networkingv1.PolicyType{networkingv1.PolicyTypeIngress, networkingv1.PolicyTypeEgress})
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

// flow is one flow, in the forms each implementation takes.
type flow struct {
	ours     netpol.Flow
	packet   network.Packet
	cyclonus *matcher.Traffic
}

func (w *world) namespace(name string) *corev1.Namespace {
	for _, n := range w.namespaces {
		if n.Name == name {
			return n
		}
	}
	return nil
}

func (w *world) flows(seed uint64, n int) []flow {
	r := rand.New(rand.NewPCG(seed, 3))
	var out []flow
	for len(out) < n {
		from := pick(r, w.pods...)
		to := pick(r, w.pods...)
		var fromAddr, toAddr netip.Addr
		switch r.IntN(4) {
		case 0:
			from, fromAddr = nil, pick(r, w.outside...)
		case 1:
			to, toAddr = nil, pick(r, w.outside...)
		}
		if from != nil && from == to {
			continue
		}
		proto := pick(r, corev1.ProtocolTCP, corev1.ProtocolUDP)
		port := pick(r, 53, 80, 443, 5432, 8080)
		f := flow{ours: netpol.Flow{Protocol: netpol.Protocol(proto), Port: uint16(port)}}
		peer := func(p *corev1.Pod, addr netip.Addr) (netpol.Endpoint, *matcher.TrafficPeer) {
			if p == nil {
				return netpol.Endpoint{Addr: addr}, &matcher.TrafficPeer{IP: addr.String()}
			}
			ns := w.namespace(p.Namespace)
			e, _ := netpol.PodEndpoint(p, ns, true)
			return e, &matcher.TrafficPeer{IP: p.Status.PodIP, Internal: &matcher.InternalPeer{PodLabels: p.Labels, NamespaceLabels: ns.Labels, Namespace: p.Namespace}}
		}
		var src, dst *matcher.TrafficPeer
		f.ours.From, src = peer(from, fromAddr)
		f.ours.To, dst = peer(to, toAddr)
		f.packet = network.Packet{Family: corev1.IPv4Protocol, SrcIP: net.IP(f.ours.From.Addr.AsSlice()), DstIP: net.IP(f.ours.To.Addr.AsSlice()),
			Proto: proto, SrcPort: 40000, DstPort: port}
		f.cyclonus = &matcher.Traffic{Source: src, Destination: dst, ResolvedPort: port, Protocol: proto}
		for _, np := range f.ours.To.Ports {
			if int(np.Port) == port && string(np.Protocol) == string(proto) {
				f.cyclonus.ResolvedPortName = np.Name
			}
		}
		out = append(out, f)
	}
	return out
}

// reference is kube-network-policies' own engine, fed through informer
// caches as in a cluster.
type reference struct {
	engine *networkpolicy.PolicyEngine
}

type podInfos map[string]*api.PodInfo

func (p podInfos) GetPodInfoByIP(ip string) (*api.PodInfo, bool) {
	i, ok := p[ip]
	return i, ok
}

func newReference(tb testing.TB, w *world) *reference {
	tb.Helper()
	f := informers.NewSharedInformerFactory(fake.NewClientset(), 0)
	nsInf, podInf, npInf := f.Core().V1().Namespaces(), f.Core().V1().Pods(), f.Networking().V1().NetworkPolicies()
	snp := networkpolicy.NewStandardNetworkPolicy("n0", nsInf, podInf, npInf)
	infos := podInfos{}
	for _, n := range w.namespaces {
		if err := nsInf.Informer().GetIndexer().Add(n); err != nil {
			tb.Fatal(err)
		}
	}
	for _, p := range w.pods {
		if err := podInf.Informer().GetIndexer().Add(p); err != nil {
			tb.Fatal(err)
		}
		infos[p.Status.PodIP] = api.NewPodInfo(p, w.namespace(p.Namespace).Labels, nil, "")
	}
	for _, np := range w.policies {
		if err := npInf.Informer().GetIndexer().Add(np); err != nil {
			tb.Fatal(err)
		}
	}
	return &reference{engine: networkpolicy.NewPolicyEngine(infos, []api.PolicyEvaluator{snp})}
}

func (r *reference) allowed(tb testing.TB, f *flow) bool {
	ok, err := r.engine.EvaluatePacket(context.Background(), &f.packet)
	if err != nil {
		tb.Fatal(err)
	}
	return ok
}

func ours(tb testing.TB, w *world) *netpol.Evaluator {
	tb.Helper()
	var objs netpol.Objects
	for _, np := range w.policies {
		objs.NetworkPolicies = append(objs.NetworkPolicies, *np)
	}
	ev, err := netpol.NewEvaluator(netpol.Network{Objects: objs})
	if err != nil {
		tb.Fatal(err)
	}
	return ev
}

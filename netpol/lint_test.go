package netpol

import (
	"net/netip"
	"slices"
	"strings"
	"testing"

	calicov3 "github.com/projectcalico/api/pkg/apis/projectcalico/v3"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// seedCluster is the seed's cluster: a control-plane node and two
// workers, pods in 10.1.0.0/16, the edge in 203.0.113.0/24.
type seedCluster struct {
	nodes    []corev1.Node
	hosts    []Endpoint
	cp       Endpoint
	client   Endpoint
	dns      Endpoint
	edge     []netip.Prefix
	cluster  []netip.Prefix
	topology Topology
}

func newSeedCluster() seedCluster {
	var s seedCluster
	for _, n := range []struct{ name, addr string }{{"cp", "192.0.2.10"}, {"n1", "192.0.2.1"}, {"n2", "192.0.2.2"}} {
		s.nodes = append(s.nodes, corev1.Node{
			ObjectMeta: metav1.ObjectMeta{Name: n.name, Labels: map[string]string{"kubernetes.io/hostname": n.name}},
			Status:     corev1.NodeStatus{Addresses: []corev1.NodeAddress{{Type: corev1.NodeInternalIP, Address: n.addr}}},
		})
		s.hosts = append(s.hosts, host(n.name, n.addr))
	}
	s.cp = s.hosts[0]
	s.client = pod("shop", "10.1.1.10", "n1", "app", "web")
	s.dns = pod("kube-system", "10.1.2.53", "n2", "k8s-app", "kube-dns")
	s.edge = []netip.Prefix{netip.MustParsePrefix("203.0.113.0/24")}
	s.cluster = []netip.Prefix{netip.MustParsePrefix("192.0.2.0/24"), netip.MustParsePrefix("10.1.0.0/16")}
	s.topology = Topology{
		Nodes:      s.hosts,
		APIServers: []Endpoint{s.cp},
		DNS:        []Endpoint{s.dns},
		Clients:    []Endpoint{s.client},
		BGP:        true, VXLAN: true, WireGuard: true,
		Edge:    s.edge,
		Outside: []netip.Addr{netip.MustParseAddr("198.51.100.254")},
	}
	return s
}

func lint(t *testing.T, n Network, top Topology) []Finding {
	t.Helper()
	ev, err := NewEvaluator(n)
	if err != nil {
		t.Fatal(err)
	}
	fs, err := ev.Lint(top)
	if err != nil {
		t.Fatal(err)
	}
	return fs
}

func checks(fs []Finding) []Check {
	var out []Check
	for _, f := range fs {
		if !slices.Contains(out, f.Check) {
			out = append(out, f.Check)
		}
	}
	return out
}

// The seed: a deny-all host policy without 10250 breaks kubectl exec,
// and the linter says so, naming the rule; the generated host-policy set
// passes every check.
func TestLintSeedLockout(t *testing.T) {
	s := newSeedCluster()
	hosts, err := Join(
		Hosts{Cluster: s.cluster, ControlPlane: []netip.Prefix{netip.MustParsePrefix("192.0.2.10/32")}, Edge: s.edge,
			Nodes: s.nodes, WireGuard: true, VXLAN: true}.Spec(),
		Namespace{Name: "shop"}.Spec(),
	).Generate()
	if err != nil {
		t.Fatal(err)
	}

	// The generated set: nothing to report.
	if fs := lint(t, Network{Objects: hosts, Semantics: Calico}, s.topology); len(fs) > 0 {
		t.Errorf("the generated host-policy set has findings:\n%s", FindingsString(fs))
	}

	// The seed's deny-all: the same host endpoints, one deny.
	order := 100.0
	denyAll := Objects{
		HostEndpoints: hosts.HostEndpoints,
		GlobalNetworkPolicies: []calicov3.GlobalNetworkPolicy{{
			ObjectMeta: metav1.ObjectMeta{Name: "deny-all-hosts"},
			Spec: calicov3.GlobalNetworkPolicySpec{Order: &order, Selector: DefaultHostSelector,
				Types:   []calicov3.PolicyType{calicov3.PolicyTypeIngress, calicov3.PolicyTypeEgress},
				Ingress: []calicov3.Rule{{Action: calicov3.Deny}}, Egress: []calicov3.Rule{{Action: calicov3.Deny}}},
		}},
	}
	fs := lint(t, Network{Objects: denyAll, Semantics: Calico}, s.topology)
	var kubelet []Finding
	for _, f := range fs {
		if f.Check == CheckKubelet {
			kubelet = append(kubelet, f)
		}
	}
	if len(kubelet) != 2 {
		t.Fatalf("want the kubelets of n1 and n2 flagged, got:\n%s", FindingsString(fs))
	}
	for _, f := range kubelet {
		d := f.Verdict.Decider()
		if d.Policy != "GlobalNetworkPolicy deny-all-hosts" || d.Rule != 0 || f.Verdict.Allowed {
			t.Errorf("finding names %+v, want deny-all-hosts rule 0", d)
		}
		if !strings.Contains(f.Message, "kubectl exec") || f.Flow.Port != 10250 {
			t.Errorf("finding %q", f)
		}
	}
	// BGP passes as a failsafe both ways; VXLAN and WireGuard do not.
	got := checks(fs)
	if !slices.Contains(got, CheckNodeToNode) || slices.ContainsFunc(fs, func(f Finding) bool { return strings.Contains(f.Message, "BGP") }) {
		t.Errorf("node-to-node findings wrong:\n%s", FindingsString(fs))
	}

	// A deny-all that keeps 10250 from the control plane open is fine for
	// the kubelet.
	allow10250 := denyAll
	allow10250.GlobalNetworkPolicies = slices.Clone(denyAll.GlobalNetworkPolicies)
	o2 := 50.0
	allow10250.GlobalNetworkPolicies = append(allow10250.GlobalNetworkPolicies, gnp("kubelet", &o2, DefaultHostSelector,
		from(tcpTo(calicov3.Allow, "10250"), calicov3.EntityRule{Nets: []string{"192.0.2.10/32"}})))
	egress := gnp("egress", ord(60), DefaultHostSelector)
	egress.Spec.Types, egress.Spec.Egress = []calicov3.PolicyType{calicov3.PolicyTypeEgress}, []calicov3.Rule{allow()}
	allow10250.GlobalNetworkPolicies = append(allow10250.GlobalNetworkPolicies, egress)
	for _, f := range lint(t, Network{Objects: allow10250, Semantics: Calico}, s.topology) {
		if f.Check == CheckKubelet {
			t.Errorf("kubelet still flagged: %s", f)
		}
	}
}

func TestLintKubernetes(t *testing.T) {
	s := newSeedCluster()
	ic := pod("ingress-nginx", "10.1.3.3", "n1", "app.kubernetes.io/name", "ingress-nginx")
	top := Topology{Clients: []Endpoint{s.client}, DNS: []Endpoint{s.dns}, Edge: s.edge, IngressController: []Endpoint{ic},
		Outside: []netip.Addr{netip.MustParseAddr("198.51.100.254")}}

	// No policy at all: the controller answers everyone.
	fs := lint(t, Network{}, top)
	if got := checks(fs); !slices.Equal(got, []Check{CheckIngressOpen}) {
		t.Errorf("no policy: got %v\n%s", got, FindingsString(fs))
	}

	// Default deny without DNS; the controller from the edge only.
	objs, err := Spec{
		DefaultDeny: []DefaultDeny{{Namespace: "shop", Ingress: true, Egress: true}},
		FromEdge: []FromEdge{{Namespace: "ingress-nginx", Controller: *sel("app.kubernetes.io/name", "ingress-nginx"),
			Edge: s.edge, Ports: []Port{TCPPort(80), TCPPort(443)}}},
	}.Generate()
	if err != nil {
		t.Fatal(err)
	}
	fs = lint(t, Network{Objects: objs}, top)
	if got := checks(fs); !slices.Equal(got, []Check{CheckDNS}) {
		t.Errorf("deny without DNS: got %v\n%s", got, FindingsString(fs))
	}
	if d := fs[0].Verdict.Decider(); d.Reason != ReasonIsolated || !strings.Contains(d.Point, "egress of pod in shop") {
		t.Errorf("DNS finding decided at %v", d)
	}

	// With the generated lock-down: clean.
	ns, err := Join(Namespace{Name: "shop"}.Spec(), Spec{FromEdge: objsFromEdge(s.edge)}).Generate()
	if err != nil {
		t.Fatal(err)
	}
	if fs := lint(t, Network{Objects: ns}, top); len(fs) > 0 {
		t.Errorf("generated lock-down has findings:\n%s", FindingsString(fs))
	}

	// The edge locked out of the controller.
	wrongEdge := []netip.Prefix{netip.MustParsePrefix("192.0.2.128/25")}
	objs2, err := Spec{FromEdge: objsFromEdge(wrongEdge)}.Generate()
	if err != nil {
		t.Fatal(err)
	}
	if got := checks(lint(t, Network{Objects: objs2}, top)); !slices.Equal(got, []Check{CheckIngressClosed}) {
		t.Errorf("wrong edge: got %v", got)
	}
}

func objsFromEdge(edge []netip.Prefix) []FromEdge {
	return []FromEdge{{Namespace: "ingress-nginx", Controller: *sel("app.kubernetes.io/name", "ingress-nginx"), Edge: edge, Ports: []Port{TCPPort(80), TCPPort(443)}}}
}

func TestLintNodePortsAndHostPorts(t *testing.T) {
	s := newSeedCluster()
	backend := pod("shop", "10.1.1.80", "n2", "app", "web")
	top := Topology{Nodes: s.hosts[1:], Edge: s.edge, Outside: []netip.Addr{netip.MustParseAddr("198.51.100.254")}, NodePortBackend: &backend,
		HostPorts: []HostPortBinding{{Pod: backend, HostPort: 8443, ContainerPort: 443}}}
	// Kubernetes semantics: nothing guards a node.
	fs := lint(t, Network{}, top)
	if got := checks(fs); !slices.Equal(got, []Check{CheckNodePortOpen, CheckHostPortOpen}) {
		t.Errorf("got %v\n%s", got, FindingsString(fs))
	}
	if !strings.Contains(fs[0].Message, "0.0.0.0/0") {
		t.Errorf("message %q", fs[0].Message)
	}
	// The generated pre-DNAT policy closes the NodePorts (not hostPorts,
	// which are not in the NodePort range).
	objs, err := Hosts{Cluster: s.cluster, ControlPlane: []netip.Prefix{netip.MustParsePrefix("192.0.2.10/32")}, Edge: s.edge, Nodes: s.nodes}.Spec().Generate()
	if err != nil {
		t.Fatal(err)
	}
	fs = lint(t, Network{Objects: objs, Semantics: Calico}, top)
	if got := checks(fs); !slices.Equal(got, []Check{CheckHostPortOpen}) {
		t.Errorf("got %v\n%s", got, FindingsString(fs))
	}
}

func TestLintStatic(t *testing.T) {
	objs := Objects{
		NetworkPolicies: []networkingv1.NetworkPolicy{knp("shop", "a", sel(), ingress)},
		GlobalNetworkPolicies: []calicov3.GlobalNetworkPolicy{
			gnp("same-as-kube", ord(1000), "all()", allow()),
			gnp("x", ord(5), "all()", allow()), gnp("y", ord(5), "all()", allow()),
			gnp("log-only", ord(2000), "all()", logR()),
		},
	}
	fs := lint(t, Network{Objects: objs, Semantics: Calico}, Topology{})
	var msgs []string
	for _, f := range fs {
		msgs = append(msgs, string(f.Check)+": "+f.Message)
	}
	want := []string{
		"equal-order: GlobalNetworkPolicy x and GlobalNetworkPolicy y share order 5 in tier default",
		"equal-order: NetworkPolicy shop/a and GlobalNetworkPolicy same-as-kube share order 1000 in tier default",
		"log-then-drop: GlobalNetworkPolicy log-only only logs ingress",
	}
	if len(msgs) != len(want) {
		t.Fatalf("got %d findings, want %d:\n%s", len(msgs), len(want), strings.Join(msgs, "\n"))
	}
	for i := range want {
		if !strings.HasPrefix(msgs[i], want[i]) {
			t.Errorf("finding %d: %q, want prefix %q", i, msgs[i], want[i])
		}
	}
	// Under Kubernetes semantics there are no orders, and the Calico
	// objects are refused rather than ignored.
	if fs := lint(t, Network{Objects: Objects{NetworkPolicies: objs.NetworkPolicies}}, Topology{}); len(fs) != 0 {
		t.Errorf("kubernetes: %v", fs)
	}
	if _, err := NewEvaluator(Network{Objects: objs}); err == nil || !strings.Contains(err.Error(), `set Network.Semantics to "calico"`) {
		t.Errorf("Calico objects under Kubernetes semantics: %v", err)
	}
}

// The generated set, rendered in either Calico form and read back with
// Load, lints as clean as the typed objects.
func TestLintRenderedAndLoaded(t *testing.T) {
	s := newSeedCluster()
	spec := Join(
		Hosts{Cluster: s.cluster, ControlPlane: []netip.Prefix{netip.MustParsePrefix("192.0.2.10/32")}, Edge: s.edge,
			Nodes: s.nodes, WireGuard: true, VXLAN: true}.Spec(),
		Namespace{Name: "shop"}.Spec(),
	)
	for _, form := range []Form{CalicoAPI, CalicoCRD} {
		data, err := spec.Render(form)
		if err != nil {
			t.Fatal(err)
		}
		inv, err := Load(strings.NewReader(string(data)))
		if err != nil {
			t.Fatalf("%s: %v", form, err)
		}
		if len(inv.Skipped) > 0 || len(inv.Objects.GlobalNetworkPolicies) == 0 || len(inv.Objects.HostEndpoints) != 3 {
			t.Fatalf("%s: loaded %+v", form, inv)
		}
		if fs := lint(t, Network{Objects: inv.Objects, Semantics: Calico}, s.topology); len(fs) > 0 {
			t.Errorf("%s: findings:\n%s", form, FindingsString(fs))
		}
	}
}

package netpol

import (
	"errors"
	"net/netip"
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// clusterYAML is a cluster as kubectl get -o yaml prints it: a List of
// namespaces, nodes, pods, services and policies, a Deployment that is
// skipped, and Calico objects in both forms.
const clusterYAML = `apiVersion: v1
kind: List
items:
- apiVersion: v1
  kind: Namespace
  metadata:
    name: shop
    labels: {kubernetes.io/metadata.name: shop}
- apiVersion: v1
  kind: Namespace
  metadata:
    name: ingress
- apiVersion: v1
  kind: Node
  metadata:
    name: n1
    labels: {kubernetes.io/hostname: n1}
  status:
    addresses:
    - {type: InternalIP, address: 192.0.2.1}
    - {type: Hostname, address: n1}
- apiVersion: v1
  kind: Node
  metadata:
    name: n2
    labels: {kubernetes.io/hostname: n2}
  status:
    addresses:
    - {type: InternalIP, address: 192.0.2.2}
- apiVersion: v1
  kind: Pod
  metadata:
    name: controller-0
    namespace: ingress
    labels: {app: controller}
  spec:
    nodeName: n1
    containers:
    - name: c
      image: controller
      ports:
      - {name: https, containerPort: 8443}
  status:
    phase: Running
    podIP: 10.1.1.10
- apiVersion: v1
  kind: Pod
  metadata:
    name: agent
    namespace: shop
  spec:
    nodeName: n2
    hostNetwork: true
    containers:
    - name: c
      image: agent
      ports:
      - {containerPort: 9100}
  status:
    phase: Running
    podIP: 192.0.2.2
- apiVersion: v1
  kind: Pod
  metadata:
    name: proxy
    namespace: shop
  spec:
    nodeName: n2
    containers:
    - name: c
      image: proxy
      ports:
      - {containerPort: 8080, hostPort: 8080}
  status:
    phase: Running
    podIPs: [{ip: 10.1.2.20}]
- apiVersion: v1
  kind: Service
  metadata:
    name: controller
    namespace: ingress
  spec:
    type: LoadBalancer
    externalTrafficPolicy: Local
    selector: {app: controller}
    ports:
    - {port: 443, targetPort: https, nodePort: 30443, protocol: TCP}
  status:
    loadBalancer:
      ingress: [{ip: 198.51.100.80}]
- apiVersion: v1
  kind: Service
  metadata:
    name: orphan
    namespace: shop
  spec:
    type: NodePort
    selector: {app: nothing}
    ports:
    - {port: 80, nodePort: 30080}
- apiVersion: apps/v1
  kind: Deployment
  metadata:
    name: web
    namespace: shop
- apiVersion: networking.k8s.io/v1
  kind: NetworkPolicy
  metadata:
    name: from-edge
    namespace: ingress
  spec:
    podSelector:
      matchLabels: {app: controller}
    policyTypes: [Ingress]
    ingress:
    - from:
      - ipBlock: {cidr: 203.0.113.0/24, except: [203.0.113.0/28]}
      ports:
      - {port: https}
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata:
  name: default-deny
  namespace: ingress
spec:
  podSelector: {}
  policyTypes: [Ingress, Egress]
---
apiVersion: crd.projectcalico.org/v1
kind: GlobalNetworkSet
metadata:
  name: edge
  labels: {role: edge}
spec:
  nets: [203.0.113.0/24]
---
apiVersion: projectcalico.org/v3
kind: Profile
metadata:
  name: kns.shop
spec: {}
`

func TestLoad(t *testing.T) {
	inv, err := Load(strings.NewReader(clusterYAML))
	if err != nil {
		t.Fatal(err)
	}
	counts := []int{len(inv.Namespaces), len(inv.Nodes), len(inv.Pods), len(inv.Services), len(inv.Objects.NetworkPolicies),
		len(inv.Objects.GlobalNetworkSets), len(inv.Profiles)}
	want := []int{2, 2, 3, 2, 2, 1, 1}
	for i := range want {
		if counts[i] != want[i] {
			t.Fatalf("counts %v, want %v", counts, want)
		}
	}
	if len(inv.Skipped) != 1 || inv.Skipped[0] != `apps/v1 Deployment shop/web` {
		t.Errorf("Skipped = %q", inv.Skipped)
	}
	if got := inv.Objects.NetworkPolicies[0].Spec.Ingress[0].From[0].IPBlock.Except[0]; got != "203.0.113.0/28" {
		t.Errorf("except %q", got)
	}
}

func TestLoadRefuses(t *testing.T) {
	for _, tc := range []struct{ yaml, want string }{
		{"apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: x, namespace: yy}\nspec:\n  ingres: []\n", `NetworkPolicy "yy/x": json: unknown field "ingres"`},
		{"apiVersion: v1\nkind: Pod\nmetadata: {name: x}\nmetadata: {name: y}\n", `document 0: `},
		{"kind: NetworkPolicy\n", "document 0: no apiVersion or kind"},
		{"- a\n- b\n", "document 0: not an object"},
		{"apiVersion: v1\nkind: List\nitems:\n- apiVersion: v1\n  kind: List\n  items: []\n", "a List inside a list"},
		{"apiVersion: projectcalico.org/v3\nkind: GlobalNetworkPolicy\nmetadata: {name: p}\nspec: {order: high}\n", `GlobalNetworkPolicy "p"`},
		{"a: [\n", "document 0"},
	} {
		_, err := Load(strings.NewReader(tc.yaml))
		if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.HasPrefix(err.Error(), "netpol: load: ") || strings.Count(err.Error(), "netpol:") != 1 {
			t.Errorf("Load(%q) = %v, want %q", tc.yaml, err, tc.want)
		}
	}
	if inv, err := Load(strings.NewReader("---\n---\n\n# only a comment\n")); err != nil || len(inv.Skipped) != 0 {
		t.Errorf("empty documents: %v", err)
	}
}

func TestExposureKubernetes(t *testing.T) {
	inv, err := Load(strings.NewReader(clusterYAML))
	if err != nil {
		t.Fatal(err)
	}
	ev, err := NewEvaluator(Network{Objects: Objects{NetworkPolicies: inv.Objects.NetworkPolicies}})
	if err != nil {
		t.Fatal(err)
	}
	m, err := ev.Exposure(inv)
	if err != nil {
		t.Fatal(err)
	}
	want := `NodePort TCP/30443 on 192.0.2.1 (Service ingress/controller, node n1): 203.0.113.0/24 except 203.0.113.0/28
LoadBalancer TCP/443 on 198.51.100.80 (Service ingress/controller, node n1): 203.0.113.0/24 except 203.0.113.0/28
hostNetwork TCP/9100 on 192.0.2.2 (Pod shop/agent, node n2): 0.0.0.0/0 except 203.0.113.0/24; 203.0.113.0/24 except 203.0.113.0/28; 203.0.113.0/28
hostPort TCP/8080 on 192.0.2.2 (Pod shop/proxy, node n2): 0.0.0.0/0 except 203.0.113.0/24; 203.0.113.0/24 except 203.0.113.0/28; 203.0.113.0/28
namespace shop: no default deny for ingress and egress
note: Service shop/orphan: no running backend pod
`
	if got := m.String(); got != want {
		t.Errorf("exposure map:\n%s\nwant:\n%s", got, want)
	}
	// The rule that lets the edge in is named.
	r := m.Exposures[0].Reach[0]
	if d := r.Verdict.Decider(); d.Policy != "NetworkPolicy ingress/from-edge" || d.Rule != 0 {
		t.Errorf("decider %+v", d)
	}

	// externalTrafficPolicy: Cluster SNATs: the controller sees a node
	// address. Through another node the edge policy lets nobody in;
	// through its own node everybody, since NetworkPolicy always admits a
	// pod's own node.
	for i := range inv.Services {
		inv.Services[i].Spec.ExternalTrafficPolicy = "Cluster"
	}
	m, err = ev.Exposure(inv)
	if err != nil {
		t.Fatal(err)
	}
	if n := len(m.Exposures); n != 5 {
		t.Fatalf("with Cluster the NodePort is on both nodes: %d exposures\n%s", n, m)
	}
	if x := m.Exposures[0]; x.Node != "n1" || len(x.Reach) != 3 || x.Reach[0].Verdict.Decider().Reason != ReasonOwnNode {
		t.Errorf("with SNAT through the backend's node: %s", x)
	}
	if x := m.Exposures[1]; x.Node != "n2" || len(x.Reach) != 0 {
		t.Errorf("with SNAT through another node: %s", x)
	}
}

func TestExposureCalico(t *testing.T) {
	s := newSeedCluster()
	inv, err := Load(strings.NewReader(clusterYAML))
	if err != nil {
		t.Fatal(err)
	}
	hosts, err := Hosts{Cluster: s.cluster, ControlPlane: []netip.Prefix{netip.MustParsePrefix("192.0.2.10/32")}, Edge: s.edge, Nodes: inv.Nodes}.Spec().Generate()
	if err != nil {
		t.Fatal(err)
	}
	hosts.NetworkPolicies = inv.Objects.NetworkPolicies
	ev, err := NewEvaluator(Network{Objects: hosts, Semantics: Calico})
	if err != nil {
		t.Fatal(err)
	}
	m, err := ev.Exposure(inv)
	if err != nil {
		t.Fatal(err)
	}
	got := m.String()
	for _, line := range []string{
		// The NodePort: the pre-DNAT policy admits the edge set, then the
		// controller's own policy cuts out its except.
		"NodePort TCP/30443 on 192.0.2.1 (Service ingress/controller, node n1): 203.0.113.0/24 except 203.0.113.0/28\n",
		// The host policy admits the cluster's networks and nothing else.
		"hostNetwork TCP/9100 on 192.0.2.2 (Pod shop/agent, node n2): 10.1.0.0/16; 192.0.2.0/24 except 192.0.2.10/32; 192.0.2.10/32\n",
		// A hostPort outside the NodePort range is forwarded traffic, which
		// the host policy (no applyOnForward) does not see: open.
		"hostPort TCP/8080 on 192.0.2.2 (Pod shop/proxy, node n2): 0.0.0.0/0 except 10.1.0.0/16,192.0.2.0/24,203.0.113.0/24;",
	} {
		if !strings.Contains(got, line) {
			t.Errorf("exposure map lacks %q:\n%s", line, got)
		}
	}
}

// With externalTrafficPolicy: Local every node that hosts a backend
// answers the NodePort, not only the first backend's.
func TestExposureLocalOnEveryBackendsNode(t *testing.T) {
	inv, err := Load(strings.NewReader(clusterYAML))
	if err != nil {
		t.Fatal(err)
	}
	second := *inv.Pods[0].DeepCopy()
	second.Name, second.Spec.NodeName, second.Status.PodIP = "controller-1", "n2", "10.1.2.11"
	inv.Pods = append(inv.Pods, second)
	ev, err := NewEvaluator(Network{Objects: Objects{NetworkPolicies: inv.Objects.NetworkPolicies}})
	if err != nil {
		t.Fatal(err)
	}
	m, err := ev.Exposure(inv)
	if err != nil {
		t.Fatal(err)
	}
	var nodes []string
	for _, x := range m.Exposures {
		if x.Kind == ByNodePort {
			nodes = append(nodes, x.Node+"="+x.Backend.Addr.String())
		}
	}
	if got := strings.Join(nodes, " "); got != "n1=10.1.1.10 n2=10.1.2.11" {
		t.Errorf("NodePort exposures on %s", got)
	}
}

// A region reaches a Service when it reaches any of its backends: a
// second backend no policy isolates opens the port the first one's
// policy closes.
func TestExposureAnyBackend(t *testing.T) {
	inv, err := Load(strings.NewReader(clusterYAML))
	if err != nil {
		t.Fatal(err)
	}
	second := *inv.Pods[0].DeepCopy()
	second.Name, second.Status.PodIP = "controller-1", "10.1.1.11" // on n1 too
	second.Labels = map[string]string{"app": "controller", "track": "canary"}
	inv.Pods = append(inv.Pods, second)
	// The edge policy selects the controllers but not the canary.
	nps := inv.Objects.NetworkPolicies
	nps[0].Spec.PodSelector.MatchExpressions = []metav1.LabelSelectorRequirement{{Key: "track", Operator: metav1.LabelSelectorOpDoesNotExist}}
	nps[1].Spec.PodSelector.MatchExpressions = []metav1.LabelSelectorRequirement{{Key: "track", Operator: metav1.LabelSelectorOpDoesNotExist}}
	ev, err := NewEvaluator(Network{Objects: Objects{NetworkPolicies: nps}})
	if err != nil {
		t.Fatal(err)
	}
	m, err := ev.Exposure(inv)
	if err != nil {
		t.Fatal(err)
	}
	x := m.Exposures[0]
	if x.Kind != ByNodePort || len(x.Reach) == 0 || x.Reach[0].From.Bits() != 0 {
		t.Fatalf("the canary leaves the NodePort open to all: %s", x)
	}
	if d := x.Reach[0].Verdict; d.Flow.To.Addr.String() != "10.1.1.11" {
		t.Errorf("reached through %s, want the canary", d.Flow.To)
	}
}

func TestExposureRefusesOutOfRangePorts(t *testing.T) {
	inv, err := Load(strings.NewReader(clusterYAML))
	if err != nil {
		t.Fatal(err)
	}
	inv.Services[0].Spec.Ports[0].NodePort = 70000
	inv.Pods[2].Spec.Containers[0].Ports[0].HostPort = -1
	ev, _ := NewEvaluator(Network{})
	m, err := ev.Exposure(inv)
	if err != nil {
		t.Fatal(err)
	}
	got := m.String()
	for _, s := range []string{"note: Service ingress/controller: port 443, nodePort 70000: out of range", "note: Pod shop/proxy: containerPort 8080, hostPort -1: out of range"} {
		if !strings.Contains(got, s) {
			t.Errorf("lacks %q:\n%s", s, got)
		}
	}
	if strings.Contains(got, "4464") || strings.Contains(got, "65535") {
		t.Errorf("a port was truncated:\n%s", got)
	}
}

func TestRegions(t *testing.T) {
	ev, err := NewEvaluator(Network{})
	if err != nil {
		t.Fatal(err)
	}
	if rs := ev.regions(true); len(rs) != 1 || rs[0].prefix.String() != "0.0.0.0/0" || rs[0].rep != netip.MustParseAddr("0.0.0.0") {
		t.Errorf("regions %+v", rs)
	}
	// A prefix covered entirely by its children has no region of its own.
	e := &Evaluator{kube: map[string][]*kubePolicy{"x": {{in: []kubeRule{{peers: []kubePeer{
		{cidr: netip.MustParsePrefix("10.0.0.0/8"), except: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/9"), netip.MustParsePrefix("10.128.0.0/9")}},
		{cidr: netip.MustParsePrefix("0.0.0.0/1")}, {cidr: netip.MustParsePrefix("128.0.0.0/1")},
	}}}}}}}
	var got []string
	for _, r := range e.regions(true) {
		got = append(got, r.prefix.String()+"@"+r.rep.String())
	}
	want := "0.0.0.0/1@0.0.0.0 10.0.0.0/9@10.0.0.0 10.128.0.0/9@10.128.0.0 128.0.0.0/1@128.0.0.0"
	if strings.Join(got, " ") != want {
		t.Errorf("regions %v, want %s", got, want)
	}
	if lastAddr(netip.MustParsePrefix("10.0.0.0/9")) != netip.MustParseAddr("10.127.255.255") ||
		lastAddr(netip.MustParsePrefix("2001:db8::/127")) != netip.MustParseAddr("2001:db8::1") {
		t.Error("lastAddr")
	}
}

func FuzzLoad(f *testing.F) {
	f.Add(clusterYAML)
	f.Add("apiVersion: v1\nkind: List\nitems: []\n")
	f.Add("apiVersion: projectcalico.org/v3\nkind: GlobalNetworkPolicy\nmetadata: {name: p}\nspec: {selector: all(), order: 1}\n")
	f.Add("{\"apiVersion\":\"networking.k8s.io/v1\",\"kind\":\"NetworkPolicy\",\"metadata\":{\"name\":\"x\"}}")
	f.Fuzz(func(t *testing.T, s string) {
		inv, err := Load(strings.NewReader(s))
		if err != nil {
			if !strings.HasPrefix(err.Error(), "netpol: load: ") {
				t.Fatalf("error without the package prefix: %v", err)
			}
			return
		}
		// What loads, an evaluator takes or refuses with an error; it
		// never panics.
		ev, err := NewEvaluator(Network{Objects: inv.Objects, Profiles: inv.Profiles, Semantics: Calico})
		if err != nil {
			if errors.Is(err, ErrSelector) || strings.HasPrefix(err.Error(), "netpol: ") {
				return
			}
			t.Fatalf("evaluator error without the package prefix: %v", err)
		}
		if _, err := ev.Exposure(inv); err != nil && !strings.HasPrefix(err.Error(), "netpol: ") {
			t.Fatalf("exposure error: %v", err)
		}
	})
}

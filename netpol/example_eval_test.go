package netpol_test

import (
	"fmt"
	"net/netip"
	"strings"

	calicov3 "github.com/projectcalico/api/pkg/apis/projectcalico/v3"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/originguard/originguard/netpol"
)

// Why is my traffic blocked? A namespace locked down with DNS: the web
// pod resolves names, and nothing else leaves it.
func ExampleEvaluator_Explain() {
	objs, err := netpol.Namespace{Name: "shop"}.Spec().Generate()
	if err != nil {
		panic(err)
	}
	ev, err := netpol.NewEvaluator(netpol.Network{Objects: objs})
	if err != nil {
		panic(err)
	}
	web := netpol.Endpoint{Addr: netip.MustParseAddr("10.1.0.10"), Namespace: "shop", Labels: map[string]string{"app": "web"}, Node: "n1"}
	dns := netpol.Endpoint{Addr: netip.MustParseAddr("10.1.9.53"), Namespace: "kube-system", Labels: map[string]string{"k8s-app": "kube-dns"}, Node: "n2"}
	api := netpol.Endpoint{Addr: netip.MustParseAddr("198.51.100.7")}

	for _, f := range []netpol.Flow{
		{From: web, To: dns, Protocol: netpol.UDP, Port: 53},
		{From: web, To: api, Protocol: netpol.TCP, Port: 443},
	} {
		v, err := ev.Explain(f)
		if err != nil {
			panic(err)
		}
		fmt.Println(v)
		d := v.Decider()
		fmt.Printf("=> allowed=%v reason=%q policy=%q rule=%d\n", v.Allowed, d.Reason, d.Policy, d.Rule)
	}
	// Output:
	// pod in shop (10.1.0.10) -> pod in kube-system (10.1.9.53) UDP/53: ALLOW
	//   egress of pod in shop (10.1.0.10): allow (rule: NetworkPolicy shop/allow-dns rule 0: to pods{k8s-app=kube-dns} in namespaces{kubernetes.io/metadata.name=kube-system} on UDP/53,TCP/53)
	//   ingress of pod in kube-system (10.1.9.53): allow (not isolated)
	// => allowed=true reason="not isolated" policy="" rule=-1
	// pod in shop (10.1.0.10) -> 198.51.100.7 TCP/443: DENY
	//   egress of pod in shop (10.1.0.10): deny (isolated, no rule allows)
	// => allowed=false reason="isolated, no rule allows" policy="" rule=-1
}

// The seed's lockout, explained: a deny-all host policy over Calico host
// endpoints, and the API server can no longer reach the kubelet (kubectl
// exec, logs and port-forward break), while SSH still passes as a Felix
// failsafe.
func ExampleEvaluator_Explain_calicoHostLockout() {
	order := 100.0
	objs := netpol.Objects{
		GlobalNetworkPolicies: []calicov3.GlobalNetworkPolicy{{
			ObjectMeta: metav1.ObjectMeta{Name: "deny-all-hosts"},
			Spec: calicov3.GlobalNetworkPolicySpec{
				Order: &order, Selector: netpol.DefaultHostSelector,
				Types:   []calicov3.PolicyType{calicov3.PolicyTypeIngress},
				Ingress: []calicov3.Rule{{Action: calicov3.Deny}},
			},
		}},
		HostEndpoints: []calicov3.HostEndpoint{{
			ObjectMeta: metav1.ObjectMeta{Name: "n1-eth0", Labels: map[string]string{"kubernetes.io/hostname": "n1"}},
			Spec:       calicov3.HostEndpointSpec{Node: "n1", InterfaceName: "eth0", ExpectedIPs: []string{"192.0.2.1"}},
		}},
	}
	ev, err := netpol.NewEvaluator(netpol.Network{Objects: objs, Semantics: netpol.Calico})
	if err != nil {
		panic(err)
	}
	apiServer := netpol.Endpoint{Addr: netip.MustParseAddr("198.51.100.10")}
	node := netpol.Endpoint{Addr: netip.MustParseAddr("192.0.2.1"), Host: true, Node: "n1"}
	for _, port := range []uint16{10250, 22} {
		v, err := ev.Explain(netpol.Flow{From: apiServer, To: node, Port: port})
		if err != nil {
			panic(err)
		}
		fmt.Println(v)
	}
	// Output:
	// 198.51.100.10 -> host n1 (192.0.2.1) TCP/10250: DENY
	//   ingress of host endpoint n1-eth0: deny (rule: tier default, GlobalNetworkPolicy deny-all-hosts rule 0: Deny)
	// 198.51.100.10 -> host n1 (192.0.2.1) TCP/22: ALLOW
	//   ingress of host endpoint n1-eth0: allow (failsafe)
}

func ExampleParseSelector() {
	sel, err := netpol.ParseSelector("app in {'web', 'api'} && env != 'prod'")
	if err != nil {
		panic(err)
	}
	fmt.Println(sel.Matches(map[string]string{"app": "web"}))
	fmt.Println(sel.Matches(map[string]string{"app": "web", "env": "prod"}))
	_, err = netpol.ParseSelector("app =~ 'w.*'")
	fmt.Println(err)
	// Output:
	// true
	// false
	// netpol: selector "app =~ 'w.*'": at offset 4: want an operator after label key "app", got "=~ 'w.*'": invalid Calico selector
}

// The seed's question before a change: does the host policy about to go
// in lock anyone out, and does anything answer outside the edge?
func ExampleEvaluator_Lint() {
	node := func(name, addr string) corev1.Node {
		return corev1.Node{
			ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{"kubernetes.io/hostname": name}},
			Status:     corev1.NodeStatus{Addresses: []corev1.NodeAddress{{Type: corev1.NodeInternalIP, Address: addr}}},
		}
	}
	nodes := []corev1.Node{node("cp", "192.0.2.10"), node("n1", "192.0.2.1")}
	edge := []netip.Prefix{netip.MustParsePrefix("203.0.113.0/24")}
	objs, err := netpol.Hosts{
		Cluster:      []netip.Prefix{netip.MustParsePrefix("192.0.2.0/24"), netip.MustParsePrefix("10.1.0.0/16")},
		ControlPlane: []netip.Prefix{netip.MustParsePrefix("192.0.2.10/32")},
		Edge:         edge,
		Nodes:        nodes,
	}.Spec().Generate()
	if err != nil {
		panic(err)
	}
	var hosts []netpol.Endpoint
	for i := range nodes {
		h, _ := netpol.NodeEndpoint(&nodes[i], true)
		hosts = append(hosts, h)
	}
	topology := netpol.Topology{Nodes: hosts, APIServers: hosts[:1], BGP: true, Edge: edge}

	for _, objs := range []netpol.Objects{objs, {HostEndpoints: objs.HostEndpoints}} {
		ev, err := netpol.NewEvaluator(netpol.Network{Objects: objs, Semantics: netpol.Calico})
		if err != nil {
			panic(err)
		}
		findings, err := ev.Lint(topology)
		if err != nil {
			panic(err)
		}
		fmt.Printf("%d findings\n", len(findings))
		if len(findings) > 0 {
			fmt.Println(findings[0])
		}
	}
	// Output:
	// 0 findings
	// 9 findings
	// kubelet: the API server at 192.0.2.10 cannot reach the kubelet on n1 (10250/tcp): kubectl exec, logs and port-forward break
	//   flow host cp (192.0.2.10) -> host n1 (192.0.2.1) TCP/10250
	//   decided at egress of host endpoint cp-all: deny (host endpoint default)
}

// The exposure surface of a cluster read from kubectl get -o yaml: a
// LoadBalancer Service whose controller admits only the edge, and a
// namespace with no default deny.
func ExampleEvaluator_Exposure() {
	const cluster = `apiVersion: v1
kind: List
items:
- apiVersion: v1
  kind: Node
  metadata: {name: n1}
  status:
    addresses: [{type: InternalIP, address: 192.0.2.1}]
- apiVersion: v1
  kind: Pod
  metadata: {name: controller-0, namespace: ingress, labels: {app: controller}}
  spec:
    nodeName: n1
    containers: [{name: c, ports: [{name: https, containerPort: 8443}]}]
  status: {phase: Running, podIP: 10.1.1.10}
- apiVersion: v1
  kind: Service
  metadata: {name: controller, namespace: ingress}
  spec:
    type: LoadBalancer
    externalTrafficPolicy: Local
    selector: {app: controller}
    ports: [{port: 443, targetPort: https, nodePort: 30443, protocol: TCP}]
  status:
    loadBalancer: {ingress: [{ip: 198.51.100.80}]}
- apiVersion: networking.k8s.io/v1
  kind: NetworkPolicy
  metadata: {name: from-edge, namespace: ingress}
  spec:
    podSelector: {matchLabels: {app: controller}}
    policyTypes: [Ingress]
    ingress: [{from: [{ipBlock: {cidr: 203.0.113.0/24}}], ports: [{port: https}]}]
`
	inv, err := netpol.Load(strings.NewReader(cluster))
	if err != nil {
		panic(err)
	}
	ev, err := netpol.NewEvaluator(netpol.Network{Objects: inv.Objects})
	if err != nil {
		panic(err)
	}
	m, err := ev.Exposure(inv)
	if err != nil {
		panic(err)
	}
	fmt.Print(m)
	fmt.Println(m.Exposures[0].Reach[0].Verdict.Decider().Policy)
	// Output:
	// NodePort TCP/30443 on 192.0.2.1 (Service ingress/controller, node n1): 203.0.113.0/24
	// LoadBalancer TCP/443 on 198.51.100.80 (Service ingress/controller, node n1): 203.0.113.0/24
	// namespace ingress: no default deny for ingress and egress
	// NetworkPolicy ingress/from-edge
}

// Allowed is Explain without the path, for bulk questions: here, which
// pods of a namespace locked down with DNS may reach each other.
func ExampleEvaluator_Allowed() {
	objs, err := netpol.Namespace{Name: "shop"}.Spec().Generate()
	if err != nil {
		panic(err)
	}
	ev, err := netpol.NewEvaluator(netpol.Network{Objects: objs})
	if err != nil {
		panic(err)
	}
	a := netpol.Endpoint{Addr: netip.MustParseAddr("10.1.0.10"), Namespace: "shop", Node: "n1"}
	b := netpol.Endpoint{Addr: netip.MustParseAddr("10.1.0.11"), Namespace: "shop", Node: "n2"}
	fmt.Println(ev.Allowed(netpol.Flow{From: a, To: b, Port: 8080}))
	fmt.Println(ev.Allowed(netpol.Flow{From: a, To: a, Port: 8080}))
	// Output:
	// false
	// true
}

func ExamplePodEndpoint() {
	pod := corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Namespace: "shop", Name: "db-0", Labels: map[string]string{"app": "db"}},
		Spec: corev1.PodSpec{NodeName: "n2", Containers: []corev1.Container{{Name: "postgres",
			Ports: []corev1.ContainerPort{{Name: "postgres", ContainerPort: 5432, Protocol: corev1.ProtocolTCP}}}}},
		Status: corev1.PodStatus{PodIPs: []corev1.PodIP{{IP: "10.1.2.3"}, {IP: "2001:db8:1::3"}}},
	}
	for _, v4 := range []bool{true, false} {
		e, ok := netpol.PodEndpoint(&pod, nil, v4)
		fmt.Println(ok, e, e.ServiceAccount, e.Ports)
	}
	// Output:
	// true pod in shop (10.1.2.3) default [{postgres TCP 5432}]
	// true pod in shop (2001:db8:1::3) default [{postgres TCP 5432}]
}

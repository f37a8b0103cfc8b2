package netpol_test

import (
	"fmt"
	"net/netip"

	calicov3 "github.com/projectcalico/api/pkg/apis/projectcalico/v3"
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

package netpol_test

import (
	"context"
	"fmt"
	"net/netip"

	calicov3 "github.com/projectcalico/api/pkg/apis/projectcalico/v3"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	dynamicfake "k8s.io/client-go/dynamic/fake"
	k8stesting "k8s.io/client-go/testing"

	"github.com/originguard/originguard/netpol"
)

// The seed's lockout: a host deny with nothing open to the kubelet from
// the API servers, which Felix's failsafes do not cover.
func ExampleSpec_Validate() {
	spec := exampleHosts().Spec()
	spec.HostPolicies[0].Needed = nil                                                          // forgot the kubelet
	spec.HostPolicies[0].ControlPlane = []netip.Prefix{netip.MustParsePrefix("172.16.0.0/28")} // outside Cluster
	spec.NodePorts[0].Order = 100                                                              // the failsafe policy's
	fmt.Println(spec.Validate())
	// Output:
	// netpol: HostPolicies[0]: no rule allows 10250/tcp (the kubelet) from all of ControlPlane, which is not a Felix failsafe port: the host deny would cut kubectl exec and logs (add Kubelet to Needed)
	// netpol: NodePorts[0]: GlobalNetworkPolicy "originguard-nodeports" has order 100, as "originguard-host-failsafe" has: equal orders tie-break by name, differently across Calico versions
}

// Generate returns typed objects, for a client or for inspection.
func ExampleSpec_Generate() {
	o, err := exampleHosts().Spec().Generate()
	if err != nil {
		panic(err)
	}
	for _, p := range o.GlobalNetworkPolicies {
		fmt.Println(p.Name, *p.Spec.Order, p.Spec.Types, "preDNAT:", p.Spec.PreDNAT)
	}
	fmt.Println(o.HostEndpoints[0].Name, o.HostEndpoints[0].Spec.ExpectedIPs)
	// Output:
	// originguard-nodeports 10 [Ingress] preDNAT: true
	// originguard-host-failsafe 100 [Ingress] preDNAT: false
	// originguard-host-node 110 [Ingress] preDNAT: false
	// originguard-host-cluster 120 [Ingress] preDNAT: false
	// originguard-host-deny 130 [Ingress] preDNAT: false
	// originguard-host-egress 140 [Egress] preDNAT: false
	// worker-1-eth0 [10.0.1.21]
}

// Join puts presets together: here two namespaces locked down and the
// nodes' host policy, for one Render.
func ExampleJoin() {
	spec := netpol.Join(
		netpol.Namespace{Name: "shop"}.Spec(),
		netpol.Namespace{Name: "blog"}.Spec(),
		exampleHosts().Spec(),
	)
	o, err := spec.Generate()
	if err != nil {
		panic(err)
	}
	fmt.Println(len(o.NetworkPolicies), "NetworkPolicies,", len(o.GlobalNetworkPolicies), "GlobalNetworkPolicies,", len(o.HostEndpoints), "HostEndpoint")
	// Output:
	// 4 NetworkPolicies, 6 GlobalNetworkPolicies, 1 HostEndpoint
}

// Except is carved inside its cidr: an except inside a To prefix becomes
// its except, a To prefix an except covers is dropped.
func ExampleEgressAllow() {
	spec := netpol.Spec{EgressAllow: []netpol.EgressAllow{{
		Namespace: "shop",
		Name:      "allow-partners",
		To:        []netip.Prefix{netip.MustParsePrefix("192.0.2.0/24"), netip.MustParsePrefix("198.51.100.7/32")},
		Except:    []netip.Prefix{netip.MustParsePrefix("192.0.2.128/25"), netip.MustParsePrefix("198.51.100.0/24")},
		Ports:     []netpol.Port{netpol.TCPPort(443)},
	}}}
	o, err := spec.Generate()
	if err != nil {
		panic(err)
	}
	for _, peer := range o.NetworkPolicies[0].Spec.Egress[0].To {
		fmt.Println(peer.IPBlock.CIDR, "except", peer.IPBlock.Except)
	}
	// Output:
	// 192.0.2.0/24 except [192.0.2.128/25]
}

// Pods reach everything but the cloud metadata endpoints.
func ExampleBlockMetadata() {
	o, err := netpol.Spec{BlockMetadata: []netpol.BlockMetadata{{Namespace: "shop"}}}.Generate()
	if err != nil {
		panic(err)
	}
	for _, peer := range o.NetworkPolicies[0].Spec.Egress[0].To {
		fmt.Println(peer.IPBlock.CIDR, "except", peer.IPBlock.Except)
	}
	// Output:
	// 0.0.0.0/0 except [100.100.100.200/32 169.254.169.254/32]
	// ::/0 except [fd00:ec2::254/128]
}

// Objects.Validate checks objects from anywhere, here a user's preDNAT
// policy.
func ExampleObjects_Validate() {
	order := 5.0
	o := netpol.Objects{GlobalNetworkPolicies: []calicov3.GlobalNetworkPolicy{{
		ObjectMeta: metav1.ObjectMeta{Name: "block-nodeports"},
		Spec: calicov3.GlobalNetworkPolicySpec{
			Order:    &order,
			Selector: "has(kubernetes.io/hostname)",
			PreDNAT:  true,
			Egress:   []calicov3.Rule{{Action: calicov3.Deny}},
		},
	}}}
	fmt.Println(o.Validate())
	// Output:
	// netpol: GlobalNetworkPolicy block-nodeports: spec.types: empty: Felix treats that as Ingress and Egress, and the crd.projectcalico.org/v1 CRDs do not default it
	// netpol: GlobalNetworkPolicy block-nodeports: spec.egress: a preDNAT policy may have no egress rules
	// netpol: GlobalNetworkPolicy block-nodeports: spec.applyOnForward: a preDNAT policy must set it
}

// Objects.YAML renders objects from anywhere, the Calico ones in the form
// asked for.
func ExampleObjects_YAML() {
	o, err := netpol.Spec{NetworkSets: []netpol.NetworkSet{{Name: "edge", Prefixes: []netip.Prefix{netip.MustParsePrefix("198.51.100.0/24")}}}}.Generate()
	if err != nil {
		panic(err)
	}
	out, err := o.YAML(netpol.CalicoCRD)
	if err != nil {
		panic(err)
	}
	fmt.Print(string(out))
	// Output:
	// ---
	// apiVersion: crd.projectcalico.org/v1
	// kind: GlobalNetworkSet
	// metadata:
	//   labels:
	//     originguard.io/set: edge
	//   name: originguard-edge
	// spec:
	//   nets:
	//   - 198.51.100.0/24
}

// Apply writes the objects with server-side apply, sets and policies
// before host endpoints. A fake client stands in for the cluster here.
func ExampleObjects_Apply() {
	o, err := netpol.Namespace{Name: "shop"}.Spec().Generate()
	if err != nil {
		panic(err)
	}
	client := dynamicfake.NewSimpleDynamicClient(runtime.NewScheme()) // dynamic.NewForConfig(cfg) in production
	client.PrependReactor("patch", "*", func(a k8stesting.Action) (bool, runtime.Object, error) {
		p := a.(k8stesting.PatchAction)
		fmt.Println(p.GetPatchType(), p.GetResource().Resource, p.GetNamespace()+"/"+p.GetName())
		obj := &unstructured.Unstructured{}
		return true, obj, obj.UnmarshalJSON(p.GetPatch())
	})
	if err := o.Apply(context.Background(), client, netpol.CalicoCRD, "my-controller"); err != nil {
		panic(err)
	}
	// Output:
	// application/apply-patch+yaml networkpolicies shop/default-deny
	// application/apply-patch+yaml networkpolicies shop/allow-dns
}

// Render validates, generates and renders in one step.
func ExampleSpec_Render() {
	out, err := netpol.Spec{DefaultDeny: []netpol.DefaultDeny{{Namespace: "blog", Ingress: true}}}.Render(netpol.CalicoAPI)
	if err != nil {
		panic(err)
	}
	fmt.Print(string(out))
	// Output:
	// ---
	// apiVersion: networking.k8s.io/v1
	// kind: NetworkPolicy
	// metadata:
	//   name: default-deny
	//   namespace: blog
	// spec:
	//   podSelector: {}
	//   policyTypes:
	//   - Ingress
}

// Ports: single, ranges and named ports.
func ExamplePort() {
	for _, p := range []netpol.Port{netpol.TCPPort(443), netpol.UDPPort(53), netpol.PortRange(netpol.TCP, 30000, 32767), {Name: "http"}} {
		fmt.Println(p)
	}
	// Output:
	// TCP/443
	// UDP/53
	// TCP/30000-32767
	// TCP/http
}

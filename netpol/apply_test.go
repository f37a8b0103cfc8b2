package netpol_test

import (
	"context"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	calicov3 "github.com/projectcalico/api/pkg/apis/projectcalico/v3"
	"github.com/projectcalico/api/pkg/lib/numorstring"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"

	"github.com/originguard/originguard/internal/testbed"
	"github.com/originguard/originguard/netpol"
)

func TestMain(m *testing.M) { testbed.Main(m) }

func calicoGVR(form netpol.Form, resource string) schema.GroupVersionResource {
	gv, _ := schema.ParseGroupVersion(string(form))
	return gv.WithResource(resource)
}

// readBack gets an object and converts it to the typed value into.
func readBack(t *testing.T, dyn dynamic.Interface, gvr schema.GroupVersionResource, ns, name string, into any) *unstructured.Unstructured {
	t.Helper()
	var ri dynamic.ResourceInterface = dyn.Resource(gvr)
	if ns != "" {
		ri = dyn.Resource(gvr).Namespace(ns)
	}
	u, err := ri.Get(context.Background(), name, metav1.GetOptions{})
	if err != nil {
		t.Fatalf("get %s %s/%s: %v", gvr.Resource, ns, name, err)
	}
	if err := runtime.DefaultUnstructuredConverter.FromUnstructured(u.Object, into); err != nil {
		t.Fatalf("convert %s %s: %v", gvr.Resource, name, err)
	}
	return u
}

func appliedBy(t *testing.T, u *unstructured.Unstructured, manager string) {
	t.Helper()
	for _, e := range u.GetManagedFields() {
		if e.Manager == manager && e.Operation == metav1.ManagedFieldsOperationApply {
			return
		}
	}
	t.Errorf("%s %s: no Apply entry by %q", u.GetKind(), u.GetName(), manager)
}

// TestApplyToAPIServer applies every generator's objects, in both Calico
// forms, to the real kube-apiserver (NetworkPolicy natively, Calico kinds
// through the CRDs generated from the pinned projectcalico/api types) with
// server-side apply and fieldValidation=Strict, and reads each back equal.
func TestApplyToAPIServer(t *testing.T) {
	cfg := testbed.APIServer(t)
	testbed.InstallCRDs(t, cfg, testbed.CalicoCRDs(t)...)
	testbed.InstallCRDs(t, cfg, testbed.CalicoCRDGroupCRDs(t)...)
	dyn, err := dynamic.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	specs := generators()
	specs["preset-namespace"] = netpol.Namespace{Name: "x", NodeLocalDNS: nil}.Spec()
	specs["preset-hosts"] = hosts().Spec()
	names := make([]string, 0, len(specs))
	for n := range specs {
		names = append(names, n)
	}
	slices.Sort(names)
	npGVR := networkingv1.SchemeGroupVersion.WithResource("networkpolicies")
	for _, form := range []netpol.Form{netpol.CalicoAPI, netpol.CalicoCRD} {
		for _, name := range names {
			t.Run(strings.ReplaceAll(string(form), "/", "_")+"/"+name, func(t *testing.T) {
				o, err := specs[name].Generate()
				if err != nil {
					t.Fatal(err)
				}
				// A fresh namespace for each one the spec names.
				fresh := map[string]string{}
				for i := range o.NetworkPolicies {
					np := &o.NetworkPolicies[i]
					if fresh[np.Namespace] == "" {
						fresh[np.Namespace] = testbed.Namespace(t, cfg)
					}
					np.Namespace = fresh[np.Namespace]
				}
				if err := o.Apply(context.Background(), dyn, form, ""); err != nil {
					t.Fatal(err)
				}
				for _, want := range o.NetworkPolicies {
					var got networkingv1.NetworkPolicy
					u := readBack(t, dyn, npGVR, want.Namespace, want.Name, &got)
					appliedBy(t, u, netpol.DefaultFieldManager)
					if diff := cmp.Diff(want.Spec, got.Spec); diff != "" {
						t.Errorf("NetworkPolicy %s (-want +got):\n%s", want.Name, diff)
					}
				}
				for _, want := range o.GlobalNetworkSets {
					var got calicov3.GlobalNetworkSet
					u := readBack(t, dyn, calicoGVR(form, "globalnetworksets"), "", want.Name, &got)
					appliedBy(t, u, netpol.DefaultFieldManager)
					if diff := cmp.Diff(want.Spec, got.Spec); diff != "" {
						t.Errorf("GlobalNetworkSet %s (-want +got):\n%s", want.Name, diff)
					}
					if diff := cmp.Diff(want.Labels, got.Labels); diff != "" {
						t.Errorf("GlobalNetworkSet %s labels (-want +got):\n%s", want.Name, diff)
					}
				}
				for _, want := range o.GlobalNetworkPolicies {
					var got calicov3.GlobalNetworkPolicy
					u := readBack(t, dyn, calicoGVR(form, "globalnetworkpolicies"), "", want.Name, &got)
					appliedBy(t, u, netpol.DefaultFieldManager)
					if diff := cmp.Diff(want.Spec, got.Spec); diff != "" {
						t.Errorf("GlobalNetworkPolicy %s (-want +got):\n%s", want.Name, diff)
					}
				}
				for _, want := range o.HostEndpoints {
					var got calicov3.HostEndpoint
					u := readBack(t, dyn, calicoGVR(form, "hostendpoints"), "", want.Name, &got)
					appliedBy(t, u, netpol.DefaultFieldManager)
					if diff := cmp.Diff(want.Spec, got.Spec); diff != "" {
						t.Errorf("HostEndpoint %s (-want +got):\n%s", want.Name, diff)
					}
					if diff := cmp.Diff(want.Labels, got.Labels); diff != "" {
						t.Errorf("HostEndpoint %s labels (-want +got):\n%s", want.Name, diff)
					}
				}
				// Applying again changes nothing.
				before := resourceVersions(t, dyn, form, o)
				if err := o.Apply(context.Background(), dyn, form, ""); err != nil {
					t.Fatal(err)
				}
				if diff := cmp.Diff(before, resourceVersions(t, dyn, form, o)); diff != "" {
					t.Errorf("a second apply changed objects (-before +after):\n%s", diff)
				}
			})
		}
	}
}

func resourceVersions(t *testing.T, dyn dynamic.Interface, form netpol.Form, o netpol.Objects) map[string]string {
	t.Helper()
	rv := map[string]string{}
	get := func(gvr schema.GroupVersionResource, ns, name string) {
		var ri dynamic.ResourceInterface = dyn.Resource(gvr)
		if ns != "" {
			ri = dyn.Resource(gvr).Namespace(ns)
		}
		u, err := ri.Get(context.Background(), name, metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		rv[gvr.Resource+"/"+ns+"/"+name] = u.GetResourceVersion()
	}
	for _, x := range o.NetworkPolicies {
		get(networkingv1.SchemeGroupVersion.WithResource("networkpolicies"), x.Namespace, x.Name)
	}
	for _, x := range o.GlobalNetworkSets {
		get(calicoGVR(form, "globalnetworksets"), "", x.Name)
	}
	for _, x := range o.GlobalNetworkPolicies {
		get(calicoGVR(form, "globalnetworkpolicies"), "", x.Name)
	}
	for _, x := range o.HostEndpoints {
		get(calicoGVR(form, "hostendpoints"), "", x.Name)
	}
	return rv
}

// TestApplyRefusesWhatTheServerRefuses: Apply reports the API server's
// refusal naming the object, and stops there.
func TestApplyRefusesWhatTheServerRefuses(t *testing.T) {
	cfg := testbed.APIServer(t)
	dyn, err := dynamic.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ns := testbed.Namespace(t, cfg)
	o := netpol.Objects{NetworkPolicies: []networkingv1.NetworkPolicy{{
		TypeMeta:   metav1.TypeMeta{APIVersion: "networking.k8s.io/v1", Kind: "NetworkPolicy"},
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "bad-except"},
		Spec: networkingv1.NetworkPolicySpec{Egress: []networkingv1.NetworkPolicyEgressRule{{To: []networkingv1.NetworkPolicyPeer{{
			IPBlock: &networkingv1.IPBlock{CIDR: "192.0.2.0/24", Except: []string{"192.0.2.0/24"}},
		}}}}},
	}}}
	if err := o.Validate(); err == nil {
		t.Error("Objects.Validate accepted an except equal to its cidr")
	}
	err = o.Apply(context.Background(), dyn, netpol.CalicoAPI, "")
	if err == nil || !strings.Contains(err.Error(), "bad-except") || !strings.Contains(err.Error(), "except") {
		t.Errorf("err = %v, want the server's refusal naming the object and the except", err)
	}
}

// TestApplyUsersObjects applies objects a user may already have, of the
// kinds Objects holds beyond what Spec generates (a tier, a namespaced
// Calico NetworkSet and NetworkPolicy), in both forms, and reads them back.
func TestApplyUsersObjects(t *testing.T) {
	cfg := testbed.APIServer(t)
	testbed.InstallCRDs(t, cfg, testbed.CalicoCRDs(t)...)
	testbed.InstallCRDs(t, cfg, testbed.CalicoCRDGroupCRDs(t)...)
	dyn, err := dynamic.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	for _, form := range []netpol.Form{netpol.CalicoAPI, netpol.CalicoCRD} {
		ns := testbed.Namespace(t, cfg)
		tierOrder, order := 100.0, 5.0
		pass := calicov3.Pass
		tcp := numorstring.ProtocolFromString("TCP")
		o := netpol.Objects{
			Tiers: []calicov3.Tier{{ObjectMeta: metav1.ObjectMeta{Name: "platform"}, Spec: calicov3.TierSpec{Order: &tierOrder, DefaultAction: &pass}}},
			NetworkSets: []calicov3.NetworkSet{{
				ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "partners", Labels: map[string]string{"role": "partner"}},
				Spec:       calicov3.NetworkSetSpec{Nets: []string{"192.0.2.0/24"}},
			}},
			CalicoNetworkPolicies: []calicov3.NetworkPolicy{{
				ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "platform.allow-partners"},
				Spec: calicov3.NetworkPolicySpec{
					Tier: "platform", Order: &order, Selector: "app == 'web'",
					Types: []calicov3.PolicyType{calicov3.PolicyTypeIngress},
					Ingress: []calicov3.Rule{{
						Action: calicov3.Allow, Protocol: &tcp,
						Source:      calicov3.EntityRule{Selector: "role == 'partner'"},
						Destination: calicov3.EntityRule{Ports: []numorstring.Port{numorstring.SinglePort(443)}},
					}},
				},
			}},
		}
		if err := o.Validate(); err != nil {
			t.Fatal(err)
		}
		if err := o.Apply(context.Background(), dyn, form, ""); err != nil {
			t.Fatalf("%s: %v", form, err)
		}
		var tier calicov3.Tier
		readBack(t, dyn, calicoGVR(form, "tiers"), "", "platform", &tier)
		if diff := cmp.Diff(o.Tiers[0].Spec, tier.Spec); diff != "" {
			t.Errorf("%s: Tier (-want +got):\n%s", form, diff)
		}
		var set calicov3.NetworkSet
		readBack(t, dyn, calicoGVR(form, "networksets"), ns, "partners", &set)
		if diff := cmp.Diff(o.NetworkSets[0].Spec, set.Spec); diff != "" {
			t.Errorf("%s: NetworkSet (-want +got):\n%s", form, diff)
		}
		var np calicov3.NetworkPolicy
		readBack(t, dyn, calicoGVR(form, "networkpolicies"), ns, "platform.allow-partners", &np)
		if diff := cmp.Diff(o.CalicoNetworkPolicies[0].Spec, np.Spec); diff != "" {
			t.Errorf("%s: NetworkPolicy (-want +got):\n%s", form, diff)
		}

		// What was read back carries uid, resourceVersion and
		// managedFields; it renders and applies again without them.
		if np.ResourceVersion == "" || len(np.ManagedFields) == 0 {
			t.Fatalf("read-back policy lacks server metadata: %+v", np.ObjectMeta)
		}
		again := netpol.Objects{Tiers: []calicov3.Tier{tier}, NetworkSets: []calicov3.NetworkSet{set}, CalicoNetworkPolicies: []calicov3.NetworkPolicy{np}}
		out, err := again.YAML(form)
		if err != nil {
			t.Fatal(err)
		}
		for _, server := range []string{"resourceVersion", "managedFields", "uid:", "creationTimestamp"} {
			if strings.Contains(string(out), server) {
				t.Errorf("%s: rendered read-back objects carry %s:\n%s", form, server, out)
			}
		}
		if err := again.Apply(context.Background(), dyn, form, ""); err != nil {
			t.Errorf("%s: applying read-back objects: %v", form, err)
		}
	}
}

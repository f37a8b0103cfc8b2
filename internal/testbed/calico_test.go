package testbed_test

import (
	"context"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"

	"github.com/originguard/originguard/internal/testbed"
)

var gnpResource = schema.GroupVersionResource{Group: "projectcalico.org", Version: "v3", Resource: "globalnetworkpolicies"}

func decodeOne(t *testing.T, yaml string) *unstructured.Unstructured {
	t.Helper()
	objs, err := testbed.DecodeObjects([]byte(yaml))
	if err != nil || len(objs) != 1 {
		t.Fatalf("decode: %d objects, %v", len(objs), err)
	}
	return objs[0]
}

// TestCalicoGlobalNetworkPolicy installs the generated Calico CRDs and
// round-trips a GlobalNetworkPolicy with a fractional order and integer and
// string ports and protocols (int-or-string in Calico's types, which the
// generator must carry over); misspelled and mistyped fields are refused.
func TestCalicoGlobalNetworkPolicy(t *testing.T) {
	cfg := testbed.APIServer(t)
	testbed.InstallCRDs(t, cfg, testbed.CalicoCRDs(t)...)
	testbed.InstallCRDs(t, cfg, testbed.CalicoCRDs(t)...) // again: a no-op
	dyn, err := dynamic.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	client := dyn.Resource(gnpResource)
	ctx := context.Background()
	apply := func(obj *unstructured.Unstructured) (*unstructured.Unstructured, error) {
		return client.Apply(ctx, obj.GetName(), obj, metav1.ApplyOptions{FieldManager: "testbed-smoke", Force: true})
	}

	gnp := decodeOne(t, `
apiVersion: projectcalico.org/v3
kind: GlobalNetworkPolicy
metadata:
  name: allow-edge
spec:
  order: 10.5
  selector: has(edge)
  types: [Ingress]
  ingress:
  - action: Allow
    protocol: TCP
    notProtocol: 17
    source:
      nets: [192.0.2.0/24, "2001:db8::/32"]
    destination:
      ports: [443, "8000:8080"]
`)
	if _, err := apply(gnp); err != nil {
		t.Fatalf("apply: %v", err)
	}
	got, err := client.Get(ctx, "allow-edge", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if ns := got.GetNamespace(); ns != "" {
		t.Errorf("GlobalNetworkPolicy got namespace %q, want cluster-scoped", ns)
	}
	want := map[string]any{
		"order":    10.5,
		"selector": "has(edge)",
		"types":    []any{"Ingress"},
		"ingress": []any{map[string]any{
			"action":      "Allow",
			"protocol":    "TCP",
			"notProtocol": int64(17),
			"source":      map[string]any{"nets": []any{"192.0.2.0/24", "2001:db8::/32"}},
			"destination": map[string]any{"ports": []any{int64(443), "8000:8080"}},
		}},
	}
	if diff := cmp.Diff(want, got.Object["spec"]); diff != "" {
		t.Errorf("read back spec (-want +got):\n%s", diff)
	}

	misspelled := decodeOne(t, `
apiVersion: projectcalico.org/v3
kind: GlobalNetworkPolicy
metadata:
  name: misspelled
spec:
  ingres:
  - action: Allow
`)
	if _, err := apply(misspelled); err == nil || !strings.Contains(err.Error(), "ingres") {
		t.Errorf("apply with spec.ingres: err = %v, want a refusal naming the field", err)
	}

	mistyped := decodeOne(t, `
apiVersion: projectcalico.org/v3
kind: GlobalNetworkPolicy
metadata:
  name: mistyped
spec:
  order: first
`)
	if _, err := apply(mistyped); err == nil || !strings.Contains(err.Error(), "spec.order") {
		t.Errorf("apply with a string order: err = %v, want a refusal naming spec.order", err)
	}
}

package testbed

import (
	"reflect"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

// TestCalicoCRDGroupMatchesTheV3CRDs: both files come from one generator
// run, so they name the same pin and hold the same kinds, scopes and
// schemas, only under crd.projectcalico.org/v1.
func TestCalicoCRDGroupMatchesTheV3CRDs(t *testing.T) {
	if got, want := calicoCRDGroupVersion(), calicoCRDsVersion(); got != want || got == "" {
		t.Errorf("crds/calico-crd.yaml from %q, crds/calico.yaml from %q: run bash hack/crd/generate.sh", got, want)
	}
	v3 := map[string]*unstructured.Unstructured{}
	for _, c := range CalicoCRDs(t) {
		kind, _, _ := unstructured.NestedString(c.Object, "spec", "names", "kind")
		v3[kind] = c
	}
	crds := CalicoCRDGroupCRDs(t)
	if len(crds) != len(v3) {
		t.Errorf("%d crd.projectcalico.org CRDs, %d projectcalico.org ones", len(crds), len(v3))
	}
	for _, c := range crds {
		kind, _, _ := unstructured.NestedString(c.Object, "spec", "names", "kind")
		plural, _, _ := unstructured.NestedString(c.Object, "spec", "names", "plural")
		if group, _, _ := unstructured.NestedString(c.Object, "spec", "group"); group != "crd.projectcalico.org" {
			t.Errorf("%s: group %q", kind, group)
		}
		if name := c.GetName(); name != plural+".crd.projectcalico.org" {
			t.Errorf("%s: name %q", kind, name)
		}
		versions, _, _ := unstructured.NestedSlice(c.Object, "spec", "versions")
		other, ok := v3[kind]
		if !ok {
			t.Errorf("%s: not among the projectcalico.org CRDs", kind)
			continue
		}
		v3versions, _, _ := unstructured.NestedSlice(other.Object, "spec", "versions")
		if len(versions) != 1 || len(v3versions) != 1 {
			t.Fatalf("%s: %d and %d versions", kind, len(versions), len(v3versions))
		}
		v1, v3v := versions[0].(map[string]any), v3versions[0].(map[string]any)
		if v1["name"] != "v1" {
			t.Errorf("%s: version %v", kind, v1["name"])
		}
		s1, _, _ := unstructured.NestedMap(v1, "schema")
		s3, _, _ := unstructured.NestedMap(v3v, "schema")
		if !reflect.DeepEqual(s1, s3) {
			t.Errorf("%s: schema differs from the projectcalico.org/v3 one", kind)
		}
		sc1, _, _ := unstructured.NestedString(c.Object, "spec", "scope")
		sc3, _, _ := unstructured.NestedString(other.Object, "spec", "scope")
		if sc1 != sc3 {
			t.Errorf("%s: scope %q, v3 %q", kind, sc1, sc3)
		}
	}
}

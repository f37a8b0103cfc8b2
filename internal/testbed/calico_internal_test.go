package testbed

import (
	"bufio"
	"os"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

// requiredVersion reads the version of module from a go.mod file, or "" when
// the file does not require it.
func requiredVersion(t *testing.T, gomod, module string) string {
	t.Helper()
	f, err := os.Open(gomod)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(strings.TrimPrefix(strings.TrimSpace(sc.Text()), "require "))
		if len(fields) >= 2 && fields[0] == module {
			return fields[1]
		}
	}
	return ""
}

// TestCalicoCRDsMatchThePin fails when hack/crd/go.mod (or the library's
// go.mod, once it requires Calico's types) moves to another
// github.com/projectcalico/api without `bash hack/crd/generate.sh`.
func TestCalicoCRDsMatchThePin(t *testing.T) {
	const module = "github.com/projectcalico/api"
	got := calicoCRDsVersion()
	pin := requiredVersion(t, "../../hack/crd/go.mod", module)
	if pin == "" {
		t.Fatalf("hack/crd/go.mod does not require %s", module)
	}
	if got != pin {
		t.Errorf("crds/calico.yaml was generated from %s %q, hack/crd/go.mod pins %q: run bash hack/crd/generate.sh", module, got, pin)
	}
	if lib := requiredVersion(t, "../../go.mod", module); lib != "" && lib != pin {
		t.Errorf("the library requires %s %s but the test bed's CRDs come from %s: align hack/crd/go.mod and regenerate", module, lib, pin)
	}
}

func TestCalicoCRDsDecode(t *testing.T) {
	crds := CalicoCRDs(t)
	scopes := map[string]string{}
	for _, c := range crds {
		kind, _, _ := unstructured.NestedString(c.Object, "spec", "names", "kind")
		scope, _, _ := unstructured.NestedString(c.Object, "spec", "scope")
		scopes[kind] = scope
	}
	want := map[string]string{
		"GlobalNetworkPolicy": "Cluster",
		"NetworkPolicy":       "Namespaced",
		"GlobalNetworkSet":    "Cluster",
		"NetworkSet":          "Namespaced",
		"HostEndpoint":        "Cluster",
		"Tier":                "Cluster",
	}
	for kind, scope := range want {
		if scopes[kind] != scope {
			t.Errorf("%s scope %q, want %q", kind, scopes[kind], scope)
		}
	}
	if len(scopes) != len(want) {
		t.Errorf("kinds %v, want %d", scopes, len(want))
	}
}

package originguard_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os/exec"
	"slices"
	"strings"
	"testing"
)

const module = "github.com/originguard/originguard"

// layers are the five independent packages.
var layers = []string{"allowlist", "firewall", "netpol", "origincert", "ingress"}

// pkg is what `go list -json` says of a package.
type pkg struct {
	ImportPath string
	Imports    []string
	Deps       []string
}

// listPackages runs go list over the module, test imports included.
func listPackages(t *testing.T) []pkg {
	t.Helper()
	out, err := exec.Command("go", "list", "-e", "-test=false", "-json=ImportPath,Imports,Deps", "./...").Output()
	if err != nil {
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			t.Fatalf("go list: %v\n%s", err, ee.Stderr)
		}
		t.Fatalf("go list: %v", err)
	}
	var pkgs []pkg
	dec := json.NewDecoder(strings.NewReader(string(out)))
	for {
		var p pkg
		if err := dec.Decode(&p); err == io.EOF {
			break
		} else if err != nil {
			t.Fatal(err)
		}
		pkgs = append(pkgs, p)
	}
	return pkgs
}

// isStd reports whether path is in the standard library: its first element
// has no dot.
func isStd(path string) bool {
	first, _, _ := strings.Cut(path, "/")
	return !strings.Contains(first, ".")
}

// layerOf returns the layer a package of this module belongs to, or "".
func layerOf(path string) string {
	rest, ok := strings.CutPrefix(path, module+"/")
	if !ok {
		return ""
	}
	first, _, _ := strings.Cut(rest, "/")
	if slices.Contains(layers, first) {
		return first
	}
	return ""
}

func under(path, prefix string) bool { return path == prefix || strings.HasPrefix(path, prefix+"/") }

// checkDeps returns every violation of the dependency rules.
func checkDeps(pkgs []pkg) []string {
	var bad []string
	for _, p := range pkgs {
		layer := layerOf(p.ImportPath)
		for _, imp := range p.Imports {
			if under(imp, module+"/examples") {
				bad = append(bad, fmt.Sprintf("%s imports %s: nothing may import examples/", p.ImportPath, imp))
			}
		}
		if p.ImportPath == module+"/internal/cfapi" {
			for _, dep := range p.Deps {
				if !isStd(dep) {
					bad = append(bad, fmt.Sprintf("%s depends on %s: cfapi may use only the standard library", p.ImportPath, dep))
				}
			}
		}
		if layer == "" {
			continue
		}
		for _, dep := range p.Deps {
			if other := layerOf(dep); other != "" && other != layer {
				bad = append(bad, fmt.Sprintf("%s depends on %s: the layers never import each other", p.ImportPath, dep))
			}
			switch {
			case isStd(dep), under(dep, module):
			case layer == "allowlist" || layer == "firewall":
				if !under(dep, "github.com/gaissmai/bart") {
					bad = append(bad, fmt.Sprintf("%s depends on %s: %s may use only the standard library and bart", p.ImportPath, dep, layer))
				}
			case under(dep, "github.com/cloudflare/cloudflare-go") && layer != "origincert":
				bad = append(bad, fmt.Sprintf("%s depends on %s: only origincert talks to the Cloudflare API", p.ImportPath, dep))
			case under(dep, "github.com/projectcalico/calico"):
				bad = append(bad, fmt.Sprintf("%s depends on %s: Calico types come from github.com/projectcalico/api", p.ImportPath, dep))
			}
		}
	}
	return bad
}

// TestDependencies enforces the import rules of the design: allowlist and
// firewall use only the standard library and bart, the five layers never
// import each other, only origincert uses cloudflare-go, Calico types come
// from projectcalico/api, and nothing imports examples/.
func TestDependencies(t *testing.T) {
	pkgs := listPackages(t)
	if !slices.ContainsFunc(pkgs, func(p pkg) bool { return p.ImportPath == module+"/allowlist" }) {
		t.Fatalf("go list did not see the allowlist package: %v", pkgs)
	}
	for _, v := range checkDeps(pkgs) {
		t.Error(v)
	}
}

// TestCheckDepsCatchesViolations shows that each rule can fail.
func TestCheckDepsCatchesViolations(t *testing.T) {
	fake := []pkg{
		{ImportPath: module + "/allowlist", Deps: []string{"net/netip", "github.com/gaissmai/bart", "k8s.io/api/core/v1"}},
		{ImportPath: module + "/firewall", Deps: []string{module + "/allowlist"}},
		{ImportPath: module + "/netpol", Deps: []string{"github.com/cloudflare/cloudflare-go", "github.com/projectcalico/calico/libcalico-go/lib/apis/v3"}},
		{ImportPath: module + "/origincert", Deps: []string{"github.com/cloudflare/cloudflare-go", "k8s.io/client-go/kubernetes"}},
		{ImportPath: module + "/internal/testbed", Imports: []string{module + "/examples/originguard"}},
		{ImportPath: module + "/internal/cfapi", Deps: []string{"encoding/json", "github.com/google/go-cmp/cmp"}},
	}
	got := checkDeps(fake)
	want := []string{
		"allowlist depends on k8s.io/api/core/v1",
		"firewall depends on " + module + "/allowlist",
		"netpol depends on github.com/cloudflare/cloudflare-go",
		"netpol depends on github.com/projectcalico/calico",
		"internal/testbed imports " + module + "/examples/originguard",
		"internal/cfapi depends on github.com/google/go-cmp/cmp",
	}
	if len(got) != len(want) {
		t.Fatalf("got %d violations, want %d:\n%s", len(got), len(want), strings.Join(got, "\n"))
	}
	for i := range want {
		if !strings.Contains(got[i], want[i]) {
			t.Errorf("violation %d = %q, want it to mention %q", i, got[i], want[i])
		}
	}
}

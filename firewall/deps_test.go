package firewall_test

import (
	"os/exec"
	"strings"
	"testing"
)

// TestDependencies keeps the package's imports to the standard library
// and bart, so that a node agent importing it pulls in nothing else.
func TestDependencies(t *testing.T) {
	goTool, err := exec.LookPath("go")
	if err != nil {
		t.Fatalf("the go command is needed to list dependencies: %v", err)
	}
	out, err := exec.Command(goTool, "list", "-deps", "-f", "{{if not .Standard}}{{.ImportPath}}{{end}}", ".").CombinedOutput()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, out)
	}
	seen := 0
	for _, pkg := range strings.Fields(string(out)) {
		switch {
		case pkg == "github.com/originguard/originguard/firewall":
			seen++
		case pkg == "github.com/gaissmai/bart" || strings.HasPrefix(pkg, "github.com/gaissmai/bart/"):
		default:
			t.Errorf("firewall imports %s; only the standard library and github.com/gaissmai/bart are allowed", pkg)
		}
	}
	if seen != 1 {
		t.Errorf("go list did not list the package itself:\n%s", out)
	}
}

package firewall_test

import (
	"os"
	"os/exec"
	"slices"
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

// TestTestBinaryLinksNoKubernetes keeps the firewall's test binary free of
// the kube-apiserver harness: the namespace harness it uses
// (internal/testbed/netns) must not drag in client-go and its ~280
// packages, on Linux or anywhere else.
func TestTestBinaryLinksNoKubernetes(t *testing.T) {
	goTool, err := exec.LookPath("go")
	if err != nil {
		t.Fatalf("the go command is needed to list dependencies: %v", err)
	}
	for _, goos := range []string{"linux", "darwin"} {
		cmd := exec.Command(goTool, "list", "-deps", "-test", "-f", "{{if not .Standard}}{{.ImportPath}}{{end}}", ".")
		cmd.Env = append(os.Environ(), "GOOS="+goos)
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("GOOS=%s go list: %v\n%s", goos, err, out)
		}
		pkgs := strings.Fields(string(out))
		if !slices.Contains(pkgs, "github.com/originguard/originguard/firewall") {
			t.Fatalf("GOOS=%s go list did not list the package itself:\n%s", goos, out)
		}
		for _, pkg := range pkgs {
			if strings.HasPrefix(pkg, "k8s.io/") || strings.HasPrefix(pkg, "sigs.k8s.io/") ||
				pkg == "github.com/originguard/originguard/internal/testbed" {
				t.Errorf("GOOS=%s: the firewall test binary links %s", goos, pkg)
			}
		}
	}
}

// TestVetsOffLinux shows the package, its tests and the namespace harness
// build (and vet) where namespaces do not exist: the harness and the tests
// using it are behind a linux build tag.
func TestVetsOffLinux(t *testing.T) {
	if testing.Short() {
		t.Skip("cross-compiles the standard library on a cold cache")
	}
	goTool, err := exec.LookPath("go")
	if err != nil {
		t.Fatalf("the go command is needed: %v", err)
	}
	cmd := exec.Command(goTool, "vet", ".", "../internal/testbed/netns", "../internal/testbed/testenv")
	cmd.Env = append(os.Environ(), "GOOS=darwin", "GOARCH=arm64", "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Errorf("GOOS=darwin go vet: %v\n%s", err, out)
	}
}

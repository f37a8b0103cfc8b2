package main

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/originguard/originguard/internal/golden"
)

const fixture = "testdata/cluster"

// audit over a fixture cluster with known exposures finds each, with the
// rule responsible, and exits non-zero.
func TestAuditFindsEachKnownExposure(t *testing.T) {
	out, _, err := runCLI(t, nil, "audit", "-f", fixture, "-o", "json", "-cluster", "10.244.0.0/16")
	got := checkPlanted(t, out, err, false)
	if len(got.Exposures) != 3 {
		t.Errorf("exposures = %q, want the NodePort on both nodes and the hostNetwork port", got.Exposures)
	}
}

// auditReport is audit's -o json.
type auditReport struct {
	Findings  []finding
	Exposures []string
}

// checkPlanted checks that audit's -o json names each problem planted in
// the fixture cluster, with the rule responsible, most serious first, and
// that audit exits non-zero. shared says the fixture shares its API server
// with other tests' objects, whose policies' CIDRs may split the sources
// the NodePort is open to finer (the same verdict, in more pieces).
func checkPlanted(t *testing.T, out string, err error, shared bool) auditReport {
	t.Helper()
	if !errors.Is(err, errFindings) {
		t.Fatalf("err = %v, want errFindings (exit %d)", err, exitFindings)
	}
	var got struct {
		Findings  []finding
		Exposures []string
	}
	if err := json.Unmarshal([]byte(out), &got); err != nil {
		t.Fatalf("-o json is not JSON: %v\n%s", err, out)
	}
	for _, want := range []struct {
		name                                string
		severity, source, check, object, in string
		rule                                string
	}{
		{"NodePort open to all", high, "exposure", "open-beyond-edge", "Service legacy/legacy", "NodePort TCP/30080 on 10.0.1.2 (node node-2) is reachable from outside the edge: 0.0.0.0/0 except 10.244.0.0/16\n", "Profile kns.legacy"},
		{"hostNetwork pod", high, "exposure", "open-beyond-edge", "Pod monitoring/node-exporter", "hostNetwork TCP/9100", "GlobalNetworkPolicy host-deny rule 1: Allow TCP to ports 9100"},
		{"unguarded Ingress: no client certificate", high, "ingress", "origin-pull", "Ingress shop/web", "no client certificate is required", ""},
		{"unguarded Ingress: plain HTTP", high, "ingress", "https-only", "Ingress shop/web", "no TLS", ""},
		{"namespace without default deny", medium, "exposure", "no-default-deny", "Namespace legacy", "no default deny for ingress and egress", ""},
		{"host policy without 10250", high, "lint", "kubelet", "host node-1 (10.0.1.1) -> host node-2 (10.0.1.2) TCP/10250", "cannot reach the kubelet on node-2", "ingress of host endpoint node-2-all: deny (rule: tier default, GlobalNetworkPolicy host-deny rule 3: Deny)"},
	} {
		if shared {
			want.in = strings.TrimSuffix(want.in, "\n")
		}
		found := false
		for _, f := range got.Findings {
			if f.Severity == want.severity && f.Source == want.source && f.Check == want.check && f.Object == want.object &&
				strings.Contains(f.Message+"\n", want.in) && strings.Contains(f.Rule, want.rule) {
				found = true
			}
		}
		if !found {
			t.Errorf("%s: not found, or not with its rule %q", want.name, want.rule)
		}
	}
	// Most serious first.
	seen := map[string]bool{}
	for _, f := range got.Findings {
		if f.Severity == high && (seen[medium] || seen[info]) {
			t.Errorf("a high finding after a lesser one: %+v", f)
		}
		seen[f.Severity] = true
	}
	return auditReport(got)
}

// The human report, against golden output.
func TestAuditText(t *testing.T) {
	out, _, err := runCLI(t, nil, "audit", "-f", filepath.Join(fixture, "dump.yaml"), "-f", filepath.Join(fixture, "calico.yaml"))
	if !errors.Is(err, errFindings) {
		t.Fatalf("err = %v, want errFindings", err)
	}
	golden.Check(t, "audit.txt", out)
}

// A cluster with nothing serious exits 0, so CI can gate on audit; and
// the same cluster read from stdin gives the same report.
func TestAuditCleanExitsZero(t *testing.T) {
	clean := `apiVersion: v1
kind: Namespace
metadata: {name: shop, labels: {kubernetes.io/metadata.name: shop}}
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: default-deny, namespace: shop}
spec: {podSelector: {}, policyTypes: [Ingress, Egress]}
`
	path := filepath.Join(t.TempDir(), "clean.yaml")
	os.WriteFile(path, []byte(clean), 0o644)
	out, _, err := runCLI(t, nil, "audit", "-f", path)
	if err != nil {
		t.Fatalf("err = %v\n%s", err, out)
	}
	if !strings.HasPrefix(out, "0 findings") {
		t.Errorf("output:\n%s", out)
	}
	c, stdout, _ := newCLI(nil)
	c.stdin = strings.NewReader(clean)
	if err := c.run(t.Context(), []string{"audit", "-f", "-"}); err != nil || stdout.String() != out {
		t.Errorf("stdin: err = %v, output:\n%s", err, stdout.String())
	}
}

// A field the kind does not have is an error naming it, not a policy
// silently read without it.
func TestAuditStrictInput(t *testing.T) {
	bad := "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: x, namespace: shop}\nspec: {podSelector: {}, policyType: [Ingress]}\n"
	path := filepath.Join(t.TempDir(), "bad.yaml")
	os.WriteFile(path, []byte(bad), 0o644)
	_, _, err := runCLI(t, nil, "audit", "-f", path)
	if err == nil || errors.Is(err, errFindings) || !strings.Contains(err.Error(), "policyType") {
		t.Errorf("err = %v, want one naming policyType", err)
	}
}

// -controller makes the linter probe the ingress controller's pods: in the
// fixture nothing guards them, so an address outside the edge gets in.
func TestAuditController(t *testing.T) {
	dump := filepath.Join(t.TempDir(), "dump.yaml")
	b, _ := os.ReadFile(filepath.Join("testdata", "sample-cluster.yaml"))
	os.WriteFile(dump, b, 0o644)
	out, _, err := runCLI(t, nil, "audit", "-o", "json", "-f", dump, "-controller", "ingress-nginx/app.kubernetes.io/name=ingress-nginx")
	if !errors.Is(err, errFindings) {
		t.Fatalf("err = %v", err)
	}
	if !strings.Contains(out, `"check": "ingress-open"`) {
		t.Errorf("no ingress-open finding for an unguarded controller:\n%s", out)
	}
	if _, _, err := runCLI(t, nil, "audit", "-f", dump, "-controller", "ingress-nginx"); err == nil || !strings.Contains(err.Error(), "NAMESPACE/LABEL=VALUE") {
		t.Errorf("a bad -controller: err = %v", err)
	}
}

// explain names the verdict and the rule that decided.
func TestExplain(t *testing.T) {
	for _, tc := range []struct {
		from, to string
		want     []string
	}{
		{"node/node-1", "node/node-2:10250", []string{"TCP/10250: DENY", "decided by: ingress of host endpoint node-2-all: deny (rule: tier default, GlobalNetworkPolicy host-deny rule 3: Deny)"}},
		{"198.51.100.7", "node/node-2:30080/tcp", []string{"198.51.100.7 -> pod in legacy (10.244.2.20) TCP/8080 via NodePort 30080 on node-2: ALLOW", "decided by: ingress of pod in legacy (10.244.2.20): allow (profile: Profile kns.legacy)"}},
		{"198.51.100.7", "node/node-2:9100", []string{": ALLOW", "GlobalNetworkPolicy host-deny rule 1"}},
		{"198.51.100.7", "node/node-2:22", []string{": ALLOW", "allow (failsafe)"}},
		{"198.51.100.7", "shop/web-1:8080/tcp", []string{"TCP/8080: DENY", "decided by: ingress of pod in shop (10.244.2.10): deny (end of tier)"}},
		{"legacy/legacy-1", "shop/web-1:8080", []string{": DENY"}},
	} {
		out, _, err := runCLI(t, nil, "explain", "-f", fixture, "--from", tc.from, "--to", tc.to)
		if err != nil {
			t.Errorf("%s -> %s: %v", tc.from, tc.to, err)
			continue
		}
		for _, w := range tc.want {
			if !strings.Contains(out, w) {
				t.Errorf("%s -> %s: output lacks %q:\n%s", tc.from, tc.to, w, out)
			}
		}
	}
	out, _, err := runCLI(t, nil, "explain", "-f", fixture, "--from", "node/node-1", "--to", "node/node-2:10250", "-o", "json")
	var v struct {
		Flow      string
		Allowed   bool
		DecidedBy string
		Steps     []string
	}
	if err != nil || json.Unmarshal([]byte(out), &v) != nil || v.Allowed || len(v.Steps) != 2 ||
		v.DecidedBy != "ingress of host endpoint node-2-all: deny (rule: tier default, GlobalNetworkPolicy host-deny rule 3: Deny)" {
		t.Errorf("-o json: err = %v, %+v\n%s", err, v, out)
	}
	for _, tc := range []struct{ from, to, want string }{
		{"198.51.100.7", "shop/nope:80", `no pod "shop/nope" in the input`},
		{"198.51.100.7", "shop/web-1", "has no port"},
		{"198.51.100.7", "shop/web-1:80/icmp", `protocol "icmp"`},
		{"not-an-address", "shop/web-1:80", "want an address, ns/pod or node/NAME"},
	} {
		_, _, err := runCLI(t, nil, "explain", "-f", fixture, "--from", tc.from, "--to", tc.to)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s -> %s: err = %v, want %q", tc.from, tc.to, err, tc.want)
		}
	}
}

// The defence the sample renders, audited over the cluster it describes:
// the linter finds no lockout (the kubelet open to the API server, DNS
// resolving, NodePorts closed to everyone but the edge), and the only port
// reachable from outside is the controller's NodePort, from the edge alone.
func TestRenderedDefenceAudits(t *testing.T) {
	dir := t.TempDir()
	if _, err := runCLIOrErr(t, "render", "-out", dir); err != nil {
		t.Fatal(err)
	}
	out, _, err := runCLI(t, nil, "audit", "-o", "json", "-api-server", "10.0.0.10", "-cluster", "10.0.0.0/16", "-cluster", "10.244.0.0/16",
		"-controller", "ingress-nginx/app.kubernetes.io/name=ingress-nginx",
		"-f", filepath.Join(dir, "networkpolicies.yaml"), "-f", filepath.Join(dir, "calico.yaml"), "-f", filepath.Join("testdata", "sample-cluster.yaml"))
	if err != nil && !errors.Is(err, errFindings) {
		t.Fatal(err)
	}
	var got struct {
		Findings  []finding
		Exposures []string
	}
	if err := json.Unmarshal([]byte(out), &got); err != nil {
		t.Fatal(err)
	}
	for _, f := range got.Findings {
		switch {
		case f.Source == "lint", f.Check == "open-beyond-edge", f.Check == "no-default-deny" && f.Object == "Namespace shop":
			t.Errorf("the rendered defence has a hole or a lockout: %+v", f)
		}
	}
	if len(got.Exposures) != 1 || !strings.HasPrefix(got.Exposures[0], "NodePort TCP/31443 on 10.0.1.1 (Service ingress-nginx/ingress-nginx-controller, node node-1): 103.21.244.0/22; ") ||
		strings.Contains(got.Exposures[0], "0.0.0.0/0") {
		t.Errorf("exposures = %q, want the controller's NodePort, from the edge alone", got.Exposures)
	}
}

// Where audit and explain look for a cluster, as kubectl does: --kubeconfig,
// else $KUBECONFIG, else ~/.kube/config, and only when no -f is given (or
// a cluster is asked for); with nothing to read they say where they looked.
// The kubeconfigs here name a closed loopback port, so reading one shows as
// an error naming it. The live read is TestAuditReadsClusterThroughKubeconfig.
func TestAuditKubeconfigSources(t *testing.T) {
	home := t.TempDir()
	env := map[string]string{"HOME": home}
	for _, cmd := range [][]string{{"audit"}, {"explain", "--from", "192.0.2.1", "--to", "shop/web-1:80"}} {
		_, _, err := runCLI(t, env, cmd...)
		if err == nil || !strings.Contains(err.Error(), "--kubeconfig, $KUBECONFIG or ~/.kube/config; none found") {
			t.Errorf("%s with no input: err = %v", cmd[0], err)
		}
	}
	missing := filepath.Join(home, "missing")
	if _, _, err := runCLI(t, env, "audit", "--kubeconfig", missing); err == nil || !strings.Contains(err.Error(), missing) {
		t.Errorf("a missing --kubeconfig: err = %v", err)
	}
	closed := "apiVersion: v1\nkind: Config\nclusters: [{name: c, cluster: {server: \"https://127.0.0.1:1\"}}]\n" +
		"users: [{name: u, user: {token: t}}]\ncontexts: [{name: x, context: {cluster: c, user: u}}]\ncurrent-context: x\n"
	os.MkdirAll(filepath.Join(home, ".kube"), 0o755)
	os.WriteFile(filepath.Join(home, ".kube", "config"), []byte(closed), 0o600)
	if _, _, err := runCLI(t, env, "audit"); err == nil || !strings.Contains(err.Error(), "127.0.0.1:1") {
		t.Errorf("~/.kube/config not read: err = %v", err)
	}
	other := filepath.Join(home, "other")
	os.WriteFile(other, []byte(strings.Replace(closed, "127.0.0.1:1", "127.0.0.1:2", 1)), 0o600)
	if _, _, err := runCLI(t, map[string]string{"HOME": home, "KUBECONFIG": other}, "audit"); err == nil || !strings.Contains(err.Error(), "127.0.0.1:2") {
		t.Errorf("$KUBECONFIG not preferred to ~/.kube/config: err = %v", err)
	}
	// -f alone reads no cluster, though a kubeconfig is there.
	if _, _, err := runCLI(t, env, "audit", "-f", fixture); !errors.Is(err, errFindings) {
		t.Errorf("-f with a kubeconfig about: err = %v", err)
	}
	// --context asks for the cluster as well as -f.
	if _, _, err := runCLI(t, env, "audit", "-f", fixture, "--context", "x"); err == nil || !strings.Contains(err.Error(), "127.0.0.1:1") {
		t.Errorf("-f with --context: err = %v", err)
	}
	_, stderr, _ := runCLI(t, env, "audit", "-h")
	if !strings.Contains(stderr, "kind: ClusterRole") || !strings.Contains(stderr, "verbs: [get, list]") {
		t.Errorf("audit -h does not show the ClusterRole it needs:\n%s", stderr)
	}
}

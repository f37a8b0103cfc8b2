package main

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/originguard/originguard/internal/golden"
	"github.com/originguard/originguard/internal/testbed"
)

var now = time.Date(2026, 11, 22, 0, 0, 0, 0, time.UTC)

// newCLI is a cli writing to buffers, with a fixed clock and an
// environment holding only env.
func newCLI(env map[string]string) (*cli, *strings.Builder, *strings.Builder) {
	var out, errw strings.Builder
	return &cli{stdout: &out, stderr: &errw, stdin: strings.NewReader(""), clock: func() time.Time { return now },
		getenv: func(k string) string { return env[k] }}, &out, &errw
}

func runCLI(t *testing.T, env map[string]string, args ...string) (string, string, error) {
	t.Helper()
	c, out, errw := newCLI(env)
	err := c.run(context.Background(), args)
	return out.String(), errw.String(), err
}

// The sample spec, rendered to stdout: every layer, against golden output.
func TestRenderSample(t *testing.T) {
	out, _, err := runCLI(t, nil, "render")
	if err != nil {
		t.Fatal(err)
	}
	golden.Check(t, "sample.render.yaml", out)
	for _, want := range []string{
		"==== layer networkpolicies", "==== layer calico", "==== layer ingress", "==== layer firewall",
		"kind: NetworkPolicy", "kind: GlobalNetworkSet", "kind: GlobalNetworkPolicy", "kind: HostEndpoint",
		"kind: Ingress", "kind: Service", "kind: Secret", "# table inet originguard",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("the sample's rendering lacks %q", want)
		}
	}
	// The file in the repository is the embedded one, so -f gives the same.
	out2, _, err := runCLI(t, nil, "render", "-f", "sample.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(strings.Replace(out, "from examples/originguard/sample.yaml", "from sample.yaml", 1), out2); diff != "" {
		t.Errorf("-f sample.yaml differs from the default (-default +file):\n%s", diff)
	}
}

// Rendering twice gives the same bytes, and the map-ordered inputs (the
// controller's pod labels) do not change the order of the output.
func TestRenderDeterministic(t *testing.T) {
	spec := strings.Replace(string(sampleSpec), "    app.kubernetes.io/name: ingress-nginx\n",
		"    app.kubernetes.io/name: ingress-nginx\n    app.kubernetes.io/component: controller\n    z: \"1\"\n    a: \"2\"\n", 1)
	var first string
	for i := range 20 {
		c, out, _ := newCLI(nil)
		c.stdin = strings.NewReader(spec)
		if err := c.run(context.Background(), []string{"render", "-f", "-"}); err != nil {
			t.Fatal(err)
		}
		if i == 0 {
			first = out.String()
		} else if out.String() != first {
			t.Fatalf("run %d differs from run 0:\n%s", i, cmp.Diff(first, out.String()))
		}
	}
}

// -out writes one file per layer, and a kustomization.yaml naming the
// Kubernetes ones in apply order; the files hold what the stream holds.
func TestRenderDirectory(t *testing.T) {
	dir := t.TempDir()
	_, errw, err := runCLI(t, nil, "render", "-out", dir)
	if err != nil {
		t.Fatal(err)
	}
	entries, _ := os.ReadDir(dir)
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	want := []string{"calico.yaml", "firewall.nft", "ingress.yaml", "kustomization.yaml", "networkpolicies.yaml"}
	if diff := cmp.Diff(want, names); diff != "" {
		t.Errorf("files (-want +got):\n%s", diff)
	}
	if !strings.Contains(errw, "wrote calico.yaml, firewall.nft, ingress.yaml, kustomization.yaml, networkpolicies.yaml") {
		t.Errorf("stderr: %q", errw)
	}
	for _, n := range want {
		b, err := os.ReadFile(filepath.Join(dir, n))
		if err != nil {
			t.Fatal(err)
		}
		golden.Check(t, "sample.dir."+n, string(b))
	}
	// The stream holds the same Kubernetes objects, in the same order, as
	// the files kustomization.yaml names: kubectl reads it as it reads them.
	stream, _ := runCLIOrErr(t, "render")
	fromStream, err := testbed.DecodeObjects([]byte(stream))
	if err != nil {
		t.Fatalf("the stream is not a YAML stream of objects: %v", err)
	}
	var fromFiles []*unstructured.Unstructured
	for _, n := range []string{"networkpolicies.yaml", "calico.yaml", "ingress.yaml"} {
		b, _ := os.ReadFile(filepath.Join(dir, n))
		objs, err := testbed.DecodeObjects(b)
		if err != nil {
			t.Fatalf("%s: %v", n, err)
		}
		fromFiles = append(fromFiles, objs...)
	}
	if diff := cmp.Diff(fromFiles, fromStream); diff != "" || len(fromFiles) < 10 {
		t.Errorf("%d objects in the files, the stream differs (-files +stream):\n%s", len(fromFiles), diff)
	}
	// kustomize builds the directory into the same objects, in the same
	// order (sortOptions fifo: HostEndpoints after the policies).
	if kubectl, err := exec.LookPath("kubectl"); err == nil {
		built, err := exec.Command(kubectl, "kustomize", dir).Output()
		if err != nil {
			t.Fatalf("kubectl kustomize: %v", err)
		}
		objs, err := testbed.DecodeObjects(built)
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(fromStream, objs); diff != "" {
			t.Errorf("kubectl kustomize builds other objects (-stream +kustomize):\n%s", diff)
		}
	} else {
		t.Log("no kubectl: kustomization.yaml not built")
	}
	nft, _ := runCLIOrErr(t, "render", "-layer", "firewall")
	b, _ := os.ReadFile(filepath.Join(dir, "firewall.nft"))
	if !strings.HasSuffix(nft, string(b)) {
		t.Error("-layer firewall does not end with firewall.nft's text")
	}
}

func runCLIOrErr(t *testing.T, args ...string) (string, error) {
	t.Helper()
	out, _, err := runCLI(t, nil, args...)
	return out, err
}

// The iptables backend writes the two restore files; with Calico off the
// calico layer is absent from the stream, the directory and the
// kustomization.
func TestRenderIPTablesWithoutCalico(t *testing.T) {
	spec := strings.Replace(strings.Replace(string(sampleSpec), "firewall: nftables", "firewall: iptables", 1),
		"  enabled: true", "  enabled: false", 1)
	spec = spec[:strings.Index(spec, "  hostEndpoints:\n")]
	path := filepath.Join(t.TempDir(), "spec.yaml")
	os.WriteFile(path, []byte(spec), 0o644)
	dir := t.TempDir()
	if _, err := runCLIOrErr(t, "render", "-f", path, "-out", dir); err != nil {
		t.Fatal(err)
	}
	entries, _ := os.ReadDir(dir)
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	want := []string{"firewall.ipv4.rules", "firewall.ipv6.rules", "ingress.yaml", "kustomization.yaml", "networkpolicies.yaml"}
	if diff := cmp.Diff(want, names); diff != "" {
		t.Errorf("files (-want +got):\n%s", diff)
	}
	// A symbolic link where a layer's file goes is replaced, not followed.
	victim := filepath.Join(t.TempDir(), "victim")
	os.WriteFile(victim, []byte("keep"), 0o644)
	os.Remove(filepath.Join(dir, "ingress.yaml"))
	if err := os.Symlink(victim, filepath.Join(dir, "ingress.yaml")); err != nil {
		t.Fatal(err)
	}
	if _, err := runCLIOrErr(t, "render", "-f", path, "-out", dir); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(victim); string(b) != "keep" {
		t.Error("render wrote through a symbolic link")
	}
	if fi, err := os.Lstat(filepath.Join(dir, "ingress.yaml")); err != nil || !fi.Mode().IsRegular() {
		t.Errorf("ingress.yaml is not a regular file: %v", err)
	}
	// Rendering into a directory that holds an earlier rendering removes
	// the files this one does not write, so none looks current when stale.
	if _, err := runCLIOrErr(t, "render", "-out", dir); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(dir, "mine.txt"), nil, 0o644)
	if _, err := runCLIOrErr(t, "render", "-f", path, "-out", dir); err != nil {
		t.Fatal(err)
	}
	entries, _ = os.ReadDir(dir)
	names = nil
	for _, e := range entries {
		names = append(names, e.Name())
	}
	want = []string{"firewall.ipv4.rules", "firewall.ipv6.rules", "ingress.yaml", "kustomization.yaml", "mine.txt", "networkpolicies.yaml"}
	if diff := cmp.Diff(want, names); diff != "" {
		t.Errorf("files after rendering over an earlier rendering (-want +got):\n%s", diff)
	}
	k, _ := os.ReadFile(filepath.Join(dir, "kustomization.yaml"))
	if strings.Contains(string(k), "calico") || !strings.Contains(string(k), "- networkpolicies.yaml\n- ingress.yaml\n") {
		t.Errorf("kustomization.yaml:\n%s", k)
	}
	v4, _ := os.ReadFile(filepath.Join(dir, "firewall.ipv4.rules"))
	if !strings.Contains(string(v4), "*filter") || !strings.Contains(string(v4), "COMMIT") {
		t.Errorf("firewall.ipv4.rules is not iptables-restore input:\n%s", v4)
	}
	if _, err := runCLIOrErr(t, "render", "-f", path, "-layer", "calico"); err == nil || !strings.Contains(err.Error(), "no calico layer") {
		t.Errorf("-layer calico with Calico off: err = %v", err)
	}
}

// A bad spec is an error naming the field and its line, for every problem
// at once, and nothing is written.
func TestRenderBadSpec(t *testing.T) {
	for _, tc := range []struct {
		name  string
		edits []string // from, to, from, to...
		at    []string // the lines named: the first line of the bad file holding each
		want  []string
	}{
		{"unknown field", []string{"  nodePorts: 30000-32767\n", "  nodePorts: 30000-32767\n  nodeport: 30080\n"},
			[]string{"  nodeport: 30080"}, []string{`unknown field "nodeport"`}},
		{"typo in a nested field", []string{"    podPort: 0 ", "    podport: 0 "}, []string{"podport"}, []string{`unknown field "podport"`}},
		{"bad prefix", []string{"networks: [10.0.0.0/16, 10.244.0.0/16]", "networks: [10.0.0.0/16, 10.244.0.0/66]"},
			[]string{"10.244.0.0/66"}, []string{`"10.244.0.0/66" is not a CIDR prefix`}},
		{"host bits", []string{"controlPlane: [10.0.0.10/32]", "controlPlane: [10.0.0.10/24]"},
			[]string{"10.0.0.10/24"}, []string{`"10.0.0.10/24" has host bits set: write 10.0.0.0/24`}},
		{"vocabulary", []string{"  overlay: vxlan", "  overlay: flannel"},
			[]string{"flannel"}, []string{`nodes.overlay: "flannel" is not one of none, vxlan, ipip, wireguard`}},
		{"controller", []string{"  controller: ingress-nginx", "  controller: nginx"},
			[]string{"  controller: nginx"}, []string{`ingress.controller: "nginx" is not one of gateway-api`}},
		{"every problem at once", []string{"  api: crd", "  api: v3", "  firewall: nftables", "  firewall: nft"},
			[]string{"api: v3", "firewall: nft"}, []string{`calico.api: "v3" is not one of crd, api`, `nodes.firewall: "nft" is not one of`}},
		{"key given twice", []string{"  log: false", "  log: false\n  log: true"}, []string{"  log: true"}, []string{`"log" already defined`}},
		{"wrong type", []string{"  bgp: false ", "  bgp: maybe "}, []string{"maybe"}, []string{"maybe", "bool"}},
		{"second document", []string{"  log: false", "  log: false\n---\ncluster:\n  networks: []"}, []string{"cluster:\n  networks: []"},
			[]string{"a second YAML document"}},
		{"package validation", []string{"  hosts: [shop.example.com]", "  hosts: [shop.example.com, \"bad host!\"]"},
			[]string{"bad host!"}, []string{"the spec does not make a valid defence", `ingress.hosts.1: Hosts[1] "bad host!"`}},
		{"namespace name", []string{"  namespace: shop", "  namespace: Shop"}, []string{"namespace: Shop"},
			[]string{`ingress.namespace: "Shop" is not a namespace name`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			bad := string(sampleSpec)
			for i := 0; i < len(tc.edits); i += 2 {
				if !strings.Contains(bad, tc.edits[i]) {
					t.Fatalf("the sample has no %q", tc.edits[i])
				}
				bad = strings.Replace(bad, tc.edits[i], tc.edits[i+1], 1)
			}
			path := filepath.Join(t.TempDir(), "bad.yaml")
			os.WriteFile(path, []byte(bad), 0o644)
			dir := filepath.Join(t.TempDir(), "out")
			out, err := runCLIOrErr(t, "render", "-f", path, "-out", dir)
			if err == nil {
				t.Fatal("accepted")
			}
			want := tc.want
			for _, at := range tc.at {
				for n, line := range strings.Split(bad, "\n") {
					if strings.Contains(line, at) {
						want = append(want, fmt.Sprintf("%s line %d: ", path, n+1))
						break
					}
				}
			}
			for _, w := range want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error lacks %q:\n%v", w, err)
				}
			}
			if !strings.Contains(err.Error(), path) {
				t.Errorf("error does not name the file %s:\n%v", path, err)
			}
			if out != "" {
				t.Errorf("wrote to stdout: %q", out)
			}
			if _, err := os.Stat(dir); err == nil {
				t.Error("created the output directory for a bad spec")
			}
		})
	}
}

// The edge from a file (relative to the spec), and from a live fetch against
// an httptest server speaking the Cloudflare API's documented shape (GET
// /ips, https://developers.cloudflare.com/api/resources/ips/methods/list/).
func TestRenderEdgeSources(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "edge.txt"), []byte("# two of Cloudflare's ranges\n173.245.48.0/20\n2400:cb00::/32\n"), 0o644)
	spec := strings.Replace(string(sampleSpec), "  source: embedded\n  # file: edge.txt\n", "  source: file\n  file: edge.txt\n", 1)
	os.WriteFile(filepath.Join(dir, "spec.yaml"), []byte(spec), 0o644)
	out, err := runCLIOrErr(t, "render", "-f", filepath.Join(dir, "spec.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out, "# edge: 1 IPv4 + 1 IPv6 prefixes from edge.txt\n") || strings.Contains(out, "104.16.0.0/13") ||
		!strings.Contains(out, "cidr: 173.245.48.0/20") {
		t.Errorf("the file's edge is not the one rendered:\n%.600s", out)
	}
	// A file that would open every layer to the Internet, or to a private
	// range, or that is empty, renders nothing.
	for _, bad := range []string{"0.0.0.0/0\n::/0\n", "10.0.0.0/8\n2400:cb00::/32\n", "# nothing\n", "173.245.48.0/20\n"} {
		os.WriteFile(filepath.Join(dir, "edge.txt"), []byte(bad), 0o644)
		out, err := runCLIOrErr(t, "render", "-f", filepath.Join(dir, "spec.yaml"))
		if err == nil || !strings.Contains(err.Error(), "is refused as an edge list") || out != "" {
			t.Errorf("edge file %q: err = %v, %d bytes out", bad, err, len(out))
		}
	}

	var hits int
	api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits++
		if r.URL.Path != "/ips" {
			http.NotFound(w, r)
			return
		}
		fmt.Fprint(w, liveList)
	}))
	defer api.Close()
	fetchSpec := strings.Replace(string(sampleSpec), "  source: embedded\n", "  source: fetch\n", 1)
	os.WriteFile(filepath.Join(dir, "fetch.yaml"), []byte(fetchSpec), 0o644)
	out, _, err = runCLI(t, map[string]string{envAPI: api.URL}, "render", "-f", filepath.Join(dir, "fetch.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if hits != 1 || !strings.Contains(out, "cidr: 198.41.0.0/24") ||
		!strings.Contains(out, "# edge: 16 IPv4 + 7 IPv6 Cloudflare ranges, fetched from "+api.URL) {
		t.Errorf("hits = %d; the live list is not the one rendered:\n%.400s", hits, out)
	}
	// -api wins over the environment.
	if _, _, err := runCLI(t, map[string]string{envAPI: "http://127.0.0.1:1"}, "render", "-f", filepath.Join(dir, "fetch.yaml"), "-api", api.URL); err != nil {
		t.Errorf("-api did not win over $%s: %v", envAPI, err)
	}
	// A list the Guard refuses (Internet-wide) renders nothing.
	bad := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, `{"success":true,"errors":[],"messages":[],"result":{"etag":"x","ipv4_cidrs":["0.0.0.0/0"],"ipv6_cidrs":["::/0"]}}`)
	}))
	defer bad.Close()
	out, _, err = runCLI(t, map[string]string{envAPI: bad.URL}, "render", "-f", filepath.Join(dir, "fetch.yaml"))
	if err == nil || !strings.Contains(err.Error(), "the live list is refused") || out != "" {
		t.Errorf("an Internet-wide live list: err = %v, out %.100q", err, out)
	}
	// An unreachable API is an error that says how to render offline.
	_, _, err = runCLI(t, map[string]string{envAPI: "http://127.0.0.1:1"}, "render", "-f", filepath.Join(dir, "fetch.yaml"))
	if err == nil || !strings.Contains(err.Error(), "source: embedded") {
		t.Errorf("unreachable API: err = %v", err)
	}
}

// liveList is the embedded list plus 198.41.0.0/24, in the response shape
// of GET /ips (result.ipv4_cidrs, result.ipv6_cidrs, result.etag).
const liveList = `{"success":true,"errors":[],"messages":[],"result":{"etag":"x",
	"ipv4_cidrs":["173.245.48.0/20","103.21.244.0/22","103.22.200.0/22","103.31.4.0/22","141.101.64.0/18",
	"108.162.192.0/18","190.93.240.0/20","188.114.96.0/20","197.234.240.0/22","198.41.128.0/17",
	"162.158.0.0/15","104.16.0.0/13","104.24.0.0/14","172.64.0.0/13","131.0.72.0/22","198.41.0.0/24"],
	"ipv6_cidrs":["2400:cb00::/32","2606:4700::/32","2803:f800::/32","2405:b500::/32","2405:8100::/32","2a06:98c0::/29","2c0f:f248::/32"]}}`

// A proxying load balancer's addresses reach the controller's pods and the
// NodePorts, as the edge does; the Service's loadBalancerSourceRanges (what
// the load balancer admits) stay the edge alone.
func TestRenderBalancer(t *testing.T) {
	spec := strings.Replace(string(sampleSpec), "  balancer: []", "  balancer: [192.168.255.0/24]", 1)
	c, out, _ := newCLI(nil)
	c.stdin = strings.NewReader(spec)
	if err := c.run(context.Background(), []string{"render", "-f", "-"}); err != nil {
		t.Fatal(err)
	}
	layers := map[string]string{}
	parts := strings.Split(out.String(), "# ==== layer ")
	for _, p := range parts[1:] {
		name, _, _ := strings.Cut(p, ":")
		layers[name] = p
	}
	for _, l := range []string{"networkpolicies", "calico", "firewall"} {
		if !strings.Contains(layers[l], "192.168.255.0/24") {
			t.Errorf("layer %s does not admit the balancer", l)
		}
	}
	if strings.Contains(layers["ingress"], "192.168.255.0/24") {
		t.Error("the ingress layer trusts the balancer's addresses as the edge")
	}
}

// Usage problems say what is wrong and what is wanted.
func TestUsageErrors(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{nil, "no command given"},
		{[]string{"rendr"}, `unknown command "rendr" (want render, edge, audit or explain)`},
		{[]string{"render", "-layer", "dns"}, `unknown layer "dns"`},
		{[]string{"render", "spec.yaml"}, `unexpected argument "spec.yaml" (the spec is given with -f)`},
		{[]string{"render", "-f", "does-not-exist.yaml"}, "does-not-exist.yaml"},
		{[]string{"render", "-bogus"}, "flag provided but not defined: -bogus"},
		{[]string{"audit"}, "no input: give -f"},
		{[]string{"explain", "-f", "x"}, "both --from and --to are needed"},
		{[]string{"edge", "not-an-ip"}, `"not-an-ip" is not an IP address`},
		{[]string{"render", "-f", writeTemp(t, "cluster: {networks: [10.0.0.0/8], controlPlane: [10.0.0.1/32]}\nnodes: {firewall: none}\n")}, "nothing to render"},
	} {
		_, _, err := runCLI(t, nil, tc.args...)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q: err = %v, want %q", tc.args, err, tc.want)
		}
	}
	out, _, err := runCLI(t, nil, "help")
	if err != nil || !strings.Contains(out, "originguard render") {
		t.Errorf("help: %v\n%s", err, out)
	}
	_, errw, _ := runCLI(t, nil, "render", "-h")
	if strings.Count(errw, "usage: originguard render") != 1 || !strings.Contains(errw, "-layer") {
		t.Errorf("render -h:\n%s", errw)
	}
	if _, errw, _ := runCLI(t, nil, "render", "-bogus"); errw != "" {
		t.Errorf("a flag error printed usage too:\n%s", errw)
	}
	if !slices.Contains(layerNames, "firewall") {
		t.Error("no firewall layer")
	}
}

func writeTemp(t *testing.T, text string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "spec.yaml")
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

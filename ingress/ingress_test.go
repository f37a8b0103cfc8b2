package ingress_test

import (
	"bufio"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	"k8s.io/apimachinery/pkg/types"
	gwapiv1 "sigs.k8s.io/gateway-api/apis/v1"

	"github.com/originguard/originguard/ingress"
	"github.com/originguard/originguard/internal/golden"
)

// TestGolden pins the YAML, settings and caveats of every controller, with
// and without a client-address header.
func TestGolden(t *testing.T) {
	for _, c := range ingress.Controllers {
		for _, header := range []string{"", ingress.DefaultClientIPHeader} {
			name := string(c) + ".yaml"
			if header != "" {
				name = string(c) + "-realip.yaml"
			}
			t.Run(name, func(t *testing.T) {
				s := testSpec(c, header, "shop", "ingress")
				if c == ingress.GatewayAPI {
					s.OriginPullCA.Kind = ingress.CAConfigMap
				}
				out, err := ingress.Generate(s)
				if err != nil {
					t.Fatal(err)
				}
				golden.Check(t, name, describe(t, out))
			})
		}
	}
}

// describe is an Output as YAML followed by its settings and caveats as
// comments.
func describe(t *testing.T, out *ingress.Output) string {
	t.Helper()
	data, err := ingress.Render(out.Objects...)
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	b.Write(data)
	for _, s := range out.Settings {
		fmt.Fprintf(&b, "# %s (%s): %s\n", s.Kind, s.Need, s)
	}
	for _, c := range out.Caveats {
		fmt.Fprintf(&b, "# caveat (%s): %s\n", c.Need, c.Message)
	}
	return b.String()
}

func TestRenderIsDeterministic(t *testing.T) {
	s := testSpec(ingress.EnvoyGateway, "", "shop", "ingress")
	var first []byte
	for i := range 20 {
		out, err := ingress.Generate(s)
		if err != nil {
			t.Fatal(err)
		}
		data, err := ingress.Render(out.Objects...)
		if err != nil {
			t.Fatal(err)
		}
		if i == 0 {
			first = data
		} else if string(data) != string(first) {
			t.Fatalf("run %d rendered differently", i)
		}
	}
	if strings.Contains(string(first), "status:") || strings.Contains(string(first), "creationTimestamp") {
		t.Errorf("rendered status or creationTimestamp:\n%s", first)
	}
}

// TestEdgeCanonical: the edge is masked, sorted and deduplicated on output,
// whatever order and spelling the caller used.
func TestEdgeCanonical(t *testing.T) {
	s := testSpec(ingress.Traefik, "", "shop", "ingress")
	s.Edge = []netip.Prefix{
		netip.MustParsePrefix("2400:cb00::1/32"),
		netip.MustParsePrefix("173.245.48.7/20"),
		netip.MustParsePrefix("173.245.48.0/20"),
	}
	out, err := ingress.Generate(s)
	if err != nil {
		t.Fatal(err)
	}
	mw := out.Objects[0].(*ingress.Middleware)
	want := []string{"173.245.48.0/20", "2400:cb00::/32"}
	if !slices.Equal(mw.Spec.IPAllowList.SourceRange, want) {
		t.Errorf("sourceRange %v, want %v", mw.Spec.IPAllowList.SourceRange, want)
	}
}

func TestValidate(t *testing.T) {
	good := testSpec(ingress.IngressNGINX, ingress.DefaultClientIPHeader, "shop", "ingress")
	if err := good.Validate(); err != nil {
		t.Fatalf("good spec: %v", err)
	}
	tests := []struct {
		field  string
		modify func(*ingress.Spec)
	}{
		{"Controller", func(s *ingress.Spec) { s.Controller = "haproxy" }},
		{"Name", func(s *ingress.Spec) { s.Name = "Shop" }},
		{"Name", func(s *ingress.Spec) { s.Name = strings.Repeat("a", 41) }},
		{"Namespace", func(s *ingress.Spec) { s.Namespace = "" }},
		{"Hosts", func(s *ingress.Spec) { s.Hosts = nil }},
		{"Hosts[1]", func(s *ingress.Spec) { s.Hosts[1] = "shop.example.com" }},
		{"Hosts[0]", func(s *ingress.Spec) { s.Hosts[0] = "shop.example.com." }},
		{"Hosts[0]", func(s *ingress.Spec) { s.Hosts[0] = "a.*.example.com" }},
		{"Edge", func(s *ingress.Spec) { s.Edge = nil }},
		{"Edge[0]", func(s *ingress.Spec) { s.Edge[0] = netip.Prefix{} }},
		{"Edge[1]", func(s *ingress.Spec) { s.Edge[1] = netip.MustParsePrefix("::/0") }},
		{"Edge[1]", func(s *ingress.Spec) { s.Edge[1] = netip.MustParsePrefix("0.0.0.0/0") }},
		{"Edge[0]", func(s *ingress.Spec) { s.Edge[0] = netip.MustParsePrefix("::ffff:173.245.48.0/116") }},
		{"Edge", func(s *ingress.Spec) { s.SourceRangeLimit = 2 }},
		{"Edge", func(s *ingress.Spec) {
			s.Edge = []netip.Prefix{netip.MustParsePrefix("0.0.0.0/1"), netip.MustParsePrefix("128.0.0.0/1")}
		}},
		{"Edge", func(s *ingress.Spec) {
			for i := range 2 { // two /8s: each fine, the sum not
				s.Edge = append(s.Edge, netip.PrefixFrom(netip.AddrFrom4([4]byte{byte(10 + i)}), 8))
			}
		}},
		{"Edge", func(s *ingress.Spec) { s.Edge = append(s.Edge, netip.MustParsePrefix("2000::/3")) }},
		{"ClientIPHeader", func(s *ingress.Spec) { s.ClientIPHeader = "CF Connecting IP" }},
		{"ClientIPHeader", func(s *ingress.Spec) { s.ClientIPHeader = "host" }},
		{"TLSSecret", func(s *ingress.Spec) { s.TLSSecret = "" }},
		{"OriginPullCA.Kind", func(s *ingress.Spec) { s.OriginPullCA.Kind = "Certificate" }},
		{"OriginPullCA.Kind", func(s *ingress.Spec) { s.OriginPullCA.Kind = ingress.CAConfigMap }},
		{"OriginPullCA.Name", func(s *ingress.Spec) { s.OriginPullCA.Name = "ca/crt" }},
		{"Backend.Name", func(s *ingress.Spec) { s.Backend.Name = "1shop" }},
		{"Backend.Port", func(s *ingress.Spec) { s.Backend.Port = 0 }},
		{"Backend.Port", func(s *ingress.Spec) { s.Backend.Port = 65536 }},
		{"ClassName", func(s *ingress.Spec) { s.ClassName = "Nginx!" }},
		{"ClassName", func(s *ingress.Spec) { s.Controller = ingress.GatewayAPI; s.ClassName = "" }},
		{"ControllerService.Namespace", func(s *ingress.Spec) { s.ControllerService.Namespace = "" }},
		{"ControllerService.Name", func(s *ingress.Spec) { s.ControllerService.Name = "9lb" }},
		{"ControllerConfig.Name", func(s *ingress.Spec) { s.ControllerConfig = types.NamespacedName{Namespace: "x", Name: "A"} }},
		{"SourceRangeLimit", func(s *ingress.Spec) { s.SourceRangeLimit = -1 }},
	}
	for _, tt := range tests {
		t.Run(tt.field, func(t *testing.T) {
			s := testSpec(ingress.IngressNGINX, ingress.DefaultClientIPHeader, "shop", "ingress")
			tt.modify(&s)
			err := s.Validate()
			if !errors.Is(err, ingress.ErrInvalidSpec) {
				t.Fatalf("err = %v, want ErrInvalidSpec", err)
			}
			var fe *ingress.FieldError
			if !errors.As(err, &fe) || fe.Field != tt.field {
				t.Errorf("err = %v, want a FieldError for %s", err, tt.field)
			}
			if _, gerr := ingress.Generate(s); gerr == nil {
				t.Error("Generate accepted a spec Validate refuses")
			}
		})
	}
}

// TestValidateReportsEverything: all problems in one error, each naming its
// field.
func TestValidateReportsEverything(t *testing.T) {
	err := ingress.Spec{}.Validate()
	for _, field := range []string{"Controller", "Name", "Namespace", "Hosts", "Edge", "TLSSecret", "Backend.Name", "Backend.Port"} {
		if !strings.Contains(err.Error(), field+" ") {
			t.Errorf("error does not name %s:\n%v", field, err)
		}
	}
}

// TestGeneratedPassesAudit checks generator and auditor against each other:
// nothing generated, for any controller, header choice or CA kind, is a
// mistake the audit knows.
func TestGeneratedPassesAudit(t *testing.T) {
	for _, c := range ingress.Controllers {
		for _, header := range []string{"", ingress.DefaultClientIPHeader} {
			for _, kind := range []ingress.CAKind{ingress.CASecret, ingress.CAConfigMap} {
				s := testSpec(c, header, "shop", "ingress")
				s.OriginPullCA.Kind = kind
				out, err := ingress.Generate(s)
				if err != nil {
					continue // a ConfigMap CA where only Secrets work: TestValidate
				}
				if f := ingress.Audit(s.Edge, out.Objects...); len(f) > 0 {
					t.Errorf("%s header=%q ca=%s: findings in generated objects:\n%v", c, header, kind, f)
				}
			}
		}
	}
}

// TestNoVisitorAllowlist is the class of defect the package exists for: once
// a controller rewrites the client address from a header, no generated
// allowlist may be evaluated inside it, since it would judge the visitor.
func TestNoVisitorAllowlist(t *testing.T) {
	for _, c := range ingress.Controllers {
		s := testSpec(c, ingress.DefaultClientIPHeader, "shop", "ingress")
		out, err := ingress.Generate(s)
		if err != nil {
			t.Fatal(err)
		}
		for _, o := range out.Objects {
			switch o := o.(type) {
			case *networkingv1.Ingress:
				_, allow := o.Annotations[ingress.AnnotationAllowlist]
				if allow != (c == ingress.TraefikNGINX) {
					t.Errorf("%s: allowlist annotation present=%v; only Traefik's NGINX provider, which judges the peer, may have it", c, allow)
				}
			case *ingress.SecurityPolicy:
				t.Errorf("%s: SecurityPolicy clientCIDRs emitted while clientIPDetection makes them judge the visitor", c)
			case *ingress.KongPlugin:
				t.Errorf("%s: ip-restriction emitted while trusted_ips makes it judge the visitor", c)
			case *ingress.Middleware:
				if o.Spec.IPAllowList.IPStrategy != nil {
					t.Errorf("%s: ipAllowList with ipStrategy judges X-Forwarded-For", c)
				}
			case *corev1.ConfigMap:
				if cidr := o.Data[ingress.ConfigProxyRealIPCIDR]; cidr != "103.21.244.0/22,173.245.48.0/20,2400:cb00::/32" {
					t.Errorf("%s: proxy-real-ip-cidr %q, want exactly the edge", c, cidr)
				}
			case *ingress.ClientTrafficPolicy:
				x := o.Spec.ClientIPDetection
				if x == nil || x.XForwardedFor == nil || len(x.XForwardedFor.TrustedCIDRs) == 0 || x.CustomHeader != nil || x.XForwardedFor.NumTrustedHops != nil {
					t.Errorf("%s: client address must come from X-Forwarded-For trusted only from the edge: %+v", c, x)
				}
			}
		}
		// Where nothing inside the controller can check the edge, the
		// Service (or EnvoyProxy) must.
		if !slices.ContainsFunc(out.Objects, func(o ingress.Object) bool {
			switch o := o.(type) {
			case *corev1.Service:
				return len(o.Spec.LoadBalancerSourceRanges) > 0 && o.Spec.ExternalTrafficPolicy == corev1.ServiceExternalTrafficPolicyLocal
			case *ingress.EnvoyProxy:
				return len(o.Spec.Provider.Kubernetes.EnvoyService.LoadBalancerSourceRanges) > 0
			}
			return false
		}) {
			t.Errorf("%s: no layer-4 edge check emitted", c)
		}
	}
}

// TestPeerAllowlistWithoutHeader: without a header the controllers that
// have a peer check get the edge there.
func TestPeerAllowlistWithoutHeader(t *testing.T) {
	want := map[ingress.Controller]string{
		ingress.EnvoyGateway: "SecurityPolicy",
		ingress.IngressNGINX: "Ingress",
		ingress.TraefikNGINX: "Ingress",
		ingress.Traefik:      "Middleware",
		ingress.Kong:         "KongPlugin",
	}
	for c, kind := range want {
		s := testSpec(c, "", "shop", "ingress")
		out, err := ingress.Generate(s)
		if err != nil {
			t.Fatal(err)
		}
		found := false
		for _, o := range out.Objects {
			if o.GetObjectKind().GroupVersionKind().Kind != kind {
				continue
			}
			switch o := o.(type) {
			case *networkingv1.Ingress:
				found = o.Annotations[ingress.AnnotationAllowlist] != ""
			default:
				found = true
			}
		}
		if !found {
			t.Errorf("%s without header: no peer allowlist on a %s", c, kind)
		}
	}
}

// TestHTTPSOnly: application routes are bound to HTTPS only.
func TestHTTPSOnly(t *testing.T) {
	for _, c := range []ingress.Controller{ingress.GatewayAPI, ingress.EnvoyGateway} {
		out, err := ingress.Generate(testSpec(c, "", "shop", "ingress"))
		if err != nil {
			t.Fatal(err)
		}
		for _, o := range out.Objects {
			r, ok := o.(*gwapiv1.HTTPRoute)
			if !ok || len(r.Spec.Rules[0].BackendRefs) == 0 {
				continue
			}
			for _, p := range r.Spec.ParentRefs {
				if p.SectionName == nil || !strings.HasPrefix(string(*p.SectionName), "https-") {
					t.Errorf("%s: route %s attaches to %v, not an HTTPS listener", c, r.Name, p.SectionName)
				}
			}
		}
	}
	out, err := ingress.Generate(testSpec(ingress.Traefik, "", "shop", "ingress"))
	if err != nil {
		t.Fatal(err)
	}
	if r := out.Objects[2].(*ingress.IngressRoute); !slices.Equal(r.Spec.EntryPoints, []string{"websecure"}) || r.Spec.TLS == nil {
		t.Errorf("Traefik route on %v with TLS %v, want websecure only", r.Spec.EntryPoints, r.Spec.TLS)
	}
}

// TestCRDsMatchThePins: every CRD file names the module version pinned in
// hack/ingresscrd/pins.txt, and the Gateway API CRDs are those of the
// version the library builds against.
func TestCRDsMatchThePins(t *testing.T) {
	f, err := os.Open("../hack/ingresscrd/pins.txt")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	pins := map[string][2]string{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) >= 4 && !strings.HasPrefix(fields[0], "#") {
			pins[fields[0]] = [2]string{fields[1], fields[2]}
		}
	}
	for _, file := range crdFiles {
		pin, ok := pins[file]
		if !ok {
			t.Errorf("%s is not in pins.txt", file)
			continue
		}
		data, err := os.ReadFile(filepath.Join("testdata", "crds", file))
		if err != nil {
			t.Fatal(err)
		}
		first, _, _ := strings.Cut(string(data), "\n")
		if want := "from " + pin[0] + " " + pin[1]; !strings.HasSuffix(first, want) {
			t.Errorf("%s header %q, want it to end %q: run bash hack/ingresscrd/generate.sh", file, first, want)
		}
	}
	gomod, err := os.ReadFile("../go.mod")
	if err != nil {
		t.Fatal(err)
	}
	want := "sigs.k8s.io/gateway-api " + pins["gatewayapi.yaml"][1]
	if !strings.Contains(string(gomod), "\t"+want+"\n") {
		t.Errorf("go.mod does not require %s, the version of the Gateway API CRDs the tests install", want)
	}
}
